/**
 * Batch and instance normalisation of NCHW tensors, with fused forward and backward passes
 * (checked against finite differences by the gradcheck cases below).
 *
 * Both normalise x over a set of elements sharing one "slot": batch norm over (N, H, W) for each
 * channel, instance norm over (H, W) for each (sample, channel). With m elements in a slot,
 *   xhat = (x - mean) / sqrt(var + eps),   var biased (divided by m),   y = weight[c] xhat + bias[c]
 * and the gradient through the batch statistics is
 *   dx = invstd / m * (m dxhat - sum(dxhat) - xhat sum(dxhat xhat)),   dxhat = dy weight[c].
 * Statistics are accumulated in float64 whatever the tensor dtype.
 *
 * With an `activation` the ReLU or LeakyReLU that follows a norm in most networks (the U-Net's
 * conv -> norm -> ReLU, the PatchGAN's conv -> norm -> LeakyReLU) runs in the same output pass,
 * and its backward scales dy once before the norm's backward: one gradient buffer instead of
 * the activation's output, mask and product. The values are exactly those of act(norm(x)).
 * xhat is not kept between the passes: the backward recomputes it from x (rounded to the
 * tensor's dtype, as a stored xhat would be).
 */
import { record } from '../tape.js';
import { Tensor, allocData, resultDType, type Data } from '../tensor.js';
import { shapeStr } from '../shape.js';
import { activationGrad } from './elementwise.js';
import { randomInput, type GradcheckCase } from '../gradcheck.js';

/**
 * Running statistics of a batch norm layer (buffers, not parameters). batchNorm2d updates them
 * in place in training mode; numBatchesTracked (a one-element tensor) is incremented when given.
 */
export interface BatchNormState {
  runningMean: Tensor;
  runningVar: Tensor;
  numBatchesTracked?: Tensor;
}

export interface BatchNormOptions {
  /** Batch statistics (and running-statistics update) when true; running statistics when false. */
  training: boolean;
  /** Weight of the new batch in the running averages (PyTorch's default 0.1). */
  momentum?: number;
  eps?: number;
  /** An activation applied in the same pass (ops 'batchNorm2dRelu' / 'batchNorm2dLeakyRelu'; see the file header). */
  activation?: NormActivation;
}

/** ReLU, or LeakyReLU with a slope >= 0 for negative inputs (as ops/elementwise.ts leakyRelu). */
export type NormActivation = 'relu' | { leakyRelu: number };

/** The activation's negative-side slope (0 for ReLU), null for none; checks it. */
function slopeOf(act: NormActivation | undefined, op: string): number | null {
  if (act === undefined) return null;
  if (act === 'relu') return 0;
  if (!(act.leakyRelu >= 0 && Number.isFinite(act.leakyRelu))) throw new Error(`${op}: the fused LeakyReLU needs a finite slope >= 0, got ${act.leakyRelu}`);
  return act.leakyRelu;
}

function actName(op: string, slope: number | null): string {
  return slope === null ? op : slope === 0 ? `${op}Relu` : `${op}LeakyRelu`;
}

/** A fresh state: running mean 0, running variance 1 (as PyTorch initialises them). */
export function batchNormState(channels: number, dtype: 'float32' | 'float64' = 'float32'): BatchNormState {
  const mean = new Tensor(allocData(dtype, channels), [channels]);
  const v = allocData(dtype, channels);
  v.fill(1);
  return { runningMean: mean, runningVar: new Tensor(v, [channels]), numBatchesTracked: new Tensor(allocData('float64', 1), []) };
}

// The per-plane loops, as top-level functions: V8 keeps their arrays and scalars in registers
// (in normalise, the variables its closures capture live in a heap context, which made these
// loops several times slower). Same arithmetic, in the same order, as written inline.

function planeSum(xd: Data, o: number, hw: number): number {
  let s = 0;
  for (let k = o, e = o + hw; k < e; k++) s += xd[k];
  return s;
}

function planeSquaredDeviation(xd: Data, o: number, hw: number, m: number): number {
  let s = 0;
  for (let k = o, e = o + hw; k < e; k++) {
    const d = xd[k] - m;
    s += d * d;
  }
  return s;
}

function normalisePlane(xd: Data, out: Data, o: number, hw: number, m: number, is: number, a: number, b: number): void {
  for (let k = o, e = o + hw; k < e; k++) out[k] = a * ((xd[k] - m) * is) + b;
}

function normalisePlaneRelu(xd: Data, out: Data, o: number, hw: number, m: number, is: number, a: number, b: number): void {
  if (out instanceof Float32Array) return normalisePlaneReluF32(xd, out, new Int32Array(out.buffer, out.byteOffset, out.length), o, hw, m, is, a, b);
  for (let k = o, e = o + hw; k < e; k++) {
    const y = a * ((xd[k] - m) * is) + b;
    out[k] = y > 0 ? y : 0;
  }
}

/**
 * The float32 ReLU without a data-dependent branch: the value is stored, then its bits are
 * cleared when the sign bit is set (negative values and -0 become +0, as y > 0 ? y : 0 gives;
 * a NaN with its sign bit clear stays NaN instead of becoming 0).
 */
function normalisePlaneReluF32(xd: Data, out: Float32Array, bits: Int32Array, o: number, hw: number, m: number, is: number, a: number, b: number): void {
  for (let k = o, e = o + hw; k < e; k++) {
    out[k] = a * ((xd[k] - m) * is) + b;
    const v = bits[k];
    bits[k] = v & ~(v >> 31);
  }
}

/** `round`: the norm's output as stored (rounded to float32), as the unfused ops see it. */
function normalisePlaneLeaky(xd: Data, out: Data, o: number, hw: number, m: number, is: number, a: number, b: number, slope: number, round: boolean): void {
  if (round && out instanceof Float32Array) return normalisePlaneLeakyF32(xd, out, new Int32Array(out.buffer, out.byteOffset, out.length), o, hw, m, is, a, b, slope);
  for (let k = o, e = o + hw; k < e; k++) {
    const y = round ? Math.fround(a * ((xd[k] - m) * is) + b) : a * ((xd[k] - m) * is) + b;
    out[k] = y > 0 ? y : slope * y;
  }
}

/**
 * The float32 LeakyReLU without a data-dependent branch: y (rounded to float32) times 1 or the
 * slope, picked by the sign bit of the stored y. Exactly y > 0 ? y : slope * y: a positive y
 * keeps its value, -0 and NaN give slope * y either way.
 */
function normalisePlaneLeakyF32(xd: Data, out: Float32Array, bits: Int32Array, o: number, hw: number, m: number, is: number, a: number, b: number, slope: number): void {
  const factor = new Float64Array([1, slope]);
  for (let k = o, e = o + hw; k < e; k++) {
    const y = Math.fround(a * ((xd[k] - m) * is) + b);
    out[k] = y;
    out[k] = y * factor[bits[k] >>> 31];
  }
}

/** Adds sum(dy) to sumG[s] and sum(dy xhat) to sumGX[s] for one plane (xhat rounded as stored when f32). */
function planeGradSums(gd: Data, xd: Data, o: number, hw: number, m: number, is: number, f32: boolean, sumG: Float64Array, sumGX: Float64Array, s: number): void {
  let p = 0;
  let q = 0;
  for (let k = o, e = o + hw; k < e; k++) {
    const d = gd[k];
    p += d;
    q += d * (f32 ? Math.fround((xd[k] - m) * is) : (xd[k] - m) * is);
  }
  sumG[s] += p;
  sumGX[s] += q;
}

function planeScale(gd: Data, gx: Data, o: number, hw: number, f: number): void {
  for (let k = o, e = o + hw; k < e; k++) gx[k] = gd[k] * f;
}

/** dx = is / m * (m dy a - md - xhat mdx) for one plane (see the file header). */
function planeInputGrad(gd: Data, xd: Data, gx: Data, o: number, hw: number, m: number, is: number, a: number, count: number, md: number, mdx: number, f32: boolean): void {
  const f = is / count;
  for (let k = o, e = o + hw; k < e; k++) gx[k] = f * (count * gd[k] * a - md - (f32 ? Math.fround((xd[k] - m) * is) : (xd[k] - m) * is) * mdx);
}

function checkAffine(op: string, t: Tensor | null | undefined, c: number, what: string): void {
  if (t && (t.ndim !== 1 || t.shape[0] !== c)) throw new Error(`${op}: ${what} must have shape [${c}], got ${shapeStr(t.shape)}`);
}

/**
 * The shared fused kernel. `perSample` picks instance norm's slots (n, c) over batch norm's (c).
 * With `fixed` (eval-mode batch norm) the given per-channel mean and variance are used as
 * constants; otherwise statistics come from x and are returned for the running update.
 */
function normalise(
  op: string,
  x: Tensor,
  weight: Tensor | null | undefined,
  bias: Tensor | null | undefined,
  eps: number,
  perSample: boolean,
  fixed: { mean: ArrayLike<number>; variance: ArrayLike<number> } | null,
  slope: number | null = null,
): { out: Tensor; mean: Float64Array; variance: Float64Array; count: number } {
  if (x.ndim !== 4) throw new Error(`${op}: input must be [N, C, H, W], got ${shapeStr(x.shape)}`);
  const [n, c, h, w] = x.shape;
  checkAffine(op, weight, c, 'weight');
  checkAffine(op, bias, c, 'bias');
  const hw = h * w;
  const slots = perSample ? n * c : c;
  const count = perSample ? hw : n * hw;
  const slotOf = (i: number, ch: number): number => (perSample ? i * c + ch : ch);
  const xd = x.data;
  const mean = new Float64Array(slots);
  const variance = new Float64Array(slots);
  if (fixed) {
    for (let s = 0; s < slots; s++) {
      mean[s] = fixed.mean[s];
      variance[s] = fixed.variance[s];
    }
  } else {
    if (count < 2) throw new Error(`${op}: expected more than 1 value per ${perSample ? 'instance' : 'channel'} in training, got input ${shapeStr(x.shape)}`);
    // Two passes (mean, then squared deviations): stable for large offsets.
    for (let i = 0; i < n; i++) {
      for (let ch = 0; ch < c; ch++) mean[slotOf(i, ch)] += planeSum(xd, (i * c + ch) * hw, hw);
    }
    for (let s = 0; s < slots; s++) mean[s] /= count;
    for (let i = 0; i < n; i++) {
      for (let ch = 0; ch < c; ch++) variance[slotOf(i, ch)] += planeSquaredDeviation(xd, (i * c + ch) * hw, hw, mean[slotOf(i, ch)]);
    }
    for (let s = 0; s < slots; s++) variance[s] /= count;
  }
  const invStd = new Float64Array(slots);
  for (let s = 0; s < slots; s++) invStd[s] = 1 / Math.sqrt(variance[s] + eps);

  const dtype = resultDType(x, ...[weight, bias].filter((t): t is Tensor => !!t));
  const out = allocData(dtype, x.size);
  const wd = weight?.data;
  const bd = bias?.data;
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const o = (i * c + ch) * hw;
      const s = slotOf(i, ch);
      const m = mean[s];
      const is = invStd[s];
      const a = wd ? wd[ch] : 1;
      const b = bd ? bd[ch] : 0;
      if (slope === 0) normalisePlaneRelu(xd, out, o, hw, m, is, a, b);
      else if (slope !== null) normalisePlaneLeaky(xd, out, o, hw, m, is, a, b, slope, dtype === 'float32');
      else normalisePlane(xd, out, o, hw, m, is, a, b);
    }
  }
  const inputs = [x, weight, bias].filter((t): t is Tensor => !!t);
  const result = record(op, new Tensor(out, x.shape), inputs, (g) => {
    const f32 = dtype === 'float32';
    // dy through the fused activation first, as relu / leakyRelu hand it over.
    const gd = slope === null ? g.data : activationGrad(g.data, out, slope, f32);
    const needAffine = !!(weight?.requiresGrad || bias?.requiresGrad);
    // One pass for every gradient: per slot, sum(dy) and sum(dy * xhat) (dy after the activation).
    const sumG = new Float64Array(slots);
    const sumGX = new Float64Array(slots);
    if (!fixed || needAffine) {
      for (let i = 0; i < n; i++) {
        for (let ch = 0; ch < c; ch++) {
          const o = (i * c + ch) * hw;
          const s = slotOf(i, ch);
          planeGradSums(gd, xd, o, hw, mean[s], invStd[s], f32, sumG, sumGX, s);
        }
      }
    }
    const grads: (Tensor | null)[] = [];
    if (x.requiresGrad) {
      const gx = allocData(g.dtype, x.size);
      for (let i = 0; i < n; i++) {
        for (let ch = 0; ch < c; ch++) {
          const o = (i * c + ch) * hw;
          const s = slotOf(i, ch);
          const a = wd ? wd[ch] : 1;
          const is = invStd[s];
          if (fixed) {
            planeScale(gd, gx, o, hw, a * is);
            continue;
          }
          // dxhat = dy * a, so sum(dxhat) = a sum(dy) and sum(dxhat xhat) = a sum(dy xhat).
          planeInputGrad(gd, xd, gx, o, hw, mean[s], is, a, count, a * sumG[s], a * sumGX[s], f32);
        }
      }
      grads.push(new Tensor(gx, x.shape));
    } else grads.push(null);
    // Affine parameters: dweight[c] = sum(dy xhat), dbias[c] = sum(dy) over everything but c
    // (skipped when neither needs a gradient, e.g. a discriminator frozen for the generator step).
    if (!needAffine) {
      if (weight) grads.push(null);
      if (bias) grads.push(null);
    } else {
      const asTensor = (sums: Float64Array): Tensor => {
        const perChannel = new Float64Array(c);
        for (let s = 0; s < slots; s++) perChannel[perSample ? s % c : s] += sums[s];
        const t = allocData(g.dtype, c);
        t.set(perChannel);
        return new Tensor(t, [c]);
      };
      if (weight) grads.push(asTensor(sumGX));
      if (bias) grads.push(asTensor(sumG));
    }
    return grads;
  });
  return { out: result, mean, variance, count };
}

/**
 * Batch normalisation over (N, H, W) per channel, PyTorch semantics:
 * - training: normalises with the batch mean and *biased* variance, and (when `state` is given)
 *   updates running = (1 - momentum) running + momentum batchStat in place, using the *unbiased*
 *   variance (m / (m - 1)) for runningVar;
 * - eval: normalises with state's running mean and variance (gradient only through the affine
 *   transform); with no state, eval falls back to batch statistics (PyTorch's behaviour for
 *   track_running_stats = false).
 * weight / bias ([C], the affine transform) are optional.
 */
export function batchNorm2d(
  x: Tensor,
  weight: Tensor | null | undefined,
  bias: Tensor | null | undefined,
  state: BatchNormState | null | undefined,
  opts: BatchNormOptions,
): Tensor {
  const eps = opts.eps ?? 1e-5;
  const momentum = opts.momentum ?? 0.1;
  const slope = slopeOf(opts.activation, 'batchNorm2d');
  const op = actName('batchNorm2d', slope);
  const c = x.shape[1];
  if (state) {
    checkAffine('batchNorm2d', state.runningMean, c, 'runningMean');
    checkAffine('batchNorm2d', state.runningVar, c, 'runningVar');
  }
  if (!opts.training && state) {
    return normalise(op, x, weight, bias, eps, false, { mean: state.runningMean.data, variance: state.runningVar.data }, slope).out;
  }
  const { out, mean, variance, count } = normalise(op, x, weight, bias, eps, false, null, slope);
  if (opts.training && state) {
    // Buffers, not parameters: updated in place, never on the tape.
    const rm = state.runningMean.data;
    const rv = state.runningVar.data;
    const unbias = count / (count - 1);
    for (let ch = 0; ch < c; ch++) {
      rm[ch] = (1 - momentum) * rm[ch] + momentum * mean[ch];
      rv[ch] = (1 - momentum) * rv[ch] + momentum * variance[ch] * unbias;
    }
    if (state.numBatchesTracked) state.numBatchesTracked.data[0] += 1;
  }
  return out;
}

/**
 * Instance normalisation: each (sample, channel) plane normalised over (H, W) with its own mean
 * and biased variance, in training and eval alike (PyTorch's default
 * track_running_stats = false, so there are no running statistics). weight / bias optional.
 */
export function instanceNorm2d(x: Tensor, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5, activation?: NormActivation): Tensor {
  const slope = slopeOf(activation, 'instanceNorm2d');
  return normalise(actName('instanceNorm2d', slope), x, weight, bias, eps, true, null, slope).out;
}

// ---------------------------------------------------------------------------------------------

function bnCase(variant: string, shape: number[], affine: boolean, training: boolean, activation?: NormActivation): GradcheckCase {
  return {
    op: actName('batchNorm2d', slopeOf(activation, 'bnCase')),
    variant,
    make: (rng) => {
      const c = shape[1];
      const inputs = [randomInput(rng, shape, -2, 3)];
      if (affine) inputs.push(randomInput(rng, [c], 0.5, 1.5), randomInput(rng, [c]));
      // Eval mode reads fixed running statistics; training ignores them for its output.
      const state = batchNormState(c, 'float64');
      for (let i = 0; i < c; i++) {
        state.runningMean.data[i] = rng.range(-1, 1);
        state.runningVar.data[i] = rng.range(0.5, 2);
      }
      return { f: (x, w, b) => batchNorm2d(x, w, b, state, { training, activation }), inputs };
    },
  };
}

function inCase(variant: string, shape: number[], affine: boolean, activation?: NormActivation): GradcheckCase {
  return {
    op: actName('instanceNorm2d', slopeOf(activation, 'inCase')),
    variant,
    make: (rng) => {
      const c = shape[1];
      const inputs = [randomInput(rng, shape, -2, 3)];
      if (affine) inputs.push(randomInput(rng, [c], 0.5, 1.5), randomInput(rng, [c]));
      return { f: (x, w, b) => instanceNorm2d(x, w, b, 1e-5, activation), inputs };
    },
  };
}

export const gradcheckCases: GradcheckCase[] = [
  bnCase('training, affine, batch 2, odd size 3x5', [2, 3, 3, 5], true, true),
  bnCase('training, no affine, batch 1, size-1 height', [1, 2, 1, 4], false, true),
  bnCase('training, affine, batch 3 of 1x1 images', [3, 2, 1, 1], true, true),
  bnCase('eval (running statistics), affine', [2, 2, 3, 2], true, false),
  inCase('affine, batch 2, odd size 3x3', [2, 3, 3, 3], true),
  inCase('no affine, size-1 width', [1, 2, 5, 1], false),
  // The fused ReLU: inputs in [-2, 3) put outputs on both sides of the kink; finite differences
  // straddle it only with vanishing probability.
  bnCase('fused ReLU, training, affine, batch 2, odd size 3x5', [2, 3, 3, 5], true, true, 'relu'),
  bnCase('fused ReLU, training, no affine, batch 3 of 1x1 images', [3, 2, 1, 1], false, true, 'relu'),
  bnCase('fused ReLU, eval (running statistics), affine', [2, 2, 3, 2], true, false, 'relu'),
  bnCase('fused LeakyReLU 0.2, training, affine, batch 2, 4x3', [2, 3, 4, 3], true, true, { leakyRelu: 0.2 }),
  bnCase('fused LeakyReLU 0.2, eval (running statistics), no affine', [1, 2, 3, 3], false, false, { leakyRelu: 0.2 }),
  inCase('fused ReLU, affine, batch 2, odd size 3x3', [2, 3, 3, 3], true, 'relu'),
  inCase('fused LeakyReLU 0.01, affine, 3x4', [1, 2, 3, 4], true, { leakyRelu: 0.01 }),
];
