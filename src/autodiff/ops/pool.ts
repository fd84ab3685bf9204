/**
 * 2-D pooling over NCHW tensors, PyTorch semantics (floor output size, no ceil mode):
 * outH = floor((H + 2 pad - kh) / stride) + 1. Padding may be at most half the kernel (as in
 * PyTorch), so every window holds at least one real input element.
 */
import { record } from '../tape.js';
import { Tensor, allocData, type Data } from '../tensor.js';
import { shapeStr } from '../shape.js';
import { convOutSize } from '../backend.js';
import { randomInput, type GradcheckCase } from '../gradcheck.js';
import { pair, type Pair } from './conv.js';
import { upsampleNearest } from './upsample.js';

interface PoolGeom {
  n: number;
  c: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  outH: number;
  outW: number;
}

function poolGeom(op: string, x: Tensor, kernel: Pair, stride: Pair | undefined, padding: Pair): PoolGeom {
  if (x.ndim !== 4) throw new Error(`${op}: input must be [N, C, H, W], got ${shapeStr(x.shape)}`);
  const [n, c, h, w] = x.shape;
  const [kh, kw] = pair(kernel, `${op} kernel`, 1);
  const [sh, sw] = pair(stride ?? kernel, `${op} stride`, 1);
  const [ph, pw] = pair(padding, `${op} padding`, 0);
  if (2 * ph > kh || 2 * pw > kw) throw new Error(`${op}: padding ${ph}x${pw} must be at most half the kernel ${kh}x${kw}`);
  const outH = convOutSize(h, kh, sh, ph, 1);
  const outW = convOutSize(w, kw, sw, pw, 1);
  if (outH < 1 || outW < 1) throw new Error(`${op}: kernel ${kh}x${kw} does not fit input ${h}x${w} with padding ${ph}x${pw}`);
  return { n, c, h, w, kh, kw, sh, sw, ph, pw, outH, outW };
}

/** Output (p, oy, ox) of maxPool2d: the first maximal element of its window (see maxPool2d). */
function maxWindow(xd: Data, out: Data, argmax: Int32Array, g: PoolGeom, p: number, oy: number, ox: number): void {
  const base = p * g.h * g.w;
  let best = -Infinity;
  let at = -1;
  for (let ky = 0; ky < g.kh; ky++) {
    const iy = oy * g.sh - g.ph + ky;
    if (iy < 0 || iy >= g.h) continue;
    for (let kx = 0; kx < g.kw; kx++) {
      const ix = ox * g.sw - g.pw + kx;
      if (ix < 0 || ix >= g.w) continue;
      const i = base + iy * g.w + ix;
      const v = xd[i];
      // Strict '>' keeps the first maximum; 'at < 0' takes the first element even if it
      // is -Infinity or NaN, so every output has a real winner.
      if (at < 0 || v > best || Number.isNaN(v)) {
        best = v;
        at = i;
        if (Number.isNaN(v)) break;
      }
    }
    if (Number.isNaN(best)) break;
  }
  const o = p * g.outH * g.outW + oy * g.outW + ox;
  out[o] = best;
  argmax[o] = at;
}

/**
 * maxPool2d with 2 x 2 windows, stride 2, no padding (the U-Net's), without data-dependent
 * branches: which element wins is half the time a coin toss, which a branch predictor cannot
 * learn. The winner's index is computed from the comparisons (first maximum of each row, then
 * the bottom row's only when strictly greater: the first maximum in scan order, as maxWindow),
 * the values compared and returned read through the indices. Windows holding a NaN (or both infinities) go to maxWindow.
 */
function maxPool2x2(xd: Data, out: Data, argmax: Int32Array, g: PoolGeom, planes: number): void {
  const w = g.w;
  let o = 0;
  for (let p = 0; p < planes; p++) {
    const base = p * g.h * w;
    for (let oy = 0; oy < g.outH; oy++) {
      let i0 = base + 2 * oy * w;
      for (let ox = 0; ox < g.outW; ox++, i0 += 2, o++) {
        const v0 = xd[i0], v1 = xd[i0 + 1], v2 = xd[i0 + w], v3 = xd[i0 + w + 1];
        const s = v0 + v1 + v2 + v3;
        if (s !== s) {
          maxWindow(xd, out, argmax, g, p, oy, ox);
          continue;
        }
        const top = i0 + +(v1 > v0), bottom = i0 + w + +(v3 > v2);
        const at = top + +(xd[bottom] > xd[top]) * (bottom - top);
        out[o] = xd[at];
        argmax[o] = at;
      }
    }
  }
}

/**
 * Max pooling. Padded positions never win (they act as -Infinity). At ties the whole gradient
 * goes to the first maximal element in window scan order (row by row, left to right), as in
 * PyTorch's CPU kernel, so the gradient is always defined and finite.
 */
export function maxPool2d(x: Tensor, kernel: Pair, stride?: Pair, padding: Pair = 0): Tensor {
  const g = poolGeom('maxPool2d', x, kernel, stride, padding);
  const planes = g.n * g.c;
  const outPlane = g.outH * g.outW;
  const out = allocData(x.dtype, planes * outPlane);
  // Flat input index of each output's winner: the backward pass is a scatter through it.
  const argmax = new Int32Array(out.length);
  const xd = x.data;
  if (g.kh === 2 && g.kw === 2 && g.sh === 2 && g.sw === 2 && g.ph === 0 && g.pw === 0) maxPool2x2(xd, out, argmax, g, planes);
  else for (let p = 0; p < planes; p++) for (let oy = 0; oy < g.outH; oy++) for (let ox = 0; ox < g.outW; ox++) maxWindow(xd, out, argmax, g, p, oy, ox);
  return record('maxPool2d', new Tensor(out, [g.n, g.c, g.outH, g.outW]), [x], (gy) => {
    const gx = allocData(gy.dtype, x.size);
    const gd = gy.data;
    for (let o = 0; o < argmax.length; o++) gx[argmax[o]] += gd[o];
    return [new Tensor(gx, x.shape)];
  });
}

/**
 * Average pooling. With countIncludePad = false (the default here, unlike PyTorch's default
 * of true) each window is divided by the number of real input elements it covers, so borders
 * are not darkened by the zero padding; with true it is divided by kh * kw.
 */
export function avgPool2d(x: Tensor, kernel: Pair, stride?: Pair, padding: Pair = 0, countIncludePad = false): Tensor {
  const g = poolGeom('avgPool2d', x, kernel, stride, padding);
  const planes = g.n * g.c;
  const outPlane = g.outH * g.outW;
  const out = allocData(x.dtype, planes * outPlane);
  const xd = x.data;
  // The window of output (oy, ox) clipped to the input, and its divisor (shared by all planes).
  const y0 = new Int32Array(g.outH);
  const y1 = new Int32Array(g.outH);
  const x0 = new Int32Array(g.outW);
  const x1 = new Int32Array(g.outW);
  for (let oy = 0; oy < g.outH; oy++) {
    y0[oy] = Math.max(oy * g.sh - g.ph, 0);
    y1[oy] = Math.min(oy * g.sh - g.ph + g.kh, g.h);
  }
  for (let ox = 0; ox < g.outW; ox++) {
    x0[ox] = Math.max(ox * g.sw - g.pw, 0);
    x1[ox] = Math.min(ox * g.sw - g.pw + g.kw, g.w);
  }
  const inv = new Float64Array(outPlane);
  for (let oy = 0; oy < g.outH; oy++) {
    for (let ox = 0; ox < g.outW; ox++) {
      inv[oy * g.outW + ox] = 1 / (countIncludePad ? g.kh * g.kw : (y1[oy] - y0[oy]) * (x1[ox] - x0[ox]));
    }
  }
  for (let p = 0; p < planes; p++) {
    const base = p * g.h * g.w;
    for (let oy = 0; oy < g.outH; oy++) {
      for (let ox = 0; ox < g.outW; ox++) {
        let s = 0;
        for (let iy = y0[oy]; iy < y1[oy]; iy++) for (let ix = x0[ox]; ix < x1[ox]; ix++) s += xd[base + iy * g.w + ix];
        out[p * outPlane + oy * g.outW + ox] = s * inv[oy * g.outW + ox];
      }
    }
  }
  return record('avgPool2d', new Tensor(out, [g.n, g.c, g.outH, g.outW]), [x], (gy) => {
    const gx = allocData(gy.dtype, x.size);
    const gd = gy.data;
    for (let p = 0; p < planes; p++) {
      const base = p * g.h * g.w;
      for (let oy = 0; oy < g.outH; oy++) {
        for (let ox = 0; ox < g.outW; ox++) {
          const o = oy * g.outW + ox;
          const v = gd[p * outPlane + o] * inv[o];
          for (let iy = y0[oy]; iy < y1[oy]; iy++) for (let ix = x0[ox]; ix < x1[ox]; ix++) gx[base + iy * g.w + ix] += v;
        }
      }
    }
    return [new Tensor(gx, x.shape)];
  });
}

// ---------------------------------------------------------------------------------------------

export const gradcheckCases: GradcheckCase[] = [
  { op: 'maxPool2d', variant: '2x2 stride 2, batch 2, odd size 5x5', make: (rng) => ({ f: (x) => maxPool2d(x, 2), inputs: [randomInput(rng, [2, 2, 5, 5])] }) },
  { op: 'maxPool2d', variant: '3x3 stride 1 padding 1 (overlapping windows)', make: (rng) => ({ f: (x) => maxPool2d(x, 3, 1, 1), inputs: [randomInput(rng, [1, 2, 4, 5])] }) },
  {
    op: 'maxPool2d',
    variant: 'all-negative input with padding 2 (padding never wins), kernel 5x4 stride [2, 3]',
    make: (rng) => ({ f: (x) => maxPool2d(x, [5, 4], [2, 3], [2, 2]), inputs: [randomInput(rng, [1, 1, 6, 7], -2, -1)] }),
  },
  // Exact ties: nearest upsampling copies each value into a 2x2 block, so windows hold equal
  // values; a perturbation moves all copies of one value together, so finite differences are
  // well defined and must equal the tie-broken gradient summed back through the upsampling.
  {
    op: 'maxPool2d',
    variant: 'exact ties (2x-nearest-upsampled input), 2x2 stride 2',
    make: (rng) => ({ f: (x) => maxPool2d(upsampleNearest(x, { scale: 2 }), 2), inputs: [randomInput(rng, [2, 1, 3, 3])] }),
  },
  {
    op: 'maxPool2d',
    variant: 'exact ties (2x-nearest-upsampled input), 3x3 stride 1 padding 1',
    make: (rng) => ({ f: (x) => maxPool2d(upsampleNearest(x, { scale: 2 }), 3, 1, 1), inputs: [randomInput(rng, [1, 2, 3, 2])] }),
  },
  { op: 'maxPool2d', variant: 'size-1 input, kernel 1', make: (rng) => ({ f: (x) => maxPool2d(x, 1), inputs: [randomInput(rng, [1, 3, 1, 1])] }) },
  { op: 'avgPool2d', variant: '2x2 stride 2, batch 2, odd size', make: (rng) => ({ f: (x) => avgPool2d(x, 2), inputs: [randomInput(rng, [2, 2, 5, 3])] }) },
  { op: 'avgPool2d', variant: '3x3 stride 1 padding 1, countIncludePad false', make: (rng) => ({ f: (x) => avgPool2d(x, 3, 1, 1), inputs: [randomInput(rng, [1, 2, 4, 4])] }) },
  {
    op: 'avgPool2d',
    variant: 'kernel [4, 3] stride [1, 2] padding [2, 1], countIncludePad true',
    make: (rng) => ({ f: (x) => avgPool2d(x, [4, 3], [1, 2], [2, 1], true), inputs: [randomInput(rng, [1, 1, 5, 6])] }),
  },
];

