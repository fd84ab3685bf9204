/**
 * Loss functions, PyTorch semantics. Every loss takes a `reduction`: 'mean' (default), 'sum',
 * or 'none' (the per-element / per-sample / per-class losses, see each function).
 * mse and l1 are composed from elementwise ops; bceWithLogits and nllLoss have fused VJPs.
 */
import { record } from '../tape.js';
import { Tensor, allocData, resultDType, type Data } from '../tensor.js';
import { sameShape, shapeStr } from '../shape.js';
import { randomInput, type GradcheckCase } from '../gradcheck.js';
import { abs, add, div, mul, square, sub } from './elementwise.js';
import { mean, sum } from './reduce.js';
import { logSoftmax, softmax, axisLayout } from './softmax.js';
import { Rng } from '../rng.js';

export type Reduction = 'mean' | 'sum' | 'none';

function reduce(t: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return t;
  if (reduction === 'sum') return sum(t);
  if (reduction === 'mean') return mean(t);
  throw new Error(`unknown reduction '${String(reduction)}' (use 'mean', 'sum' or 'none')`);
}

function checkSame(op: string, a: Tensor, b: Tensor): void {
  if (!sameShape(a.shape, b.shape)) throw new Error(`${op}: input ${shapeStr(a.shape)} and target ${shapeStr(b.shape)} must have the same shape`);
}

/** Mean squared error: reduce((input - target)^2). Both sides may require gradients. */
export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  checkSame('mseLoss', input, target);
  return reduce(square(sub(input, target)), reduction);
}

/** Mean absolute error: reduce(|input - target|); the subgradient at input = target is 0. */
export function l1Loss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  checkSame('l1Loss', input, target);
  return reduce(abs(sub(input, target)), reduction);
}

/**
 * Binary cross-entropy on logits x with targets y in [0, 1], computed stably as
 *   max(x, 0) - x y + log(1 + exp(-|x|))
 * (never exponentiates a positive number). d/dx = sigmoid(x) - y, d/dy = -x.
 */
export function bceWithLogits(logits: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  checkSame('bceWithLogits', logits, target);
  const dtype = resultDType(logits, target);
  const xd = logits.data;
  const yd = target.data;
  const out = allocData(dtype, logits.size);
  for (let i = 0; i < out.length; i++) {
    const x = xd[i];
    out[i] = Math.max(x, 0) - x * yd[i] + Math.log1p(Math.exp(-Math.abs(x)));
  }
  const elementwise = record('bceWithLogits', new Tensor(out, logits.shape), [logits, target], (g) => {
    const gd = g.data;
    let gx: Tensor | null = null;
    let gy: Tensor | null = null;
    if (logits.requiresGrad) {
      const d = allocData(g.dtype, g.size);
      for (let i = 0; i < d.length; i++) {
        const x = xd[i];
        const s = x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
        d[i] = gd[i] * (s - yd[i]);
      }
      gx = new Tensor(d, logits.shape);
    }
    if (target.requiresGrad) {
      const d = allocData(g.dtype, g.size);
      for (let i = 0; i < d.length; i++) d[i] = -gd[i] * xd[i];
      gy = new Tensor(d, target.shape);
    }
    return [gx, gy];
  });
  return reduce(elementwise, reduction);
}

/**
 * Weighted smooth L1 (Huber with transition `beta`) of a multi-channel prediction [N, C, ...spatial]
 * against its target, each pixel weighted over all its channels by `weight` [N, ...spatial]
 * (constants; StarDist's ray loss, whose weight is the object probability):
 *   loss = sum_{n,c,p} w[n,p] h(x - t) / (C sum_{n,p} w[n,p]),
 *   h(e) = e^2 / (2 beta) for |e| < beta, |e| - beta / 2 beyond;
 * 0 when every weight is 0. d/dx = w h'(e) / (C sum w), h'(e) = e / beta inside, sign(e) beyond;
 * the target gets the negative (both sides may require gradients).
 */
export function weightedSmoothL1(input: Tensor, target: Tensor, weight: ArrayLike<number>, beta = 1): Tensor {
  const op = 'weightedSmoothL1';
  checkSame(op, input, target);
  if (input.ndim < 2) throw new Error(`${op}: input must be [N, C, ...], got ${shapeStr(input.shape)}`);
  if (!(beta > 0)) throw new Error(`${op}: beta must be > 0, got ${beta}`);
  const n = input.shape[0];
  const c = input.shape[1];
  const inner = input.size / (n * c);
  if (weight.length !== n * inner) throw new Error(`${op}: weight has ${weight.length} entries but ${shapeStr(input.shape)} has ${n * inner} pixels`);
  let wsum = 0;
  for (let i = 0; i < weight.length; i++) {
    if (!(weight[i] >= 0)) throw new Error(`${op}: weights must be finite and >= 0, got ${weight[i]} at ${i}`);
    wsum += weight[i];
  }
  const scale = wsum > 0 ? 1 / (c * wsum) : 0;
  const xd = input.data;
  const td = target.data;
  let total = 0;
  for (let b = 0; b < n; b++) {
    for (let k = 0; k < c; k++) {
      const o = (b * c + k) * inner;
      for (let p = 0; p < inner; p++) {
        const w = weight[b * inner + p];
        if (w === 0) continue;
        const e = Math.abs(xd[o + p] - td[o + p]);
        total += w * (e < beta ? (0.5 * e * e) / beta : e - 0.5 * beta);
      }
    }
  }
  const dtype = resultDType(input, target);
  const out = allocData(dtype, 1);
  out[0] = total * scale;
  return record(op, new Tensor(out, []), [input, target], (g) => {
    const gs = g.data[0] * scale;
    const d = allocData(dtype, input.size);
    for (let b = 0; b < n; b++) {
      for (let k = 0; k < c; k++) {
        const o = (b * c + k) * inner;
        for (let p = 0; p < inner; p++) {
          const w = weight[b * inner + p];
          if (w === 0) continue;
          const e = xd[o + p] - td[o + p];
          d[o + p] = gs * w * (Math.abs(e) < beta ? e / beta : Math.sign(e));
        }
      }
    }
    const gx = input.requiresGrad ? new Tensor(d, input.shape) : null;
    let gt: Tensor | null = null;
    if (target.requiresGrad) {
      const dt = allocData(dtype, input.size);
      for (let i = 0; i < dt.length; i++) dt[i] = -d[i];
      gt = new Tensor(dt, target.shape);
    }
    return [gx, gt];
  });
}

export interface ClassLossOptions {
  /** Per-class weights [C] (constants, no gradient). */
  weight?: Tensor | ArrayLike<number>;
  reduction?: Reduction;
  /** Targets equal to this are skipped (no loss, no weight in the mean). PyTorch's default -100. */
  ignoreIndex?: number;
  /** The class axis of the input (default 1: [N, C] or [N, C, H, W] ...). */
  classAxis?: number;
  /**
   * Per-position weights, one per target entry (constants, no gradient), multiplied into the
   * class weight; 'mean' divides by the sum of the combined weights, as for class weights.
   */
  positionWeight?: ArrayLike<number>;
}

function weightData(w: Tensor | ArrayLike<number> | undefined, c: number, op: string): ArrayLike<number> | null {
  if (w === undefined) return null;
  const d = w instanceof Tensor ? w.data : w;
  if (d.length !== c) throw new Error(`${op}: weight has ${d.length} entries but there are ${c} classes`);
  return d;
}

/**
 * Negative log-likelihood of integer targets under log-probabilities (class axis `classAxis`).
 * target has one entry per position of the input without its class axis (row-major order).
 * With weights w and non-ignored positions i:  loss_i = -w[t_i] logp[i, t_i];
 * 'mean' = sum_i loss_i / sum_i w[t_i] (PyTorch's weighted mean), 'sum' = sum_i loss_i,
 * 'none' = loss_i with the input's shape minus the class axis (0 at ignored positions).
 */
export function nllLoss(logProbs: Tensor, target: Int32Array | readonly number[], opts: ClassLossOptions = {}): Tensor {
  const op = 'nllLoss';
  const axis = opts.classAxis ?? 1;
  if (logProbs.ndim < 1) throw new Error(`${op}: input needs a class axis`);
  const { outer, len: c, inner } = axisLayout(logProbs.shape, axis);
  const a = axis < 0 ? axis + logProbs.ndim : axis;
  const tShape = logProbs.shape.filter((_, i) => i !== a);
  if (target.length !== outer * inner) throw new Error(`${op}: target has ${target.length} entries but input ${shapeStr(logProbs.shape)} needs ${outer * inner} (shape ${shapeStr(tShape)})`);
  const ignore = opts.ignoreIndex ?? -100;
  const w = weightData(opts.weight, c, op);
  const pw = opts.positionWeight;
  if (pw && pw.length !== target.length) throw new Error(`${op}: positionWeight has ${pw.length} entries but the target ${target.length}`);
  const reduction = opts.reduction ?? 'mean';
  const ld = logProbs.data;
  // Per position: the flat index of the picked log-probability (-1 when ignored) and its weight.
  const pick = new Int32Array(target.length);
  const wt = new Float64Array(target.length);
  let wsum = 0;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const p = o * inner + i;
      const t = target[p];
      if (t === ignore) {
        pick[p] = -1;
        continue;
      }
      if (!Number.isInteger(t) || t < 0 || t >= c) throw new Error(`${op}: target ${t} at position ${p} is not a class in [0, ${c})`);
      pick[p] = (o * c + t) * inner + i;
      wt[p] = (w ? w[t] : 1) * (pw ? pw[p] : 1);
      wsum += wt[p];
    }
  }
  const per = allocData(logProbs.dtype, target.length);
  for (let p = 0; p < per.length; p++) if (pick[p] >= 0) per[p] = -wt[p] * ld[pick[p]];
  let out: Data;
  let outShape: number[];
  if (reduction === 'none') {
    out = per;
    outShape = tShape;
  } else {
    let s = 0;
    for (let p = 0; p < per.length; p++) s += per[p];
    out = allocData(logProbs.dtype, 1);
    // An all-ignored (or zero-weight) batch gives 0 / 0 = NaN, as in PyTorch.
    out[0] = reduction === 'mean' ? s / wsum : s;
    outShape = [];
  }
  return record(op, new Tensor(out, outShape), [logProbs], (g) => {
    const gx = allocData(g.dtype, logProbs.size);
    const gd = g.data;
    for (let p = 0; p < pick.length; p++) {
      if (pick[p] < 0) continue;
      const gv = reduction === 'none' ? gd[p] : reduction === 'mean' ? gd[0] / wsum : gd[0];
      gx[pick[p]] = -wt[p] * gv;
    }
    return [new Tensor(gx, logProbs.shape)];
  });
}

/** Cross-entropy of logits (class axis `classAxis`, default 1) and integer targets: nllLoss(logSoftmax). */
export function crossEntropy(logits: Tensor, target: Int32Array | readonly number[], opts: ClassLossOptions = {}): Tensor {
  return nllLoss(logSoftmax(logits, opts.classAxis ?? 1), target, opts);
}

/**
 * Class-balanced weights for crossEntropy: w[c] = total / (numClasses * count[c]) (each class
 * then contributes equally in expectation); classes absent from the targets get weight 0.
 */
export function classBalancedWeights(target: Int32Array | readonly number[], numClasses: number, ignoreIndex = -100): Float64Array {
  const counts = new Float64Array(numClasses);
  let total = 0;
  for (let i = 0; i < target.length; i++) {
    const t = target[i];
    if (t === ignoreIndex) continue;
    if (!(t >= 0 && t < numClasses)) throw new Error(`classBalancedWeights: target ${t} is not a class in [0, ${numClasses})`);
    counts[t]++;
    total++;
  }
  return counts.map((n) => (n > 0 ? total / (numClasses * n) : 0));
}

/** One-hot encoding of integer labels [N, ...] as [N, C, ...] (class axis 1), a constant. */
export function oneHot(labels: Int32Array | readonly number[], shape: readonly number[], numClasses: number, dtype: 'float32' | 'float64' = 'float32'): Tensor {
  const n = shape[0];
  const inner = labels.length / n;
  if (!Number.isInteger(inner) || shape.reduce((a, b) => a * b, 1) !== labels.length) throw new Error(`oneHot: ${labels.length} labels do not fit shape ${shapeStr(shape)}`);
  const out = allocData(dtype, labels.length * numClasses);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < inner; k++) {
      const t = labels[i * inner + k];
      if (!(Number.isInteger(t) && t >= 0 && t < numClasses)) throw new Error(`oneHot: label ${t} is not a class in [0, ${numClasses})`);
      out[(i * numClasses + t) * inner + k] = 1;
    }
  }
  return new Tensor(out, [n, numClasses, ...shape.slice(1)]);
}

export interface DiceOptions {
  /** Added to numerator and denominator: keeps empty classes finite (dice 1 when both are empty). Default 1. */
  smooth?: number;
  /** 'mean' over classes (default), 'sum' over classes, or 'none': the per-class losses [C]. */
  reduction?: Reduction;
}

/**
 * Multi-class soft Dice loss on softmax probabilities p = softmax(logits, axis 1) against one-hot
 * targets t (a one-hot tensor shaped like logits, or integer labels [N, ...]). Per class c, with
 * sums over the batch and all spatial positions (a "batch Dice"):
 *   dice_c = (2 sum(p_c t_c) + smooth) / (sum(p_c) + sum(t_c) + smooth),   loss_c = 1 - dice_c.
 */
export function softDiceLoss(logits: Tensor, target: Tensor | Int32Array | readonly number[], opts: DiceOptions = {}): Tensor {
  if (logits.ndim < 2) throw new Error(`softDiceLoss: logits must be [N, C, ...], got ${shapeStr(logits.shape)}`);
  const c = logits.shape[1];
  const t =
    target instanceof Tensor
      ? target
      : oneHot(target, [logits.shape[0], ...logits.shape.slice(2)], c, logits.dtype);
  checkSame('softDiceLoss', logits, t);
  const smooth = opts.smooth ?? 1;
  const p = softmax(logits, 1);
  const axes = logits.shape.map((_, i) => i).filter((i) => i !== 1);
  const inter = sum(mul(p, t), axes);
  const denom = add(add(sum(p, axes), sum(t, axes)), smooth);
  const dice = div(add(mul(inter, 2), smooth), denom);
  return reduce(sub(1, dice), opts.reduction ?? 'mean');
}

// ---------------------------------------------------------------------------------------------

function labels(rng: Rng, n: number, c: number): Int32Array {
  return Int32Array.from({ length: n }, () => rng.int(c));
}

export const gradcheckCases: GradcheckCase[] = [
  {
    op: 'weightedSmoothL1',
    variant: '[2, 3, 2, 2], both sides differentiated, errors on both sides of beta, zero-weight pixels',
    make: (rng) => {
      const w = Float64Array.from({ length: 8 }, (_, i) => (i % 3 === 0 ? 0 : rng.range(0.1, 2)));
      return { f: (x, y) => weightedSmoothL1(x, y, w, 0.5), inputs: [randomInput(rng, [2, 3, 2, 2], -2, 2), randomInput(rng, [2, 3, 2, 2], -2, 2)] };
    },
  },
  {
    op: 'weightedSmoothL1',
    variant: '[1, 4, 3], beta 1, target held constant, every weight 0 but one',
    make: (rng) => {
      const y = randomInput(rng, [1, 4, 3], -3, 3);
      const w = [0, 1.5, 0];
      return { f: (x) => weightedSmoothL1(x, y, w), inputs: [randomInput(rng, [1, 4, 3], -3, 3)] };
    },
  },
  { op: 'mseLoss', variant: 'mean, both sides differentiated', make: (rng) => ({ f: (x, y) => mseLoss(x, y), inputs: [randomInput(rng, [2, 3]), randomInput(rng, [2, 3])] }) },
  { op: 'mseLoss', variant: "reduction 'none', [1, 2, 3, 1]", make: (rng) => ({ f: (x, y) => mseLoss(x, y, 'none'), inputs: [randomInput(rng, [1, 2, 3, 1]), randomInput(rng, [1, 2, 3, 1])] }) },
  {
    op: 'l1Loss',
    variant: 'kinks on purpose: input equal to target at half the elements (subgradient 0)',
    make: (rng) => {
      const x = randomInput(rng, [3, 4]);
      const y = x.clone();
      for (let i = 0; i < y.size; i += 2) y.data[i] += rng.range(-1, 1);
      return { f: (a) => l1Loss(a, y), inputs: [x] };
    },
  },
  { op: 'l1Loss', variant: "reduction 'sum'", make: (rng) => ({ f: (x, y) => l1Loss(x, y, 'sum'), inputs: [randomInput(rng, [5]), randomInput(rng, [5])] }) },
  {
    op: 'bceWithLogits',
    variant: 'mean, logits up to +-30, soft targets differentiated',
    make: (rng) => ({ f: (x, y) => bceWithLogits(x, y), inputs: [randomInput(rng, [2, 5], -30, 30), randomInput(rng, [2, 5], 0, 1)] }),
  },
  {
    op: 'bceWithLogits',
    variant: "reduction 'none', hard 0/1 targets, logit exactly 0",
    make: (rng) => {
      const x = randomInput(rng, [1, 1, 2, 3], -3, 3);
      x.data[0] = 0;
      const y = new Tensor(Float64Array.from({ length: 6 }, () => rng.int(2)), [1, 1, 2, 3]);
      return { f: (a) => bceWithLogits(a, y, 'none'), inputs: [x] };
    },
  },
  {
    op: 'crossEntropy',
    variant: '[N=4, C=3], mean',
    make: (rng) => {
      const t = labels(rng, 4, 3);
      return { f: (x) => crossEntropy(x, t), inputs: [randomInput(rng, [4, 3], -2, 2)] };
    },
  },
  {
    op: 'crossEntropy',
    variant: 'spatial [2, 3, 2, 3], class weights (weighted mean), one ignored pixel',
    make: (rng) => {
      const t = labels(rng, 12, 3);
      t[5] = -100;
      return { f: (x) => crossEntropy(x, t, { weight: [0.2, 1, 3] }), inputs: [randomInput(rng, [2, 3, 2, 3], -2, 2)] };
    },
  },
  {
    op: 'crossEntropy',
    variant: "reduction 'sum' and 'none', size-1 spatial dims",
    make: (rng) => {
      const t = labels(rng, 2, 4);
      return { f: (x) => add(crossEntropy(x, t, { reduction: 'sum' }), sum(crossEntropy(x, t, { reduction: 'none', weight: [1, 2, 3, 4] }))), inputs: [randomInput(rng, [2, 4, 1, 1], -2, 2)] };
    },
  },
  {
    op: 'crossEntropy',
    variant: 'spatial [2, 3, 2, 3], class weights x per-position weights (weighted mean), zero-weight and ignored pixels',
    make: (rng) => {
      const t = labels(rng, 12, 3);
      t[3] = -100;
      const pw = Float64Array.from({ length: 12 }, () => 1 + 10 * rng.uniform());
      pw[7] = 0;
      return { f: (x) => crossEntropy(x, t, { weight: [0.6, 1.9, 4.1], positionWeight: pw }), inputs: [randomInput(rng, [2, 3, 2, 3], -2, 2)] };
    },
  },
  {
    op: 'softDiceLoss',
    variant: 'integer labels, [2, 3, 3, 2], smooth 1, mean over classes',
    make: (rng) => {
      const t = labels(rng, 12, 3);
      return { f: (x) => softDiceLoss(x, t), inputs: [randomInput(rng, [2, 3, 3, 2], -2, 2)] };
    },
  },
  {
    op: 'softDiceLoss',
    variant: "one-hot tensor with an absent class, smooth 0.5, reduction 'none'",
    make: (rng) => {
      const t = oneHot(Int32Array.from([0, 2, 2, 0, 2]), [1, 5], 3, 'float64');
      return { f: (x) => softDiceLoss(x, t, { smooth: 0.5, reduction: 'none' }), inputs: [randomInput(rng, [1, 3, 5], -2, 2)] };
    },
  },
];
