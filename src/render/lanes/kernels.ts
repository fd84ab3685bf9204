/**
 * Every kernel the thread lanes run, by name, and the helper functions their source calls. A
 * lane kernel is a plain function over plain data (typed arrays and numbers) that calls nothing
 * but these helpers, so that a worker can evaluate its source (src/node/raster-pool.ts). A stage
 * with new kernels adds its table here.
 */
import { RASTER_KERNELS } from '../raster/soft.js';
import { BLUR_KERNELS, BLUR_HELPERS } from '../shade/blur.js';
import { SHADE_KERNELS, SHADE_HELPERS } from '../shade/models.js';
import { NOISE_KERNELS } from '../noise.js';

export const LANE_KERNELS: Readonly<Record<string, (job: never) => number | void>> = { ...RASTER_KERNELS, ...BLUR_KERNELS, ...SHADE_KERNELS, ...NOISE_KERNELS };
export const LANE_HELPERS: readonly ((...args: never[]) => unknown)[] = [...BLUR_HELPERS, ...SHADE_HELPERS];
