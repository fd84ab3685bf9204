/**
 * Exact Euclidean distance transform (P. F. Felzenszwalb, D. P. Huttenlocher, "Distance
 * Transforms of Sampled Functions", Theory of Computing 8, 415 (2012)): a 1-D lower-envelope-of-
 * parabolas pass over every column, then over every row; linear time in the pixel count.
 */
import { checkShape } from './labels.js';

export interface DistanceOptions {
  /**
   * Whether the pixels just outside the image count as background. Default false: distances are
   * measured to background pixels inside the image only (scipy's `distance_transform_edt`), so a
   * particle cut by the image border is not made to look thin there.
   */
  borderIsBackground?: boolean;
}

/**
 * 1-D squared distance transform of the sampled function f (length n) into d, using v and z as
 * scratch (lengths n and n + 1). Infinity entries of f are allowed.
 */
function edt1d(f: Float64Array, n: number, d: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = 0;
  let first = 0;
  while (first < n && f[first] === Infinity) first++;
  if (first === n) {
    for (let q = 0; q < n; q++) d[q] = Infinity;
    return;
  }
  v[0] = first;
  z[0] = -Infinity;
  z[1] = Infinity;
  for (let q = first + 1; q < n; q++) {
    if (f[q] === Infinity) continue;
    let s: number;
    for (;;) {
      const p = v[k];
      s = (f[q] + q * q - (f[p] + p * p)) / (2 * (q - p));
      if (s <= z[k] && k > 0) k--;
      else break;
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++;
    const p = v[k];
    d[q] = (q - p) * (q - p) + f[p];
  }
}

/**
 * Squared Euclidean distance from every pixel to the nearest background pixel (mask value 0);
 * 0 on background. Pixels with no background anywhere get Infinity.
 */
export function squaredDistanceTransform(
  mask: ArrayLike<number>,
  width: number,
  height: number,
  options: DistanceOptions = {},
): Float64Array {
  checkShape(mask.length, width, height, 'mask');
  if (options.borderIsBackground) {
    // Pad by one background pixel on every side, transform, crop.
    const pw = width + 2;
    const ph = height + 2;
    const padded = new Uint8Array(pw * ph);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) padded[(y + 1) * pw + x + 1] = mask[y * width + x] ? 1 : 0;
    }
    const full = squaredDistanceTransform(padded, pw, ph);
    const out = new Float64Array(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) out[y * width + x] = full[(y + 1) * pw + x + 1];
    }
    return out;
  }
  const n = Math.max(width, height);
  const f = new Float64Array(n);
  const d = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  const out = new Float64Array(width * height);
  for (let i = 0; i < out.length; i++) out[i] = mask[i] ? Infinity : 0;
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) f[y] = out[y * width + x];
    edt1d(f, height, d, v, z);
    for (let y = 0; y < height; y++) out[y * width + x] = d[y];
  }
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) f[x] = out[row + x];
    edt1d(f, width, d, v, z);
    for (let x = 0; x < width; x++) out[row + x] = d[x];
  }
  return out;
}

/** Euclidean distance from every foreground pixel to the nearest background pixel (see above). */
export function distanceTransform(
  mask: ArrayLike<number>,
  width: number,
  height: number,
  options: DistanceOptions = {},
): Float32Array {
  const sq = squaredDistanceTransform(mask, width, height, options);
  const out = new Float32Array(sq.length);
  for (let i = 0; i < sq.length; i++) out[i] = Math.sqrt(sq[i]);
  return out;
}
