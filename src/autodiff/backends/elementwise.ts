/**
 * Allocation-free elementwise helpers for fused work around the heavy kernels (bias + activation,
 * their gradients, batch-norm scale/shift, SGD/Adam-style updates). Each writes into `out` (which
 * may alias an input) over [0, out.length) and returns it; nothing allocates, so the engine can
 * reuse buffers across steps. Plain loops over typed arrays: these are memory-bound, where V8's
 * optimised JS is already close to wasm.
 */
import type { Data } from '../backend.js';

/** out = a * x + y */
export function axpyInto(out: Data, a: number, x: Data, y: Data): Data {
  for (let i = 0; i < out.length; i++) out[i] = a * x[i]! + y[i]!;
  return out;
}

/** out[i] = x[i] >= 0 ? x[i] : slope * x[i]  (ReLU for slope = 0) */
export function leakyReluInto(out: Data, x: Data, slope: number): Data {
  for (let i = 0; i < out.length; i++) {
    const v = x[i]!;
    out[i] = v >= 0 ? v : slope * v;
  }
  return out;
}

/** out[i] = dy[i] * (x[i] >= 0 ? 1 : slope): gradient of leakyRelu given its input x. */
export function leakyReluGradInto(out: Data, x: Data, dy: Data, slope: number): Data {
  for (let i = 0; i < out.length; i++) out[i] = x[i]! >= 0 ? dy[i]! : slope * dy[i]!;
  return out;
}

/**
 * Per-channel affine on NCHW planes: out[n, c, :] = x[n, c, :] * scale[c] + shift[c]
 * (bias add with scale = 1; inference batch-norm; the normalise step of training batch-norm).
 */
export function channelAffineInto(out: Data, x: Data, scale: Data | null, shift: Data | null, n: number, c: number, hw: number): Data {
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const s = scale ? scale[ch]! : 1, t = shift ? shift[ch]! : 0;
      const o = (b * c + ch) * hw;
      for (let i = o; i < o + hw; i++) out[i] = x[i]! * s + t;
    }
  }
  return out;
}

/**
 * Per-channel sums over NCHW planes into `sum` (and of squares into `sumSq` when given): the
 * bias gradient and batch-norm statistics in one pass. Overwrites `sum` / `sumSq`.
 */
export function channelSumsInto(sum: Data, sumSq: Data | null, x: Data, n: number, c: number, hw: number): Data {
  sum.fill(0);
  sumSq?.fill(0);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const o = (b * c + ch) * hw;
      let s = 0, q = 0;
      for (let i = o; i < o + hw; i++) {
        const v = x[i]!;
        s += v;
        q += v * v;
      }
      sum[ch]! += s;
      if (sumSq) sumSq[ch]! += q;
    }
  }
  return sum;
}
