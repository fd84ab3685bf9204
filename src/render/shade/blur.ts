/**
 * Separable Gaussian blur of an [H, W] image as one custom op, differentiable w.r.t. the image
 * and the standard deviation sigma (a one-element tensor, pixels). Kernel radius
 * ceil(4 sigma) + 1 taps (truncation below e^-8 of the centre weight), normalised to sum 1;
 * borders replicate the edge pixel. sigma is floored at 1e-3 px (below it the kernel is a delta).
 *   k_i = exp(-i^2 / (2 s^2)) / Z,  dk_i/ds = k_i (i^2 - sum_j k_j j^2) / s^3
 * Kernels are cached per sigma; the passes write into pooled scratch buffers (src/render/
 * scratch.ts), the interior of each row runs without clamping, and the adjoint passes are
 * gathers (zero-padded correlation plus the clamped-tap sums at the two borders), not scatters.
 */
import { record } from '../../autodiff/tape.js';
import { Tensor, allocData } from '../../autodiff/tensor.js';
import { takeF64Dirty, giveF64 } from '../scratch.js';

export const MIN_BLUR_SIGMA = 1e-3;

interface Kernel {
  k: Float64Array;
  dk: Float64Array;
  R: number;
}
const kernelCache = new Map<number, Kernel>();

function kernels(s: number): Kernel {
  const hit = kernelCache.get(s);
  if (hit) return hit;
  const R = Math.ceil(4 * s) + 1;
  const k = new Float64Array(2 * R + 1);
  let Z = 0;
  for (let i = -R; i <= R; i++) Z += k[i + R] = Math.exp(-(i * i) / (2 * s * s));
  let m2 = 0;
  for (let i = -R; i <= R; i++) {
    k[i + R] /= Z;
    m2 += k[i + R] * i * i;
  }
  const dk = new Float64Array(2 * R + 1);
  const s3 = s * s * s;
  for (let i = -R; i <= R; i++) dk[i + R] = (k[i + R] * (i * i - m2)) / s3;
  if (kernelCache.size > 32) kernelCache.clear();
  const kern = { k, dk, R };
  kernelCache.set(s, kern);
  return kern;
}

/**
 * Per-row "any nonzero" flags of an [H, W] image as a prefix count (nz[y + 1] - nz[y] = 1 when
 * row y has a nonzero), so that the passes skip the all-zero rows of sparse maps (alpha) exactly.
 */
function rowPrefix(src: ArrayLike<number>, H: number, W: number): Int32Array {
  const nz = new Int32Array(H + 1);
  for (let y = 0; y < H; y++) {
    let any = 0;
    const row = y * W;
    for (let x = 0; x < W; x++) {
      if (src[row + x] !== 0) {
        any = 1;
        break;
      }
    }
    nz[y + 1] = nz[y] + any;
  }
  return nz;
}

/** out[y, x] = sum_i k[i] src[y, clamp(x + i)]; rows without a nonzero (per nz) are written as 0. */
function passH(src: ArrayLike<number>, out: Float64Array, H: number, W: number, k: Float64Array, R: number, nz: Int32Array | null = null): void {
  const n = 2 * R + 1;
  for (let y = 0; y < H; y++) {
    const row = y * W;
    if (nz && nz[y + 1] === nz[y]) {
      out.fill(0, row, row + W);
      continue;
    }
    for (let x = 0; x < W; x++) {
      let acc = 0;
      if (x >= R && x + R < W) {
        const b = row + x - R;
        for (let i = 0; i < n; i++) acc += k[i] * src[b + i];
      } else {
        for (let i = -R; i <= R; i++) {
          const xx = x + i;
          acc += k[i + R] * src[row + (xx < 0 ? 0 : xx >= W ? W - 1 : xx)];
        }
      }
      out[row + x] = acc;
    }
  }
}

/**
 * out[y, x] = sum_i k[i] src[clamp(y + i), x]: per output row the 2R + 1 clamped source rows are
 * summed in a register per pixel (one write per pixel); rows whose whole window is zero (per nz)
 * are written as 0.
 */
function passV(src: ArrayLike<number>, out: Float64Array, H: number, W: number, k: Float64Array, R: number, nz: Int32Array | null = null): void {
  const n = 2 * R + 1;
  const off = new Int32Array(n);
  for (let y = 0; y < H; y++) {
    const row = y * W;
    if (nz && nz[Math.min(H, y + R + 1)] === nz[Math.max(0, y - R)]) {
      out.fill(0, row, row + W);
      continue;
    }
    for (let i = 0; i < n; i++) {
      const yy = y + i - R;
      off[i] = (yy < 0 ? 0 : yy >= H ? H - 1 : yy) * W;
    }
    for (let x = 0; x < W; x++) {
      let acc = 0;
      for (let i = 0; i < n; i++) acc += k[i] * src[off[i] + x];
      out[row + x] = acc;
    }
  }
}

/** Adjoint of passH: out[y, s] = sum over (x, i) with clamp(x + i) = s of k[i] g[y, x]. */
function passHT(g: ArrayLike<number>, out: Float64Array, H: number, W: number, k: Float64Array, R: number): void {
  for (let y = 0; y < H; y++) {
    const row = y * W;
    for (let s = 0; s < W; s++) {
      // unclamped taps: x = s - i inside the row
      let acc = 0;
      const lo = Math.max(-R, s - (W - 1)), hi = Math.min(R, s);
      for (let i = lo; i <= hi; i++) acc += k[i + R] * g[row + s - i];
      out[row + s] = acc;
    }
    // clamped taps: x + i < 0 lands on 0, x + i > W - 1 lands on W - 1
    for (let x = 0; x < Math.min(R, W); x++) {
      const gv = g[row + x];
      for (let i = -R; i < -x; i++) out[row] += k[i + R] * gv;
    }
    for (let x = Math.max(0, W - R); x < W; x++) {
      const gv = g[row + x];
      for (let i = W - x; i <= R; i++) out[row + W - 1] += k[i + R] * gv;
    }
  }
}

/** Adjoint of passV (row-wise scatter of whole rows; the clamping only moves rows). */
function passVT(g: ArrayLike<number>, out: Float64Array, H: number, W: number, k: Float64Array, R: number): void {
  out.fill(0, 0, H * W);
  for (let y = 0; y < H; y++) {
    const row = y * W;
    for (let i = -R; i <= R; i++) {
      const yy = y + i;
      const dr = (yy < 0 ? 0 : yy >= H ? H - 1 : yy) * W;
      const w = k[i + R];
      for (let x = 0; x < W; x++) out[dr + x] += w * g[row + x];
    }
  }
}

/**
 * The backward of gaussianBlur (image and sigma gradients); a named function rather than the
 * per-call tape closure, so that V8 keeps its optimised code across renders.
 */
function blurBackward(g: Tensor, x: Tensor, sigma: Tensor, sRaw: number, xd: Float64Array, xWide: boolean, tmp: Float64Array, kern: Kernel, H: number, W: number): (Tensor | null)[] {
  const { k, dk, R } = kern;
  const HW = H * W;
  const gd = g.data;
  const gt = takeF64Dirty(HW);
  passVT(gd, gt, H, W, k, R);
  let gxT: Tensor | null = null;
  if (x.requiresGrad) {
    const gx = allocData(x.dtype, HW);
    if (gx instanceof Float64Array) passHT(gt, gx, H, W, k, R);
    else {
      const b = takeF64Dirty(HW);
      passHT(gt, b, H, W, k, R);
      gx.set(b);
      giveF64(b);
    }
    gxT = new Tensor(gx, x.shape);
  }
  let gsT: Tensor | null = null;
  if (sigma.requiresGrad) {
    let gs = 0;
    if (sRaw >= MIN_BLUR_SIGMA) {
      // d out / d s = V'(H(x)) + V(H'(x)); contracted with g: <g, V' tmp> + <V^T g, H' x>
      const a = takeF64Dirty(HW);
      passV(tmp, a, H, W, dk, R);
      for (let i = 0; i < HW; i++) gs += gd[i] * a[i];
      passH(xd, a, H, W, dk, R);
      for (let i = 0; i < HW; i++) gs += gt[i] * a[i];
      giveF64(a);
    }
    const d = allocData(sigma.dtype, sigma.size);
    d[0] = gs;
    gsT = new Tensor(d, sigma.shape);
  }
  giveF64(gt, tmp);
  if (xWide) giveF64(xd);
  return [gxT, gsT];
}

/** Gaussian blur of x ([H, W] or [1, 1, H, W]) with standard deviation sigma (tensor [1] or []). */
export function gaussianBlur(x: Tensor, sigma: Tensor): Tensor {
  const H = x.shape[x.ndim - 2], W = x.shape[x.ndim - 1], HW = H * W;
  if (x.size !== HW) throw new Error(`gaussianBlur: expects one image, got shape [${x.shape}]`);
  const sRaw = sigma.data[0];
  const s = Math.max(sRaw, MIN_BLUR_SIGMA);
  const kern = kernels(s);
  const { k, R } = kern;
  // float32 input: widened (exactly) into a float64 scratch once, so the passes only ever see
  // Float64Arrays (monomorphic element loads)
  let xd: Float64Array;
  if (x.data instanceof Float64Array) xd = x.data;
  else {
    xd = takeF64Dirty(HW);
    xd.set(x.data);
  }
  const xWide = xd !== x.data;
  const tmp = takeF64Dirty(HW);
  passH(xd, tmp, H, W, k, R);
  const out = allocData(x.dtype, HW);
  if (out instanceof Float64Array) passV(tmp, out, H, W, k, R);
  else {
    const res = takeF64Dirty(HW);
    passV(tmp, res, H, W, k, R);
    out.set(res);
    giveF64(res);
  }
  const rec = record('gaussianBlur', new Tensor(out, x.shape), [x, sigma], (g) => blurBackward(g, x, sigma, sRaw, xd, xWide, tmp, kern, H, W));
  if (!rec.node) {
    giveF64(tmp);
    if (xWide) giveF64(xd);
  }
  return rec;
}

/** Plain (no-tape) blur of raw data, used for fixed maps (edge and shadow cues). */
export function blurRaw(src: ArrayLike<number>, H: number, W: number, sigma: number): Float64Array {
  const { k, R } = kernels(Math.max(sigma, MIN_BLUR_SIGMA));
  const tmp = takeF64Dirty(H * W);
  const nz = rowPrefix(src, H, W);
  passH(src, tmp, H, W, k, R, nz);
  const out = new Float64Array(H * W);
  passV(tmp, out, H, W, k, R, nz);
  giveF64(tmp);
  return out;
}
