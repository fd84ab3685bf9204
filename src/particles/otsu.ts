/**
 * Otsu's global threshold (N. Otsu, IEEE Trans. SMC 9, 62 (1979)) on a [0, 1] float image, and a
 * separable Gaussian blur to smooth the image before thresholding.
 */
import { UserError } from '../errors.js';
import { checkShape } from './labels.js';

const BINS = 256;

/** Histogram bin of a value: floor(v * 256), values clamped into [0, 1] first. */
function binOf(v: number): number {
  const b = Math.floor(v * BINS);
  return b < 0 ? 0 : b >= BINS ? BINS - 1 : b;
}

/**
 * Otsu's threshold of several images' pixels taken together: one threshold for a set of patches,
 * where a patch that is almost all substrate has no threshold of its own worth the name.
 */
export function pooledOtsuThreshold(images: readonly ArrayLike<number>[]): number {
  let total = 0;
  for (const s of images) total += s.length;
  const pooled = new Float32Array(total);
  let o = 0;
  for (const s of images) {
    pooled.set(s, o);
    o += s.length;
  }
  return otsuThreshold(pooled);
}

/**
 * Otsu's threshold with a 256-bin histogram (bin k holds [k/256, (k+1)/256); values outside
 * [0, 1] are clamped into the end bins). Returns t = (k* + 1) / 256 where k* maximises the
 * between-class variance of the split {bins <= k*} | {bins > k*}; the foreground is `v >= t`
 * (exactly the pixels in bins above k*, as t is a binary fraction). Where several k tie, the
 * middle of the tied run is taken, so an image of two values gives a threshold halfway between
 * them rather than just above the lower one. `mask`, when given, restricts the
 * histogram to its non-zero pixels. A constant image (or an empty mask) gives a t above every value (no foreground), Infinity
 * when the values lie in the top bin.
 */
export function otsuThreshold(image: ArrayLike<number>, mask?: ArrayLike<number>): number {
  if (mask && mask.length !== image.length) {
    throw new UserError(`otsuThreshold: mask has ${mask.length} pixels, image ${image.length}`);
  }
  const hist = new Float64Array(BINS);
  let n = 0;
  for (let i = 0; i < image.length; i++) {
    if (mask && !mask[i]) continue;
    const v = image[i];
    if (Number.isNaN(v)) throw new UserError(`otsuThreshold: pixel ${i} is NaN`);
    hist[binOf(v)]++;
    n++;
  }
  if (n === 0) return Infinity;
  let totalSum = 0;
  for (let k = 0; k < BINS; k++) totalSum += k * hist[k];
  let w0 = 0;
  let sum0 = 0;
  let best = -1;
  let firstBest = -1;
  let lastBest = -1;
  for (let k = 0; k < BINS - 1; k++) {
    w0 += hist[k];
    sum0 += k * hist[k];
    const w1 = n - w0;
    if (w0 === 0 || w1 === 0) continue;
    const m0 = sum0 / w0;
    const m1 = (totalSum - sum0) / w1;
    const between = w0 * w1 * (m0 - m1) * (m0 - m1);
    // Relative tolerance, so that mathematically equal scores computed differently still tie.
    if (between > best * (1 + 1e-12)) {
      best = between;
      firstBest = k;
      lastBest = k;
    } else if (between >= best * (1 - 1e-12)) {
      lastBest = k;
    }
  }
  if (firstBest < 0) {
    // A single occupied bin: no split exists; put the threshold above it.
    let k = BINS - 1;
    while (hist[k] === 0) k--;
    return k === BINS - 1 ? Infinity : (k + 1) / BINS;
  }
  const k = Math.floor((firstBest + lastBest) / 2);
  return (k + 1) / BINS;
}

/** 1 where `image[i] >= threshold`, else 0. */
export function applyThreshold(image: ArrayLike<number>, threshold: number): Uint8Array {
  const out = new Uint8Array(image.length);
  for (let i = 0; i < image.length; i++) out[i] = image[i] >= threshold ? 1 : 0;
  return out;
}

/**
 * Separable Gaussian blur with standard deviation `sigma` px, kernel truncated at
 * ceil(3 sigma) and normalised; borders are handled by reflection about the edge pixel
 * (... 2 1 | 0 1 2 ...). sigma = 0 returns a copy.
 */
export function gaussianBlur(image: ArrayLike<number>, width: number, height: number, sigma: number): Float32Array {
  checkShape(image.length, width, height, 'image');
  if (!Number.isFinite(sigma) || sigma < 0) throw new UserError(`sigma must be a finite number >= 0 (got ${sigma})`);
  // A plain copy: Float32Array.from(image) goes through the iterator protocol.
  const out = new Float32Array(image.length);
  out.set(image);
  if (sigma === 0) return out;
  const r = Math.max(1, Math.ceil(3 * sigma));
  const kernel = new Float64Array(2 * r + 1);
  let s = 0;
  for (let i = -r; i <= r; i++) s += kernel[i + r] = Math.exp((-i * i) / (2 * sigma * sigma));
  for (let i = 0; i < kernel.length; i++) kernel[i] /= s;
  const line = new Float64Array(Math.max(width, height) + 2 * r);
  blurPass(out, line, kernel, r, width, height, width, 1); // rows
  blurPass(out, line, kernel, r, height, width, 1, width); // columns
  return out;
}

/** Index i of a line of n samples reflected about its edge pixels (... 2 1 | 0 1 2 ...). */
export function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let j = ((i % period) + period) % period;
  if (j >= n) j = period - j;
  return j;
}

/**
 * One separable pass in place: `count` lines of n samples (line c starts at c * stride, samples
 * `step` apart), each copied into `line` with r reflected samples on both sides, then convolved.
 * Only the 2r border samples need the reflection.
 */
function blurPass(out: Float32Array, line: Float64Array, kernel: Float64Array, r: number, n: number, count: number, stride: number, step: number): void {
  const taps = 2 * r + 1;
  for (let c = 0; c < count; c++) {
    const base = c * stride;
    for (let i = -r; i < 0; i++) line[i + r] = out[base + reflectIndex(i, n) * step];
    for (let i = 0, o = base; i < n; i++, o += step) line[i + r] = out[o];
    for (let i = n; i < n + r; i++) line[i + r] = out[base + reflectIndex(i, n) * step];
    for (let i = 0, o = base; i < n; i++, o += step) {
      let acc = 0;
      for (let k = 0; k < taps; k++) acc += kernel[k] * line[i + k];
      out[o] = acc;
    }
  }
}
