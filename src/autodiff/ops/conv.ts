/**
 * 2-D convolution (cross-correlation, as in PyTorch) and its adjoint, the transposed
 * convolution. Both go through the three conv kernels of the active backend:
 *
 *   conv2d           forward: conv2d           VJP: conv2dGradInput (dx), conv2dGradWeight (dw)
 *   convTranspose2d  forward: conv2dGradInput  VJP: conv2d (dx),          conv2dGradWeight (dw)
 *
 * A transposed convolution is exactly the input-gradient of the convolution whose *output* has
 * the transposed conv's input shape; with that "underlying conv" the weight layout
 * [cOut_conv, cIn_conv / groups, kh, kw] = [cIn_T, cOut_T / groups, kh, kw] is PyTorch's
 * ConvTranspose2d layout, so weights are interchangeable with PyTorch.
 */
import { runKernel, convOutSize, type Conv2dGeom } from '../backend.js';
import { record } from '../tape.js';
import { Tensor, allocData, resultDType, type DType, type Data } from '../tensor.js';
import { shapeStr } from '../shape.js';
import { randomInput, type GradcheckCase } from '../gradcheck.js';

/** A size given once for both spatial axes, or as [h, w]. */
export type Pair = number | readonly [number, number];

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  /** Extra rows / columns added on the bottom / right of the output (< stride or < dilation). */
  outputPadding?: Pair;
}

/** Normalises a Pair to [h, w], checking that both are integers >= min. */
export function pair(v: Pair, what: string, min: number): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!p.every((d) => Number.isInteger(d) && d >= min)) throw new Error(`${what} must be integer(s) >= ${min}, got ${JSON.stringify(v)}`);
  return p;
}

/** The data of t in the given dtype (the same buffer when it already matches). */
export function dataAs(t: Tensor, dtype: DType): Data {
  if (t.dtype === dtype) return t.data;
  const d = allocData(dtype, t.size);
  d.set(t.data);
  return d;
}

function checkBias(bias: Tensor | undefined | null, channels: number, op: string): void {
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== channels)) {
    throw new Error(`${op}: bias must have shape [${channels}], got ${shapeStr(bias.shape)}`);
  }
}

/** out[n, c, :, :] += bias[c] (in place on fresh output data). */
function addBias(out: Data, bias: Data, n: number, c: number, hw: number): void {
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const b = bias[ch];
      const o = (i * c + ch) * hw;
      for (let k = 0; k < hw; k++) out[o + k] += b;
    }
  }
}

/** Gradient of a per-channel bias: the sum of g over batch and space. */
function biasGrad(g: Tensor, n: number, c: number, hw: number): Tensor {
  const gb = allocData(g.dtype, c);
  const gd = g.data;
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const o = (i * c + ch) * hw;
      let s = 0;
      for (let k = 0; k < hw; k++) s += gd[o + k];
      gb[ch] += s;
    }
  }
  return new Tensor(gb, [c]);
}

/** Geometry of conv2d(x, w) with the given options; throws naming the shapes on a mismatch. */
export function conv2dGeom(xShape: readonly number[], wShape: readonly number[], opts: Conv2dOptions = {}): Conv2dGeom {
  if (xShape.length !== 4) throw new Error(`conv2d: input must be [N, C, H, W], got ${shapeStr(xShape)}`);
  if (wShape.length !== 4) throw new Error(`conv2d: weight must be [O, C/groups, kh, kw], got ${shapeStr(wShape)}`);
  const [n, cIn, h, w] = xShape;
  const [cOut, cInG, kh, kw] = wShape;
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`conv2d: groups must be a positive integer, got ${groups}`);
  if (cIn % groups !== 0 || cOut % groups !== 0) throw new Error(`conv2d: groups=${groups} must divide input channels ${cIn} and output channels ${cOut}`);
  if (cInG !== cIn / groups) {
    throw new Error(`conv2d: weight ${shapeStr(wShape)} expects ${cInG * groups} input channels (groups=${groups}) but input ${shapeStr(xShape)} has ${cIn}`);
  }
  const [strideH, strideW] = pair(opts.stride ?? 1, 'conv2d stride', 1);
  const [padH, padW] = pair(opts.padding ?? 0, 'conv2d padding', 0);
  const [dilH, dilW] = pair(opts.dilation ?? 1, 'conv2d dilation', 1);
  const outH = convOutSize(h, kh, strideH, padH, dilH);
  const outW = convOutSize(w, kw, strideW, padW, dilW);
  if (outH < 1 || outW < 1) {
    throw new Error(
      `conv2d: kernel ${kh}x${kw} (dilation ${dilH}x${dilW}) does not fit input ${h}x${w} with padding ${padH}x${padW}: output would be ${outH}x${outW}`,
    );
  }
  return { n, cIn, h, w, cOut, kh, kw, strideH, strideW, padH, padW, dilH, dilW, groups, outH, outW };
}

/**
 * y[N, O, outH, outW] = conv(x[N, C, H, W], w[O, C/groups, kh, kw]) + bias[O].
 * outH = floor((H + 2 pad - dil (kh - 1) - 1) / stride) + 1, as in PyTorch.
 */
export function conv2d(x: Tensor, w: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const g = conv2dGeom(x.shape, w.shape, opts);
  checkBias(bias, g.cOut, 'conv2d');
  const dtype = bias ? resultDType(x, w, bias) : resultDType(x, w);
  const xd = dataAs(x, dtype);
  const wd = dataAs(w, dtype);
  const out = allocData(dtype, g.n * g.cOut * g.outH * g.outW);
  runKernel('conv2d', xd, wd, out, g);
  if (bias) addBias(out, dataAs(bias, dtype), g.n, g.cOut, g.outH * g.outW);
  const inputs = bias ? [x, w, bias] : [x, w];
  return record('conv2d', new Tensor(out, [g.n, g.cOut, g.outH, g.outW]), inputs, (gy) => {
    const gyd = dataAs(gy, dtype);
    let gx: Tensor | null = null;
    let gw: Tensor | null = null;
    if (x.requiresGrad) {
      const dx = allocData(dtype, x.size);
      runKernel('conv2dGradInput', gyd, wd, dx, g);
      gx = new Tensor(dx, x.shape);
    }
    if (w.requiresGrad) {
      const dw = allocData(dtype, w.size);
      runKernel('conv2dGradWeight', xd, gyd, dw, g);
      gw = new Tensor(dw, w.shape);
    }
    const gb = bias?.requiresGrad ? biasGrad(gy, g.n, g.cOut, g.outH * g.outW) : null;
    return [gx, gw, gb];
  });
}

/**
 * The geometry of the convolution underlying convTranspose2d: its input is the transposed
 * conv's output and its output is the transposed conv's input.
 */
export function convTranspose2dGeom(xShape: readonly number[], wShape: readonly number[], opts: ConvTranspose2dOptions = {}): Conv2dGeom {
  if (xShape.length !== 4) throw new Error(`convTranspose2d: input must be [N, Cin, H, W], got ${shapeStr(xShape)}`);
  if (wShape.length !== 4) throw new Error(`convTranspose2d: weight must be [Cin, Cout/groups, kh, kw], got ${shapeStr(wShape)}`);
  const [n, cIn, h, w] = xShape;
  const [wIn, cOutG, kh, kw] = wShape;
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`convTranspose2d: groups must be a positive integer, got ${groups}`);
  if (wIn !== cIn) throw new Error(`convTranspose2d: weight ${shapeStr(wShape)} expects ${wIn} input channels but input ${shapeStr(xShape)} has ${cIn}`);
  if (cIn % groups !== 0) throw new Error(`convTranspose2d: groups=${groups} must divide input channels ${cIn}`);
  const cOut = cOutG * groups;
  const [strideH, strideW] = pair(opts.stride ?? 1, 'convTranspose2d stride', 1);
  const [padH, padW] = pair(opts.padding ?? 0, 'convTranspose2d padding', 0);
  const [dilH, dilW] = pair(opts.dilation ?? 1, 'convTranspose2d dilation', 1);
  const [opH, opW] = pair(opts.outputPadding ?? 0, 'convTranspose2d outputPadding', 0);
  // PyTorch's rule: the extra output rows must not hold a whole new stride step.
  if (!(opH < strideH || opH < dilH) || !(opW < strideW || opW < dilW)) {
    throw new Error(`convTranspose2d: outputPadding ${opH}x${opW} must be smaller than stride ${strideH}x${strideW} or dilation ${dilH}x${dilW}`);
  }
  const outH = (h - 1) * strideH - 2 * padH + dilH * (kh - 1) + opH + 1;
  const outW = (w - 1) * strideW - 2 * padW + dilW * (kw - 1) + opW + 1;
  if (outH < 1 || outW < 1) throw new Error(`convTranspose2d: output size would be ${outH}x${outW} for input ${h}x${w}`);
  // Underlying conv: input = [n, cOut, outH, outW] -> output = [n, cIn, h, w]. Its outH/outW are
  // set to the transposed conv's h/w explicitly: with outputPadding >= stride (allowed when
  // < dilation) the formula would give one more row, which receives nothing anyway.
  return {
    n,
    cIn: cOut,
    h: outH,
    w: outW,
    cOut: cIn,
    kh,
    kw,
    strideH,
    strideW,
    padH,
    padW,
    dilH,
    dilW,
    groups,
    outH: h,
    outW: w,
  };
}

/**
 * Transposed convolution ("deconvolution") with PyTorch's ConvTranspose2d semantics:
 * x [N, Cin, H, W], w [Cin, Cout/groups, kh, kw], bias [Cout];
 * out H' = (H - 1) stride - 2 pad + dil (kh - 1) + outputPadding + 1.
 */
export function convTranspose2d(x: Tensor, w: Tensor, bias?: Tensor | null, opts: ConvTranspose2dOptions = {}): Tensor {
  const g = convTranspose2dGeom(x.shape, w.shape, opts);
  checkBias(bias, g.cIn, 'convTranspose2d');
  const dtype = bias ? resultDType(x, w, bias) : resultDType(x, w);
  const xd = dataAs(x, dtype);
  const wd = dataAs(w, dtype);
  const out = allocData(dtype, g.n * g.cIn * g.h * g.w);
  runKernel('conv2dGradInput', xd, wd, out, g);
  if (bias) addBias(out, dataAs(bias, dtype), g.n, g.cIn, g.h * g.w);
  const inputs = bias ? [x, w, bias] : [x, w];
  return record('convTranspose2d', new Tensor(out, [g.n, g.cIn, g.h, g.w]), inputs, (gy) => {
    const gyd = dataAs(gy, dtype);
    let gx: Tensor | null = null;
    let gw: Tensor | null = null;
    if (x.requiresGrad) {
      const dx = allocData(dtype, x.size);
      runKernel('conv2d', gyd, wd, dx, g);
      gx = new Tensor(dx, x.shape);
    }
    if (w.requiresGrad) {
      const dw = allocData(dtype, w.size);
      // Underlying conv's input is gy and its output gradient is x.
      runKernel('conv2dGradWeight', gyd, xd, dw, g);
      gw = new Tensor(dw, w.shape);
    }
    const gb = bias?.requiresGrad ? biasGrad(gy, g.n, g.cIn, g.h * g.w) : null;
    return [gx, gw, gb];
  });
}

// ---------------------------------------------------------------------------------------------

type Case = { x: number[]; w: number[]; bias?: boolean; opts: ConvTranspose2dOptions; variant: string; max?: number };

const convCases: Case[] = [
  { variant: '1x1 kernel, size-1 batch and channel', x: [1, 1, 3, 3], w: [2, 1, 1, 1], bias: true, opts: {} },
  { variant: '3x3, padding 1, batch 2, odd size 5x5', x: [2, 2, 5, 5], w: [3, 2, 3, 3], bias: true, opts: { padding: 1 } },
  { variant: 'stride 2, padding 2, non-square kernel 2x3', x: [1, 2, 6, 7], w: [2, 2, 2, 3], bias: true, opts: { stride: 2, padding: 2 } },
  { variant: 'dilation 2, no padding', x: [1, 1, 7, 6], w: [2, 1, 3, 2], opts: { dilation: 2 } },
  { variant: 'groups 2, stride [2, 1], padding [0, 1]', x: [2, 4, 5, 4], w: [4, 2, 3, 3], bias: true, opts: { groups: 2, stride: [2, 1], padding: [0, 1] } },
  { variant: 'kernel as large as the padded input', x: [1, 2, 3, 2], w: [1, 2, 5, 4], opts: { padding: 1 } },
];

const convTCases: Case[] = [
  { variant: '1x1 kernel, size-1 dims', x: [1, 1, 2, 3], w: [1, 2, 1, 1], bias: true, opts: {} },
  { variant: 'stride 2, padding 1, 4x4 kernel (DCGAN-style upsample), batch 2', x: [2, 2, 3, 3], w: [2, 3, 4, 4], bias: true, opts: { stride: 2, padding: 1 } },
  { variant: 'stride 2, outputPadding 1, odd size, non-square kernel 3x2', x: [1, 2, 3, 4], w: [2, 2, 3, 2], bias: true, opts: { stride: 2, outputPadding: 1 } },
  { variant: 'dilation 2, padding 2', x: [1, 1, 4, 3], w: [1, 2, 3, 3], opts: { dilation: 2, padding: 2 } },
  { variant: 'groups 2, stride [1, 2], padding [1, 0]', x: [2, 4, 3, 3], w: [4, 1, 3, 2], bias: true, opts: { groups: 2, stride: [1, 2], padding: [1, 0] } },
  { variant: 'outputPadding 1 < dilation 2 with stride 1', x: [1, 1, 3, 3], w: [1, 1, 2, 2], opts: { dilation: 2, outputPadding: 1 } },
];

function toCase(op: 'conv2d' | 'convTranspose2d', c: Case): GradcheckCase {
  return {
    op,
    variant: c.variant,
    make: (rng) => {
      const inputs = [randomInput(rng, c.x), randomInput(rng, c.w)];
      const outC = op === 'conv2d' ? c.w[0] : c.w[1] * (c.opts.groups ?? 1);
      if (c.bias) inputs.push(randomInput(rng, [outC]));
      const f =
        op === 'conv2d'
          ? (x: Tensor, w: Tensor, b?: Tensor) => conv2d(x, w, b, c.opts)
          : (x: Tensor, w: Tensor, b?: Tensor) => convTranspose2d(x, w, b, c.opts);
      return { f: f as (...xs: Tensor[]) => Tensor, inputs };
    },
    options: c.max ? { maxElements: c.max } : undefined,
  };
}

export const gradcheckCases: GradcheckCase[] = [...convCases.map((c) => toCase('conv2d', c)), ...convTCases.map((c) => toCase('convTranspose2d', c))];
