/** Ops that move data without arithmetic: reshape, permute, slice, concat, pad, gather, scatter. */
import { record } from '../tape.js';
import { Tensor, allocData } from '../tensor.js';
import { normalizeAxis, sizeOf, shapeStr, stridesOf } from '../shape.js';

/** Same data, new shape (one dimension may be -1). Shares the buffer. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const s = [...shape];
  const inferAt = s.indexOf(-1);
  if (inferAt >= 0) {
    const rest = s.reduce((n, d, i) => (i === inferAt ? n : n * d), 1);
    s[inferAt] = rest === 0 ? 0 : x.size / rest;
  }
  if (sizeOf(s) !== x.size || !s.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`cannot reshape ${shapeStr(x.shape)} (${x.size} elements) to ${shapeStr(shape)}`);
  }
  return record('reshape', new Tensor(x.data, s), [x], (g) => [new Tensor(g.data, x.shape)]);
}

/** Inserts a size-1 dimension at `axis`. */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = axis < 0 ? axis + x.ndim + 1 : axis;
  const s = [...x.shape];
  s.splice(a, 0, 1);
  return reshape(x, s);
}

export function flatten(x: Tensor, startAxis = 1): Tensor {
  return reshape(x, [...x.shape.slice(0, startAxis), -1]);
}

/** Reorders dimensions: out.shape[i] = x.shape[perm[i]]. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const n = x.ndim;
  const p = perm.map((a) => normalizeAxis(a, n));
  if (p.length !== n || new Set(p).size !== n) throw new Error(`permute: ${JSON.stringify(perm)} is not a permutation of ${n} axes`);
  const outShape = p.map((a) => x.shape[a]);
  const out = permuteData(x.data, x.shape, p, allocData(x.dtype, x.size));
  const inverse = new Array<number>(n);
  p.forEach((a, i) => (inverse[a] = i));
  return record('permute', new Tensor(out, outShape), [x], (g) => [permute(g, inverse)]);
}

function permuteData(src: Tensor['data'], shape: readonly number[], perm: number[], dst: Tensor['data']): Tensor['data'] {
  const n = shape.length;
  const inStrides = stridesOf(shape);
  const outShape = perm.map((a) => shape[a]);
  const srcStride = perm.map((a) => inStrides[a]);
  const total = dst.length;
  if (total === 0) return dst;
  const idx = new Array<number>(n).fill(0);
  let s = 0;
  for (let o = 0; o < total; o++) {
    dst[o] = src[s];
    for (let d = n - 1; d >= 0; d--) {
      idx[d]++;
      s += srcStride[d];
      if (idx[d] < outShape[d]) break;
      s -= srcStride[d] * outShape[d];
      idx[d] = 0;
    }
  }
  return dst;
}

/** Swaps two axes (by default the last two). */
export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const n = x.ndim;
  const perm = Array.from({ length: n }, (_, i) => i);
  const ia = normalizeAxis(a, n);
  const ib = normalizeAxis(b, n);
  perm[ia] = ib;
  perm[ib] = ia;
  return permute(x, perm);
}

/**
 * Slices x: ranges[i] = [start, end, step?] for axis i (missing axes are kept whole). Negative
 * start/end count from the end, as in Python; step must be positive.
 */
export function slice(x: Tensor, ranges: readonly (readonly [number, number, number?] | null)[]): Tensor {
  const n = x.ndim;
  const starts: number[] = [];
  const steps: number[] = [];
  const outShape: number[] = [];
  for (let d = 0; d < n; d++) {
    const r = ranges[d];
    const size = x.shape[d];
    let [start, end, step] = r ? [r[0], r[1], r[2] ?? 1] : [0, size, 1];
    if (step <= 0 || !Number.isInteger(step)) throw new Error(`slice: step must be a positive integer, got ${step}`);
    if (start < 0) start += size;
    if (end < 0) end += size;
    start = Math.min(Math.max(start, 0), size);
    end = Math.min(Math.max(end, start), size);
    starts.push(start);
    steps.push(step);
    outShape.push(Math.ceil((end - start) / step));
  }
  const strides = stridesOf(x.shape);
  const out = allocData(x.dtype, sizeOf(outShape));
  const offsets = mapSlice(outShape, strides, starts, steps);
  for (let i = 0; i < out.length; i++) out[i] = x.data[offsets[i]];
  return record('slice', new Tensor(out, outShape), [x], (g) => {
    const gx = allocData(g.dtype, x.size);
    for (let i = 0; i < offsets.length; i++) gx[offsets[i]] += g.data[i];
    return [new Tensor(gx, x.shape)];
  });
}

/** Flat source offsets of every element of a strided slice, in output order. */
function mapSlice(outShape: number[], strides: number[], starts: number[], steps: number[]): Int32Array {
  const total = sizeOf(outShape);
  const res = new Int32Array(total);
  if (total === 0) return res;
  const n = outShape.length;
  const idx = new Array<number>(n).fill(0);
  let off = starts.reduce((s, st, d) => s + st * strides[d], 0);
  for (let o = 0; o < total; o++) {
    res[o] = off;
    for (let d = n - 1; d >= 0; d--) {
      idx[d]++;
      off += steps[d] * strides[d];
      if (idx[d] < outShape[d]) break;
      off -= steps[d] * strides[d] * outShape[d];
      idx[d] = 0;
    }
  }
  return res;
}

/** Joins tensors along an existing axis. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error('concat: no tensors');
  const n = xs[0].ndim;
  const a = normalizeAxis(axis, n);
  for (const t of xs) {
    if (t.ndim !== n || t.shape.some((d, i) => i !== a && d !== xs[0].shape[i])) {
      throw new Error(`concat: shapes ${xs.map((t) => shapeStr(t.shape)).join(', ')} differ outside axis ${a}`);
    }
  }
  const outShape = [...xs[0].shape];
  outShape[a] = xs.reduce((s, t) => s + t.shape[a], 0);
  const outer = sizeOf(outShape.slice(0, a));
  const inner = sizeOf(outShape.slice(a + 1));
  const dtype = xs.some((t) => t.dtype === 'float64') ? 'float64' : 'float32';
  const out = allocData(dtype, sizeOf(outShape));
  const rowOut = outShape[a] * inner;
  let offset = 0;
  for (const t of xs) {
    const rowIn = t.shape[a] * inner;
    for (let o = 0; o < outer; o++) out.set(t.data.subarray(o * rowIn, (o + 1) * rowIn), o * rowOut + offset);
    offset += rowIn;
  }
  return record('concat', new Tensor(out, outShape), [...xs], (g) => {
    // Each input's gradient is its block of every outer row of g: contiguous copies.
    let at = 0;
    return xs.map((t) => {
      const rowIn = t.shape[a] * inner;
      const from = at;
      at += rowIn;
      if (!t.requiresGrad) return null;
      const gx = allocData(g.dtype, t.size);
      for (let o = 0; o < outer; o++) gx.set(g.data.subarray(o * rowOut + from, o * rowOut + from + rowIn), o * rowIn);
      return new Tensor(gx, t.shape);
    });
  });
}

/** Stacks same-shape tensors along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error('stack: no tensors');
  const a = axis < 0 ? axis + xs[0].ndim + 1 : axis;
  return concat(xs.map((t) => unsqueeze(t, a)), a);
}

/**
 * Pads with a constant: pads[i] = [before, after] for axis i (missing axes unpadded).
 * The gradient is the slice of the output gradient that covers the input.
 */
export function pad(x: Tensor, pads: readonly (readonly [number, number])[], value = 0): Tensor {
  const n = x.ndim;
  const p = Array.from({ length: n }, (_, d) => pads[d] ?? [0, 0]);
  if (p.some(([b, e]) => b < 0 || e < 0 || !Number.isInteger(b) || !Number.isInteger(e))) throw new Error('pad: amounts must be non-negative integers');
  const outShape = x.shape.map((d, i) => d + p[i][0] + p[i][1]);
  const out = allocData(x.dtype, sizeOf(outShape));
  if (value !== 0) out.fill(value);
  const offsets = mapSlice([...x.shape], stridesOf(outShape), p.map((q) => q[0]), new Array(n).fill(1));
  for (let i = 0; i < offsets.length; i++) out[offsets[i]] = x.data[i];
  return record('pad', new Tensor(out, outShape), [x], (g) => {
    const gx = allocData(g.dtype, x.size);
    for (let i = 0; i < offsets.length; i++) gx[i] = g.data[offsets[i]];
    return [new Tensor(gx, x.shape)];
  });
}

function checkIndices(indices: Int32Array | readonly number[], size: number, op: string): void {
  for (let i = 0; i < indices.length; i++) {
    const v = indices[i];
    if (!(v >= 0 && v < size) || !Number.isInteger(v)) throw new Error(`${op}: index ${v} at position ${i} out of range [0, ${size})`);
  }
}

/**
 * Selects slices along `axis` by index (like torch.index_select): out.shape[axis] = indices.length.
 * Repeated indices are allowed; their gradients add up (the adjoint is scatterAdd).
 */
export function gather(x: Tensor, indices: Int32Array | readonly number[], axis = 0): Tensor {
  const a = normalizeAxis(axis, x.ndim);
  checkIndices(indices, x.shape[a], 'gather');
  const idx = Int32Array.from(indices);
  const outer = sizeOf(x.shape.slice(0, a));
  const inner = sizeOf(x.shape.slice(a + 1));
  const outShape = [...x.shape];
  outShape[a] = idx.length;
  const out = allocData(x.dtype, sizeOf(outShape));
  const xd = x.data;
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < idx.length; k++) {
      const src = (o * x.shape[a] + idx[k]) * inner;
      const dst = (o * idx.length + k) * inner;
      for (let i = 0; i < inner; i++) out[dst + i] = xd[src + i];
    }
  }
  return record('gather', new Tensor(out, outShape), [x], (g) => [scatterAdd(g, idx, x.shape[a], a)]);
}

/**
 * Adds slices of src into a zero tensor of size `size` along `axis` at the given indices
 * (the adjoint of gather). out.shape[axis] = size; src.shape[axis] = indices.length.
 */
export function scatterAdd(src: Tensor, indices: Int32Array | readonly number[], size: number, axis = 0): Tensor {
  const a = normalizeAxis(axis, src.ndim);
  if (src.shape[a] !== indices.length) throw new Error(`scatterAdd: src has ${src.shape[a]} slices along axis ${a} but ${indices.length} indices`);
  checkIndices(indices, size, 'scatterAdd');
  const idx = Int32Array.from(indices);
  const outer = sizeOf(src.shape.slice(0, a));
  const inner = sizeOf(src.shape.slice(a + 1));
  const outShape = [...src.shape];
  outShape[a] = size;
  const out = allocData(src.dtype, sizeOf(outShape));
  const sd = src.data;
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < idx.length; k++) {
      const dst = (o * size + idx[k]) * inner;
      const from = (o * idx.length + k) * inner;
      for (let i = 0; i < inner; i++) out[dst + i] += sd[from + i];
    }
  }
  return record('scatterAdd', new Tensor(out, outShape), [src], (g) => [gather(g, idx, a)]);
}

// ---------------------------------------------------------------------------------------------
import { randomInput, type GradcheckCase } from '../gradcheck.js';

export const gradcheckCases: GradcheckCase[] = [
  { op: 'reshape', variant: '[2, 3, 4] to [4, -1]', make: (rng) => ({ f: (x) => reshape(x, [4, -1]), inputs: [randomInput(rng, [2, 3, 4])] }) },
  { op: 'permute', variant: '[2, 3, 4] by [2, 0, 1]', make: (rng) => ({ f: (x) => permute(x, [2, 0, 1]), inputs: [randomInput(rng, [2, 3, 4])] }) },
  { op: 'transpose', variant: 'last two axes', make: (rng) => ({ f: (x) => transpose(x), inputs: [randomInput(rng, [2, 3, 5])] }) },
  {
    op: 'slice',
    variant: 'negative start, step 2, odd size',
    make: (rng) => ({ f: (x) => slice(x, [null, [-4, 5, 2], [1, 2]]), inputs: [randomInput(rng, [2, 5, 3])] }),
  },
  { op: 'concat', variant: 'axis 1, unequal sizes', make: (rng) => ({ f: (a, b) => concat([a, b, a], 1), inputs: [randomInput(rng, [2, 1, 3]), randomInput(rng, [2, 4, 3])] }) },
  { op: 'stack', variant: 'new last axis', make: (rng) => ({ f: (a, b) => stack([a, b], -1), inputs: [randomInput(rng, [3, 2]), randomInput(rng, [3, 2])] }) },
  { op: 'pad', variant: 'asymmetric, constant 2', make: (rng) => ({ f: (x) => pad(x, [[0, 0], [2, 1], [0, 3]], 2), inputs: [randomInput(rng, [2, 3, 1])] }) },
  { op: 'gather', variant: 'axis 1 with repeats', make: (rng) => ({ f: (x) => gather(x, [2, 0, 2, 2], 1), inputs: [randomInput(rng, [2, 3, 2])] }) },
  { op: 'scatterAdd', variant: 'axis 0 with repeats', make: (rng) => ({ f: (x) => scatterAdd(x, [1, 1, 3, 0, 1], 5, 0), inputs: [randomInput(rng, [5, 2])] }) },
];
