import { describe, expect, it } from 'vitest';
import { applyThreshold, gaussianBlur, otsuThreshold } from '../../src/particles/otsu.js';
import { Rng } from '../../src/autodiff/rng.js';

describe('otsuThreshold', () => {
  it('puts the threshold halfway between the two values of a two-level image', () => {
    const img = Float32Array.from({ length: 100 }, (_, i) => (i < 70 ? 0.2 : 0.8));
    const t = otsuThreshold(img);
    // bins 51 and 204: every split 51..203 scores the same; the middle one is 127 -> t = 128/256.
    expect(t).toBe(128 / 256);
    expect(Array.from(applyThreshold(img, t)).filter((v) => v).length).toBe(30);
  });

  it('separates a noisy bimodal image', () => {
    const rng = new Rng(7);
    const n = 4000;
    const truth = new Uint8Array(n);
    const img = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      truth[i] = rng.uniform() < 0.3 ? 1 : 0;
      img[i] = Math.min(1, Math.max(0, (truth[i] ? 0.7 : 0.25) + 0.05 * rng.normal()));
    }
    const t = otsuThreshold(img);
    expect(t).toBeGreaterThan(0.4);
    expect(t).toBeLessThan(0.55);
    const m = applyThreshold(img, t);
    let wrong = 0;
    for (let i = 0; i < n; i++) wrong += m[i] !== truth[i] ? 1 : 0;
    expect(wrong).toBe(0);
  });

  it('a constant image has no foreground; a mask restricts the histogram', () => {
    const img = new Float32Array(10).fill(0.5);
    expect(applyThreshold(img, otsuThreshold(img)).every((v) => v === 0)).toBe(true);
    expect(applyThreshold(new Float32Array(3).fill(1), otsuThreshold(new Float32Array(3).fill(1))).every((v) => v === 0)).toBe(true);
    const two = Float32Array.from([0, 0, 1, 1, 0.5, 0.5]);
    expect(otsuThreshold(two, Uint8Array.from([0, 0, 1, 1, 1, 1]))).toBeGreaterThan(0.5);
    expect(() => otsuThreshold(Float32Array.from([NaN]))).toThrow();
  });
});

describe('gaussianBlur', () => {
  it('preserves constants and total mass away from borders, and is symmetric', () => {
    const c = gaussianBlur(new Float32Array(30).fill(0.3), 6, 5, 1.5);
    for (const v of c) expect(v).toBeCloseTo(0.3, 6);
    const img = new Float32Array(21 * 21);
    img[10 * 21 + 10] = 1;
    const b = gaussianBlur(img, 21, 21, 1.2);
    expect(b.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
    expect(b[10 * 21 + 11]).toBeCloseTo(b[11 * 21 + 10], 7);
    expect(b[10 * 21 + 9]).toBeCloseTo(b[10 * 21 + 11], 7);
    expect(b[10 * 21 + 10]).toBeGreaterThan(b[10 * 21 + 11]);
    expect(Array.from(gaussianBlur(img, 21, 21, 0))).toEqual(Array.from(img));
  });

  it('equals the separable definition bit for bit: rows then columns, float64 sums over reflected samples, float32 between passes', () => {
    // The reference reflects every tap (the implementation only the 2r border samples of a line).
    const reference = (img: Float32Array, w: number, h: number, sigma: number): Float32Array => {
      const r = Math.max(1, Math.ceil(3 * sigma));
      const k: number[] = [];
      for (let i = -r; i <= r; i++) k.push(Math.exp((-i * i) / (2 * sigma * sigma)));
      const total = k.reduce((a, b) => a + b, 0);
      const kernel = k.map((v) => v / total);
      const reflect = (i: number, n: number): number => {
        if (n === 1) return 0;
        let j = i;
        while (j < 0 || j >= n) j = j < 0 ? -j : 2 * (n - 1) - j;
        return j;
      };
      const rows = new Float32Array(w * h);
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          let acc = 0;
          for (let t = 0; t <= 2 * r; t++) acc += kernel[t] * img[y * w + reflect(x - r + t, w)];
          rows[y * w + x] = acc;
        }
      const out = new Float32Array(w * h);
      for (let x = 0; x < w; x++)
        for (let y = 0; y < h; y++) {
          let acc = 0;
          for (let t = 0; t <= 2 * r; t++) acc += kernel[t] * rows[reflect(y - r + t, h) * w + x];
          out[y * w + x] = acc;
        }
      return out;
    };
    const rng = new Rng(11);
    // Lines shorter than the kernel's radius reflect more than once; 1-px lines repeat their pixel.
    for (const [w, h, sigma] of [[1, 1, 1], [1, 6, 2], [5, 1, 1.5], [2, 3, 3], [7, 4, 0.3], [33, 17, 1], [64, 48, 2.2]]) {
      const img = Float32Array.from({ length: w * h }, () => rng.range(0, 1));
      expect(Array.from(gaussianBlur(img, w, h, sigma)), `${w} x ${h}, sigma ${sigma}`).toEqual(Array.from(reference(img, w, h, sigma)));
      // A plain array gives the same result as a typed one.
      expect(Array.from(gaussianBlur(Array.from(img), w, h, sigma))).toEqual(Array.from(reference(img, w, h, sigma)));
    }
  });
});
