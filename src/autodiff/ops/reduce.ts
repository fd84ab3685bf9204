/** Reductions over axes: sum, mean, max, min, var, logsumexp. */
import { record } from '../tape.js';
import { Tensor, allocData } from '../tensor.js';
import { forEachBroadcast, normalizeAxes, sizeOf } from '../shape.js';
import { broadcastTo, div, sub, square, exp, log, add } from './elementwise.js';
import { reshape } from './shape.js';

export type Axes = number | readonly number[] | undefined;

/** The shape with reduced axes set to 1 (keepdims form) and the final output shape. */
function reducedShapes(shape: readonly number[], axes: number[], keepDims: boolean): { kept: number[]; out: number[] } {
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = keepDims ? kept : shape.filter((_, i) => !axes.includes(i));
  return { kept, out };
}

/** Reduces x over axes with an accumulator (no tape); returns data in keepdims layout. */
function reduceRaw(x: Tensor, kept: number[], init: number, f: (acc: number, v: number) => number): Tensor['data'] {
  const out = allocData(x.dtype, sizeOf(kept));
  if (init !== 0) out.fill(init);
  const xd = x.data;
  forEachBroadcast(x.shape, x.shape, kept, (i, _a, j) => {
    out[j] = f(out[j], xd[i]);
  });
  return out;
}

export function sum(x: Tensor, axes?: Axes, keepDims = false): Tensor {
  const ax = normalizeAxes(axes, x.ndim);
  const { kept, out } = reducedShapes(x.shape, ax, keepDims);
  const data = reduceRaw(x, kept, 0, (a, v) => a + v);
  return record('sum', new Tensor(data, out), [x], (g) => [broadcastTo(reshape(g, kept), x.shape)]);
}

export function mean(x: Tensor, axes?: Axes, keepDims = false): Tensor {
  const ax = normalizeAxes(axes, x.ndim);
  const count = ax.reduce((n, a) => n * x.shape[a], 1);
  return div(sum(x, ax, keepDims), count);
}

/**
 * Max over axes. At ties the gradient is shared equally among the maximal elements, so it is
 * defined, finite and symmetric.
 */
export function max(x: Tensor, axes?: Axes, keepDims = false): Tensor {
  return extremum('max', x, axes, keepDims, -Infinity, (a, v) => (v > a ? v : a));
}

export function min(x: Tensor, axes?: Axes, keepDims = false): Tensor {
  return extremum('min', x, axes, keepDims, Infinity, (a, v) => (v < a ? v : a));
}

function extremum(name: string, x: Tensor, axes: Axes, keepDims: boolean, init: number, pick: (a: number, v: number) => number): Tensor {
  const ax = normalizeAxes(axes, x.ndim);
  if (ax.some((a) => x.shape[a] === 0)) throw new Error(`${name}() over an empty axis`);
  const { kept, out } = reducedShapes(x.shape, ax, keepDims);
  const m = reduceRaw(x, kept, init, pick);
  return record(name, new Tensor(m, out), [x], (g) => {
    const xd = x.data;
    const counts = allocData(x.dtype, m.length);
    forEachBroadcast(x.shape, x.shape, kept, (i, _a, j) => {
      if (xd[i] === m[j]) counts[j]++;
    });
    const gk = reshape(g, kept).data;
    const gx = allocData(x.dtype, x.size);
    forEachBroadcast(x.shape, x.shape, kept, (i, _a, j) => {
      if (xd[i] === m[j]) gx[i] = gk[j] / counts[j];
    });
    return [new Tensor(gx, x.shape)];
  });
}

/** Variance over axes; `correction` 0 is the population variance (BatchNorm), 1 the sample one. */
export function variance(x: Tensor, axes?: Axes, keepDims = false, correction = 0): Tensor {
  const ax = normalizeAxes(axes, x.ndim);
  const count = ax.reduce((n, a) => n * x.shape[a], 1);
  const centred = sub(x, mean(x, ax, true));
  return div(sum(square(centred), ax, keepDims), Math.max(count - correction, 0));
}

/** log(sum(exp(x))) over axes, shifted by the max for stability (shift carries no gradient). */
export function logsumexp(x: Tensor, axes?: Axes, keepDims = false): Tensor {
  const ax = normalizeAxes(axes, x.ndim);
  const { kept, out } = reducedShapes(x.shape, ax, keepDims);
  const m = reduceRaw(x, kept, -Infinity, (a, v) => (v > a ? v : a));
  for (let i = 0; i < m.length; i++) if (!Number.isFinite(m[i])) m[i] = 0;
  const shift = new Tensor(m, kept);
  const lse = add(log(sum(exp(sub(x, shift)), ax, true)), shift);
  return keepDims ? lse : reshape(lse, out);
}


// ---------------------------------------------------------------------------------------------
import { randomInput, type GradcheckCase } from '../gradcheck.js';

const x345 = (rng: Parameters<GradcheckCase['make']>[0]) => randomInput(rng, [3, 4, 5]);
export const gradcheckCases: GradcheckCase[] = [
  { op: 'sum', variant: 'all axes', make: (rng) => ({ f: (x) => sum(x), inputs: [x345(rng)] }) },
  { op: 'sum', variant: 'axes [0, 2], keepDims', make: (rng) => ({ f: (x) => sum(x, [0, 2], true), inputs: [x345(rng)] }) },
  { op: 'mean', variant: 'axis -1', make: (rng) => ({ f: (x) => mean(x, -1), inputs: [x345(rng)] }) },
  { op: 'max', variant: 'axis 1', make: (rng) => ({ f: (x) => max(x, 1), inputs: [x345(rng)] }) },
  { op: 'min', variant: 'axes [0, 1]', make: (rng) => ({ f: (x) => min(x, [0, 1]), inputs: [x345(rng)] }) },
  { op: 'variance', variant: 'axis 0, population', make: (rng) => ({ f: (x) => variance(x, 0), inputs: [x345(rng)] }) },
  { op: 'variance', variant: 'axes [1, 2], sample (correction 1)', make: (rng) => ({ f: (x) => variance(x, [1, 2], true, 1), inputs: [x345(rng)] }) },
  { op: 'logsumexp', variant: 'axis 1, large values', make: (rng) => ({ f: (x) => logsumexp(x, 1), inputs: [randomInput(rng, [3, 4, 5], 50, 60)] }) },
];
