/**
 * A small pool of Float64Array scratch buffers, so that per-call work arrays (rasterizer
 * accumulators, blur passes) are not reallocated and zeroed by the allocator on every render.
 * A buffer handed out by takeF64 belongs to the caller until it is given back with giveF64;
 * giving back is optional (an unreturned buffer is simply garbage-collected), so code paths that
 * keep a buffer alive (e.g. inside a tape closure that may never run) stay correct. Never give a
 * buffer back twice or keep using it after giving it back. Pure JS (no Node modules).
 */
const pool = new Map<number, Float64Array[]>();
/** Buffers over SharedArrayBuffer (for work split over threads), pooled apart from the others. */
const sharedPool = new Map<number, Float64Array[]>();
const MAX_PER_SIZE = 8;

/** A Float64Array of exactly n elements, filled with `fill` (default 0). */
export function takeF64(n: number, fill = 0): Float64Array {
  const list = pool.get(n);
  const b = list && list.length ? list.pop()! : null;
  if (b) {
    b.fill(fill);
    return b;
  }
  const nb = new Float64Array(n);
  if (fill !== 0) nb.fill(fill);
  return nb;
}

/** Like takeF64 but the contents are unspecified (the caller overwrites every element). */
export function takeF64Dirty(n: number): Float64Array {
  const list = pool.get(n);
  return list && list.length ? list.pop()! : new Float64Array(n);
}

/**
 * Like takeF64Dirty, over a SharedArrayBuffer (only where the host has one: Node, or a
 * cross-origin-isolated page).
 */
export function takeF64Shared(n: number): Float64Array {
  const list = sharedPool.get(n);
  return list && list.length ? list.pop()! : new Float64Array(new SharedArrayBuffer(8 * n));
}

/** Returns buffers to the pool (null / undefined entries are ignored). */
export function giveF64(...bufs: (Float64Array | null | undefined)[]): void {
  for (const b of bufs) {
    if (!b) continue;
    const p = typeof SharedArrayBuffer !== 'undefined' && b.buffer instanceof SharedArrayBuffer ? sharedPool : pool;
    let list = p.get(b.length);
    if (!list) p.set(b.length, (list = []));
    if (list.length < MAX_PER_SIZE && !list.includes(b)) list.push(b);
  }
}

/**
 * Wraps an op's backward that gives its work buffers back to this pool: a second call (a graph
 * kept with retainGraph and backpropagated again through the renderer) would read buffers that
 * may already hold another render's data, so it is an error instead of a silently wrong gradient.
 */
export function releasingBackward<A extends unknown[], R>(op: string, backward: (...args: A) => R): (...args: A) => R {
  let ran = false;
  return (...args: A): R => {
    if (ran) throw new Error(`${op}: backward called a second time on one render; its work buffers were released after the first, so render again instead of backpropagating a retained graph through the renderer twice`);
    ran = true;
    return backward(...args);
  };
}
