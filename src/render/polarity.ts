/**
 * The contrast polarity of a render follows from its image-formation model (each model's record
 * says it: secondary-electron and ion images, sem and him, show particles brighter than the film
 * they lie on; transmission images, darker). The rejection rules (masks.ts) and the annotation-free calibration against real
 * images (gan/calibrate.ts) read it from here, never assume it.
 */
import type { Polarity } from '../particles/polarity.js';
import { modelPolarityOf, type ShadingModel } from './shade/models.js';

export function modelPolarity(model: ShadingModel): Polarity {
  return modelPolarityOf(model);
}
