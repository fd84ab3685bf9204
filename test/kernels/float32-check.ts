/**
 * Shared by the fast-kernel tests: seeded inputs and the float32 accumulation bound every fast
 * backend is checked against the float64-accumulating reference with.
 */

/** n values in [-1, 1) from a xorshift32 stream (deterministic per seed). */
export function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

export const abs = (a: Float32Array) => a.map(Math.abs);

/**
 * |got - want| <= (terms + 2) 2^-23 bound elementwise, where bound is the same product computed on
 * |a|, |b| (the standard error bound of a float32 sum of `terms` products in any order).
 */
export function expectClose(got: Float32Array, want: Float32Array, bound: Float32Array, terms: number, what: string): void {
  const f = (terms + 2) * 2 ** -23;
  for (let i = 0; i < want.length; i++) {
    const tol = f * bound[i]! + 1e-30;
    if (!(Math.abs(got[i]! - want[i]!) <= tol)) throw new Error(`${what}: element ${i}: got ${got[i]}, want ${want[i]} (tol ${tol})`);
  }
}
