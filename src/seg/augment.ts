/**
 * Training crops and their augmentation, all drawn from one seeded Rng (so a run, and a resumed
 * run, sees the same crops). Pure: no Node modules.
 *
 * A crop is cut from a whole image at a random position (mirrored at the image border when the
 * image is smaller than the crop), optionally centred on a random particle pixel (foreground
 * oversampling, as nnU-Net does for a third of its patches), then:
 *  - geometry (image and mask alike): one of the 8 symmetries of the square (90-degree rotations
 *    times a flip);
 *  - intensity (image only, values in [0, 1], clamped after each): particle contrast (below),
 *    a smooth illumination field, faint ridges, gamma, contrast around the crop mean, brightness
 *    shift, Gaussian blur, additive Gaussian noise, each with a probability.
 *
 * The first three exist for the synthetic -> real gap (domain randomisation; they use only the
 * training crop's own mask). Renders of the current generator show nearly saturated particles on
 * a flat background, while real TiO2 SEM particles are grey, shaded, with bright rims, on a
 * background with a faint squiggly bright ridge texture; a U-Net trained on plain renders found
 * only the brightest particle cores on real images (dev-test DSC 0.64). So:
 *  - particle contrast: the particle's difference from the background level is scaled by s in
 *    [1 - fgContrast, 1] through a blurred particle mask (the renders' blurred edges are scaled
 *    with their particle, so no bright halo is left outside a dimmed particle);
 *  - field: a smooth random field (bilinear over a 4 x 4 grid) of amplitude up to
 *    `field`, added: uneven illumination and particle shading;
 *  - ridges: up to 30 thin random-walk curves of brightness up to `ridges`, slightly blurred,
 *    added to the image (labelled as whatever lies beneath them): the substrate texture. As
 *    the real substrate shows it nearly everywhere, it is applied with probability 2p.
 * Opt-in (`interior` > 0): each particle's interior re-shaded by a random profile from the exact
 * instance maps (interior-augment.ts).
 */
import type { Rng } from '../autodiff/index.js';
import { gaussianBlur } from '../particles/otsu.js';
import { drawInteriorShade, shadeInteriors } from './interior-augment.js';

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
  /** Particle-vs-background contrast scaled by s in [1 - fgContrast, 1] (default 0.7; 0 = off). */
  fgContrast: number;
  /** Largest amplitude of an added smooth random field (default 0.15; 0 = off). */
  field: number;
  /** Largest brightness of added thin random ridges (default 0.15; 0 = off). */
  ridges: number;
  /** Probability of each intensity transform (default 0.3; blur uses half of it, ridges twice it). */
  p: number;
  /**
   * Probability per crop of re-shading every particle's interior by a random profile
   * (interior-augment.ts; needs the crop's instance ids and outline distances; default 0 = off).
   */
  interior: number;
}

/**
 * Defaults (see the module comment for the why of the first three): measured on TiO2-SEM
 * dev-test, see docs/segmentation.md.
 */
export const DEFAULT_AUGMENT: AugmentOptions = { geometric: true, gamma: 1.5, contrast: 0.25, brightness: 0.1, blur: 1.5, noise: 0.04, fgContrast: 0.7, field: 0.15, ridges: 0.15, p: 0.3, interior: 0 };

/** The options with every intensity transform off (geometry kept as given). */
export function noIntensityAugment(geometric: boolean): AugmentOptions {
  return { geometric, gamma: 1, contrast: 0, brightness: 0, blur: 0, noise: 0, fgContrast: 0, field: 0, ridges: 0, p: 0, interior: 0 };
}

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
 * bits 0-1 = flips of x and y) into image / mask buffers (and a per-pixel plane `extra.from` into
 * `extra.to`, e.g. a distance target).
 */
export function extractCrop(src: CropSource, x0: number, y0: number, size: number, sym: number, image: Float32Array, mask: Uint8Array, ...extras: { from: Float32Array; to: Float32Array }[]): void {
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
      for (const e of extras) e.to[y * size + x] = e.from[s];
    }
  }
}

function clamp01(a: Float32Array): void {
  for (let i = 0; i < a.length; i++) a[i] = a[i] < 0 ? 0 : a[i] > 1 ? 1 : a[i];
}

/** Scales the particles' contrast to the background level (see the module comment). */
function particleContrast(img: Float32Array, mask: Uint8Array, size: number, s: number): void {
  let bg = 0;
  let nb = 0;
  const soft = new Float32Array(img.length);
  for (let i = 0; i < img.length; i++) {
    if (mask[i] === 0) {
      bg += img[i];
      nb++;
    } else soft[i] = 1;
  }
  if (nb === 0 || nb === img.length) return;
  bg /= nb;
  const w = gaussianBlur(soft, size, size, 1.5);
  for (let i = 0; i < img.length; i++) {
    const k = 1 - (1 - s) * Math.min(1, 1.5 * w[i]);
    img[i] = bg + (img[i] - bg) * k;
  }
}

/** Adds a smooth random field: bilinear interpolation of a 4 x 4 grid of values in [-amp, amp]. */
function smoothField(img: Float32Array, size: number, amp: number, rng: Rng): void {
  const g = 4;
  const grid = Array.from({ length: g * g }, () => rng.range(-amp, amp));
  for (let y = 0; y < size; y++) {
    const fy = (y / Math.max(1, size - 1)) * (g - 1);
    const y0 = Math.min(g - 2, Math.floor(fy));
    const ty = fy - y0;
    for (let x = 0; x < size; x++) {
      const fx = (x / Math.max(1, size - 1)) * (g - 1);
      const x0 = Math.min(g - 2, Math.floor(fx));
      const tx = fx - x0;
      const a = grid[y0 * g + x0] * (1 - tx) + grid[y0 * g + x0 + 1] * tx;
      const b = grid[(y0 + 1) * g + x0] * (1 - tx) + grid[(y0 + 1) * g + x0 + 1] * tx;
      img[y * size + x] += a * (1 - ty) + b * ty;
    }
  }
}

/** Adds 1..30 thin random-walk curves (blurred by 0.7 px) of brightness up to `amp`. */
function addRidges(img: Float32Array, size: number, amp: number, rng: Rng): void {
  const lines = new Float32Array(img.length);
  const count = 1 + rng.int(30);
  for (let c = 0; c < count; c++) {
    let x = rng.range(0, size);
    let y = rng.range(0, size);
    let dir = rng.range(0, 2 * Math.PI);
    const len = Math.round(rng.range(0.1, 0.6) * size);
    const v = rng.range(0.3, 1);
    for (let t = 0; t < len; t++) {
      dir += rng.normal(0, 0.35);
      x += Math.cos(dir);
      y += Math.sin(dir);
      const xi = Math.round(x);
      const yi = Math.round(y);
      if (xi >= 0 && yi >= 0 && xi < size && yi < size) lines[yi * size + xi] = Math.max(lines[yi * size + xi], v);
    }
  }
  const blurred = gaussianBlur(lines, size, size, 0.7);
  const a = rng.range(0.3, 1) * amp * 2.5; // a 0.7 px blur spreads a line over ~2.5 px
  for (let i = 0; i < img.length; i++) img[i] += a * blurred[i];
}

/** A crop's particles for the interior re-shading: instance ids (0 = background) and outline distances (targets.ts instanceOutlineDistance). */
export interface CropParticles {
  ids: ArrayLike<number>;
  outline: ArrayLike<number>;
}

/**
 * Applies the intensity transforms in place to a size x size image in [0, 1]; `mask` (the crop's
 * classes) is read by the particle-contrast transform only, `particles` by the interior re-shading
 * only (first, so that the other transforms act on the re-shaded particles).
 */
export function augmentIntensity(img: Float32Array, size: number, opts: AugmentOptions, rng: Rng, mask?: Uint8Array, particles?: CropParticles): void {
  const { p } = opts;
  if (opts.interior > 0 && particles && rng.uniform() < opts.interior) {
    shadeInteriors(img, particles.ids, particles.outline, size, () => drawInteriorShade(rng));
    clamp01(img);
  }
  if (opts.fgContrast > 0 && mask && rng.uniform() < p) {
    particleContrast(img, mask, size, 1 - rng.range(0, Math.min(1, opts.fgContrast)));
  }
  if (opts.field > 0 && rng.uniform() < p) {
    smoothField(img, size, rng.range(0, opts.field), rng);
    clamp01(img);
  }
  if (opts.ridges > 0 && rng.uniform() < 2 * p) {
    addRidges(img, size, opts.ridges, rng);
    clamp01(img);
  }
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

/**
 * How an image is mapped to the network's input, in training and inference alike:
 * - 'image-zscore': (x - mean) / std of the whole image;
 * - 'fixed': (x - 0.5) / 0.25, the same for every image. Grey levels keep their absolute meaning,
 *   which holds when training and test images share a microscope setting, as DiffRenderGAN's
 *   renders do by construction (the GAN fits their grey levels to the real images). The z-score
 *   instead depends on how much of the image is particle: on a real micrograph with few particles
 *   its small standard deviation blows the substrate texture up to particle-like values.
 */
export type Normalisation = 'image-zscore' | 'fixed';

export const NORMALISATIONS: readonly Normalisation[] = ['image-zscore', 'fixed'];

/** The (mean, std) that `normalisation` subtracts and divides by for this image. */
export function normalisationStats(img: ArrayLike<number>, normalisation: Normalisation): { mean: number; std: number } {
  return normalisation === 'fixed' ? { mean: 0.5, std: 0.25 } : imageStats(img);
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
