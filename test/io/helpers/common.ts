/** Small helpers shared by the io tests. */
import { expect } from 'vitest';
import { InputError } from '../../../src/errors.js';

/** Deterministic pseudo-random integers in [0, max] (an LCG), every 5th one a simple ramp. */
export function pattern(n: number, max: number, seed = 1): number[] {
  const out: number[] = [];
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out.push(i % 5 === 0 ? (i * 7) % (max + 1) : s % (max + 1));
  }
  return out;
}

/** Asserts that `fn` throws an InputError whose message starts with `file: ` and matches `re`. */
export function expectInputError(fn: () => unknown, file: string, re: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(InputError);
  expect((err as Error).message.startsWith(`${file}: `)).toBe(true);
  expect((err as Error).message).toMatch(re);
}

/** Asserts that `data` equals `want` within `tol`, naming the first pixel that differs. */
export function expectPixels(data: Float32Array, want: number[], tol = 1e-6): void {
  expect(data.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(data[i]! - want[i]!) <= tol)) throw new Error(`pixel ${i}: ${data[i]} != ${want[i]}`);
  }
}
