import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { localThickness } from '../../src/particles/local-thickness.js';
import { squaredDistanceTransform } from '../../src/particles/distance.js';

/** Mask of filled discs [cx, cy, r] (pixels with (x - cx)^2 + (y - cy)^2 <= r^2). */
function discMask(w: number, h: number, discs: [number, number, number][]): Uint8Array {
  const m = new Uint8Array(w * h);
  for (const [cx, cy, r] of discs) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) m[y * w + x] = 1;
  return m;
}

/** The definition without the pruning: every foreground pixel's disc painted. */
function bruteForce(mask: Uint8Array, w: number, h: number, borderIsBackground: boolean): Float32Array {
  const d2 = squaredDistanceTransform(mask, w, h, { borderIsBackground });
  const out = new Float32Array(w * h);
  for (let c = 0; c < w * h; c++) {
    if (!mask[c] || d2[c] === Infinity) continue;
    const cx = c % w, cy = Math.floor(c / w);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if ((x - cx) ** 2 + (y - cy) ** 2 < d2[c]) out[y * w + x] = Math.max(out[y * w + x], 2 * Math.sqrt(d2[c]));
  }
  // No background anywhere (open frame): the largest disc the image holds, as localThickness.
  for (let i = 0; i < w * h; i++) if (mask[i] && d2[i] === Infinity) out[i] = Math.min(w, h);
  return out;
}

const medianOf = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

describe('localThickness', () => {
  it('a disc reads its diameter over most of its pixels, the background 0', () => {
    const w = 48;
    const m = discMask(w, w, [[24, 24, 12]]);
    const t = localThickness(m, w, w);
    const inside: number[] = [];
    for (let i = 0; i < m.length; i++) {
      if (!m[i]) expect(t[i]).toBe(0);
      else inside.push(t[i]);
    }
    // The central disc's radius is the distance to the nearest background pixel (12 or 13 px
    // on the raster); the outline's last pixels lie outside it and read less.
    expect(medianOf(inside)).toBeGreaterThanOrEqual(24);
    expect(medianOf(inside)).toBeLessThanOrEqual(26);
    expect(Math.max(...inside)).toBeLessThanOrEqual(26);
  });

  it('two touching discs of different size each read their own diameter (no cut, no merge)', () => {
    const w = 64, h = 40;
    const m = discMask(w, h, [[14, 20, 6], [33, 20, 12]]); // touching: 14 + 6 + 1 = 33 - 12
    const t = localThickness(m, w, h);
    const small: number[] = [], large: number[] = [];
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        if (!m[i]) continue;
        if ((x - 14) ** 2 + (y - 20) ** 2 <= 25) small.push(t[i]);
        if ((x - 33) ** 2 + (y - 20) ** 2 <= 121) large.push(t[i]);
      }
    expect(medianOf(small)).toBeGreaterThanOrEqual(12);
    expect(medianOf(small)).toBeLessThanOrEqual(14);
    expect(medianOf(large)).toBeGreaterThanOrEqual(24);
    expect(medianOf(large)).toBeLessThanOrEqual(26);
  });

  it('the frame: open, a disc cut by the border reads its full diameter; closed, the part inside', () => {
    const w = 40;
    const m = discMask(w, w, [[0, 20, 12]]); // half a disc of diameter 24-26 inside the image
    const inside = (t: Float32Array) => Array.from(t).filter((_, i) => m[i]);
    expect(medianOf(inside(localThickness(m, w, w)))).toBeGreaterThanOrEqual(24);
    const closed = medianOf(inside(localThickness(m, w, w, { borderIsBackground: true })));
    expect(closed).toBeGreaterThanOrEqual(12);
    expect(closed).toBeLessThanOrEqual(14);
  });

  it('pruning the centres inside a neighbour disc changes nothing (random masks, both frames)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 14 }),
        fc.integer({ min: 1, max: 14 }),
        fc.array(fc.boolean(), { minLength: 196, maxLength: 196 }),
        fc.boolean(),
        (w, h, bits, closed) => {
          const m = Uint8Array.from(bits.slice(0, w * h), (b) => (b ? 1 : 0));
          expect(Array.from(localThickness(m, w, h, { borderIsBackground: closed }))).toEqual(Array.from(bruteForce(m, w, h, closed)));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('pruning on blobby masks (unions of discs) equals the definition', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 9 })), { minLength: 1, maxLength: 6 }), (ds) => {
        const m = discMask(31, 31, ds);
        expect(Array.from(localThickness(m, 31, 31))).toEqual(Array.from(bruteForce(m, 31, 31, false)));
      }),
      { numRuns: 60 },
    );
  });

  it('a mask with no background reads the largest disc the image holds', () => {
    const t = localThickness(new Uint8Array(12).fill(1), 4, 3);
    expect(Array.from(t)).toEqual(new Array(12).fill(3));
  });
});
