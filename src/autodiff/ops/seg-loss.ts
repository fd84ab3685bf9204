/**
 * The segmenter's whole training loss as one fused op over the channel axis of an NCHW output:
 *
 *   loss = CE_w(x[:, 0:C], t) + diceWeight * softDice(softmax(x[:, 0:C]), t)
 *          [+ distanceWeight * mean BCE(x[:, C], d)]
 *
 * It equals crossEntropy + softDiceLoss + bceWithLogits on slices of x (loss.ts) up to float
 * rounding, but reads the channels in place (no slice copies), computes the max / exp / sum of
 * each pixel once for both the CE and the Dice term, keeps the probabilities for the backward
 * pass, and writes one gradient buffer. The composed ops stay the reference (the tests compare
 * the two).
 *
 * VJP per pixel (p = softmax, w = the pixel's CE weight / sum of weights, t its class):
 *   CE:    dx_k = w (p_k - [k = t])
 *   Dice:  dL/dp_k = a_k = B_k + [k = t] A_k, with per class D_k = sum p_k + count_k + smooth,
 *          N_k = 2 sum(p_k [t = k]) + smooth, A_k = -2 dw / (C D_k), B_k = dw N_k / (C D_k^2);
 *          dx_k = p_k (a_k - sum_j a_j p_j)
 *   BCE:   dz = distanceWeight (sigmoid(z) - d) / pixels
 * The class weights, position weights and the distance target are constants (no gradient).
 */
import { record } from '../tape.js';
import { Tensor, allocData } from '../tensor.js';
import { shapeStr, sizeOf } from '../shape.js';
import { randomInput, type GradcheckCase } from '../gradcheck.js';
import { Rng } from '../rng.js';

export interface SegmentationLossOptions {
  /** Channels [0, classes) of the output are the class logits. */
  classes: number;
  /** One class per pixel, [N, ...spatial] row-major, each in [0, classes). */
  target: Int32Array | readonly number[];
  /** Per-class CE weights [classes]; the CE is their weighted mean (PyTorch). Default all 1. */
  weight?: ArrayLike<number>;
  /** Per-pixel CE weights, multiplied into the class weight. */
  positionWeight?: ArrayLike<number>;
  /** Weight of the soft Dice term (default 1; 0 leaves it out of the loss and gradient). */
  diceWeight?: number;
  /** Dice smoothing, added to numerator and denominator (default 1). */
  smooth?: number;
  /** Targets in [0, 1] [N, 1, ...spatial] for channel `classes` (a BCE-with-logits term). */
  distance?: Tensor | null;
  /** Weight of the distance BCE (default 1). */
  distanceWeight?: number;
}

export interface SegmentationLoss {
  /** The total loss, a scalar on the tape. */
  loss: Tensor;
  /** Its parts (plain numbers): the weighted CE, the Dice loss (mean over classes of 1 - dice), the mean BCE. */
  ce: number;
  dice: number;
  dist: number | null;
}

export function segmentationLoss(out: Tensor, opts: SegmentationLossOptions): SegmentationLoss {
  const op = 'segmentationLoss';
  if (out.ndim < 2) throw new Error(`${op}: the output must be [N, channels, ...], got ${shapeStr(out.shape)}`);
  const n = out.shape[0];
  const ctot = out.shape[1];
  const inner = sizeOf(out.shape.slice(2));
  const c = opts.classes;
  const distance = opts.distance ?? null;
  if (!Number.isInteger(c) || c < 1 || c + (distance ? 1 : 0) > ctot) {
    throw new Error(`${op}: ${c} classes${distance ? ' + a distance channel' : ''} do not fit the ${ctot} channels of ${shapeStr(out.shape)}`);
  }
  const npx = n * inner;
  const target = opts.target;
  if (target.length !== npx) throw new Error(`${op}: target has ${target.length} entries but the output ${shapeStr(out.shape)} has ${npx} pixels`);
  const w = opts.weight;
  if (w && w.length !== c) throw new Error(`${op}: weight has ${w.length} entries but there are ${c} classes`);
  const pw = opts.positionWeight;
  if (pw && pw.length !== npx) throw new Error(`${op}: positionWeight has ${pw.length} entries but the target ${npx}`);
  if (distance && distance.size !== npx) throw new Error(`${op}: distance target ${shapeStr(distance.shape)} must have one entry per pixel (${npx})`);
  const diceWeight = opts.diceWeight ?? 1;
  const smooth = opts.smooth ?? 1;
  const distanceWeight = opts.distanceWeight ?? 1;

  const xd = out.data;
  const prob = new Float64Array(npx * c); // [N, C, inner]
  const wt = new Float64Array(npx);
  const count = new Float64Array(c);
  const inter = new Float64Array(c);
  const psum = new Float64Array(c);
  const m = new Float64Array(inner);
  const s = new Float64Array(inner);
  const acc = new Float64Array(3); // sum of CE weights, weighted CE sum, BCE sum
  for (let b = 0; b < n; b++) {
    const xo = b * ctot * inner;
    const po = b * c * inner;
    const to = b * inner;
    channelMax(xd, xo, inner, c, m);
    for (let k = 0; k < c; k++) expPlane(xd, xo + k * inner, prob, po + k * inner, m, s, inner, k === 0);
    crossEntropyPixels(xd, xo, target, to, inner, c, w, pw, m, s, wt, count, acc, op);
    for (let i = 0; i < inner; i++) s[i] = 1 / s[i];
    for (let k = 0; k < c; k++) psum[k] += normalizePlane(prob, po + k * inner, s, inner);
    targetProbSums(prob, po, target, to, inner, inter);
    if (distance) acc[2] += bceSum(xd, xo + c * inner, distance.data, to, inner);
  }
  // An all-zero-weight batch gives 0 / 0 = NaN, as crossEntropy (and PyTorch) do.
  const wsum = acc[0];
  const ce = acc[1] / wsum;
  const coefA = new Float64Array(c);
  const coefB = new Float64Array(c);
  let diceSum = 0;
  for (let k = 0; k < c; k++) {
    const d = psum[k] + count[k] + smooth;
    const num = 2 * inter[k] + smooth;
    diceSum += 1 - num / d;
    coefA[k] = (-2 * diceWeight) / (c * d);
    coefB[k] = (diceWeight * num) / (c * d * d);
  }
  const dice = diceSum / c;
  const dist = distance ? acc[2] / npx : null;
  let total = ce + (diceWeight !== 0 ? diceWeight * dice : 0);
  if (dist !== null) total += distanceWeight * dist;
  const lossData = allocData(out.dtype, 1);
  lossData[0] = total;

  const loss = record(op, new Tensor(lossData, []), [out], (g) => {
    const gs = g.data[0];
    const gx = allocData(out.dtype, out.size);
    const dot = new Float64Array(inner);
    for (let b = 0; b < n; b++) {
      const xo = b * ctot * inner;
      const po = b * c * inner;
      const to = b * inner;
      // dot_i = sum_j a_j p_j = sum_j B_j p_j + A_t p_t
      targetTerm(prob, po, target, to, inner, coefA, dot);
      for (let k = 0; k < c; k++) axpyPlane(coefB[k], prob, po + k * inner, dot, inner);
      for (let k = 0; k < c; k++) gradPlane(gx, xo + k * inner, prob, po + k * inner, gs, coefB[k], gs / wsum, dot, wt, to, inner);
      gradTarget(gx, xo, prob, po, target, to, inner, gs, coefA, gs / wsum, wt);
      if (distance) bceGrad(gx, xd, xo + c * inner, distance.data, to, inner, (gs * distanceWeight) / npx);
    }
    return [new Tensor(gx, out.shape)];
  });
  return { loss, ce, dice, dist };
}

// Small kernels with one loop each: V8 optimizes each on its own and keeps it optimized (one
// function with all the loops was on-stack-replaced and deoptimized over and over, about 3x slower).

type Floats = Tensor['data'];
type Labels = Int32Array | readonly number[];

function channelMax(xd: Floats, xo: number, inner: number, c: number, m: Float64Array): void {
  for (let i = 0; i < inner; i++) m[i] = xd[xo + i];
  for (let k = 1; k < c; k++) {
    const ko = xo + k * inner;
    for (let i = 0; i < inner; i++) m[i] = Math.max(m[i], xd[ko + i]);
  }
  // All -Inf (or +Inf present): shift by 0 and let the arithmetic give NaN / Inf honestly.
  for (let i = 0; i < inner; i++) if (!Number.isFinite(m[i])) m[i] = 0;
}

/** prob = exp(x - m) of one channel plane; s = (first ? 0 : s) + prob. */
function expPlane(xd: Floats, xo: number, prob: Float64Array, po: number, m: Float64Array, s: Float64Array, inner: number, first: boolean): void {
  for (let i = 0; i < inner; i++) {
    const e = Math.exp(xd[xo + i] - m[i]);
    prob[po + i] = e;
    s[i] = first ? e : s[i] + e;
  }
}

/** Per pixel: its CE weight, -w log p_t = w (m + log s - x_t) into acc[1], the weight into acc[0], the class count. */
function crossEntropyPixels(xd: Floats, xo: number, target: Labels, to: number, inner: number, c: number, w: ArrayLike<number> | undefined, pw: ArrayLike<number> | undefined, m: Float64Array, s: Float64Array, wt: Float64Array, count: Float64Array, acc: Float64Array, op: string): void {
  let wsum = 0;
  let ceSum = 0;
  for (let i = 0; i < inner; i++) {
    const t = target[to + i];
    if (!Number.isInteger(t) || t < 0 || t >= c) throw new Error(`${op}: target ${t} at position ${to + i} is not a class in [0, ${c})`);
    const wi = (w ? w[t] : 1) * (pw ? pw[to + i] : 1);
    wt[to + i] = wi;
    wsum += wi;
    // A zero weight contributes 0 even where p_t underflows.
    if (wi !== 0) ceSum += wi * (m[i] + Math.log(s[i]) - xd[xo + t * inner + i]);
    count[t]++;
  }
  acc[0] += wsum;
  acc[1] += ceSum;
}

/** prob *= 1 / s of one plane; returns the plane's sum. */
function normalizePlane(prob: Float64Array, po: number, invS: Float64Array, inner: number): number {
  let ps = 0;
  for (let i = 0; i < inner; i++) {
    const p = prob[po + i] * invS[i];
    prob[po + i] = p;
    ps += p;
  }
  return ps;
}

function targetProbSums(prob: Float64Array, po: number, target: Labels, to: number, inner: number, inter: Float64Array): void {
  for (let i = 0; i < inner; i++) {
    const t = target[to + i];
    inter[t] += prob[po + t * inner + i];
  }
}

function bceSum(xd: Floats, zo: number, dd: Floats, to: number, inner: number): number {
  let sum = 0;
  for (let i = 0; i < inner; i++) {
    const z = xd[zo + i];
    sum += Math.max(z, 0) - z * dd[to + i] + Math.log1p(Math.exp(-Math.abs(z)));
  }
  return sum;
}

function targetTerm(prob: Float64Array, po: number, target: Labels, to: number, inner: number, coefA: Float64Array, dot: Float64Array): void {
  for (let i = 0; i < inner; i++) {
    const t = target[to + i];
    dot[i] = coefA[t] * prob[po + t * inner + i];
  }
}

function axpyPlane(a: number, prob: Float64Array, po: number, dot: Float64Array, inner: number): void {
  for (let i = 0; i < inner; i++) dot[i] += a * prob[po + i];
}

/** gx_k = gs p_k (B_k - dot) + (gs / wsum) w p_k: the Dice and CE terms before the target's own correction. */
function gradPlane(gx: Floats, go: number, prob: Float64Array, po: number, gs: number, bk: number, cwScale: number, dot: Float64Array, wt: Float64Array, to: number, inner: number): void {
  for (let i = 0; i < inner; i++) {
    const p = prob[po + i];
    gx[go + i] = gs * p * (bk - dot[i]) + cwScale * wt[to + i] * p;
  }
}

/** At the target class: + gs A_t p_t - (gs / wsum) w. */
function gradTarget(gx: Floats, xo: number, prob: Float64Array, po: number, target: Labels, to: number, inner: number, gs: number, coefA: Float64Array, cwScale: number, wt: Float64Array): void {
  for (let i = 0; i < inner; i++) {
    const t = target[to + i];
    gx[xo + t * inner + i] += gs * coefA[t] * prob[po + t * inner + i] - cwScale * wt[to + i];
  }
}

function bceGrad(gx: Floats, xd: Floats, zo: number, dd: Floats, to: number, inner: number, scale: number): void {
  for (let i = 0; i < inner; i++) {
    const z = xd[zo + i];
    const sig = z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
    gx[zo + i] = scale * (sig - dd[to + i]);
  }
}

// ---------------------------------------------------------------------------------------------

function labels(rng: Rng, n: number, c: number): Int32Array {
  return Int32Array.from({ length: n }, () => rng.int(c));
}

export const gradcheckCases: GradcheckCase[] = [
  {
    op: 'segmentationLoss',
    variant: 'CE + Dice, [2, 3, 2, 3], class weights',
    make: (rng) => {
      const t = labels(rng, 12, 3);
      return { f: (x) => segmentationLoss(x, { classes: 3, target: t, weight: [0.6, 1.9, 4.1] }).loss, inputs: [randomInput(rng, [2, 3, 2, 3], -2, 2)] };
    },
  },
  {
    op: 'segmentationLoss',
    variant: 'CE + 0.7 Dice + distance BCE, per-pixel weights with zeros, a class weight 0, an extra unused channel',
    make: (rng) => {
      const t = labels(rng, 12, 3);
      const pw = Float64Array.from({ length: 12 }, () => (rng.uniform() < 0.3 ? 0 : 1 + 10 * rng.uniform()));
      pw[0] = 1;
      t[0] = 1;
      const d = new Tensor(Float64Array.from({ length: 12 }, () => rng.uniform()), [2, 1, 3, 2]);
      return {
        f: (x) => segmentationLoss(x, { classes: 3, target: t, weight: [0, 1.9, 4.1], positionWeight: pw, diceWeight: 0.7, distance: d, distanceWeight: 1.3 }).loss,
        inputs: [randomInput(rng, [2, 5, 3, 2], -2, 2)],
      };
    },
  },
  {
    op: 'segmentationLoss',
    variant: 'large logits (+-40 around +500), Dice smooth 0.5, an absent class',
    make: (rng) => {
      const t = Int32Array.from({ length: 8 }, () => 2 * rng.int(2));
      const x = randomInput(rng, [1, 4, 2, 4], 460, 540);
      const d = new Tensor(Float64Array.from({ length: 8 }, () => rng.int(2)), [1, 1, 2, 4]);
      return { f: (a) => segmentationLoss(a, { classes: 3, target: t, smooth: 0.5, distance: d }).loss, inputs: [x] };
    },
  },
  {
    op: 'segmentationLoss',
    variant: 'Dice weight 0 (CE only), [3, 2] without spatial axes',
    make: (rng) => {
      const t = labels(rng, 3, 2);
      return { f: (x) => segmentationLoss(x, { classes: 2, target: t, diceWeight: 0 }).loss, inputs: [randomInput(rng, [3, 2], -3, 3)] };
    },
  },
];
