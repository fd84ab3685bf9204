/**
 * softmax and logSoftmax along one axis, computed stably (shifted by the maximum along the axis)
 * with fused vector-Jacobian products:
 *   softmax:    dx = y * (g - sum(g * y))
 *   logSoftmax: dx = g - softmax(x) * sum(g)
 */
import { record } from '../tape.js';
import { Tensor, allocData } from '../tensor.js';
import { normalizeAxis, sizeOf } from '../shape.js';
import { randomInput, type GradcheckCase } from '../gradcheck.js';

/** Splits a shape around `axis` into (outer, len, inner) for strided loops along the axis. */
export function axisLayout(shape: readonly number[], axis: number): { outer: number; len: number; inner: number } {
  const a = normalizeAxis(axis, shape.length);
  return { outer: sizeOf(shape.slice(0, a)), len: shape[a], inner: sizeOf(shape.slice(a + 1)) };
}

/** Writes log-softmax of x along the axis into out (raw, no tape). */
function logSoftmaxRaw(xd: Tensor['data'], out: Tensor['data'], outer: number, len: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * len * inner + i;
      let m = -Infinity;
      for (let k = 0; k < len; k++) m = Math.max(m, xd[base + k * inner]);
      if (!Number.isFinite(m)) m = 0; // all -Inf (or +Inf present): let the arithmetic give NaN/-Inf honestly
      let s = 0;
      for (let k = 0; k < len; k++) s += Math.exp(xd[base + k * inner] - m);
      const lse = m + Math.log(s);
      for (let k = 0; k < len; k++) out[base + k * inner] = xd[base + k * inner] - lse;
    }
  }
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  if (x.ndim === 0) throw new Error('logSoftmax needs at least one axis');
  const { outer, len, inner } = axisLayout(x.shape, axis);
  const out = allocData(x.dtype, x.size);
  logSoftmaxRaw(x.data, out, outer, len, inner);
  return record('logSoftmax', new Tensor(out, x.shape), [x], (g) => {
    const gd = g.data;
    const gx = allocData(g.dtype, g.size);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const base = o * len * inner + i;
        let s = 0;
        for (let k = 0; k < len; k++) s += gd[base + k * inner];
        for (let k = 0; k < len; k++) gx[base + k * inner] = gd[base + k * inner] - Math.exp(out[base + k * inner]) * s;
      }
    }
    return [new Tensor(gx, x.shape)];
  });
}

export function softmax(x: Tensor, axis = -1): Tensor {
  if (x.ndim === 0) throw new Error('softmax needs at least one axis');
  const { outer, len, inner } = axisLayout(x.shape, axis);
  const out = allocData(x.dtype, x.size);
  logSoftmaxRaw(x.data, out, outer, len, inner);
  for (let i = 0; i < out.length; i++) out[i] = Math.exp(out[i]);
  return record('softmax', new Tensor(out, x.shape), [x], (g) => {
    const gd = g.data;
    const gx = allocData(g.dtype, g.size);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const base = o * len * inner + i;
        let s = 0;
        for (let k = 0; k < len; k++) s += gd[base + k * inner] * out[base + k * inner];
        for (let k = 0; k < len; k++) gx[base + k * inner] = out[base + k * inner] * (gd[base + k * inner] - s);
      }
    }
    return [new Tensor(gx, x.shape)];
  });
}

// ---------------------------------------------------------------------------------------------

export const gradcheckCases: GradcheckCase[] = [
  { op: 'softmax', variant: 'last axis [3, 5]', make: (rng) => ({ f: (x) => softmax(x), inputs: [randomInput(rng, [3, 5], -3, 3)] }) },
  { op: 'softmax', variant: 'channel axis of [2, 3, 2, 2]', make: (rng) => ({ f: (x) => softmax(x, 1), inputs: [randomInput(rng, [2, 3, 2, 2], -3, 3)] }) },
  { op: 'softmax', variant: 'size-1 axis', make: (rng) => ({ f: (x) => softmax(x, 0), inputs: [randomInput(rng, [1, 4])] }) },
  { op: 'softmax', variant: 'large offset (+500, stability)', make: (rng) => ({ f: (x) => softmax(x, 1), inputs: [randomInput(rng, [2, 4], 499, 501)] }) },
  { op: 'logSoftmax', variant: 'last axis [4, 3]', make: (rng) => ({ f: (x) => logSoftmax(x), inputs: [randomInput(rng, [4, 3], -3, 3)] }) },
  { op: 'logSoftmax', variant: 'channel axis of [2, 3, 1, 3]', make: (rng) => ({ f: (x) => logSoftmax(x, 1), inputs: [randomInput(rng, [2, 3, 1, 3], -3, 3)] }) },
  { op: 'logSoftmax', variant: 'large negative offset (-800, stability)', make: (rng) => ({ f: (x) => logSoftmax(x, 0), inputs: [randomInput(rng, [3, 2], -801, -799)] }) },
];
