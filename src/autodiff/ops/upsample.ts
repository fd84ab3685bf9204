/**
 * Resizing NCHW images, with PyTorch's F.interpolate semantics for modes 'nearest' and
 * 'bilinear' (align_corners = false). Both are separable linear maps: every output pixel is a
 * weighted sum of at most 2 x 2 input pixels, given per axis by two taps (index, weight). The
 * backward pass is the adjoint: the same taps, scattering instead of gathering.
 *
 * Coordinates, per axis, with `scale` = 1 / scaleFactor when a scale factor is given, else
 * in / out (as PyTorch does without recompute_scale_factor):
 *   nearest:  src = min(floor(dst * scale), in - 1)
 *   bilinear: src = max((dst + 0.5) * scale - 0.5, 0); i0 = floor(src), i1 = min(i0 + 1, in - 1),
 *             weights (1 - (src - i0), src - i0)
 */
import { record } from '../tape.js';
import { Tensor, allocData } from '../tensor.js';
import { shapeStr } from '../shape.js';
import { randomInput, type GradcheckCase } from '../gradcheck.js';

export type ResizeMode = 'nearest' | 'bilinear';

export interface ResizeOptions {
  /** Output size [H, W] (exclusive with scale). */
  size?: readonly [number, number];
  /** Scale factor, once for both axes or [h, w]; output size = floor(in * scale). */
  scale?: number | readonly [number, number];
}

interface Taps {
  i0: Int32Array;
  i1: Int32Array;
  w0: Float64Array;
  w1: Float64Array;
}

function axisTaps(mode: ResizeMode, inSize: number, outSize: number, scale: number): Taps {
  const t: Taps = { i0: new Int32Array(outSize), i1: new Int32Array(outSize), w0: new Float64Array(outSize), w1: new Float64Array(outSize) };
  for (let o = 0; o < outSize; o++) {
    if (mode === 'nearest') {
      const s = Math.min(Math.floor(o * scale), inSize - 1);
      t.i0[o] = s;
      t.i1[o] = s;
      t.w0[o] = 1;
      t.w1[o] = 0;
    } else {
      const src = Math.max((o + 0.5) * scale - 0.5, 0);
      const i0 = Math.min(Math.floor(src), inSize - 1);
      const l1 = src - i0;
      t.i0[o] = i0;
      t.i1[o] = Math.min(i0 + 1, inSize - 1);
      t.w0[o] = 1 - l1;
      t.w1[o] = l1;
    }
  }
  return t;
}

/** Resizes x [N, C, H, W] to the requested size or scale. */
export function interpolate(x: Tensor, mode: ResizeMode, opts: ResizeOptions): Tensor {
  const op = mode === 'nearest' ? 'upsampleNearest' : 'upsampleBilinear';
  if (x.ndim !== 4) throw new Error(`${op}: input must be [N, C, H, W], got ${shapeStr(x.shape)}`);
  if ((opts.size === undefined) === (opts.scale === undefined)) throw new Error(`${op}: give exactly one of size and scale`);
  const [n, c, h, w] = x.shape;
  let outH: number;
  let outW: number;
  let scaleH: number;
  let scaleW: number;
  if (opts.size) {
    [outH, outW] = opts.size;
    if (!(Number.isInteger(outH) && Number.isInteger(outW) && outH >= 1 && outW >= 1)) throw new Error(`${op}: size must be positive integers, got ${JSON.stringify(opts.size)}`);
    scaleH = h / outH;
    scaleW = w / outW;
  } else {
    const s = opts.scale!;
    const [fh, fw] = typeof s === 'number' ? [s, s] : s;
    if (!(fh > 0 && fw > 0)) throw new Error(`${op}: scale must be positive, got ${JSON.stringify(s)}`);
    outH = Math.floor(h * fh);
    outW = Math.floor(w * fw);
    if (outH < 1 || outW < 1) throw new Error(`${op}: scale ${JSON.stringify(s)} gives an empty output for input ${h}x${w}`);
    scaleH = 1 / fh;
    scaleW = 1 / fw;
  }
  const ty = axisTaps(mode, h, outH, scaleH);
  const tx = axisTaps(mode, w, outW, scaleW);
  const planes = n * c;
  const inPlane = h * w;
  const outPlane = outH * outW;
  const out = allocData(x.dtype, planes * outPlane);
  const xd = x.data;
  for (let p = 0; p < planes; p++) {
    const b = p * inPlane;
    for (let oy = 0; oy < outH; oy++) {
      const r0 = b + ty.i0[oy] * w;
      const r1 = b + ty.i1[oy] * w;
      const a0 = ty.w0[oy];
      const a1 = ty.w1[oy];
      const o = p * outPlane + oy * outW;
      for (let ox = 0; ox < outW; ox++) {
        const j0 = tx.i0[ox];
        const j1 = tx.i1[ox];
        const b0 = tx.w0[ox];
        const b1 = tx.w1[ox];
        out[o + ox] = a0 * (b0 * xd[r0 + j0] + b1 * xd[r0 + j1]) + a1 * (b0 * xd[r1 + j0] + b1 * xd[r1 + j1]);
      }
    }
  }
  return record(op, new Tensor(out, [n, c, outH, outW]), [x], (g) => {
    const gx = allocData(g.dtype, x.size);
    const gd = g.data;
    for (let p = 0; p < planes; p++) {
      const b = p * inPlane;
      for (let oy = 0; oy < outH; oy++) {
        const r0 = b + ty.i0[oy] * w;
        const r1 = b + ty.i1[oy] * w;
        const a0 = ty.w0[oy];
        const a1 = ty.w1[oy];
        const o = p * outPlane + oy * outW;
        for (let ox = 0; ox < outW; ox++) {
          const v = gd[o + ox];
          const j0 = tx.i0[ox];
          const j1 = tx.i1[ox];
          const b0 = tx.w0[ox];
          const b1 = tx.w1[ox];
          gx[r0 + j0] += a0 * b0 * v;
          gx[r0 + j1] += a0 * b1 * v;
          gx[r1 + j0] += a1 * b0 * v;
          gx[r1 + j1] += a1 * b1 * v;
        }
      }
    }
    return [new Tensor(gx, x.shape)];
  });
}

/** Nearest-neighbour resize (PyTorch mode 'nearest'). */
export function upsampleNearest(x: Tensor, opts: ResizeOptions): Tensor {
  return interpolate(x, 'nearest', opts);
}

/** Bilinear resize with align_corners = false (PyTorch mode 'bilinear'). */
export function upsampleBilinear(x: Tensor, opts: ResizeOptions): Tensor {
  return interpolate(x, 'bilinear', opts);
}

// ---------------------------------------------------------------------------------------------

export const gradcheckCases: GradcheckCase[] = [
  { op: 'upsampleNearest', variant: 'scale 2, batch 2', make: (rng) => ({ f: (x) => upsampleNearest(x, { scale: 2 }), inputs: [randomInput(rng, [2, 2, 2, 3])] }) },
  { op: 'upsampleNearest', variant: 'to size [5, 7] from 3x3 (non-integer ratio)', make: (rng) => ({ f: (x) => upsampleNearest(x, { size: [5, 7] }), inputs: [randomInput(rng, [1, 1, 3, 3])] }) },
  { op: 'upsampleBilinear', variant: 'scale 2, batch 2, odd size', make: (rng) => ({ f: (x) => upsampleBilinear(x, { scale: 2 }), inputs: [randomInput(rng, [2, 1, 3, 3])] }) },
  { op: 'upsampleBilinear', variant: 'scale [3, 1], size-1 width', make: (rng) => ({ f: (x) => upsampleBilinear(x, { scale: [3, 1] }), inputs: [randomInput(rng, [1, 2, 2, 1])] }) },
  { op: 'upsampleBilinear', variant: 'to size [7, 4] from 3x5 (up and down)', make: (rng) => ({ f: (x) => upsampleBilinear(x, { size: [7, 4] }), inputs: [randomInput(rng, [1, 1, 3, 5])] }) },
];
