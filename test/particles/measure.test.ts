import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { convexHull, feretDiameters, measureParticles, type Particle } from '../../src/particles/measure.js';
import { fitLognormal, lognormalPdf, quantileSorted, summarizeSizes } from '../../src/seg/summary.js';
import { drawDisk } from '../seg/helpers.js';

function rectangle(w: number, h: number, x0: number, y0: number, a: number, b: number): Int32Array {
  const out = new Int32Array(w * h);
  for (let y = y0; y < y0 + b; y++) for (let x = x0; x < x0 + a; x++) out[y * w + x] = 7;
  return out;
}

describe('measureParticles', () => {
  it('measures an axis-aligned rectangle exactly (Feret, area, centroid, Crofton perimeter)', () => {
    const [a, b] = [12, 5];
    const [p] = measureParticles(rectangle(20, 10, 3, 2, a, b), 20, 10);
    expect(p.id).toBe(7);
    expect(p.area).toBe(60);
    expect(p.feretMax).toBeCloseTo(Math.hypot(a, b), 10);
    expect(p.feretMin).toBeCloseTo(b, 10);
    expect(p.aspectRatio).toBeCloseTo(13 / 5, 10);
    expect(p.centroidX).toBeCloseTo(3 + a / 2, 10);
    expect(p.centroidY).toBeCloseTo(2 + b / 2, 10);
    expect(p.touchesBorder).toBe(false);
    // N0 = 2b, N90 = 2a, diagonal crossings 4(a + b - 1): 5.2 % below the true 2(a + b) for long
    // sides, a little more for short ones (the -1: 8.5 % here).
    const crofton = (Math.PI / 8) * (2 * a + 2 * b + (4 * (a + b - 1)) / Math.SQRT2);
    expect(p.perimeter).toBeCloseTo(crofton, 10);
    expect(p.perimeter / (2 * (a + b))).toBeGreaterThan(0.91);
  });

  it('a single pixel: unit square, circularity clamped to 1', () => {
    const [p] = measureParticles(Int32Array.from([0, 0, 0, 0, 3, 0, 0, 0, 0]), 3, 3);
    expect(p).toMatchObject({ id: 3, area: 1, feretMin: 1, centroidX: 1.5, centroidY: 1.5, circularity: 1, touchesBorder: false });
    expect(p.feretMax).toBeCloseTo(Math.SQRT2, 12);
  });

  it('measures digitised disks: ECD within 1 px, Feret within the digitisation bound, perimeter within 3 %', () => {
    for (const r of [5, 10.5, 20.3, 31.7]) {
      const w = Math.ceil(2 * r + 10);
      const img = new Int32Array(w * w);
      drawDisk(img, w, w, w / 2 + 0.13, w / 2 - 0.31, r, 1);
      const [p] = measureParticles(img, w, w);
      expect(Math.abs(p.ecd - 2 * r)).toBeLessThan(1);
      // The pixel polygon lies between the disks of radius r - sqrt(2)/2 and r + sqrt(2)/2.
      expect(p.feretMax).toBeLessThanOrEqual(2 * r + Math.SQRT2);
      expect(p.feretMin).toBeGreaterThanOrEqual(2 * r - Math.SQRT2);
      expect(p.aspectRatio).toBeLessThan(1 + 2 * Math.SQRT2 / (2 * r - Math.SQRT2));
      expect(Math.abs(p.perimeter / (2 * Math.PI * r) - 1)).toBeLessThan(r >= 10 ? 0.03 : 0.06);
      expect(p.circularity).toBeGreaterThan(0.9);
      expect(p.centroidX).toBeCloseTo(w / 2 + 0.13, 0);
    }
  });

  it('scales by pixelSize, flags border particles, sorts by id, handles split rows', () => {
    // Label 9 is a U shape (two runs in its first row); label 2 touches the border.
    const w = 6;
    const img = Int32Array.from([
      2, 0, 0, 0, 0, 0,
      2, 0, 9, 0, 9, 0,
      0, 0, 9, 9, 9, 0,
      0, 0, 0, 0, 0, 0,
    ]);
    const ps = measureParticles(img, w, 4, { pixelSize: 2.5 });
    expect(ps.map((p) => p.id)).toEqual([2, 9]);
    expect(ps[0].touchesBorder).toBe(true);
    expect(ps[1].touchesBorder).toBe(false);
    expect(ps[1].area).toBeCloseTo(5 * 6.25, 12);
    expect(ps[1].feretMax).toBeCloseTo(Math.hypot(3, 2) * 2.5, 12);
    expect(ps[1].feretMin).toBeCloseTo(2 * 2.5, 12);
    expect(ps[0].feretMin).toBeCloseTo(2.5, 12);
    expect(() => measureParticles(img, w, 4, { pixelSize: 0 })).toThrow();
  });
});

describe('Feret properties', () => {
  it('max Feret equals the brute-force diameter of all pixel corners; min <= max; min >= 1', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 49, maxLength: 49 }), (cells) => {
        const labels = Int32Array.from(cells);
        for (const p of measureParticles(labels, 7, 7)) {
          let best = 0;
          const corners: [number, number][] = [];
          labels.forEach((l, i) => {
            if (l !== p.id) return;
            const x = i % 7;
            const y = Math.floor(i / 7);
            corners.push([x, y], [x + 1, y], [x, y + 1], [x + 1, y + 1]);
          });
          for (const a of corners) for (const b of corners) best = Math.max(best, Math.hypot(a[0] - b[0], a[1] - b[1]));
          expect(p.feretMax).toBeCloseTo(best, 10);
          expect(p.feretMin).toBeLessThanOrEqual(p.feretMax + 1e-12);
          expect(p.feretMin).toBeGreaterThanOrEqual(1 - 1e-12);
          expect(p.circularity).toBeLessThanOrEqual(1);
          expect(p.circularity).toBeGreaterThan(0);
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('convex hull and Feret', () => {
  it('drops interior and collinear points; min Feret of a right triangle is its height', () => {
    const hull = convexHull([[0, 0], [2, 0], [4, 0], [0, 3], [1, 1], [0, 1]]);
    expect(hull).toEqual([[0, 0], [4, 0], [0, 3]]);
    const f = feretDiameters(hull);
    expect(f.max).toBeCloseTo(5, 12);
    expect(f.min).toBeCloseTo(12 / 5, 12);
  });
});

describe('summary', () => {
  it('quantiles by linear interpolation (type 7)', () => {
    const s = [1, 2, 3, 4];
    expect(quantileSorted(s, 0.1)).toBeCloseTo(1.3, 12);
    expect(quantileSorted(s, 0.5)).toBe(2.5);
    expect(quantileSorted(s, 0.9)).toBeCloseTo(3.7, 12);
    expect(quantileSorted(s, 1)).toBe(4);
    expect(quantileSorted([5], 0.9)).toBe(5);
    expect(quantileSorted([], 0.5)).toBeNaN();
  });

  it('fits a lognormal by maximum likelihood', () => {
    const f = fitLognormal([Math.E, Math.E ** 3]);
    expect(f!.mu).toBeCloseTo(2, 12);
    expect(f!.sigma).toBeCloseTo(1, 12);
    expect(fitLognormal([3, 3])).toBeNull();
    expect(fitLognormal([3])).toBeNull();
    expect(() => fitLognormal([1, 0])).toThrow();
    // The density integrates to about 1.
    let s = 0;
    for (let x = 0.005; x < 200; x += 0.01) s += lognormalPdf(x, { mu: 1, sigma: 0.5 }) * 0.01;
    expect(s).toBeCloseTo(1, 3);
  });

  it('summarises ECDs, leaving out border particles by default', () => {
    const mk = (ecd: number, touchesBorder = false): Particle => ({
      id: 1, area: 0, ecd, perimeter: 0, feretMax: 2 * ecd, feretMin: ecd, aspectRatio: 2, circularity: 1,
      centroidX: 0, centroidY: 0, touchesBorder,
    });
    const ps = [mk(10), mk(20), mk(30), mk(40), mk(1000, true)];
    const s = summarizeSizes(ps);
    expect(s).toMatchObject({ count: 4, excludedBorder: 1, mean: 25, median: 25, d50: 25, diameter: 'ecd' });
    expect(s.d10).toBeCloseTo(13, 12);
    expect(s.d90).toBeCloseTo(37, 12);
    expect(s.std).toBeCloseTo(Math.sqrt(500 / 3), 12);
    expect(s.lognormal!.mu).toBeCloseTo((Math.log(10) + Math.log(20) + Math.log(30) + Math.log(40)) / 4, 12);
    expect(summarizeSizes(ps, { includeBorder: true }).count).toBe(5);
    expect(summarizeSizes(ps, { diameter: 'feretMax' }).mean).toBe(50);
    const empty = summarizeSizes([]);
    expect(empty.count).toBe(0);
    expect(empty.mean).toBeNaN();
    expect(empty.lognormal).toBeNull();
  });
});
