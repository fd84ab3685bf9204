/**
 * The gradient pool. A training step allocates the same gradient buffers step after step; the
 * tape hands back those that died inside its backward pass (recycle), and allocData serves them
 * again (zeroed): fewer fresh ArrayBuffers, so fewer page faults, less zero-filling by the
 * allocator and less garbage of external memory for the GC.
 *
 * Safety: only float32 buffers allocated while the running backward() tracks them (trackBorn)
 * are taken back, only whole buffers (no views of a larger one), and the tape gives back only
 * gradients that no gradient it still holds shares a buffer with. Nothing outside the tape
 * ever sees those buffers (backward() does not track them when a gradient hook is installed or
 * the graph is retained). Tensors the caller can reach (forward outputs, .grad of leaves) are
 * never recycled.
 */
import type { Data } from './backend.js';

const pool = new Map<number, Float32Array[]>();
let pooledBytes = 0;
/** Most bytes the pool keeps (beyond that, dead buffers are left to the GC). */
const POOL_BYTES = 256 * 2 ** 20;
let born: WeakSet<ArrayBufferLike> | null = null;

/** A zeroed Float32Array of n elements, from the pool when it holds one of that length. */
export function pooledFloat32(n: number): Float32Array {
  const d = pool.get(n)?.pop();
  if (d) {
    pooledBytes -= d.byteLength;
    d.fill(0);
  }
  const out = d ?? new Float32Array(n);
  if (born) born.add(out.buffer);
  return out;
}

/** Tracks the buffers allocated from now on in `t` (null: none); returns the previous tracker. */
export function trackBorn(t: WeakSet<ArrayBufferLike> | null): WeakSet<ArrayBufferLike> | null {
  const prev = born;
  born = t;
  return prev;
}

/** Gives back a buffer nothing references any more, if `tracked` saw it allocated. */
export function recycle(d: Data, tracked: WeakSet<ArrayBufferLike>): void {
  if (!(d instanceof Float32Array) || !tracked.has(d.buffer) || d.byteOffset !== 0 || d.byteLength !== d.buffer.byteLength) return;
  if (pooledBytes + d.byteLength > POOL_BYTES) return;
  tracked.delete(d.buffer);
  let free = pool.get(d.length);
  if (!free) pool.set(d.length, (free = []));
  free.push(d);
  pooledBytes += d.byteLength;
}

/** Bytes held by the pool (tests). */
export function pooledBytesNow(): number {
  return pooledBytes;
}
