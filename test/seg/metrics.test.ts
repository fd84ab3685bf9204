import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dice, evaluate, iouTable, matchInstances, meanOf } from '../../src/seg/metrics.js';
import { grid } from './helpers.js';

function ev(pred: string[], gt: string[]) {
  const p = grid(pred);
  const g = grid(gt);
  return evaluate(p.data, g.data, p.width, p.height);
}

describe('evaluate on hand-made masks', () => {
  it('perfect prediction: all ones', () => {
    const m = ['11..', '11.2', '...2'];
    expect(ev(m, m)).toEqual({ dsc: 1, ap50: 1, pq: 1, sq: 1, rq: 1, tp: 2, fp: 0, fn: 0 });
  });

  it('empty prediction, one GT particle: all zero, one FN', () => {
    expect(ev(['....', '....'], ['.11.', '.11.'])).toEqual({ dsc: 0, ap50: 0, pq: 0, sq: 0, rq: 0, tp: 0, fp: 0, fn: 1 });
  });

  it('empty GT, one predicted particle: all zero, one FP', () => {
    expect(ev(['.11.', '....'], ['....', '....'])).toEqual({ dsc: 0, ap50: 0, pq: 0, sq: 0, rq: 0, tp: 0, fp: 1, fn: 0 });
  });

  it('both empty: all ones, no counts', () => {
    expect(ev(['...'], ['...'])).toEqual({ dsc: 1, ap50: 1, pq: 1, sq: 1, rq: 1, tp: 0, fp: 0, fn: 0 });
  });

  it('particle split into halves: IoU exactly 0.5 is not a match', () => {
    // GT: one 2x4 block (8 px). Prediction: two 2x2 halves, IoU 4/8 = 0.5 each.
    const r = ev(['1122', '1122'], ['1111', '1111']);
    expect(r).toEqual({ dsc: 1, ap50: 0, pq: 0, sq: 0, rq: 0, tp: 0, fp: 2, fn: 1 });
  });

  it('particle split unevenly: the big piece matches', () => {
    // GT 2x6 = 12 px; prediction 2x4 (IoU 8/12) + 2x2 (IoU 4/12).
    const r = ev(['111122', '111122'], ['111111', '111111']);
    expect(r.tp).toBe(1);
    expect(r.fp).toBe(1);
    expect(r.fn).toBe(0);
    expect(r.dsc).toBe(1);
    expect(r.ap50).toBeCloseTo(1 / 2, 12); // 1 / (1 + 1 + 0)
    expect(r.rq).toBeCloseTo(2 / 3, 12); // 1 / (1 + 0.5)
    expect(r.sq).toBeCloseTo(2 / 3, 12);
    expect(r.pq).toBeCloseTo(4 / 9, 12);
  });

  it('merged pair: one prediction over two GT particles matches neither', () => {
    // GT: two 2x2 squares with a one-pixel gap; prediction: one 2x5 block (10 px), IoU 4/10 each.
    const r = ev(['11111', '11111'], ['11.22', '11.22']);
    expect(r.tp).toBe(0);
    expect(r.fp).toBe(1);
    expect(r.fn).toBe(2);
    expect(r.ap50).toBe(0);
    expect(r.pq).toBe(0);
    expect(r.dsc).toBeCloseTo((2 * 8) / (10 + 8), 12);
  });

  it('shifted square: IoU 0.5 exactly -> no match; grown square: IoU 0.75 -> match', () => {
    // GT 3x3 at columns 0-2; prediction 3x3 at columns 1-3: intersection 6, union 12.
    const gt = ['111.', '111.', '111.'];
    const shifted = ev(['.111', '.111', '.111'], gt);
    expect(shifted).toMatchObject({ tp: 0, fp: 1, fn: 1, ap50: 0, pq: 0 });
    expect(shifted.dsc).toBeCloseTo(12 / 18, 12);
    // Prediction 3x4 covering the GT: intersection 9, union 12.
    const grown = ev(['1111', '1111', '1111'], gt);
    expect(grown).toMatchObject({ tp: 1, fp: 0, fn: 0, ap50: 1, rq: 1 });
    expect(grown.sq).toBeCloseTo(0.75, 12);
    expect(grown.pq).toBeCloseTo(0.75, 12);
    expect(grown.dsc).toBeCloseTo(18 / 21, 12);
  });

  it('mixed image: one TP, one FP, one FN', () => {
    const r = ev(['11...', '11..2', '.....'], ['11...', '1....', '...33']);
    // pred 1 (4 px) vs gt 1 (3 px): IoU 3/4. pred 2 touches nothing of gt 3? (4,1) vs (3,2),(4,2): no overlap.
    expect(r).toMatchObject({ tp: 1, fp: 1, fn: 1 });
    expect(r.ap50).toBeCloseTo(1 / 3, 12);
    expect(r.rq).toBeCloseTo(1 / 2, 12);
    expect(r.sq).toBeCloseTo(0.75, 12);
    expect(r.pq).toBeCloseTo(0.375, 12);
    expect(r.dsc).toBeCloseTo((2 * 3) / (5 + 5), 12);
  });
});

describe('iouTable and matching', () => {
  it('stores only overlapping pairs, with areas', () => {
    const p = grid(['1122', '1122']);
    const g = grid(['1111', '1111']);
    const t = iouTable(p.data, g.data, 4, 2);
    expect(t.pairs).toEqual([
      { pred: 1, gt: 1, intersection: 4, iou: 0.5 },
      { pred: 2, gt: 1, intersection: 4, iou: 0.5 },
    ]);
    expect(Array.from(t.predAreas)).toEqual([0, 4, 4]);
    expect(Array.from(t.gtAreas)).toEqual([0, 8]);
  });

  it('at a low threshold matches greedily by IoU, one-to-one', () => {
    // GT one 2x5 (10 px); predictions: 2x3 (IoU 0.6) and 2x2 (IoU 0.4).
    const p = grid(['11122', '11122']);
    const g = grid(['11111', '11111']);
    const m = matchInstances(p.data, g.data, 5, 2, 0.3);
    expect(m.tp).toBe(1);
    expect(m.matches[0].pred).toBe(1);
    expect(m.fp).toBe(1);
    // Two predictions of IoU exactly 0.5 with one GT: at threshold 0.3 the first (lower id) wins.
    const q = grid(['1122', '1122']);
    const h = grid(['1111', '1111']);
    const m2 = matchInstances(q.data, h.data, 4, 2, 0.3);
    expect(m2.tp).toBe(1);
    expect(m2.matches[0].pred).toBe(1);
  });

  it('rejects a threshold outside [0, 1)', () => {
    expect(() => matchInstances(new Int32Array(1), new Int32Array(1), 1, 1, 1)).toThrow();
  });
});

describe('metric properties', () => {
  const labelMap = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 36, maxLength: 36 }).map((a) => Int32Array.from(a));

  it('DSC is symmetric and in [0, 1]', () => {
    fc.assert(
      fc.property(labelMap, labelMap, (a, b) => {
        const d = dice(a, b);
        expect(d).toBe(dice(b, a));
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('evaluate(gt, gt) gives all ones', () => {
    fc.assert(
      fc.property(labelMap, (g) => {
        const r = evaluate(g, g, 6, 6);
        expect([r.dsc, r.ap50, r.pq, r.sq, r.rq]).toEqual([1, 1, 1, 1, 1]);
        expect(r.fp + r.fn).toBe(0);
      }),
    );
  });

  it('permuting label ids changes nothing; all scores lie in [0, 1]', () => {
    fc.assert(
      fc.property(labelMap, labelMap, fc.shuffledSubarray([1, 2, 3, 4, 5, 6, 7], { minLength: 7, maxLength: 7 }), (p, g, perm) => {
        const r = evaluate(p, g, 6, 6);
        const pp = p.map((v) => (v ? perm[v - 1] * 3 : 0));
        const gg = g.map((v) => (v ? perm[(v + 2) % 7] + 100 : 0));
        const r2 = evaluate(pp, gg, 6, 6);
        for (const k of ['dsc', 'ap50', 'pq', 'sq', 'rq', 'tp', 'fp', 'fn'] as const) expect(r2[k]).toBeCloseTo(r[k], 12);
        for (const k of ['dsc', 'ap50', 'pq', 'sq', 'rq'] as const) {
          expect(r[k]).toBeGreaterThanOrEqual(0);
          expect(r[k]).toBeLessThanOrEqual(1);
        }
        expect(r.pq).toBeCloseTo(r.sq * r.rq, 12);
      }),
    );
  });
});

describe('meanOf', () => {
  it('averages every field per image', () => {
    const a = { dsc: 1, ap50: 0.5, pq: 0.2, sq: 0.4, rq: 0.5, tp: 1, fp: 1, fn: 0 };
    const b = { dsc: 0, ap50: 0.5, pq: 0.4, sq: 0.8, rq: 0.5, tp: 2, fp: 0, fn: 2 };
    const want = { dsc: 0.5, ap50: 0.5, pq: 0.3, sq: 0.6, rq: 0.5, tp: 1.5, fp: 0.5, fn: 1 };
    const got = meanOf([a, b]);
    for (const k of Object.keys(want) as (keyof typeof want)[]) expect(got[k]).toBeCloseTo(want[k], 12);
    expect(() => meanOf([])).toThrow();
  });
});
