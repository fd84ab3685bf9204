/**
 * Compute backends. The autodiff ops call the few heavy kernels below (matrix products and the
 * three convolution passes) through the active backend; everything else is plain TypeScript in
 * the ops themselves. A backend implements any subset of the kernels: missing ones fall back to
 * the reference backend, so a fast backend plugs in one op at a time.
 *
 * Layouts: row-major; images NCHW; conv weights [cOut, cIn/groups, kh, kw].
 * Kernels write into `out` (already allocated, any previous content is overwritten, never
 * accumulated). Float64 arrays must work in the reference backend (gradient checks use them);
 * a fast backend may decline float64 by returning false, which sends the call to the reference.
 */
export type Data = Float32Array | Float64Array;

/** Geometry of one 2-D convolution (cross-correlation, as in PyTorch). */
export interface Conv2dGeom {
  n: number;
  cIn: number;
  h: number;
  w: number;
  cOut: number;
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
  dilH: number;
  dilW: number;
  groups: number;
  outH: number;
  outW: number;
}

/** Batched product: for b in [0, batch): out[b] (m x n) = op(a[b]) (m x k) @ op(b[b]) (k x n). */
export interface MatmulArgs {
  a: Data;
  b: Data;
  out: Data;
  batch: number;
  m: number;
  k: number;
  n: number;
  /** a[b] is stored k x m (transposed) when true. */
  transA: boolean;
  /** b[b] is stored n x k (transposed) when true. */
  transB: boolean;
  /** Element offset between consecutive batch items; 0 broadcasts one matrix over the batch. */
  strideA: number;
  strideB: number;
}

/**
 * Each kernel returns true when it handled the call, false to defer to the reference backend
 * (e.g. for float64 or a shape it does not cover).
 */
export interface Kernels {
  matmul(args: MatmulArgs): boolean;
  /** out[n, cOut, outH, outW] = conv(x[n, cIn, h, w], w). No bias. */
  conv2d(x: Data, w: Data, out: Data, g: Conv2dGeom): boolean;
  /** dx[n, cIn, h, w] = gradient of sum(dy * conv(x, w)) with respect to x. */
  conv2dGradInput(dy: Data, w: Data, dx: Data, g: Conv2dGeom): boolean;
  /** dw[cOut, cIn/groups, kh, kw] = gradient of sum(dy * conv(x, w)) with respect to w. */
  conv2dGradWeight(x: Data, dy: Data, dw: Data, g: Conv2dGeom): boolean;
}

export interface Backend {
  readonly name: string;
  readonly kernels: Partial<Kernels>;
  /** Called once when the backend becomes active (e.g. to start workers). */
  init?(): void | Promise<void>;
  /** Releases threads or GPU contexts. */
  dispose?(): void | Promise<void>;
  /** One line for benchmark output: which code path runs each kernel. */
  describe?(): string;
}

import { referenceBackend } from './backends/reference.js';
import { profileKernel, profiling } from './profile.js';

const registry = new Map<string, Backend>([[referenceBackend.name, referenceBackend]]);
let active: Backend = referenceBackend;

export function registerBackend(backend: Backend): void {
  registry.set(backend.name, backend);
}

export function availableBackends(): string[] {
  return [...registry.keys()];
}

export function getBackend(): Backend {
  return active;
}

/** Makes a registered backend active (awaiting its init). */
export async function setBackend(name: string): Promise<Backend> {
  const b = registry.get(name);
  if (!b) throw new Error(`unknown backend '${name}'; available: ${availableBackends().join(', ')}`);
  if (b !== active) {
    await b.init?.();
    active = b;
  }
  return b;
}

/** Runs kernel `name` on the active backend, falling back to the reference implementation. */
export function runKernel<K extends keyof Kernels>(name: K, ...args: Parameters<Kernels[K]>): void {
  if (profiling()) return profileKernel(name, () => dispatchKernel(name, ...args));
  dispatchKernel(name, ...args);
}

function dispatchKernel<K extends keyof Kernels>(name: K, ...args: Parameters<Kernels[K]>): void {
  const fast = active.kernels[name] as ((...a: Parameters<Kernels[K]>) => boolean) | undefined;
  if (fast && fast(...args)) return;
  const ref = referenceBackend.kernels[name] as (...a: Parameters<Kernels[K]>) => boolean;
  ref(...args);
}

export function convOutSize(size: number, k: number, stride: number, pad: number, dil: number): number {
  return Math.floor((size + 2 * pad - dil * (k - 1) - 1) / stride) + 1;
}
