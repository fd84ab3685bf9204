import { describe, expect, it } from 'vitest';
import { errorBreakdown } from '../../src/seg/error-breakdown.js';

const W = 60;
const H = 40;

/** Paints rectangle [x0, x1) x [y0, y1) with id into a label map. */
function rect(map: Int32Array, id: number, x0: number, y0: number, x1: number, y1: number): void {
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) map[y * W + x] = id;
}

describe('errorBreakdown', () => {
  // truth: 1 matched square, 2+3 two touching squares (merged by one prediction), 4 a square split
  // in three pieces, 5 a square nobody predicts, 6 a 3-px speck, 7 a 30-px one; predictions also hold a spurious blob.
  const truth = new Int32Array(W * H);
  const pred = new Int32Array(W * H);
  rect(truth, 1, 0, 0, 10, 10);
  rect(pred, 1, 0, 0, 10, 10);
  rect(truth, 2, 20, 0, 30, 10);
  rect(truth, 3, 30, 0, 40, 10);
  rect(pred, 2, 20, 0, 40, 10);
  rect(truth, 4, 0, 20, 10, 30);
  rect(pred, 3, 0, 20, 4, 30);
  rect(pred, 4, 4, 20, 7, 30);
  rect(pred, 6, 7, 20, 10, 30);
  rect(truth, 5, 20, 20, 30, 30);
  rect(truth, 6, 50, 0, 53, 1);
  rect(pred, 5, 45, 30, 55, 40);
  rect(truth, 7, 45, 30, 55, 33); // 30 px speck under the blob: the blob stays spurious (30 % on truth)
  const b = errorBreakdown(pred, truth, W, H);

  it('gives every unmatched instance its cause', () => {
    expect(b.tp).toBe(1);
    expect(b.fn).toEqual({ tiny: 2, missed: 1, merged: 2, split: 1, outline: 0 });
    expect(b.fp).toEqual({ spurious: 1, merge: 1, fragment: 3, other: 0 });
    expect(b.fn.tiny + b.fn.missed + b.fn.merged + b.fn.split + b.fn.outline).toBe(b.truth - b.tp);
    expect(b.fp.spurious + b.fp.merge + b.fp.fragment + b.fp.other).toBe(b.pred - b.tp);
  });

  it('bins recall by ground-truth area', () => {
    expect(b.byArea.map((x) => [x.lo, x.truth, x.tp])).toEqual([[0, 2, 0], [50, 5, 1], [150, 0, 0], [300, 0, 0], [600, 0, 0]]);
  });

  it('gives AP50 with one kind of error removed', () => {
    // 1 TP, 5 FP, 6 FN
    expect(b.ap50Without.none).toBeCloseTo(1 / 12, 12);
    expect(b.ap50Without.merged).toBeCloseTo(3 / (3 + 4 + 4), 12);
    expect(b.ap50Without.tiny).toBeCloseTo(1 / 10, 12);
    expect(b.ap50Without.fragment).toBeCloseTo(1 / 9, 12);
    expect(b.ap50Without.split).toBeCloseTo(2 / (2 + 5 + 5), 12);
    expect(b.ap50Without.missed).toBeCloseTo(2 / (2 + 5 + 5), 12);
  });

  it('calls a prediction a bit too large an outline error, not a merge', () => {
    const t = new Int32Array(W * H);
    const p = new Int32Array(W * H);
    rect(t, 1, 0, 0, 10, 10);
    rect(t, 2, 10, 0, 20, 10);
    rect(p, 1, 0, 0, 12, 20); // holds all of 1, 20 % of 2, and background below
    rect(p, 2, 12, 0, 20, 10);
    const r = errorBreakdown(p, t, W, H);
    expect(r.fn).toEqual({ tiny: 0, missed: 0, merged: 0, split: 0, outline: 1 });
    expect(r.tp).toBe(1);
  });
});
