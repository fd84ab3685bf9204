import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fft, fft2d, naiveDft } from '../../src/gan/fft.js';

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const signal = fc.integer({ min: 1, max: 70 }).chain((n) =>
  fc.tuple(
    fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: n, maxLength: n }),
    fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: n, maxLength: n }),
  ),
);

describe('fft', () => {
  it('matches the naive DFT for random sizes (radix-2 and Bluestein) in both directions', () => {
    fc.assert(
      fc.property(signal, fc.boolean(), ([r, i], inverse) => {
        const re = Float64Array.from(r);
        const im = Float64Array.from(i);
        const ref = naiveDft(re, im, inverse);
        fft(re, im, inverse);
        const scale = 1 + r.length * 10;
        expect(maxAbsDiff(re, ref.re)).toBeLessThan(1e-9 * scale);
        expect(maxAbsDiff(im, ref.im)).toBeLessThan(1e-9 * scale);
      }),
      { numRuns: 200 },
    );
  });

  it('inverts itself', () => {
    fc.assert(
      fc.property(signal, ([r, i]) => {
        const re = Float64Array.from(r);
        const im = Float64Array.from(i);
        fft(re, im);
        fft(re, im, true);
        expect(maxAbsDiff(re, r)).toBeLessThan(1e-9);
        expect(maxAbsDiff(im, i)).toBeLessThan(1e-9);
      }),
    );
  });

  it('puts a pure cosine into bins k and n - k', () => {
    const n = 12;
    const re = Float64Array.from({ length: n }, (_, j) => Math.cos((2 * Math.PI * 3 * j) / n));
    const im = new Float64Array(n);
    fft(re, im);
    for (let k = 0; k < n; k++) {
      expect(re[k]).toBeCloseTo(k === 3 || k === 9 ? n / 2 : 0, 9);
      expect(im[k]).toBeCloseTo(0, 9);
    }
  });

  it('2-D transform equals row-then-column naive DFTs', () => {
    const w = 6;
    const h = 5;
    const re = Float64Array.from({ length: w * h }, (_, k) => Math.sin(k * 1.3) + (k % 4));
    const im = new Float64Array(w * h);
    // Naive 2-D DFT.
    const refR = new Float64Array(w * h);
    const refI = new Float64Array(w * h);
    for (let ky = 0; ky < h; ky++)
      for (let kx = 0; kx < w; kx++) {
        let sr = 0;
        let si = 0;
        for (let y = 0; y < h; y++)
          for (let x = 0; x < w; x++) {
            const a = -2 * Math.PI * ((kx * x) / w + (ky * y) / h);
            sr += re[y * w + x] * Math.cos(a);
            si += re[y * w + x] * Math.sin(a);
          }
        refR[ky * w + kx] = sr;
        refI[ky * w + kx] = si;
      }
    fft2d(re, im, w, h);
    expect(maxAbsDiff(re, refR)).toBeLessThan(1e-9);
    expect(maxAbsDiff(im, refI)).toBeLessThan(1e-9);
  });
});
