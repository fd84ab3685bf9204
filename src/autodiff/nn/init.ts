/**
 * Weight initialisers with PyTorch's (torch.nn.init) formulas. Each fills a tensor's data in
 * place from the given seeded Rng and returns the tensor. Fans follow
 * torch.nn.init._calculate_fan_in_and_fan_out: for a weight of shape [a, b, ...k],
 * fanIn = b * prod(k) and fanOut = a * prod(k). So a Linear weight [out, in] has fanIn = in, a
 * Conv2d weight [out, in/groups, kh, kw] has fanIn = in/groups * kh * kw, and a ConvTranspose2d
 * weight [in, out/groups, kh, kw] has fanIn = out/groups * kh * kw (PyTorch's convention).
 */
import type { Tensor } from '../tensor.js';
import type { Rng } from '../rng.js';
import { shapeStr } from '../shape.js';

export function fanInAndFanOut(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new Error(`fan in and fan out need a weight with at least 2 dimensions, got ${shapeStr(shape)}`);
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

export type Nonlinearity = 'linear' | 'conv2d' | 'conv_transpose2d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';

/** torch.nn.init.calculate_gain: the recommended gain for a nonlinearity (param: leaky slope). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv2d':
    case 'conv_transpose2d':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw new Error(`calculateGain: unknown nonlinearity '${String(nonlinearity)}'`);
  }
}

export function uniformInit(t: Tensor, rng: Rng, lo: number, hi: number): Tensor {
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = rng.range(lo, hi);
  return t;
}

export function normalInit(t: Tensor, rng: Rng, mean: number, std: number): Tensor {
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = rng.normal(mean, std);
  return t;
}

export function constantInit(t: Tensor, value: number): Tensor {
  t.data.fill(value);
  return t;
}

/** U(-b, b) with b = gain sqrt(6 / (fanIn + fanOut)) (Glorot). */
export function xavierUniform(t: Tensor, rng: Rng, gain = 1): Tensor {
  const { fanIn, fanOut } = fanInAndFanOut(t.shape);
  const b = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniformInit(t, rng, -b, b);
}

/** N(0, s^2) with s = gain sqrt(2 / (fanIn + fanOut)) (Glorot). */
export function xavierNormal(t: Tensor, rng: Rng, gain = 1): Tensor {
  const { fanIn, fanOut } = fanInAndFanOut(t.shape);
  return normalInit(t, rng, 0, gain * Math.sqrt(2 / (fanIn + fanOut)));
}

export interface KaimingOptions {
  /** Negative slope of the leaky ReLU that follows (used when nonlinearity is 'leaky_relu'). Default 0. */
  a?: number;
  mode?: 'fan_in' | 'fan_out';
  /** Default 'leaky_relu' (with a = 0 that is ReLU's gain sqrt 2), as in PyTorch. */
  nonlinearity?: Nonlinearity;
  /** Overrides the gain derived from nonlinearity and a. */
  gain?: number;
}

function kaimingStd(t: Tensor, opts: KaimingOptions): number {
  const { fanIn, fanOut } = fanInAndFanOut(t.shape);
  const fan = (opts.mode ?? 'fan_in') === 'fan_in' ? fanIn : fanOut;
  const gain = opts.gain ?? calculateGain(opts.nonlinearity ?? 'leaky_relu', opts.a ?? 0);
  return gain / Math.sqrt(fan);
}

/** U(-b, b) with b = sqrt(3) gain / sqrt(fan) (He). */
export function kaimingUniform(t: Tensor, rng: Rng, opts: KaimingOptions = {}): Tensor {
  const b = Math.sqrt(3) * kaimingStd(t, opts);
  return uniformInit(t, rng, -b, b);
}

/** N(0, s^2) with s = gain / sqrt(fan) (He). */
export function kaimingNormal(t: Tensor, rng: Rng, opts: KaimingOptions = {}): Tensor {
  return normalInit(t, rng, 0, kaimingStd(t, opts));
}

/**
 * PyTorch's default for Linear / Conv layers: kaimingUniform with a = sqrt(5), i.e.
 * U(-1/sqrt(fanIn), 1/sqrt(fanIn)), and the bias U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
 */
export function defaultLayerInit(weight: Tensor, bias: Tensor | null, rng: Rng): void {
  kaimingUniform(weight, rng, { a: Math.sqrt(5) });
  if (bias) {
    const { fanIn } = fanInAndFanOut(weight.shape);
    const b = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    uniformInit(bias, rng, -b, b);
  }
}
