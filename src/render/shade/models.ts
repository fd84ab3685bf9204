/**
 * The image-formation models by name (scene config `shading.model`). To add one: a module in
 * this folder exporting an ImageFormationModel (model.ts; sem.ts and him.ts are examples) and its
 * line here. The config schema, the lanes' workers and the shading op all read this registry.
 */
import type { ImageFormationModel } from './model.js';
import { semModel } from './sem.js';
import { himModel } from './him.js';

const MODEL_LIST = [semModel, himModel] as const;

export type ShadingModel = (typeof MODEL_LIST)[number]['name'];
export const SHADING_MODELS: readonly ShadingModel[] = MODEL_LIST.map((m) => m.name);
const MODELS = new Map<string, ImageFormationModel>(MODEL_LIST.map((m) => [m.name, m as unknown as ImageFormationModel]));

export function imageFormationModel(name: string): ImageFormationModel {
  const m = MODELS.get(name);
  if (!m) throw new Error(`unknown image-formation model '${name}'; known: ${SHADING_MODELS.join(', ')}`);
  return m;
}

/** Every model's row kernels and their helpers, for the raster lanes. */
export const SHADE_KERNELS: Readonly<Record<string, (job: never) => number>> = Object.assign({}, ...MODEL_LIST.map((m) => m.kernels));
export const SHADE_HELPERS = MODEL_LIST.flatMap((m) => m.helpers);
