/**
 * Layers in the Module convention, with PyTorch's parameter names, shapes and default
 * initialisation, so checkpoints map one-to-one. Every layer that draws random initial values
 * takes the seeded Rng explicitly.
 */
import { Tensor, zeros, ones, type DType } from '../tensor.js';
import type { Rng } from '../rng.js';
import { add, mul, div, sqrt, sum, square, matmul, reshape, relu, leakyRelu, sigmoid, tanh } from '../ops/index.js';
import { conv2d, convTranspose2d, pair, type Conv2dOptions, type ConvTranspose2dOptions, type Pair } from '../ops/conv.js';
import { batchNorm2d, instanceNorm2d, type BatchNormState, type NormActivation } from '../ops/norm.js';
import { dropout } from '../ops/dropout.js';
import { shapeStr } from '../shape.js';
import { Module } from './module.js';
import { defaultLayerInit } from './init.js';

function linearForward(op: string, x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  const inF = weight.shape[1];
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== inF) throw new Error(`${op}: input ${shapeStr(x.shape)} must end in ${inF} features`);
  // A 1-d input is treated as a batch of one and returned 1-d, as in PyTorch.
  const x2 = x.ndim === 1 ? reshape(x, [1, inF]) : x;
  let y = matmul(x2, weight, false, true);
  if (bias) y = add(y, bias);
  return x.ndim === 1 ? reshape(y, [weight.shape[0]]) : y;
}

export interface LinearOptions {
  bias?: boolean;
  dtype?: DType;
}

/** y = x W^T + b, W [out, in], b [out]; x [..., in]. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Rng, opts: LinearOptions = {}) {
    super();
    const dtype = opts.dtype ?? 'float32';
    this.weight = this.registerParameter('weight', zeros([outFeatures, inFeatures], dtype));
    this.bias = opts.bias === false ? null : this.registerParameter('bias', zeros([outFeatures], dtype));
    defaultLayerInit(this.weight, this.bias, rng);
  }

  forward(x: Tensor): Tensor {
    return linearForward('Linear', x, this.weight, this.bias);
  }
}

/**
 * A Linear layer with weight normalisation (torch.nn.utils.weight_norm, dim = 0): the weight is
 * reparametrised as W = g * v / ||v|| with one norm per output row, parameters weight_g
 * [out, 1] and weight_v [out, in]. Initialised like Linear, then g = ||v|| so that W starts equal
 * to v, as weight_norm does.
 */
export class WeightNormLinear extends Module {
  readonly weightG: Tensor;
  readonly weightV: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Rng, opts: LinearOptions = {}) {
    super();
    const dtype = opts.dtype ?? 'float32';
    // PyTorch's registration order after weight_norm: bias, weight_g, weight_v.
    const bias = opts.bias === false ? null : zeros([outFeatures], dtype);
    const v = zeros([outFeatures, inFeatures], dtype);
    defaultLayerInit(v, bias, rng);
    const g = zeros([outFeatures, 1], dtype);
    for (let o = 0; o < outFeatures; o++) {
      let s = 0;
      for (let i = 0; i < inFeatures; i++) s += v.data[o * inFeatures + i] ** 2;
      g.data[o] = Math.sqrt(s);
    }
    this.bias = bias ? this.registerParameter('bias', bias) : null;
    this.weightG = this.registerParameter('weight_g', g);
    this.weightV = this.registerParameter('weight_v', v);
  }

  /** The effective weight g * v / ||v|| (on the tape when the parameters require gradients). */
  weight(): Tensor {
    const norm = sqrt(sum(square(this.weightV), 1, true));
    return mul(this.weightG, div(this.weightV, norm));
  }

  forward(x: Tensor): Tensor {
    return linearForward('WeightNormLinear', x, this.weight(), this.bias);
  }
}

export interface Conv2dLayerOptions extends Conv2dOptions {
  bias?: boolean;
  dtype?: DType;
}

/** 2-D convolution layer: weight [out, in/groups, kh, kw], bias [out]. */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly opts: Conv2dOptions;

  constructor(readonly inChannels: number, readonly outChannels: number, kernel: Pair, rng: Rng, opts: Conv2dLayerOptions = {}) {
    super();
    const groups = opts.groups ?? 1;
    if (inChannels % groups || outChannels % groups) throw new Error(`Conv2d: groups=${groups} must divide ${inChannels} and ${outChannels}`);
    const [kh, kw] = pair(kernel, 'Conv2d kernel', 1);
    const dtype = opts.dtype ?? 'float32';
    this.weight = this.registerParameter('weight', zeros([outChannels, inChannels / groups, kh, kw], dtype));
    this.bias = opts.bias === false ? null : this.registerParameter('bias', zeros([outChannels], dtype));
    this.opts = { stride: opts.stride, padding: opts.padding, dilation: opts.dilation, groups };
    defaultLayerInit(this.weight, this.bias, rng);
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.opts);
  }
}

export interface ConvTranspose2dLayerOptions extends ConvTranspose2dOptions {
  bias?: boolean;
  dtype?: DType;
}

/** Transposed convolution layer: weight [in, out/groups, kh, kw] (PyTorch's layout), bias [out]. */
export class ConvTranspose2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly opts: ConvTranspose2dOptions;

  constructor(readonly inChannels: number, readonly outChannels: number, kernel: Pair, rng: Rng, opts: ConvTranspose2dLayerOptions = {}) {
    super();
    const groups = opts.groups ?? 1;
    if (inChannels % groups || outChannels % groups) throw new Error(`ConvTranspose2d: groups=${groups} must divide ${inChannels} and ${outChannels}`);
    const [kh, kw] = pair(kernel, 'ConvTranspose2d kernel', 1);
    const dtype = opts.dtype ?? 'float32';
    this.weight = this.registerParameter('weight', zeros([inChannels, outChannels / groups, kh, kw], dtype));
    this.bias = opts.bias === false ? null : this.registerParameter('bias', zeros([outChannels], dtype));
    this.opts = { stride: opts.stride, padding: opts.padding, dilation: opts.dilation, groups, outputPadding: opts.outputPadding };
    defaultLayerInit(this.weight, this.bias, rng);
  }

  forward(x: Tensor): Tensor {
    return convTranspose2d(x, this.weight, this.bias, this.opts);
  }
}

export interface BatchNorm2dOptions {
  eps?: number;
  momentum?: number;
  affine?: boolean;
  trackRunningStats?: boolean;
  dtype?: DType;
}

/**
 * Batch norm layer: parameters weight (1) and bias (0), buffers running_mean (0), running_var (1)
 * and num_batches_tracked (a float64 scalar; int64 in PyTorch checkpoints).
 */
export class BatchNorm2d extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly state: BatchNormState | null;
  readonly eps: number;
  readonly momentum: number;

  constructor(readonly numFeatures: number, opts: BatchNorm2dOptions = {}) {
    super();
    const dtype = opts.dtype ?? 'float32';
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum ?? 0.1;
    const affine = opts.affine ?? true;
    this.weight = affine ? this.registerParameter('weight', ones([numFeatures], dtype)) : null;
    this.bias = affine ? this.registerParameter('bias', zeros([numFeatures], dtype)) : null;
    if (opts.trackRunningStats ?? true) {
      this.state = {
        runningMean: this.registerBuffer('running_mean', zeros([numFeatures], dtype)),
        runningVar: this.registerBuffer('running_var', ones([numFeatures], dtype)),
        numBatchesTracked: this.registerBuffer('num_batches_tracked', zeros([], 'float64')),
      };
    } else this.state = null;
  }

  forward(x: Tensor): Tensor {
    return batchNorm2d(x, this.weight, this.bias, this.state, { training: this.training, momentum: this.momentum, eps: this.eps });
  }

  /** act(forward(x)) with the activation fused into the norm's passes (the same values). */
  forwardAct(x: Tensor, activation: NormActivation): Tensor {
    return batchNorm2d(x, this.weight, this.bias, this.state, { training: this.training, momentum: this.momentum, eps: this.eps, activation });
  }
}

export interface InstanceNorm2dOptions {
  eps?: number;
  /** Default false, as in PyTorch. */
  affine?: boolean;
  dtype?: DType;
}

/** Instance norm layer (no running statistics; optional affine weight / bias). */
export class InstanceNorm2d extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly eps: number;

  constructor(readonly numFeatures: number, opts: InstanceNorm2dOptions = {}) {
    super();
    const dtype = opts.dtype ?? 'float32';
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.affine ?? false;
    this.weight = affine ? this.registerParameter('weight', ones([numFeatures], dtype)) : null;
    this.bias = affine ? this.registerParameter('bias', zeros([numFeatures], dtype)) : null;
  }

  forward(x: Tensor): Tensor {
    return instanceNorm2d(x, this.weight, this.bias, this.eps);
  }

  /** act(forward(x)) with the activation fused into the norm's passes (the same values). */
  forwardAct(x: Tensor, activation: NormActivation): Tensor {
    return instanceNorm2d(x, this.weight, this.bias, this.eps, activation);
  }
}

/** Applies its children in order; they are named "0", "1", ... as in PyTorch. */
export class Sequential extends Module {
  readonly layers: Module[];

  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.registerModule(String(i), m));
  }

  forward(x: Tensor): Tensor {
    let y = x;
    const layers = this.layers;
    for (let i = 0; i < layers.length; i++) {
      const m = layers[i]!;
      // A norm followed by a ReLU / LeakyReLU runs as one fused op (the same values; ops/norm.ts).
      const act = i + 1 < layers.length ? activationOf(layers[i + 1]!) : null;
      if (act && (m instanceof BatchNorm2d || m instanceof InstanceNorm2d)) {
        y = m.forwardAct(y, act);
        i++;
      } else {
        y = m.forward(y);
      }
    }
    return y;
  }
}

/** A parameter-free module around a function (activations, reshapes). */
export class Lambda extends Module {
  constructor(private readonly fn: (x: Tensor) => Tensor) {
    super();
  }

  forward(x: Tensor): Tensor {
    return this.fn(x);
  }
}

export class ReLU extends Lambda {
  constructor() {
    super(relu);
  }
}

export class LeakyReLU extends Lambda {
  constructor(readonly slope = 0.01) {
    super((x) => leakyRelu(x, slope));
  }
}

/** The activation a norm can fuse for this layer (Sequential), or null. */
function activationOf(m: Module): NormActivation | null {
  if (m instanceof ReLU) return 'relu';
  if (m instanceof LeakyReLU && m.slope >= 0 && Number.isFinite(m.slope)) return { leakyRelu: m.slope };
  return null;
}

export class Sigmoid extends Lambda {
  constructor() {
    super(sigmoid);
  }
}

export class Tanh extends Lambda {
  constructor() {
    super(tanh);
  }
}

/** Dropout that is active only in training mode; draws its masks from the given Rng. */
export class Dropout extends Module {
  constructor(readonly p: number, private readonly rng: Rng) {
    super();
  }

  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.rng, this.training);
  }
}
