/** The allocation-free elementwise helpers against direct definitions. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { axpyInto, channelAffineInto, channelSumsInto, leakyReluGradInto, leakyReluInto } from '../../src/autodiff/backends/elementwise.js';

const arr = (n: number) => fc.float32Array({ minLength: n, maxLength: n, noNaN: true, noDefaultInfinity: true, min: -100, max: 100 });

describe('elementwise helpers', () => {
  it('axpy, leaky ReLU and its gradient (in place too)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 40 }).chain((n) => fc.tuple(arr(n), arr(n), fc.float({ min: -2, max: 2, noNaN: true }))), ([x, y, a]) => {
      const out = new Float32Array(x.length);
      axpyInto(out, a, x, y);
      x.forEach((v, i) => expect(out[i]).toBe(Math.fround(a * v + y[i]!)));
      leakyReluInto(out, x, 0.2);
      x.forEach((v, i) => expect(out[i]).toBe(v >= 0 ? v : Math.fround(0.2 * v)));
      leakyReluGradInto(out, x, y, 0.2);
      x.forEach((v, i) => expect(out[i]).toBe(v >= 0 ? y[i] : Math.fround(0.2 * y[i]!)));
      const inPlace = x.slice();
      leakyReluInto(inPlace, inPlace, 0);
      x.forEach((v, i) => expect(inPlace[i] === (v >= 0 ? v : 0)).toBe(true)); // -0 == 0 for slope 0
    }), { numRuns: 30 });
  });
  it('per-channel affine and sums on NCHW', () => {
    const n = 2, c = 3, hw = 5;
    const x = Float32Array.from({ length: n * c * hw }, (_, i) => (i % 7) - 3);
    const out = new Float32Array(x.length);
    channelAffineInto(out, x, new Float32Array([1, 2, 3]), new Float32Array([0, 1, -1]), n, c, hw);
    expect(out[(1 * c + 2) * hw + 4]).toBe(x[(1 * c + 2) * hw + 4]! * 3 - 1);
    const sum = new Float32Array(c), sq = new Float32Array(c);
    channelSumsInto(sum, sq, x, n, c, hw);
    for (let ch = 0; ch < c; ch++) {
      let s = 0, q = 0;
      for (let b = 0; b < n; b++) for (let i = 0; i < hw; i++) { const v = x[(b * c + ch) * hw + i]!; s += v; q += v * v; }
      expect(sum[ch]).toBeCloseTo(s, 5);
      expect(sq[ch]).toBeCloseTo(q, 5);
    }
  });
});
