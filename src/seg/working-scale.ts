/**
 * The U-Net's working scale (pure, no Node modules): a model trained with `scale` S > 1 sees every
 * image resampled by S, in training and in inference, so that small particles (8-14 px across
 * on TiO2-SEM) cover S^2 times the pixels in the network; everything measured (instances, sizes,
 * the 50 px minimum area) stays on the original pixel grid.
 *
 * Sizes: a W x H image works at round(W S) x round(H S). Coordinates are centre-aligned both ways
 * (output pixel o samples the input at (o + 0.5) in / out - 0.5), so up- and down-sampling agree
 * on where a pixel is:
 * - grey images and probability planes: bilinear (autodiff/ops/upsample.ts, align_corners =
 *   false). Bilinear, not bicubic or Lanczos: it never overshoots (grey values and probabilities
 *   stay in their ranges, an edge's half level stays where it was), and training and inference
 *   resample real and synthetic images with the same kernel, which matters more than sharpness.
 *   Going back down by S <= 2, its two taps per axis cover the output pixel's footprint (at S = 2
 *   exactly the 2 x 2 box average);
 * - class masks and instance maps: nearest, centre-aligned (src = floor((o + 0.5) in / out)).
 *   For S >= 1 every input pixel lands on at least one output pixel, so no one-pixel contour ring
 *   or separation line is lost; a one-pixel line becomes 1-2 px wide, i.e. it keeps its width on
 *   the original grid.
 */
import { Tensor, noGrad, upsampleBilinear } from '../autodiff/index.js';
import { checkShape } from '../particles/labels.js';

/** The largest working scale (4 = 16x the pixels per image). */
export const MAX_WORKING_SCALE = 4;

/** Checks a working scale: a finite number in [1, MAX_WORKING_SCALE]; `what` names it in the error (e.g. '--scale'). */
export function checkWorkingScale(scale: number, what: string): void {
  if (!(Number.isFinite(scale) && scale >= 1 && scale <= MAX_WORKING_SCALE)) {
    throw new Error(`${what} must be a number in [1, ${MAX_WORKING_SCALE}] (the factor images are resampled by for the U-Net; 1 = as they are), got '${scale}'`);
  }
}

/** The working size [width, height] of a width x height image at `scale`. */
export function workingSize(width: number, height: number, scale: number): [number, number] {
  return [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
}

/** `planes` stacked row-major planes of width x height resampled bilinearly to toWidth x toHeight (see the module comment). */
export function resampleBilinear(data: Float32Array, planes: number, width: number, height: number, toWidth: number, toHeight: number): Float32Array {
  checkShape(data.length, width, height * planes, 'planes');
  if (width === toWidth && height === toHeight) return Float32Array.from(data);
  const out = noGrad(() => upsampleBilinear(new Tensor(data, [1, planes, height, width]), { size: [toHeight, toWidth] }));
  // A copy: the op's buffer may come from the tensor pool (autodiff/pool.ts).
  return Float32Array.from(out.data);
}

/** A label plane (classes or instance ids) resampled by centre-aligned nearest neighbour (see the module comment). */
export function resampleNearest<T extends Uint8Array | Int32Array>(labels: T, width: number, height: number, toWidth: number, toHeight: number): T {
  checkShape(labels.length, width, height, 'label plane');
  const out = new (labels.constructor as new (n: number) => T)(toWidth * toHeight);
  const xs = Int32Array.from({ length: toWidth }, (_, o) => Math.min(width - 1, Math.floor(((o + 0.5) * width) / toWidth)));
  for (let oy = 0; oy < toHeight; oy++) {
    const row = Math.min(height - 1, Math.floor(((oy + 0.5) * height) / toHeight)) * width;
    for (let ox = 0; ox < toWidth; ox++) out[oy * toWidth + ox] = labels[row + xs[ox]];
  }
  return out;
}
