/**
 * Typed arrays over shared memory, for jobs that run on the thread lanes (lanes.ts): the one
 * place that allocates them (the scratch pool, ../scratch.ts, pools its own).
 */
import { allocData, type DType } from '../../autodiff/tensor.js';

/** Whether the host has SharedArrayBuffer (Node; a browser page only when cross-origin isolated). */
export function sharedMemoryAvailable(): boolean {
  return typeof SharedArrayBuffer !== 'undefined';
}

/**
 * A zeroed array of dtype: over shared memory when `shared` and the host has it, else an
 * ordinary one (allocData).
 */
export function allocOut(dtype: DType, n: number, shared: boolean): Float32Array | Float64Array {
  if (!shared || !sharedMemoryAvailable()) return allocData(dtype, n);
  return dtype === 'float64' ? new Float64Array(new SharedArrayBuffer(8 * n)) : new Float32Array(new SharedArrayBuffer(4 * n));
}

/** A copy of `a` over shared memory where the host has it. */
export function copyShared<T extends Float32Array | Float64Array | Uint32Array>(a: T): T {
  if (!sharedMemoryAvailable()) return a.slice() as T;
  const c = new (a.constructor as new (b: SharedArrayBuffer) => T)(new SharedArrayBuffer(a.byteLength));
  c.set(a);
  return c;
}

/** True when every argument is null or a typed array over shared memory. */
export function allShared(...arrays: (ArrayBufferView | null | undefined)[]): boolean {
  if (!sharedMemoryAvailable()) return false;
  for (const a of arrays) if (a && !(a.buffer instanceof SharedArrayBuffer)) return false;
  return true;
}
