/**
 * Sizing metrics: how well a segmenter's particle counts, size distributions and outlines agree
 * with a manual annotation. These are the numbers users take away (count, D10 / D50 / D90, the
 * shape of the distribution), so `segment eval` reports them beside DSC / AP50 / PQ.
 *
 * Which particles count: on both sides the particles that do not touch the image border and
 * have at least `minArea` pixels (the rule of `particles.csv` / `summarizeSizes`, plus the
 * segmenter's own minimum size applied to the manual side too, so that neither side counts
 * particles the other could not report).
 *
 * - count error = (predicted - manual) / manual.
 * - D10 / D50 / D90 relative errors = predicted quantile / manual quantile - 1, of the equivalent
 *   circular diameter and of the maximum Feret diameter (quantiles as `quantileSorted`).
 * - KS = two-sample Kolmogorov-Smirnov distance sup |F_pred - F_manual| of the ECDs.
 * - Intervals: 95 % percentile bootstrap over particles (each side resampled with replacement,
 *   independently), for the count-free figures (D10 / D50 / D90 errors, KS).
 * - Outline bias: mean signed distance of predicted outlines to the manual ones, over the outline
 *   pixels of the matched (IoU > 0.5) interior predictions; positive = outside the manual particle.
 *   An outline pixel is a particle pixel with a 4-neighbour outside its particle; a predicted
 *   outline pixel inside its manual partner scores minus its distance to the nearest manual outline
 *   pixel, one outside scores plus its distance to the nearest manual particle pixel, so a pixel
 *   on the manual outline scores 0 and a prediction one pixel too large scores +1.
 * - Merges / splits (against the manual side): a merge is a predicted particle that covers more
 *   than half of two or more manual particles; a split is a manual particle of which two or more
 *   predicted particles lie more than half inside it.
 */
import { UserError } from '../errors.js';
import { checkShape } from '../particles/labels.js';
import { squaredDistanceTransform } from '../particles/distance.js';
import { measureParticles, type Particle } from '../particles/measure.js';
import { matchFromTable, iouTable } from './metrics.js';
import { quantileSorted } from './summary.js';

export type SizedDiameter = 'ecd' | 'feretMax';
export const SIZED_DIAMETERS: readonly SizedDiameter[] = ['ecd', 'feretMax'];

export interface Quantiles {
  d10: number;
  d50: number;
  d90: number;
}

/** A 95 % interval [low, high]. */
export type Interval = [number, number];

export interface DiameterComparison {
  pred: Quantiles;
  truth: Quantiles;
  /** pred / truth - 1 per quantile (NaN when a side has no particles). */
  relError: Quantiles;
  /** Bootstrap intervals of relError. */
  relErrorCI: { d10: Interval; d50: Interval; d90: Interval };
  /** Two-sample KS distance of the two diameter distributions (NaN when a side is empty). */
  ks: number;
  ksCI: Interval;
}

export interface SizingResult {
  /** Interior particles of at least minArea px. */
  count: { pred: number; truth: number; relError: number };
  ecd: DiameterComparison;
  feretMax: DiameterComparison;
  /** Mean signed distance of matched predicted outlines to the manual ones, px (NaN: no match). */
  outlineBias: number;
  /** Outline pixels behind outlineBias. */
  outlinePixels: number;
  merges: number;
  splits: number;
}

export interface SizingOptions {
  /** Particles smaller than this (px) are left out on both sides (default 50). */
  minArea?: number;
  /** Bootstrap resamples (default 200; 0: no intervals, they read NaN). */
  bootstrap?: number;
  /** Seed of the bootstrap (default 0). */
  seed?: number;
}

/** Two-sample Kolmogorov-Smirnov distance of two ascending-sorted samples; NaN if one is empty. */
export function ksDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return NaN;
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n && j < m) {
    const v = Math.min(a[i], b[j]);
    while (i < n && a[i] <= v) i++;
    while (j < m && b[j] <= v) j++;
    d = Math.max(d, Math.abs(i / n - j / m));
  }
  return d;
}

function quantiles(sorted: Float64Array): Quantiles {
  return { d10: quantileSorted(sorted, 0.1), d50: quantileSorted(sorted, 0.5), d90: quantileSorted(sorted, 0.9) };
}

function rel(p: number, t: number): number {
  return t > 0 ? p / t - 1 : NaN;
}

/** mulberry32: a small seeded generator, enough for bootstrap resampling. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function resampleSorted(values: Float64Array, rand: () => number, out: Float64Array): Float64Array {
  for (let i = 0; i < values.length; i++) out[i] = values[Math.floor(rand() * values.length)];
  return out.sort();
}

function percentileInterval(samples: number[]): Interval {
  const s = Float64Array.from(samples.filter((v) => Number.isFinite(v))).sort();
  return s.length ? [quantileSorted(s, 0.025), quantileSorted(s, 0.975)] : [NaN, NaN];
}

/** 95 % percentile-bootstrap intervals of the D10 / D50 / D90 of one sample (NaN when empty). */
export function bootstrapQuantiles(values: ArrayLike<number>, options: SizingOptions = {}): { d10: Interval; d50: Interval; d90: Interval } {
  const { bootstrap = 200, seed = 0 } = options;
  const v = Float64Array.from(values).sort();
  const boot = { d10: [] as number[], d50: [] as number[], d90: [] as number[] };
  if (v.length) {
    const rand = rng(seed);
    const b = new Float64Array(v.length);
    for (let k = 0; k < bootstrap; k++) {
      const q = quantiles(resampleSorted(v, rand, b));
      boot.d10.push(q.d10);
      boot.d50.push(q.d50);
      boot.d90.push(q.d90);
    }
  }
  return { d10: percentileInterval(boot.d10), d50: percentileInterval(boot.d50), d90: percentileInterval(boot.d90) };
}

/** Compares two samples of one diameter (need not be sorted). */
export function compareDiameters(pred: ArrayLike<number>, truth: ArrayLike<number>, options: SizingOptions = {}): DiameterComparison {
  const { bootstrap = 200, seed = 0 } = options;
  const p = Float64Array.from(pred).sort();
  const t = Float64Array.from(truth).sort();
  const qp = quantiles(p);
  const qt = quantiles(t);
  const relError = { d10: rel(qp.d10, qt.d10), d50: rel(qp.d50, qt.d50), d90: rel(qp.d90, qt.d90) };
  const boot = { d10: [] as number[], d50: [] as number[], d90: [] as number[], ks: [] as number[] };
  if (p.length && t.length) {
    const rand = rng(seed);
    const bp = new Float64Array(p.length);
    const bt = new Float64Array(t.length);
    for (let b = 0; b < bootstrap; b++) {
      resampleSorted(p, rand, bp);
      resampleSorted(t, rand, bt);
      const a = quantiles(bp);
      const c = quantiles(bt);
      boot.d10.push(rel(a.d10, c.d10));
      boot.d50.push(rel(a.d50, c.d50));
      boot.d90.push(rel(a.d90, c.d90));
      boot.ks.push(ksDistance(bp, bt));
    }
  }
  return {
    pred: qp,
    truth: qt,
    relError,
    relErrorCI: { d10: percentileInterval(boot.d10), d50: percentileInterval(boot.d50), d90: percentileInterval(boot.d90) },
    ks: ksDistance(p, t),
    ksCI: percentileInterval(boot.ks),
  };
}

/** Interior particles of at least minArea px (area in px: measured with pixel size 1). */
export function sizedParticles(labels: ArrayLike<number>, width: number, height: number, minArea = 50): Particle[] {
  return measureParticles(labels, width, height).filter((p) => !p.touchesBorder && p.area >= minArea);
}

/** Outline pixels of a label map: particle pixels with a 4-neighbour of another label (or background). */
function outlineMask(labels: Int32Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(labels.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const l = labels[i];
      if (!l) continue;
      if ((x > 0 && labels[i - 1] !== l) || (x < width - 1 && labels[i + 1] !== l) || (y > 0 && labels[i - width] !== l) || (y < height - 1 && labels[i + width] !== l)) out[i] = 1;
    }
  }
  return out;
}

/** Per-image partial sums that pool over images. */
export interface SizingParts {
  pred: Particle[];
  truth: Particle[];
  biasSum: number;
  biasPixels: number;
  merges: number;
  splits: number;
}

/** The raw material of `compareSizing` for one image (pool several with `poolSizing`). */
export function sizingParts(predLabels: ArrayLike<number>, gtLabels: ArrayLike<number>, width: number, height: number, minArea = 50): SizingParts {
  checkShape(predLabels.length, width, height, 'prediction');
  checkShape(gtLabels.length, width, height, 'ground truth');
  const table = iouTable(predLabels, gtLabels, width, height);
  const pred = sizedParticles(table.pred, width, height, minArea);
  const truth = sizedParticles(table.gt, width, height, minArea);
  // Outline bias over matched pairs whose two particles are both counted.
  const counted = (list: Particle[], count: number): Uint8Array => {
    const m = new Uint8Array(count + 1);
    for (const q of list) m[q.id] = 1;
    return m;
  };
  const predCounted = counted(pred, table.predCount);
  const gtCounted = counted(truth, table.gtCount);
  const partner = new Int32Array(table.predCount + 1);
  for (const q of matchFromTable(table, 0.5).matches) if (predCounted[q.pred] && gtCounted[q.gt]) partner[q.pred] = q.gt;
  const gtOutline = outlineMask(table.gt, width, height);
  const notOutline = new Uint8Array(gtOutline.length);
  const notGt = new Uint8Array(gtOutline.length);
  for (let i = 0; i < notOutline.length; i++) {
    notOutline[i] = gtOutline[i] ? 0 : 1;
    notGt[i] = table.gt[i] ? 0 : 1;
  }
  const toOutline = squaredDistanceTransform(notOutline, width, height);
  const toGt = squaredDistanceTransform(notGt, width, height);
  const predOutline = outlineMask(table.pred, width, height);
  let biasSum = 0;
  let biasPixels = 0;
  for (let i = 0; i < predOutline.length; i++) {
    if (!predOutline[i]) continue;
    const g = partner[table.pred[i]];
    if (!g) continue;
    biasSum += table.gt[i] === g ? -Math.sqrt(toOutline[i]) : Math.sqrt(toGt[i]);
    biasPixels++;
  }
  // Merges and splits: overlaps covering more than half of the smaller side's particle.
  const coveredGt = new Int32Array(table.predCount + 1);
  const piecesIn = new Int32Array(table.gtCount + 1);
  for (const q of table.pairs) {
    if (2 * q.intersection > table.gtAreas[q.gt]) coveredGt[q.pred]++;
    if (2 * q.intersection > table.predAreas[q.pred]) piecesIn[q.gt]++;
  }
  let merges = 0;
  let splits = 0;
  for (let k = 1; k <= table.predCount; k++) if (coveredGt[k] >= 2) merges++;
  for (let k = 1; k <= table.gtCount; k++) if (piecesIn[k] >= 2) splits++;
  return { pred, truth, biasSum, biasPixels, merges, splits };
}

/** Sizing figures of one image's parts, or of several images' parts pooled. */
export function sizingFromParts(parts: readonly SizingParts[], options: SizingOptions = {}): SizingResult {
  if (parts.length === 0) throw new UserError('sizing: no images to compare');
  const pred = parts.flatMap((p) => p.pred);
  const truth = parts.flatMap((p) => p.truth);
  const biasSum = parts.reduce((s, p) => s + p.biasSum, 0);
  const biasPixels = parts.reduce((s, p) => s + p.biasPixels, 0);
  const diam = (k: SizedDiameter) => compareDiameters(pred.map((q) => q[k]), truth.map((q) => q[k]), options);
  return {
    count: { pred: pred.length, truth: truth.length, relError: rel(pred.length, truth.length) },
    ecd: diam('ecd'),
    feretMax: diam('feretMax'),
    outlineBias: biasPixels ? biasSum / biasPixels : NaN,
    outlinePixels: biasPixels,
    merges: parts.reduce((s, p) => s + p.merges, 0),
    splits: parts.reduce((s, p) => s + p.splits, 0),
  };
}

/** Sizing figures of a predicted instance map against a manual one (see the module comment). */
export function compareSizing(predLabels: ArrayLike<number>, gtLabels: ArrayLike<number>, width: number, height: number, options: SizingOptions = {}): SizingResult {
  return sizingFromParts([sizingParts(predLabels, gtLabels, width, height, options.minArea ?? 50)], options);
}
