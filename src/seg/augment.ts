/**
 * Training crops and their augmentation, all drawn from one seeded Rng (so a run, and a resumed
 * run, sees the same crops). Pure: no Node modules.
 *
 * A crop is cut from a whole image at a random position (mirrored at the image border when the
 * image is smaller than the crop), optionally centred on a random particle pixel (foreground
 * oversampling, as nnU-Net does for a third of its patches), then:
 *  - geometry (image and mask alike): one of the 8 symmetries of the square (90-degree rotations
 *    times a flip);
 *  - intensity (image only, values in [0, 1], clamped after each): gamma, contrast around the
 *    crop mean, brightness shift, Gaussian blur, additive Gaussian noise, each with a probability.
 */
import type { Rng } from '../autodiff/index.js';
import { gaussianBlur } from './otsu.js';

export interface AugmentOptions {
  /** Random 90-degree rotations and flips (default true). */
  geometric: boolean;
  /** Gamma drawn log-uniformly in [1/gamma, gamma] (default 1.5; 1 = off). */
  gamma: number;
  /** Contrast factor in [1 - contrast, 1 + contrast] (default 0.25; 0 = off). */
  contrast: number;
  /** Brightness shift in [-brightness, brightness] (default 0.1; 0 = off). */
  brightness: number;
  /** Largest Gaussian blur sigma in px, drawn in [0.5, blur] (default 1.5; 0 = off). */
  blur: number;
  /** Largest noise standard deviation, drawn in [0, noise] (default 0.04; 0 = off). */
  noise: number;
  /** Probability of each intensity transform (default 0.3; blur uses half of it). */
  p: number;
}

export const DEFAULT_AUGMENT: AugmentOptions = { geometric: true, gamma: 1.5, contrast: 0.25, brightness: 0.1, blur: 1.5, noise: 0.04, p: 0.3 };

/** Mirrored index into [0, n) (…2 1 0 | 0 1 2 … n-1 | n-1 n-2 …). */
function mirror(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * n;
  let k = ((i % period) + period) % period;
  if (k >= n) k = period - 1 - k;
  return k;
}

export interface CropSource {
  width: number;
  height: number;
  image: Float32Array;
  classes: Uint8Array;
}

/**
 * Picks the top-left corner of a `size` crop: with probability `foreground`, centred on a random
 * non-background pixel (found by up to 50 random probes), else uniform.
 */
export function cropOrigin(src: CropSource, size: number, foreground: number, rng: Rng): [number, number] {
  const maxX = Math.max(0, src.width - size);
  const maxY = Math.max(0, src.height - size);
  if (rng.uniform() < foreground) {
    for (let t = 0; t < 50; t++) {
      const i = rng.int(src.width * src.height);
      if (src.classes[i] !== 0) {
        const cx = i % src.width;
        const cy = (i - cx) / src.width;
        const x0 = Math.min(maxX, Math.max(0, cx - (size >> 1)));
        const y0 = Math.min(maxY, Math.max(0, cy - (size >> 1)));
        return [x0, y0];
      }
    }
  }
  return [rng.int(maxX + 1), rng.int(maxY + 1)];
}

/**
 * Copies a size x size window at (x0, y0) through symmetry `sym` (0..7: bit 2 = transpose,
 * bits 0-1 = flips of x and y) into image / mask buffers.
 */
export function extractCrop(src: CropSource, x0: number, y0: number, size: number, sym: number, image: Float32Array, mask: Uint8Array): void {
  const fx = sym & 1, fy = sym & 2, tr = sym & 4;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let u = tr ? y : x;
      let v = tr ? x : y;
      if (fx) u = size - 1 - u;
      if (fy) v = size - 1 - v;
      const sx = mirror(x0 + u, src.width);
      const sy = mirror(y0 + v, src.height);
      const s = sy * src.width + sx;
      image[y * size + x] = src.image[s];
      mask[y * size + x] = src.classes[s];
    }
  }
}

function clamp01(a: Float32Array): void {
  for (let i = 0; i < a.length; i++) a[i] = a[i] < 0 ? 0 : a[i] > 1 ? 1 : a[i];
}

/** Applies the intensity transforms in place to a size x size image in [0, 1]. */
export function augmentIntensity(img: Float32Array, size: number, opts: AugmentOptions, rng: Rng): void {
  const { p } = opts;
  if (opts.gamma > 1 && rng.uniform() < p) {
    const g = Math.exp(rng.range(-Math.log(opts.gamma), Math.log(opts.gamma)));
    for (let i = 0; i < img.length; i++) img[i] = Math.pow(Math.max(img[i], 0), g);
  }
  if (opts.contrast > 0 && rng.uniform() < p) {
    const c = rng.range(1 - opts.contrast, 1 + opts.contrast);
    let m = 0;
    for (let i = 0; i < img.length; i++) m += img[i];
    m /= img.length;
    for (let i = 0; i < img.length; i++) img[i] = (img[i] - m) * c + m;
    clamp01(img);
  }
  if (opts.brightness > 0 && rng.uniform() < p) {
    const b = rng.range(-opts.brightness, opts.brightness);
    for (let i = 0; i < img.length; i++) img[i] += b;
    clamp01(img);
  }
  if (opts.blur >= 0.5 && rng.uniform() < p / 2) {
    img.set(gaussianBlur(img, size, size, rng.range(0.5, opts.blur)));
  }
  if (opts.noise > 0 && rng.uniform() < p) {
    const s = rng.range(0, opts.noise);
    for (let i = 0; i < img.length; i++) img[i] += rng.normal(0, s);
    clamp01(img);
  }
}

/** Mean and standard deviation of an image (the standard deviation floored at 1e-3). */
export function imageStats(img: ArrayLike<number>): { mean: number; std: number } {
  let s = 0;
  for (let i = 0; i < img.length; i++) s += img[i];
  const mean = s / img.length;
  let v = 0;
  for (let i = 0; i < img.length; i++) v += (img[i] - mean) ** 2;
  return { mean, std: Math.max(Math.sqrt(v / img.length), 1e-3) };
}
