import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { distanceTransform, squaredDistanceTransform } from '../../src/particles/distance.js';

function bruteForce(mask: ArrayLike<number>, w: number, h: number, border: boolean): Float64Array {
  const out = new Float64Array(w * h);
  for (let i = 0; i < w * h; i++) {
    if (!mask[i]) continue;
    const x = i % w;
    const y = Math.floor(i / w);
    let best = Infinity;
    for (let j = 0; j < w * h; j++) {
      if (mask[j]) continue;
      const dx = (j % w) - x;
      const dy = Math.floor(j / w) - y;
      best = Math.min(best, dx * dx + dy * dy);
    }
    if (border) best = Math.min(best, (x + 1) ** 2, (w - x) ** 2, (y + 1) ** 2, (h - y) ** 2);
    out[i] = best;
  }
  return out;
}

describe('distanceTransform', () => {
  it('matches brute force on random small masks (squared distances exactly)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 11 }),
        fc.integer({ min: 1, max: 11 }),
        fc.boolean(),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 121, maxLength: 121 }),
        fc.double({ min: 0.05, max: 0.95, noNaN: true }),
        (w, h, border, u, density) => {
          const mask = Uint8Array.from(u.slice(0, w * h), (v) => (v < density ? 1 : 0));
          const got = squaredDistanceTransform(mask, w, h, { borderIsBackground: border });
          expect(Array.from(got)).toEqual(Array.from(bruteForce(mask, w, h, border)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives distances to the nearest background pixel, 0 on background', () => {
    const mask = Uint8Array.from([0, 1, 1, 1, 1, 1, 0]);
    expect(Array.from(distanceTransform(mask, 7, 1))).toEqual([0, 1, 2, 3, 2, 1, 0]);
    const d = distanceTransform(Uint8Array.from([0, 1, 1, 1, 1, 1, 1, 1, 1]), 3, 3);
    expect(d[8]).toBeCloseTo(Math.SQRT2 * 2, 6);
    expect(distanceTransform(Uint8Array.from([1, 1]), 2, 1)[0]).toBe(Infinity);
    expect(Array.from(distanceTransform(Uint8Array.from([1, 1]), 2, 1, { borderIsBackground: true }))).toEqual([1, 1]);
  });
});
