import { describe, expect, it } from 'vitest';
import { compareDiameters, compareSizing, ksDistance, sizingFromParts, sizingParts } from '../../src/seg/sizing.js';

/** A label map of w x h with filled discs (cx, cy, r, id). */
function discs(w: number, h: number, list: [number, number, number, number][]): Int32Array {
  const out = new Int32Array(w * h);
  for (const [cx, cy, r, id] of list) {
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) out[y * w + x] = id;
  }
  return out;
}

/** Grows (+1) or shrinks (-1) every particle by one 4-neighbour step. */
function step4(labels: Int32Array, w: number, h: number, dir: 1 | -1): Int32Array {
  const out = labels.slice();
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const nb = [x > 0 ? labels[i - 1] : 0, x < w - 1 ? labels[i + 1] : 0, y > 0 ? labels[i - w] : 0, y < h - 1 ? labels[i + w] : 0];
      if (dir === 1 && !labels[i]) out[i] = nb.find((v) => v) ?? 0;
      if (dir === -1 && labels[i] && nb.some((v) => v !== labels[i])) out[i] = 0;
    }
  }
  return out;
}

describe('sizing metrics', () => {
  it('KS distance of two samples', () => {
    expect(ksDistance([1, 2, 3], [1, 2, 3])).toBe(0);
    expect(ksDistance([1, 2], [3, 4])).toBe(1);
    expect(ksDistance([1, 2, 3], [2, 3, 4])).toBeCloseTo(1 / 3, 12);
    expect(ksDistance([1, 1, 2, 2], [1, 2])).toBe(0); // ties step together
    expect(ksDistance([], [1])).toBeNaN();
  });

  it('a perfect prediction has no errors', () => {
    const w = 64;
    const gt = discs(w, w, [[15, 15, 7, 1], [40, 20, 9, 2], [25, 45, 6, 3], [60, 60, 8, 4]]);
    const s = compareSizing(gt, gt, w, w);
    expect(s.count).toEqual({ pred: 3, truth: 3, relError: 0 }); // disc 4 touches the border
    for (const k of ['d10', 'd50', 'd90'] as const) {
      expect(s.ecd.relError[k]).toBe(0);
      expect(s.feretMax.relError[k]).toBe(0);
    }
    expect(s.ecd.ks).toBe(0);
    expect(s.outlineBias).toBe(0);
    expect(s.merges + s.splits).toBe(0);
  });

  it('outline bias is +1 px for outlines one pixel outside and -1 px one pixel inside', () => {
    const w = 64;
    const gt = discs(w, w, [[15, 15, 7, 1], [40, 20, 9, 2], [25, 45, 6, 3]]);
    const grown = compareSizing(step4(gt, w, w, 1), gt, w, w);
    expect(grown.outlineBias).toBe(1);
    expect(grown.ecd.relError.d50).toBeGreaterThan(0);
    expect(compareSizing(step4(gt, w, w, -1), gt, w, w).outlineBias).toBe(-1);
  });

  it('particles that touch the border or are smaller than minArea count on neither side', () => {
    const w = 40;
    const gt = discs(w, w, [[20, 20, 6, 1], [3, 20, 5, 2], [30, 8, 2, 3]]);
    const pred = discs(w, w, [[20, 20, 6, 1]]);
    expect(compareSizing(pred, gt, w, w).count).toEqual({ pred: 1, truth: 1, relError: 0 });
    expect(compareSizing(pred, gt, w, w, { minArea: 5 }).count.truth).toBe(2);
  });

  it('counts merges and splits against the manual particles', () => {
    const w = 30;
    const h = 20;
    const two = new Int32Array(w * h);
    const one = new Int32Array(w * h);
    for (let y = 5; y < 15; y++) {
      for (let x = 5; x < 25; x++) {
        one[y * w + x] = 1;
        if (x !== 15) two[y * w + x] = x < 15 ? 1 : 2; // a one-pixel line between them
      }
    }
    const merged = compareSizing(one, two, w, h);
    expect([merged.merges, merged.splits, merged.count.relError]).toEqual([1, 0, -0.5]);
    const split = compareSizing(two, one, w, h);
    expect([split.merges, split.splits, split.count.relError]).toEqual([0, 1, 1]);
  });

  it('pools images and gives bootstrap intervals around the estimate, reproducibly', () => {
    const w = 64;
    const a = discs(w, w, [[15, 15, 7, 1], [40, 20, 9, 2], [25, 45, 6, 3], [48, 48, 5, 4]]);
    const b = discs(w, w, [[15, 15, 5, 1], [40, 40, 10, 2]]);
    const pa = sizingParts(step4(a, w, w, 1), a, w, w);
    const pb = sizingParts(b, b, w, w);
    const pooled = sizingFromParts([pa, pb]);
    expect(pooled.count).toEqual({ pred: 6, truth: 6, relError: 0 });
    expect(pooled.outlineBias).toBeGreaterThan(0);
    expect(pooled.outlineBias).toBeLessThan(1);
    const d = compareDiameters([10, 11, 12, 13, 14, 15, 16, 17, 18, 19], [10, 10.5, 11, 12, 13, 13.5, 14, 15, 16, 17], { bootstrap: 300, seed: 3 });
    const [lo, hi] = d.relErrorCI.d50;
    expect(lo).toBeLessThanOrEqual(d.relError.d50);
    expect(hi).toBeGreaterThanOrEqual(d.relError.d50);
    expect(hi).toBeGreaterThan(lo);
    expect(compareDiameters([10, 11, 12, 13], [10, 12, 14], { seed: 3 })).toEqual(compareDiameters([13, 12, 11, 10], [14, 12, 10], { seed: 3 }));
    expect(compareDiameters([1, 2], [], {}).relError.d50).toBeNaN();
  });
});
