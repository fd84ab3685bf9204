/**
 * The image-formation models by name (scene config `shading.model`). Two kinds:
 *  - shaded models (sem, him): a fused shading op over the rasterized normals and coverage. To
 *    add one: a module in this folder exporting an ImageFormationModel (model.ts; sem.ts and
 *    him.ts are examples) and its line in MODEL_LIST; the lanes' workers and the shading op read
 *    MODEL_LIST;
 *  - the transmission model (transmission.ts): composed from engine ops over rasterized path
 *    lengths, no shading op.
 * The config schema reads SHADING_MODELS, the polarity of a render modelPolarity (both kinds).
 */
import type { Polarity } from '../../particles/polarity.js';
import type { ImageFormationModel } from './model.js';
import { semModel } from './sem.js';
import { himModel } from './him.js';
import { transmissionModel } from './transmission.js';

const MODEL_LIST = [semModel, himModel] as const;

export type ShadingModel = (typeof MODEL_LIST)[number]['name'] | typeof transmissionModel.name;
export const SHADING_MODELS: readonly ShadingModel[] = [...MODEL_LIST.map((m) => m.name), transmissionModel.name];
const MODELS = new Map<string, ImageFormationModel>(MODEL_LIST.map((m) => [m.name, m as unknown as ImageFormationModel]));

/** A shaded model by name (sem, him); the transmission model is not one (isTransmission). */
export function imageFormationModel(name: string): ImageFormationModel {
  const m = MODELS.get(name);
  if (!m) throw new Error(`unknown shaded image-formation model '${name}'; known: ${[...MODELS.keys()].join(', ')}`);
  return m;
}

/** Whether `name` is the transmission model (path-length raster, transmission.ts). */
export function isTransmission(name: string): boolean {
  return name === transmissionModel.name;
}

/** Particles brighter or darker than the substrate in a model's images. */
export function modelPolarityOf(name: string): Polarity {
  return isTransmission(name) ? transmissionModel.polarity : imageFormationModel(name).polarity;
}

/** Every model's row kernels and their helpers, for the raster lanes. */
export const SHADE_KERNELS: Readonly<Record<string, (job: never) => number>> = Object.assign({}, ...MODEL_LIST.map((m) => m.kernels));
export const SHADE_HELPERS = MODEL_LIST.flatMap((m) => m.helpers);
