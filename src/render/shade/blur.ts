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
 * A per-pixel reference of the passes is kept in test/render/blur-ref.ts (the tests compare).
 */
import { record } from '../../autodiff/tape.js';
import { Tensor, allocData } from '../../autodiff/tensor.js';
import { takeF64Dirty, takeF64Shared, giveF64, releasingBackward } from '../scratch.js';
import { imageLanes, lanesInstalled, runBands, type RasterLanes } from '../lanes/lanes.js';
import { allShared, allocOut } from '../lanes/shared.js';

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

/** A Float64Array over shared memory where the host has it (so lane jobs can hold it). */
function f64(n: number): Float64Array {
  return allocOut('float64', n, true) as Float64Array;
}

function kernels(s: number): Kernel {
  const hit = kernelCache.get(s);
  if (hit) return hit;
  const R = Math.ceil(4 * s) + 1;
  const k = f64(2 * R + 1);
  let Z = 0;
  for (let i = -R; i <= R; i++) Z += k[i + R] = Math.exp(-(i * i) / (2 * s * s));
  let m2 = 0;
  for (let i = -R; i <= R; i++) {
    k[i + R] /= Z;
    m2 += k[i + R] * i * i;
  }
  const dk = f64(2 * R + 1);
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
export function rowPrefix(src: ArrayLike<number>, H: number, W: number): Int32Array {
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

/** What blurRows does to its rows (see BlurRowsJob). */
const H_CLAMP = 0, V_CLAMP = 1, VT_PADDED = 2, HT_ZERO = 3;

/**
 * One lane's share of a blur pass: output rows [rowLo, rowHi). Plain data (typed arrays and
 * numbers), so that it can be posted to a raster lane (src/node/raster-pool.ts); with lanes,
 * every array lives in shared memory.
 *  mode H_CLAMP:   out[y, x] = sum_i k[i] S[y, clamp(x + i)]
 *  mode V_CLAMP:   out[y, x] = sum_i k[i] S[clamp(y + i), x]
 *  mode VT_PADDED: adjoint of V_CLAMP: S holds g with R zero rows above and below (g[y, x] at
 *                  (y + R) W + x); out = the zero-padded filter, plus the clamped taps' rows
 *                  sum_d tail[d] g[d, :] onto row 0 and sum_d tail[d] g[H - 1 - d, :] onto row H - 1
 *  mode HT_ZERO:   adjoint of H_CLAMP: the zero-padded filter, plus sum_d tail[d] g[y, d] onto
 *                  pixel 0 and sum_d tail[d] g[y, W - 1 - d] onto pixel W - 1 of each row
 * With k2 / out2 / tail2 a second kernel is applied to the same source rows into out2, and with
 * dotWith / rowDot the row's dot product sum_x out2[y, x] dotWith[y, x] goes to rowDot[y] (the
 * caller sums rowDot in row order, so the result does not depend on how rows were split).
 * nz (H_CLAMP / V_CLAMP only): rows without a nonzero source in their window are written as 0.
 */
export interface BlurRowsJob {
  mode: number;
  S: Float64Array; out: Float64Array; k: Float64Array; tail: Float64Array | null;
  out2: Float64Array | null; k2: Float64Array | null; tail2: Float64Array | null;
  dotWith: Float64Array | null; rowDot: Float64Array | null;
  nz: Int32Array | null;
  H: number; W: number; R: number; rowLo: number; rowHi: number;
}

/**
 * The rows of one blur pass (see BlurRowsJob). Self-contained but for sweepRow / sweepRow2
 * (the raster lanes' workers evaluate its source with BLUR_HELPERS declared beside it).
 */
export function blurRows(job: BlurRowsJob): number {
  const { mode, S, out, k, tail, out2, k2, tail2, dotWith, rowDot, nz, H, W, R, rowLo, rowHi } = job;
  const dual = k2 !== null && out2 !== null;
  const up = new Int32Array(R + 1), dn = new Int32Array(R + 1);
  const horiz = mode === 0 || mode === 3;
  const zero = mode === 3;
  const pad = horiz ? new Float64Array(W + 2 * R) : S;
  if (horiz) {
    for (let i = 1; i <= R; i++) {
      up[i] = R - i;
      dn[i] = R + i;
    }
  }
  for (let y = rowLo; y < rowHi; y++) {
    const row = y * W;
    if (nz && (mode === 0 ? nz[y + 1] === nz[y] : nz[Math.min(H, y + R + 1)] === nz[Math.max(0, y - R)])) {
      out.fill(0, row, row + W);
      if (dual) out2!.fill(0, row, row + W);
      if (rowDot) rowDot[y] = 0;
      continue;
    }
    if (horiz) {
      const l = zero ? 0 : S[row], r = zero ? 0 : S[row + W - 1];
      for (let i = 0; i < R; i++) {
        pad[i] = l;
        pad[R + W + i] = r;
      }
      for (let x = 0; x < W; x++) pad[R + x] = S[row + x];
      if (dual) sweepRow2(pad, out, out2!, row, W, k, k2!, R, R, up, dn);
      else sweepRow(pad, out, row, W, k, R, R, up, dn);
      if (mode === 3) {
        const m = R < W ? R : W;
        let l0 = 0, r0 = 0, l2 = 0, r2 = 0;
        for (let d = 0; d < m; d++) {
          const gl = S[row + d], gr = S[row + W - 1 - d];
          l0 += tail![d] * gl;
          r0 += tail![d] * gr;
          if (dual) {
            l2 += tail2![d] * gl;
            r2 += tail2![d] * gr;
          }
        }
        out[row] += l0;
        out[row + W - 1] += r0;
        if (dual) {
          out2![row] += l2;
          out2![row + W - 1] += r2;
        }
      }
    } else {
      const c = mode === 1 ? row : (y + R) * W;
      for (let i = 1; i <= R; i++) {
        if (mode === 1) {
          up[i] = (y - i < 0 ? 0 : y - i) * W;
          dn[i] = (y + i > H - 1 ? H - 1 : y + i) * W;
        } else {
          up[i] = c - i * W;
          dn[i] = c + i * W;
        }
      }
      if (dual) sweepRow2(S, out, out2!, row, W, k, k2!, R, c, up, dn);
      else sweepRow(S, out, row, W, k, R, c, up, dn);
      if (mode === 2) {
        const m = R < H ? R : H;
        for (let e = 0; e < 2; e++) {
          // e = 0: row 0 takes the clamped taps of rows d; e = 1: row H - 1 those of rows H - 1 - d
          if ((e === 0 && y !== 0) || (e === 1 && y !== H - 1)) continue;
          for (let d = 0; d < m; d++) {
            const a = ((e === 0 ? d : H - 1 - d) + R) * W;
            const t = tail![d];
            for (let x = 0; x < W; x++) out[row + x] += t * S[a + x];
            if (!dual) continue;
            const t2 = tail2![d];
            for (let x = 0; x < W; x++) out2![row + x] += t2 * S[a + x];
          }
        }
      }
    }
    if (rowDot && dotWith && out2) {
      let acc = 0;
      for (let x = 0; x < W; x++) acc += out2[row + x] * dotWith[row + x];
      rowDot[y] = acc;
    }
  }
  return 0;
}

/** The lane kernels of this file, and the helpers their source calls (declared in the workers). */
export const BLUR_KERNELS = { blurRows } as const;
export const BLUR_HELPERS = [sweepRow, sweepRow2] as const;

/** Runs a pass: split into row bands over the lanes, or on this thread (src/render/lanes/lanes.ts). */
function runRows(job: BlurRowsJob, lanes: RasterLanes | null): void {
  runBands(lanes, 'blurRows', job, job.H, blurRows);
}

function rowsJob(mode: number, S: Float64Array, out: Float64Array, H: number, W: number, k: Float64Array, R: number, extra: Partial<BlurRowsJob> = {}): BlurRowsJob {
  return { mode, S, out, k, tail: null, out2: null, k2: null, tail2: null, dotWith: null, rowDot: null, nz: null, H, W, R, rowLo: 0, rowHi: H, ...extra };
}

/** out = the clamped horizontal filter of src; sparse rows per nz. */
function passH(src: Float64Array, out: Float64Array, H: number, W: number, k: Float64Array, R: number, nz: Int32Array | null = null): void {
  blurRows(rowsJob(H_CLAMP, src, out, H, W, k, R, { nz }));
}

/** out = the clamped vertical filter of src; sparse rows per nz. */
function passV(src: Float64Array, out: Float64Array, H: number, W: number, k: Float64Array, R: number, nz: Int32Array | null = null): void {
  blurRows(rowsJob(V_CLAMP, src, out, H, W, k, R, { nz }));
}

/**
 * tail[d] = sum_{j = d + 1..R} k[R + j] (d < R): the weight a source pixel d steps inside the
 * border sends onto the border pixel through the clamped taps.
 */
function tails(k: Float64Array, R: number): Float64Array {
  const t = f64(R);
  let acc = 0;
  for (let d = R - 1; d >= 0; d--) t[d] = acc += k[R + d + 1];
  return t;
}

/** Adjoint of passH (and with k2 / out2 / tail2, of the same pass with k2). */
function passHT(g: Float64Array, out: Float64Array, H: number, W: number, k: Float64Array, R: number, tail: Float64Array, k2: Float64Array | null = null, out2: Float64Array | null = null, tail2: Float64Array | null = null): void {
  blurRows(rowsJob(HT_ZERO, g, out, H, W, k, R, { tail, k2, out2, tail2 }));
}

/**
 * g widened to float64 into a buffer with R zero rows above and below (g[y, x] at (y + R) W + x),
 * from `take` (shared memory for lanes).
 */
function paddedRows(g: ArrayLike<number>, H: number, W: number, R: number, take: (n: number) => Float64Array): Float64Array {
  const P = take((H + 2 * R) * W);
  P.fill(0, 0, R * W);
  P.fill(0, (H + R) * W);
  P.set(g as Float64Array, R * W);
  return P;
}

/** Adjoint of passV (and with k2 / out2 / tail2, of the same pass with k2); returns the padded copy of g. */
function passVT(g: ArrayLike<number>, out: Float64Array, H: number, W: number, k: Float64Array, R: number, tail: Float64Array, k2: Float64Array | null = null, out2: Float64Array | null = null, tail2: Float64Array | null = null): Float64Array {
  const P = paddedRows(g, H, W, R, takeF64Dirty);
  blurRows(rowsJob(VT_PADDED, P, out, H, W, k, R, { tail, k2, out2, tail2 }));
  return P;
}

/** Sum of rowDot[0..H) in row order (the same whatever the lanes' split). */
function rowSum(rowDot: Float64Array, H: number): number {
  let s = 0;
  for (let y = 0; y < H; y++) s += rowDot[y];
  return s;
}

/**
 * The backward of gaussianBlur (image and sigma gradients); a named function rather than the
 * per-call tape closure, so that V8 keeps its optimised code across renders.
 *   d out / d s = V'(H(x)) + V(H'(x)); contracted with g:
 *   <g, V' tmp> + <V^T g, H' x> = <V'^T g, tmp> + <H'^T (V^T g), x>
 * V'^T g is swept together with V^T g, H'^T gt together with H^T gt (same source rows), and each
 * row's dot products are taken as the row is finished.
 */
function blurBackward(g: Tensor, x: Tensor, sigma: Tensor, sRaw: number, xd: Float64Array, xWide: boolean, tmp: Float64Array, kern: Kernel, H: number, W: number, lanes: RasterLanes | null): (Tensor | null)[] {
  const { k, dk, R, tail, dtail } = kern;
  const HW = H * W;
  const take = lanes ? takeF64Shared : takeF64Dirty;
  const needS = sigma.requiresGrad && sRaw >= MIN_BLUR_SIGMA;
  const a = needS ? take(HW) : null;
  const rowDot = needS ? take(H) : null;
  let gs = 0;
  const gt = take(HW);
  const gP = paddedRows(g.data, H, W, R, take);
  runRows(rowsJob(VT_PADDED, gP, gt, H, W, k, R, { tail, k2: a && dk, out2: a, tail2: a && dtail, dotWith: a && tmp, rowDot }), lanes);
  if (rowDot) gs += rowSum(rowDot, H);
  let gxT: Tensor | null = null;
  if (x.requiresGrad || a) {
    const gx = x.requiresGrad ? allocOut(x.dtype, HW, lanes !== null) : null;
    const b = gx instanceof Float64Array ? gx : take(HW);
    if (x.requiresGrad) runRows(rowsJob(HT_ZERO, gt, b, H, W, k, R, { tail, k2: a && dk, out2: a, tail2: a && dtail, dotWith: a && xd, rowDot }), lanes);
    else runRows(rowsJob(HT_ZERO, gt, a!, H, W, dk, R, { tail: dtail, out2: a, dotWith: xd, rowDot }), lanes);
    if (rowDot) gs += rowSum(rowDot, H);
    if (gx) {
      if (b !== gx) gx.set(b);
      gxT = new Tensor(gx, x.shape);
    }
    if (b !== gx) giveF64(b);
  }
  let gsT: Tensor | null = null;
  if (sigma.requiresGrad) {
    const d = allocData(sigma.dtype, sigma.size);
    d[0] = gs;
    gsT = new Tensor(d, sigma.shape);
  }
  giveF64(gt, tmp, gP, a, rowDot);
  if (xWide) giveF64(xd);
  return [gxT, gsT];
}

/**
 * Gaussian blur of x ([H, W] or [1, 1, H, W]) with standard deviation sigma (tensor [1] or []).
 * With raster lanes installed (setRasterLanes; src/node/raster-pool.ts under Node) and an image
 * of at least 128 x 128, each pass is split into row bands over the lanes; every output value
 * is computed by one lane with the same expressions and the sigma gradient's dot products are
 * summed per row in row order, so the results do not depend on the number of lanes.
 */
export function gaussianBlur(x: Tensor, sigma: Tensor): Tensor {
  const H = x.shape[x.ndim - 2], W = x.shape[x.ndim - 1], HW = H * W;
  if (x.size !== HW) throw new Error(`gaussianBlur: expects one image, got shape [${x.shape}]`);
  const sRaw = sigma.data[0];
  const s = Math.max(sRaw, MIN_BLUR_SIGMA);
  const kern = kernels(s);
  const { k, R } = kern;
  const lanes = imageLanes(HW);
  const take = lanes ? takeF64Shared : takeF64Dirty;
  // a float32 input (or any input, for lanes) is widened (exactly) into a float64 scratch once,
  // so the passes only ever see Float64Arrays (monomorphic element loads)
  let xd: Float64Array;
  if (x.data instanceof Float64Array && (!lanes || allShared(x.data))) xd = x.data;
  else {
    xd = take(HW);
    xd.set(x.data);
  }
  const xWide = xd !== x.data;
  const tmp = take(HW);
  runRows(rowsJob(H_CLAMP, xd, tmp, H, W, k, R), lanes);
  // with lanes installed the output goes to shared memory, for the next op's lanes
  const out = allocOut(x.dtype, HW, lanesInstalled());
  if (out instanceof Float64Array && (!lanes || allShared(out))) runRows(rowsJob(V_CLAMP, tmp, out, H, W, k, R), lanes);
  else {
    const res = take(HW);
    runRows(rowsJob(V_CLAMP, tmp, res, H, W, k, R), lanes);
    out.set(res);
    giveF64(res);
  }
  const rec = record('gaussianBlur', new Tensor(out, x.shape), [x, sigma], releasingBackward('gaussianBlur', (g: Tensor) => blurBackward(g, x, sigma, sRaw, xd, xWide, tmp, kern, H, W, lanes)));
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
