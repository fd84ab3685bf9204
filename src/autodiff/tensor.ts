/**
 * Tensors: a flat Float32Array (or Float64Array, used by the gradient checks) with a shape.
 * Data is treated as immutable by every op; only optimisers write into parameters in place.
 * Gradients flow through the tape in tape.ts, recorded only for outputs of inputs that
 * require gradients, and only outside noGrad scopes.
 */
import type { Data } from './backend.js';
import { sizeOf, shapeStr, type Shape } from './shape.js';
import type { Rng } from './rng.js';
import { backward as runBackward, type TapeNode } from './tape.js';
import { profileTensorData } from './profile.js';
import { pooledFloat32 } from './pool.js';

export type DType = 'float32' | 'float64';
export type { Data };

/** A zeroed array of n elements (float32 ones may come from the gradient pool, pool.ts). */
export function allocData(dtype: DType, n: number): Data {
  return dtype === 'float64' ? new Float64Array(n) : pooledFloat32(n);
}

export function dtypeOf(data: Data): DType {
  return data instanceof Float64Array ? 'float64' : 'float32';
}

/** The wider of two dtypes (float64 wins), used when mixing them. */
export function resultDType(...ts: Tensor[]): DType {
  return ts.some((t) => t.dtype === 'float64') ? 'float64' : 'float32';
}

export class Tensor {
  readonly data: Data;
  readonly shape: readonly number[];
  /** True for parameters and for every tensor computed from one while recording. */
  requiresGrad: boolean;
  /** Accumulated gradient of a leaf that requires gradients, set by backward(). */
  grad: Tensor | null = null;
  /** @internal The tape entry that produced this tensor, dropped after backward. */
  node: TapeNode | null = null;
  /** Optional label, shown in error messages and checkpoints. */
  name?: string;

  constructor(data: Data, shape: Shape, requiresGrad = false) {
    if (data.length !== sizeOf(shape)) {
      throw new Error(`tensor data has ${data.length} elements but shape ${shapeStr(shape)} needs ${sizeOf(shape)}`);
    }
    this.data = data;
    profileTensorData(data.buffer, data.byteLength);
    this.shape = Object.freeze([...shape]);
    this.requiresGrad = requiresGrad;
  }

  get dtype(): DType {
    return dtypeOf(this.data);
  }
  get size(): number {
    return this.data.length;
  }
  get ndim(): number {
    return this.shape.length;
  }

  /** Reverse-mode pass from this tensor; see tape.ts. A non-scalar needs an explicit seed. */
  backward(seed?: Tensor): void {
    runBackward(this, seed);
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item() needs a one-element tensor, got shape ${shapeStr(this.shape)}`);
    return this.data[0];
  }

  toArray(): number[] {
    return Array.from(this.data);
  }

  /** The same data, cut off from the tape. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape, false);
  }

  /** A copy of the data (off the tape), optionally converted to another dtype. */
  clone(dtype: DType = this.dtype): Tensor {
    const d = allocData(dtype, this.size);
    d.set(this.data);
    return new Tensor(d, this.shape, false);
  }

  toString(): string {
    const head = Array.from(this.data.slice(0, 8), (v) => +v.toPrecision(4)).join(', ');
    return `Tensor(${shapeStr(this.shape)} ${this.dtype}${this.requiresGrad ? ' grad' : ''}: ${head}${this.size > 8 ? ', ...' : ''})`;
  }
}

type Nested = number | Nested[];

function flattenNested(values: Nested, shape: number[], out: number[], depth: number): void {
  if (typeof values === 'number') {
    if (depth !== shape.length) throw new Error('ragged nested array');
    out.push(values);
    return;
  }
  if (depth === shape.length) shape.push(values.length);
  else if (shape[depth] !== values.length) throw new Error('ragged nested array');
  for (const v of values) flattenNested(v, shape, out, depth + 1);
}

/**
 * Makes a tensor from numbers: a nested array (shape inferred), or flat values with a shape.
 * tensor(3) is a scalar (shape []).
 */
export function tensor(values: Nested | ArrayLike<number>, shape?: Shape, dtype: DType = 'float32'): Tensor {
  if (typeof values === 'number' || Array.isArray(values)) {
    const inferred: number[] = [];
    const flat: number[] = [];
    flattenNested(values as Nested, inferred, flat, 0);
    const d = allocData(dtype, flat.length);
    d.set(flat);
    return new Tensor(d, shape ?? inferred);
  }
  const arr = values as ArrayLike<number>;
  const d = allocData(dtype, arr.length);
  d.set(arr);
  return new Tensor(d, shape ?? [arr.length]);
}

export function full(shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
  const d = allocData(dtype, sizeOf(shape));
  if (value !== 0) d.fill(value);
  return new Tensor(d, shape);
}

export function zeros(shape: Shape, dtype: DType = 'float32'): Tensor {
  return full(shape, 0, dtype);
}

export function ones(shape: Shape, dtype: DType = 'float32'): Tensor {
  return full(shape, 1, dtype);
}

export function scalar(value: number, dtype: DType = 'float32'): Tensor {
  return full([], value, dtype);
}

export function zerosLike(t: Tensor): Tensor {
  return zeros(t.shape, t.dtype);
}

export function onesLike(t: Tensor): Tensor {
  return ones(t.shape, t.dtype);
}

/** Values 0, 1, ..., n-1. */
export function arange(n: number, dtype: DType = 'float32'): Tensor {
  const d = allocData(dtype, n);
  for (let i = 0; i < n; i++) d[i] = i;
  return new Tensor(d, [n]);
}

export function randn(shape: Shape, rng: Rng, std = 1, dtype: DType = 'float32'): Tensor {
  const d = allocData(dtype, sizeOf(shape));
  for (let i = 0; i < d.length; i++) d[i] = rng.normal(0, std);
  return new Tensor(d, shape);
}

export function rand(shape: Shape, rng: Rng, lo = 0, hi = 1, dtype: DType = 'float32'): Tensor {
  const d = allocData(dtype, sizeOf(shape));
  for (let i = 0; i < d.length; i++) d[i] = rng.range(lo, hi);
  return new Tensor(d, shape);
}

/** A leaf that requires gradients (a trainable parameter). */
export function parameter(t: Tensor, name?: string): Tensor {
  const p = new Tensor(t.data, t.shape, true);
  if (name) p.name = name;
  return p;
}
