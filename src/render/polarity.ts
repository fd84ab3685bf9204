/**
 * The contrast polarity of a render follows from its image-formation model: secondary-electron
 * and ion images (sem, him) show particles brighter than the film they lie on. The rejection
 * rules (masks.ts) and the annotation-free calibration against real images (gan/calibrate.ts)
 * read it from here, never assume it.
 */
import type { Polarity } from '../seg/polarity.js';
import type { ShadingModel } from './shade/sem.js';

export function modelPolarity(model: ShadingModel): Polarity {
  switch (model) {
    case 'sem':
    case 'him':
      return 'bright';
  }
}
