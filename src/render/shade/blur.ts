/**
 * Separable Gaussian blur of an [H, W] image as one custom op, differentiable w.r.t. the image
 * and the standard deviation sigma (a one-element tensor, pixels). Kernel radius
 * ceil(4 sigma) + 1 taps (truncation below e^-8 of the centre weight), normalised to sum 1;
 * borders replicate the edge pixel. sigma is floored at 1e-3 px (below it the kernel is a delta).
 *   k_i = exp(-i^2 / (2 s^2)) / Z,  dk_i/ds = k_i (i^2 - sum_j k_j j^2) / s^3
 * Kernels are cached per sigma; the passes write into pooled scratch buffers (src/render/
 * scratch.ts). Every pass is the same row kernel (sweepRow): the kernel is symmetric, so taps
 * are folded in pairs, and each output row is accumulated tap-major, four taps per sweep, over
 * source rows that need no bounds tests (a padded copy of the row for the horizontal passes,
 * clamped row offsets for the vertical one). The adjoint passes are the zero-padded filter
 * itself (symmetric kernel) plus the clamped taps' sums onto the border pixels / rows.
 * The per-pixel passes these replaced are kept in test/render/blur-ref.ts; the blur's forward
 * plus backward on the bench scene (256 x 256, sigma 1) went from 6 passes of the per-pixel
 * loops to 6 sweeps (render fwd + bwd with the raster cached: 0.55-0.62 x the time before).
 */
import { record } from '../../autodiff/tape.js';
import { Tensor, allocData } from '../../autodiff/tensor.js';
import { takeF64Dirty, giveF64 } from '../scratch.js';

export const MIN_BLUR_SIGMA = 1e-3;

interface Kernel {
  k: Float64Array;
  dk: Float64Array;
  R: number;
  /** Clamped-tap weights of the adjoint passes (see tails), for k and for dk. */
  tail: Float64Array;
  dtail: Float64Array;
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
  const kern = { k, dk, R, tail: tails(k, R), dtail: tails(dk, R) };
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

/**
 * One output row of a symmetric (k[R - i] = k[R + i]) filter, tap-major:
 *   out[o + x] = k[R] S[c + x] + sum_{i = 1..R} k[R + i] (S[up[i] + x] + S[dn[i] + x]),  x < W
 * (up[i] / dn[i]: where the source row shifted by -i / +i starts in S). The taps are folded in
 * pairs and swept over the row four at a time (one read-modify-write of out per four taps, no
 * kernel loads in the inner loop), then two, then one; the row stays in L1. This is the kernel
 * of all the passes below (2-4x faster than a per-pixel loop over the 2R + 1 taps); the
 * summation order differs from the per-pixel loop's by rounding only.
 */
function sweepRow(S: Float64Array, out: Float64Array, o: number, W: number, k: Float64Array, R: number, c: number, up: Int32Array, dn: Int32Array): void {
  const kc = k[R];
  let i = 1;
  if (R & 1) {
    const w = k[R + 1], a = up[1], b = dn[1];
    for (let x = 0; x < W; x++) out[o + x] = kc * S[c + x] + w * (S[a + x] + S[b + x]);
    i = 2;
  } else for (let x = 0; x < W; x++) out[o + x] = kc * S[c + x];
  // taps i..R left: an even count
  if (((R - i + 1) & 3) === 2) {
    const w0 = k[R + i], w1 = k[R + i + 1];
    const a0 = up[i], b0 = dn[i], a1 = up[i + 1], b1 = dn[i + 1];
    for (let x = 0; x < W; x++) out[o + x] += w0 * (S[a0 + x] + S[b0 + x]) + w1 * (S[a1 + x] + S[b1 + x]);
    i += 2;
  }
  for (; i <= R; i += 4) {
    const w0 = k[R + i], w1 = k[R + i + 1], w2 = k[R + i + 2], w3 = k[R + i + 3];
    const a0 = up[i], b0 = dn[i], a1 = up[i + 1], b1 = dn[i + 1], a2 = up[i + 2], b2 = dn[i + 2], a3 = up[i + 3], b3 = dn[i + 3];
    for (let x = 0; x < W; x++) {
      out[o + x] += w0 * (S[a0 + x] + S[b0 + x]) + w1 * (S[a1 + x] + S[b1 + x]) + w2 * (S[a2 + x] + S[b2 + x]) + w3 * (S[a3 + x] + S[b3 + x]);
    }
  }
}

/**
 * sweepRow with two kernels over the same source row (the backward's filter k and its sigma
 * derivative dk): out from k, out2 from k2, each pair of source values loaded and summed once.
 */
function sweepRow2(S: Float64Array, out: Float64Array, out2: Float64Array, o: number, W: number, k: Float64Array, k2: Float64Array, R: number, c: number, up: Int32Array, dn: Int32Array): void {
  const kc = k[R], hc = k2[R];
  let i = 1;
  if (R & 1) {
    const w = k[R + 1], v = k2[R + 1], a = up[1], b = dn[1];
    for (let x = 0; x < W; x++) {
      const s0 = S[c + x], s1 = S[a + x] + S[b + x];
      out[o + x] = kc * s0 + w * s1;
      out2[o + x] = hc * s0 + v * s1;
    }
    i = 2;
  } else {
    for (let x = 0; x < W; x++) {
      const s0 = S[c + x];
      out[o + x] = kc * s0;
      out2[o + x] = hc * s0;
    }
  }
  if (((R - i + 1) & 3) === 2) {
    const w0 = k[R + i], w1 = k[R + i + 1], v0 = k2[R + i], v1 = k2[R + i + 1];
    const a0 = up[i], b0 = dn[i], a1 = up[i + 1], b1 = dn[i + 1];
    for (let x = 0; x < W; x++) {
      const s0 = S[a0 + x] + S[b0 + x], s1 = S[a1 + x] + S[b1 + x];
      out[o + x] += w0 * s0 + w1 * s1;
      out2[o + x] += v0 * s0 + v1 * s1;
    }
    i += 2;
  }
  for (; i <= R; i += 4) {
    const w0 = k[R + i], w1 = k[R + i + 1], w2 = k[R + i + 2], w3 = k[R + i + 3];
    const v0 = k2[R + i], v1 = k2[R + i + 1], v2 = k2[R + i + 2], v3 = k2[R + i + 3];
    const a0 = up[i], b0 = dn[i], a1 = up[i + 1], b1 = dn[i + 1], a2 = up[i + 2], b2 = dn[i + 2], a3 = up[i + 3], b3 = dn[i + 3];
    for (let x = 0; x < W; x++) {
      const s0 = S[a0 + x] + S[b0 + x], s1 = S[a1 + x] + S[b1 + x], s2 = S[a2 + x] + S[b2 + x], s3 = S[a3 + x] + S[b3 + x];
      out[o + x] += w0 * s0 + w1 * s1 + w2 * s2 + w3 * s3;
      out2[o + x] += v0 * s0 + v1 * s1 + v2 * s2 + v3 * s3;
    }
  }
}

/** Tap offset tables (length R + 1, index 0 unused), reused across calls. */
let upBuf = new Int32Array(16), dnBuf = new Int32Array(16);
function offsets(R: number): void {
  if (upBuf.length < R + 1) {
    upBuf = new Int32Array(2 * R + 2);
    dnBuf = new Int32Array(2 * R + 2);
  }
}

/**
 * out[y, x] = sum_i k[i] src[y, pad(x + i)] with pad = clamp to the row (`zero` false) or zero
 * outside it (`zero` true); rows without a nonzero (per nz) are written as 0. Each row is copied
 * into a padded row buffer first, so the sweeps need no bounds tests.
 */
function passH(src: Float64Array, out: Float64Array, H: number, W: number, k: Float64Array, R: number, nz: Int32Array | null = null, zero = false, k2: Float64Array | null = null, out2: Float64Array | null = null): void {
  offsets(R);
  const up = upBuf, dn = dnBuf;
  for (let i = 1; i <= R; i++) {
    up[i] = R - i;
    dn[i] = R + i;
  }
  const pad = takeF64Dirty(W + 2 * R);
  for (let y = 0; y < H; y++) {
    const row = y * W;
    if (nz && nz[y + 1] === nz[y]) {
      out.fill(0, row, row + W);
      continue;
    }
    const l = zero ? 0 : src[row], r = zero ? 0 : src[row + W - 1];
    for (let i = 0; i < R; i++) {
      pad[i] = l;
      pad[R + W + i] = r;
    }
    for (let x = 0; x < W; x++) pad[R + x] = src[row + x];
    if (k2 && out2) sweepRow2(pad, out, out2, row, W, k, k2, R, R, up, dn);
    else sweepRow(pad, out, row, W, k, R, R, up, dn);
  }
  giveF64(pad);
}

/**
 * out[y, x] = sum_i k[i] src[clamp(y + i), x], per output row as tap-major sweeps over the
 * clamped source rows; rows whose whole window is zero (per nz) are written as 0.
 */
function passV(src: Float64Array, out: Float64Array, H: number, W: number, k: Float64Array, R: number, nz: Int32Array | null = null): void {
  offsets(R);
  const up = upBuf, dn = dnBuf;
  for (let y = 0; y < H; y++) {
    const row = y * W;
    if (nz && nz[Math.min(H, y + R + 1)] === nz[Math.max(0, y - R)]) {
      out.fill(0, row, row + W);
      continue;
    }
    for (let i = 1; i <= R; i++) {
      up[i] = (y - i < 0 ? 0 : y - i) * W;
      dn[i] = (y + i > H - 1 ? H - 1 : y + i) * W;
    }
    sweepRow(src, out, row, W, k, R, row, up, dn);
  }
}

/**
 * tail[d] = sum_{j = d + 1..R} k[R + j] (d < R): the weight a source pixel d steps inside the
 * border sends onto the border pixel through the clamped taps.
 */
function tails(k: Float64Array, R: number): Float64Array {
  const t = new Float64Array(R);
  let acc = 0;
  for (let d = R - 1; d >= 0; d--) t[d] = acc += k[R + d + 1];
  return t;
}

/**
 * Adjoint of passH: out[y, s] = sum over (x, i) with clamp(x + i) = s of k[i] g[y, x]. With a
 * symmetric kernel the unclamped part is the zero-padded filter itself; the clamped taps add
 * sum_x tail[x] g[y, x] on the first pixel of the row and sum_x tail[W - 1 - x] g[y, x] on the last.
 */
function passHT(g: Float64Array, out: Float64Array, H: number, W: number, k: Float64Array, R: number, tail: Float64Array, k2: Float64Array | null = null, out2: Float64Array | null = null, tail2: Float64Array | null = null): void {
  passH(g, out, H, W, k, R, null, true, k2, out2);
  const m = Math.min(R, W);
  for (let y = 0; y < H; y++) {
    const row = y * W;
    let l = 0, r = 0, l2 = 0, r2 = 0;
    for (let x = 0; x < m; x++) {
      const gl = g[row + x], gr = g[row + W - 1 - x];
      l += tail[x] * gl;
      r += tail[x] * gr;
      if (tail2) {
        l2 += tail2[x] * gl;
        r2 += tail2[x] * gr;
      }
    }
    out[row] += l;
    out[row + W - 1] += r;
    if (out2) {
      out2[row] += l2;
      out2[row + W - 1] += r2;
    }
  }
}

/**
 * Adjoint of passV: the zero-padded vertical filter of g (g is copied, widened to float64, into
 * a buffer with R zero rows above and below, so the sweeps need no bounds tests), plus the
 * clamped taps' rows: sum_y tail[y] g[y, :] onto row 0 and sum_y tail[H - 1 - y] g[y, :] onto
 * row H - 1. Returns the padded copy (a pooled buffer; g[y, x] is at (y + R) W + x).
 */
function passVT(g: ArrayLike<number>, out: Float64Array, H: number, W: number, k: Float64Array, R: number, tail: Float64Array, k2: Float64Array | null = null, out2: Float64Array | null = null, tail2: Float64Array | null = null): Float64Array {
  const P = takeF64Dirty((H + 2 * R) * W);
  P.fill(0, 0, R * W);
  P.fill(0, (H + R) * W);
  P.set(g as Float64Array, R * W);
  offsets(R);
  const up = upBuf, dn = dnBuf;
  for (let y = 0; y < H; y++) {
    const c = (y + R) * W;
    for (let i = 1; i <= R; i++) {
      up[i] = c - i * W;
      dn[i] = c + i * W;
    }
    if (k2 && out2) sweepRow2(P, out, out2, y * W, W, k, k2, R, c, up, dn);
    else sweepRow(P, out, y * W, W, k, R, c, up, dn);
  }
  const m = Math.min(R, H), last = (H - 1) * W;
  for (let d = 0; d < m; d++) {
    const a = (d + R) * W, b = (H - 1 - d + R) * W;
    const t = tail[d];
    for (let x = 0; x < W; x++) {
      out[x] += t * P[a + x];
      out[last + x] += t * P[b + x];
    }
    if (!tail2 || !out2) continue;
    const t2 = tail2[d];
    for (let x = 0; x < W; x++) {
      out2[x] += t2 * P[a + x];
      out2[last + x] += t2 * P[b + x];
    }
  }
  return P;
}

/**
 * The backward of gaussianBlur (image and sigma gradients); a named function rather than the
 * per-call tape closure, so that V8 keeps its optimised code across renders.
 */
function blurBackward(g: Tensor, x: Tensor, sigma: Tensor, sRaw: number, xd: Float64Array, xWide: boolean, tmp: Float64Array, kern: Kernel, H: number, W: number): (Tensor | null)[] {
  const { k, dk, R, tail, dtail } = kern;
  const HW = H * W;
  // d out / d s = V'(H(x)) + V(H'(x)); contracted with g:
  //   <g, V' tmp> + <V^T g, H' x> = <V'^T g, tmp> + <H'^T (V^T g), x>
  // V'^T g is swept together with V^T g, H'^T gt together with H^T gt (same source rows)
  const needS = sigma.requiresGrad && sRaw >= MIN_BLUR_SIGMA;
  const a = needS ? takeF64Dirty(HW) : null;
  let gs = 0;
  const gt = takeF64Dirty(HW);
  const gP = passVT(g.data, gt, H, W, k, R, tail, a && dk, a, a && dtail);
  if (a) for (let i = 0; i < HW; i++) gs += a[i] * tmp[i];
  let gxT: Tensor | null = null;
  if (x.requiresGrad) {
    const gx = allocData(x.dtype, HW);
    const b = gx instanceof Float64Array ? gx : takeF64Dirty(HW);
    passHT(gt, b, H, W, k, R, tail, a && dk, a, a && dtail);
    if (b !== gx) {
      gx.set(b);
      giveF64(b);
    }
    gxT = new Tensor(gx, x.shape);
  } else if (a) passHT(gt, a, H, W, dk, R, dtail);
  if (a) for (let i = 0; i < HW; i++) gs += a[i] * xd[i];
  let gsT: Tensor | null = null;
  if (sigma.requiresGrad) {
    const d = allocData(sigma.dtype, sigma.size);
    d[0] = gs;
    gsT = new Tensor(d, sigma.shape);
  }
  giveF64(gt, tmp, gP, a);
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
  const sd = src instanceof Float64Array ? src : Float64Array.from(src);
  const tmp = takeF64Dirty(H * W);
  const nz = rowPrefix(sd, H, W);
  passH(sd, tmp, H, W, k, R, nz);
  const out = new Float64Array(H * W);
  passV(tmp, out, H, W, k, R, nz);
  giveF64(tmp);
  return out;
}

/** The passes, for the property tests against the reference (test/render/blur-ref.ts). */
export const blurPasses = { passH, passV, passHT, passVT, tails, kernels };
