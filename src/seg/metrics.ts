/**
 * Segmentation metrics: foreground Dice, instance matching by IoU, AP50 and Panoptic Quality.
 *
 * Definitions (all per image; average over images with `meanOf`):
 *
 * - DSC = 2 |P ∩ G| / (|P| + |G|) over foreground pixels (non-zero = foreground).
 *   Both masks empty -> 1 (the prediction is exactly right).
 * - A predicted instance p and a ground-truth instance g match when IoU(p, g) > 0.5, strictly.
 *   IoU > 0.5 means |p ∩ g| > |p ∪ g| / 2 >= max(|p|, |g|) / 2, so p covers more than half of g
 *   and g more than half of p; two disjoint predictions cannot both cover more than half of g,
 *   so every instance has at most one partner and the matching is unique without any assignment
 *   step. At exactly 0.5 there is no match (this is the Panoptic-Quality rule of Kirillov et al.;
 *   StarDist's `matching` uses >= with a Hungarian assignment, which differs only at exact ties).
 *   For other thresholds, `matchInstances` matches greedily by IoU descending (ties: lower
 *   ground-truth id, then lower predicted id), still requiring IoU > threshold.
 * - TP = matched pairs, FP = unmatched predictions, FN = unmatched ground-truth instances.
 * - AP50 = TP / (TP + FP + FN) at the 0.5 threshold. This is the "average precision" of the
 *   2018 Data Science Bowl (Caicedo et al., Nat. Methods 16, 1247 (2019)) and of StarDist
 *   (Schmidt et al., "Cell Detection with Star-convex Polygons", MICCAI 2018; its `matching`
 *   reports the same quantity as `accuracy`), used in the nanoparticle-segmentation literature;
 *   it is not the COCO area under a precision-recall curve (there are no confidence scores).
 *   METHOD.md words the paper's match rule as IoU >= 0.5; the two agree except at exact ties.
 * - PQ = SQ x RQ (Kirillov et al., "Panoptic Segmentation", CVPR 2019), single "particle" class:
 *   SQ = mean IoU of the matched pairs, RQ = TP / (TP + FP/2 + FN/2).
 * - Empty cases: no ground truth and no prediction -> AP50 = PQ = SQ = RQ = 1. Exactly one side
 *   empty -> AP50 = PQ = SQ = RQ = 0. Both sides non-empty but TP = 0 -> SQ = 0 (the mean over no
 *   pairs is taken as 0, as in the COCO panoptic API), so PQ = 0.
 */
import { UserError } from '../errors.js';
import { checkShape, relabelSequential } from '../particles/labels.js';

/** Foreground Dice of two masks (non-zero = foreground); both empty -> 1. */
export function dice(pred: ArrayLike<number>, gt: ArrayLike<number>): number {
  if (pred.length !== gt.length) {
    throw new UserError(`dice: masks differ in size (${pred.length} vs ${gt.length} pixels)`);
  }
  let p = 0;
  let g = 0;
  let both = 0;
  for (let i = 0; i < pred.length; i++) {
    const a = pred[i] ? 1 : 0;
    const b = gt[i] ? 1 : 0;
    p += a;
    g += b;
    both += a & b;
  }
  return p + g === 0 ? 1 : (2 * both) / (p + g);
}

/** One overlapping (prediction, ground truth) pair; ids are the sequential ones of `IouTable`. */
export interface IouPair {
  pred: number;
  gt: number;
  intersection: number;
  iou: number;
}

/**
 * Overlaps of two label maps after both are renumbered 1..count in raster order (the renumbered
 * maps are returned too). Built in one pass over the pixels; only pairs that overlap are stored.
 */
export interface IouTable {
  pred: Int32Array;
  gt: Int32Array;
  predCount: number;
  gtCount: number;
  /** Pixel count per id (index 0 = background). */
  predAreas: Int32Array;
  gtAreas: Int32Array;
  /** Overlapping pairs, sorted by prediction id then ground-truth id. */
  pairs: IouPair[];
}

export function iouTable(
  predLabels: ArrayLike<number>,
  gtLabels: ArrayLike<number>,
  width: number,
  height: number,
): IouTable {
  checkShape(predLabels.length, width, height, 'prediction');
  checkShape(gtLabels.length, width, height, 'ground truth');
  const p = relabelSequential(predLabels);
  const g = relabelSequential(gtLabels);
  const predAreas = new Int32Array(p.count + 1);
  const gtAreas = new Int32Array(g.count + 1);
  const stride = g.count + 1;
  const inter = new Map<number, number>();
  for (let i = 0; i < p.labels.length; i++) {
    const a = p.labels[i];
    const b = g.labels[i];
    predAreas[a]++;
    gtAreas[b]++;
    if (a !== 0 && b !== 0) {
      const key = a * stride + b;
      inter.set(key, (inter.get(key) ?? 0) + 1);
    }
  }
  const pairs: IouPair[] = [];
  for (const [key, n] of inter) {
    const a = Math.floor(key / stride);
    const b = key - a * stride;
    pairs.push({ pred: a, gt: b, intersection: n, iou: n / (predAreas[a] + gtAreas[b] - n) });
  }
  pairs.sort((x, y) => x.pred - y.pred || x.gt - y.gt);
  return {
    pred: p.labels,
    gt: g.labels,
    predCount: p.count,
    gtCount: g.count,
    predAreas,
    gtAreas,
    pairs,
  };
}

export interface Matching {
  /** Matched pairs (sequential ids of the `IouTable`), in ground-truth id order. */
  matches: IouPair[];
  tp: number;
  fp: number;
  fn: number;
  /** Sum of the IoU of the matched pairs. */
  iouSum: number;
}

/**
 * One-to-one matching at IoU > `threshold` (strictly), greedy by IoU descending. For
 * threshold >= 0.5 the candidate pairs are already disjoint, so greedy = the unique matching.
 */
export function matchFromTable(table: IouTable, threshold = 0.5): Matching {
  if (!(threshold >= 0 && threshold < 1)) {
    throw new UserError(`IoU threshold must be in [0, 1) (got ${threshold})`);
  }
  const candidates = table.pairs.filter((q) => q.iou > threshold);
  candidates.sort((x, y) => y.iou - x.iou || x.gt - y.gt || x.pred - y.pred);
  const predUsed = new Uint8Array(table.predCount + 1);
  const gtUsed = new Uint8Array(table.gtCount + 1);
  const matches: IouPair[] = [];
  let iouSum = 0;
  for (const q of candidates) {
    if (predUsed[q.pred] || gtUsed[q.gt]) continue;
    predUsed[q.pred] = 1;
    gtUsed[q.gt] = 1;
    matches.push(q);
    iouSum += q.iou;
  }
  matches.sort((x, y) => x.gt - y.gt);
  const tp = matches.length;
  return { matches, tp, fp: table.predCount - tp, fn: table.gtCount - tp, iouSum };
}

/** Matches predicted to ground-truth instances at IoU > `threshold` (see the module comment). */
export function matchInstances(
  predLabels: ArrayLike<number>,
  gtLabels: ArrayLike<number>,
  width: number,
  height: number,
  threshold = 0.5,
): Matching {
  return matchFromTable(iouTable(predLabels, gtLabels, width, height), threshold);
}

export interface EvalResult {
  dsc: number;
  ap50: number;
  pq: number;
  sq: number;
  rq: number;
  tp: number;
  fp: number;
  fn: number;
}

/** Scores from match counts, with the empty cases of the module comment. */
export function scoresFromCounts(tp: number, fp: number, fn: number, iouSum: number): Omit<EvalResult, 'dsc'> {
  if (tp + fp + fn === 0) return { ap50: 1, pq: 1, sq: 1, rq: 1, tp, fp, fn };
  const ap50 = tp / (tp + fp + fn);
  const rq = tp / (tp + 0.5 * fp + 0.5 * fn);
  const sq = tp === 0 ? 0 : iouSum / tp;
  return { ap50, pq: sq * rq, sq, rq, tp, fp, fn };
}

/**
 * DSC, AP50, PQ, SQ, RQ and the match counts at IoU > 0.5 of a predicted instance map against
 * a ground-truth instance map (ids need not be sequential; 0 = background).
 */
export function evaluate(
  predLabels: ArrayLike<number>,
  gtLabels: ArrayLike<number>,
  width: number,
  height: number,
): EvalResult {
  const table = iouTable(predLabels, gtLabels, width, height);
  const m = matchFromTable(table, 0.5);
  return { dsc: dice(table.pred, table.gt), ...scoresFromCounts(m.tp, m.fp, m.fn, m.iouSum) };
}

/**
 * The per-image mean of every field (the paper reports per-image means). tp / fp / fn are mean
 * counts per image, so they may be fractional.
 */
export function meanOf(results: readonly EvalResult[]): EvalResult {
  if (results.length === 0) throw new UserError('meanOf: no results to average');
  const keys = ['dsc', 'ap50', 'pq', 'sq', 'rq', 'tp', 'fp', 'fn'] as const;
  const out: EvalResult = { dsc: 0, ap50: 0, pq: 0, sq: 0, rq: 0, tp: 0, fp: 0, fn: 0 };
  for (const r of results) for (const k of keys) out[k] += r[k];
  for (const k of keys) out[k] /= results.length;
  return out;
}
