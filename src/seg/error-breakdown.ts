/**
 * Where AP50's errors come from: every unmatched ground-truth instance (false negative) and every
 * unmatched prediction (false positive) of the IoU > 0.5 matching (metrics.ts) gets one cause,
 * from how it overlaps the other side. Used to decide which lever can move AP50
 * (docs/segmentation.md "Where AP50's errors come from"; `breakdown` in scripts/seg-postprocess-sweep.ts).
 *
 * A false negative g (area a):
 * - `tiny`: a < minArea, the size below which predictions are dropped (such a g can only be
 *   matched by a prediction of at most 2a px, so practically never);
 * - `missed`: less than half of g lies in any prediction (a foreground miss);
 * - `merged`: one prediction holds at least half of g and also at least `mergeShare` of another
 *   ground-truth instance (touching particles drawn as one);
 * - `split`: no prediction holds half of g, and at least two hold `splitShare` of it each;
 * - `outline`: the rest, a single prediction too large or too small for IoU > 0.5 (misplaced
 *   outlines, or a neighbour's piece attached without covering `mergeShare` of it).
 * A false positive p:
 * - `spurious`: less than half of p lies on ground-truth foreground (substrate, debris);
 * - `merge`: p holds at least `mergeShare` of two or more ground-truth instances;
 * - `fragment`: at least `fragmentShare` of p lies inside one ground-truth instance (a piece of a
 *   split particle, or a particle found too small);
 * - `other`: the rest.
 */
import { iouTable, matchFromTable, scoresFromCounts } from './metrics.js';

export interface MissCounts {
  tiny: number;
  missed: number;
  merged: number;
  split: number;
  outline: number;
}

export interface ExtraCounts {
  spurious: number;
  merge: number;
  fragment: number;
  other: number;
}

export interface AreaBin {
  /** Ground-truth areas in [lo, hi) px. */
  lo: number;
  hi: number;
  truth: number;
  tp: number;
}

export interface ErrorBreakdown {
  truth: number;
  pred: number;
  tp: number;
  fn: MissCounts;
  fp: ExtraCounts;
  /** Recall by ground-truth area. */
  byArea: AreaBin[];
  /**
   * AP50 of the image if one kind of error were removed, the rest unchanged: `tiny` / `missed` /
   * `split` / `outline` turn those false negatives into matches (`tiny`: drops them instead);
   * `merged` also drops the `merge` false positives; `fragment` drops the fragment false positives.
   */
  ap50Without: Record<keyof MissCounts | 'fragment', number> & { none: number };
}

export interface BreakdownOptions {
  minArea?: number;
  mergeShare?: number;
  splitShare?: number;
  fragmentShare?: number;
  /** Upper edges of the area bins (px); the last bin is open. */
  areaEdges?: number[];
}

export function errorBreakdown(predLabels: ArrayLike<number>, gtLabels: ArrayLike<number>, width: number, height: number, options: BreakdownOptions = {}): ErrorBreakdown {
  const { minArea = 50, mergeShare = 0.3, splitShare = 0.2, fragmentShare = 0.8, areaEdges = [50, 150, 300, 600] } = options;
  const t = iouTable(predLabels, gtLabels, width, height);
  const m = matchFromTable(t, 0.5);
  const gtMatched = new Uint8Array(t.gtCount + 1);
  const predMatched = new Uint8Array(t.predCount + 1);
  for (const q of m.matches) {
    gtMatched[q.gt] = 1;
    predMatched[q.pred] = 1;
  }
  const byGt: { id: number; inter: number }[][] = Array.from({ length: t.gtCount + 1 }, () => []);
  const byPred: { id: number; inter: number }[][] = Array.from({ length: t.predCount + 1 }, () => []);
  for (const q of t.pairs) {
    byGt[q.gt].push({ id: q.pred, inter: q.intersection });
    byPred[q.pred].push({ id: q.gt, inter: q.intersection });
  }
  /** How many ground-truth instances prediction p holds at least mergeShare of. */
  const heldTruths = (p: number) => byPred[p].filter((o) => o.inter >= mergeShare * t.gtAreas[o.id]).length;

  const fn: MissCounts = { tiny: 0, missed: 0, merged: 0, split: 0, outline: 0 };
  const edges = [0, ...areaEdges, Infinity];
  const byArea: AreaBin[] = edges.slice(0, -1).map((lo, i) => ({ lo, hi: edges[i + 1], truth: 0, tp: 0 }));
  for (let g = 1; g <= t.gtCount; g++) {
    const a = t.gtAreas[g];
    const bin = byArea.find((b) => a >= b.lo && a < b.hi)!;
    bin.truth++;
    if (gtMatched[g]) {
      bin.tp++;
      continue;
    }
    const over = byGt[g];
    const covered = over.reduce((s, o) => s + o.inter, 0);
    const best = over.reduce((b, o) => (o.inter > b.inter ? o : b), { id: 0, inter: 0 });
    if (a < minArea) fn.tiny++;
    else if (covered < 0.5 * a) fn.missed++;
    else if (best.inter >= 0.5 * a) fn[heldTruths(best.id) >= 2 ? 'merged' : 'outline']++;
    else fn[over.filter((o) => o.inter >= splitShare * a).length >= 2 ? 'split' : 'outline']++;
  }
  const fp: ExtraCounts = { spurious: 0, merge: 0, fragment: 0, other: 0 };
  for (let p = 1; p <= t.predCount; p++) {
    if (predMatched[p]) continue;
    const a = t.predAreas[p];
    const over = byPred[p];
    const onTruth = over.reduce((s, o) => s + o.inter, 0);
    if (onTruth < 0.5 * a) fp.spurious++;
    else if (heldTruths(p) >= 2) fp.merge++;
    else if (over.some((o) => o.inter >= fragmentShare * a)) fp.fragment++;
    else fp.other++;
  }
  const ap = (tp: number, fpN: number, fnN: number) => scoresFromCounts(tp, fpN, fnN, 0).ap50;
  const ap50Without = {
    none: ap(m.tp, m.fp, m.fn),
    tiny: ap(m.tp, m.fp, m.fn - fn.tiny),
    missed: ap(m.tp + fn.missed, m.fp, m.fn - fn.missed),
    merged: ap(m.tp + fn.merged, m.fp - fp.merge, m.fn - fn.merged),
    split: ap(m.tp + fn.split, m.fp, m.fn - fn.split),
    outline: ap(m.tp + fn.outline, m.fp, m.fn - fn.outline),
    fragment: ap(m.tp, m.fp - fp.fragment, m.fn),
  };
  return { truth: t.gtCount, pred: t.predCount, tp: m.tp, fn, fp, byArea, ap50Without };
}
