/**
 * Soft rasterizer (SoftRas / PyTorch3D softmax_rgb_blend style) as ONE custom autodiff op over
 * raw typed arrays, forward and hand-written backward side by side.
 *
 * Inputs: projected vertices [V, 3] = (px, py, z) in pixels (z = height above the stage, larger is
 * nearer the camera; see camera.ts), faces (vertex-index triples), per-vertex attributes [V, C].
 * Output [C + 1, H, W]: C blended attribute channels, then the soft silhouette alpha.
 *
 * Per face f and pixel centre p (integer + 0.5):
 *   d2   = squared distance from p to the triangle's boundary (pixels^2), sign s = +1 inside
 *   D_f  = sigmoid(s * d2 / sigma)                       coverage probability
 *   w_i  = max(S u_i, 0) / sum_j max(S u_j, 0)           clipped barycentrics (u_i the edge
 *          functions, S = sign of the doubled area; no division by the area anywhere)
 *   z_f  = sum w_i z_i,  A_fc = sum w_i a_ic
 *   e_f  = D_f exp((z_f - m) / gamma),  e_bg = exp((bgDepth - m) / gamma)
 *          (m = max(bgDepth, max_f z_f) over faces reaching the pixel: it cancels exactly in
 *          the ratio below and is found by a first pass over the fragments, so it has no gradient)
 *   out_c = (sum_f e_f A_fc + e_bg bg_c) / (sum_f e_f + e_bg)
 *   alpha = 1 - prod_f (1 - D_f)
 * sigma, gamma -> 0 gives the hard z-buffer image (nearest face by height, exact coverage).
 *
 * Work per face is bounded by its bounding box grown by the coverage support
 * sqrt(sigma * ln((1 - cutoff) / cutoff)) pixels, and within each row of that box by the span
 * where all three signed edge-line distances are >= -support (the triangle grown by the
 * support); pixels where D_f < cutoff (default 1e-4) are cut (a jump of at most `cutoff` in D,
 * documented). Guards (no NaN / Inf):
 *  - |doubled area| < AREA_EPS (1e-10 px^2) or non-finite: the face is skipped (degenerate /
 *    edge-on faces have no area to cover; neighbours cover their edges);
 *  - zero-length edges cannot occur on a face with area; the 1 / length floor stays as a guard;
 *  - barycentric sum R >= |area| > AREA_EPS for every pixel, so w_i is finite;
 *  - alpha = 1 - prod_f (1 - D_f) is kept as the product P of the nonzero factors and a count
 *    of exact zeros; its gradient prod_{g != f}(1 - D_g) is P / (1 - D_f) only when no factor
 *    is zero (P contains 1 - D_f, so the ratio is <= 1 and never 0 / 0), P when the only zero
 *    is f's own factor, else 0 (an underflowing P gives 0, never NaN);
 *  - sigmoid and 1 - sigmoid are evaluated in their stable forms.
 * Backface culling (optional, default on): faces with negative doubled area in image space (the
 * far side of closed outward-oriented meshes) are skipped.
 *
 * Implementation (the speed matters: one 256 x 256 image of 15k triangles per GAN step):
 *  - one setup pass writes every surviving face's edge equations, 1 / edge lengths and clipped
 *    bounding box into a flat Float64Array table (FS numbers per face), shared by forward and
 *    backward;
 *  - pixels are visited face-major (a face's pixels are contiguous in memory and its vertex
 *    data stays in registers); the edge functions are evaluated directly at the first pixel of
 *    each row span and then incrementally (+= du per pixel);
 *  - an outside pixel only measures its distance to the edges whose lines it lies outside of
 *    (the nearest boundary point of a convex polygon is on one of them);
 *  - the geometry pass is the only one that walks boxes and spans: it stores every fragment
 *    (pixel, coverage logit, clipped barycentrics, height, nearest edge and its parameter t;
 *    FR numbers, face-major) and the softmax stabiliser m per pixel; the accumulation pass then
 *    streams the stored fragments against the final m (no online rescaling, no rescale exps)
 *    and writes (D, 1 - D, exp((z - m) / gamma)) back into each record; the backward streams
 *    the same records and evaluates no exp / log and no distance at all (it accumulates the
 *    vertex gradients of a face in locals and skips the vertex / attribute halves when that
 *    input needs no gradient);
 *  - per-pixel state is one record of C + 4 numbers per pixel (S, P, NZ, N_c; the backward's
 *    g_c / S, ... likewise), so a fragment touches one place; the stabiliser m and a "some
 *    fragment reached this pixel" flag are dense per-pixel arrays (the geometry pass's scattered
 *    max stays in cache), and the records are only written for reached pixels (the rest of the
 *    image, mostly background, gets the background's output directly); all work arrays come from a scratch pool and go back after the
 *    backward (or at once when no gradient is recorded);
 *  - bands: the forward and the backward are written per band of image rows (forwardBand,
 *    backwardBand: every pixel belongs to one band; a face crossing a band border is clipped to
 *    each band's rows). With a RasterLanes runner installed (setRasterLanes; under Node
 *    src/node/raster-pool.ts, worker threads over shared memory) the bands run concurrently,
 *    split where the summed widths of the face boxes per row balance; a lane's vertex /
 *    attribute gradients are summed after. Without one there is one band on the calling thread.
 * Binning: with face-major scatter and per-face row spans no per-pixel face lists are built, so
 * a tile-binning pass (needed by pixel-major GPU rasterizers) would only add work here.
 * A naive per-pixel-per-face reference lives in test/render/soft-naive.ts; the property test
 * test/render/soft-fast.test.ts checks this implementation against it (values and gradients),
 * test/render/raster-lanes.test.ts the multi-lane runs against the single-thread one.
 */
import { record } from '../../autodiff/tape.js';
import { Tensor, allocData } from '../../autodiff/tensor.js';
import { takeF64Dirty, takeF64Shared, giveF64, releasingBackward } from '../scratch.js';
import { noteLaneFailure, rasterLanes, lanesInstalled, type RasterLanes } from '../lanes/lanes.js';
import { allocOut, copyShared } from '../lanes/shared.js';

export const AREA_EPS = 1e-10;

export interface SoftRasterOptions {
  width: number;
  height: number;
  /** Coverage sharpness in pixels^2. */
  sigma: number;
  /** Depth-softmax temperature in scene units (pixels of height). */
  gamma: number;
  /** Background attribute values (length C; default zeros). */
  background?: ArrayLike<number>;
  /** Height of the background term (default 0, the stage). */
  bgDepth?: number;
  /** Coverage below this is cut (default 1e-4). */
  cutoff?: number;
  /** Skip faces turned away from the camera (default true). */
  cullBackfaces?: boolean;
}

/** Support radius (pixels) beyond a triangle's edges where coverage is still >= cutoff. */
export function coverageSupport(sigma: number, cutoff = 1e-4): number {
  return Math.sqrt(Math.max(0, sigma * Math.log((1 - cutoff) / cutoff)));
}

/**
 * Face table layout (FS numbers per surviving face):
 * 0..5 x0 y0 x1 y1 x2 y2, 6 S (sign of the doubled area), 7..9 1 / |edge k| (edge k opposite
 * vertex k), 10..13 pixel box i0 i1 j0 j1 (inclusive), 14 face index.
 */
const FS = 15;

/**
 * |(dx, dy)| as sqrt(dx^2 + dy^2), with Math.hypot only where the squares would overflow or
 * underflow: V8's Math.hypot allocates on every call (about 1 MB of garbage per render of 15k
 * faces, several young-generation collections).
 */
function edgeLength(dx: number, dy: number): number {
  const l2 = dx * dx + dy * dy;
  return l2 > 1e-290 && l2 < 1e290 ? Math.sqrt(l2) : Math.hypot(dx, dy);
}

/** Writes the table; returns the number of surviving faces. */
function setupFaces(V: ArrayLike<number>, faces: Uint32Array, W: number, H: number, support: number, cull: boolean, geo: Float64Array): number {
  const nf = faces.length / 3;
  let n = 0;
  for (let f = 0; f < nf; f++) {
    const a = 3 * faces[3 * f], b = 3 * faces[3 * f + 1], c = 3 * faces[3 * f + 2];
    const x0 = V[a], y0 = V[a + 1], x1 = V[b], y1 = V[b + 1], x2 = V[c], y2 = V[c + 1];
    const area2 = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0);
    const aa = Math.abs(area2);
    if (!(aa >= AREA_EPS) || aa === Infinity) continue; // also skips NaN
    if (cull && area2 < 0) continue;
    const xmin = (x0 < x1 ? (x0 < x2 ? x0 : x2) : x1 < x2 ? x1 : x2) - support;
    const xmax = (x0 > x1 ? (x0 > x2 ? x0 : x2) : x1 > x2 ? x1 : x2) + support;
    const ymin = (y0 < y1 ? (y0 < y2 ? y0 : y2) : y1 < y2 ? y1 : y2) - support;
    const ymax = (y0 > y1 ? (y0 > y2 ? y0 : y2) : y1 > y2 ? y1 : y2) + support;
    const i0 = Math.max(0, Math.ceil(xmin - 0.5)), i1 = Math.min(W - 1, Math.floor(xmax - 0.5));
    const j0 = Math.max(0, Math.ceil(ymin - 0.5)), j1 = Math.min(H - 1, Math.floor(ymax - 0.5));
    if (i0 > i1 || j0 > j1) continue;
    const o = n * FS;
    geo[o] = x0; geo[o + 1] = y0; geo[o + 2] = x1; geo[o + 3] = y1; geo[o + 4] = x2; geo[o + 5] = y2;
    geo[o + 6] = area2 > 0 ? 1 : -1;
    geo[o + 7] = 1 / Math.max(edgeLength(x2 - x1, y2 - y1), 1e-15);
    geo[o + 8] = 1 / Math.max(edgeLength(x0 - x2, y0 - y2), 1e-15);
    geo[o + 9] = 1 / Math.max(edgeLength(x1 - x0, y1 - y0), 1e-15);
    geo[o + 10] = i0; geo[o + 11] = i1; geo[o + 12] = j0; geo[o + 13] = j1;
    geo[o + 14] = f;
    n++;
  }
  return n;
}

/**
 * Fragment record (FR numbers per fragment), written by the geometry pass in face-major order:
 * 0 pixel index, 1 code = nearest edge k (0..2), + 3 when the pixel is outside the triangle,
 * 2 the coverage logit x = s d2 / sigma (the accumulation replaces it by 1 - D),
 * 3 z_f (replaced by exp((z_f - M) / gamma)), 4..6 clipped barycentrics w0..w2,
 * 7 t of the nearest point q = a + t (b - a) on the nearest edge, 8 S / R (0 when R = 0), 9 D.
 */
const FR = 10;

/**
 * One lane's share of the forward: the image rows [rowLo, rowHi) (a band; every pixel state
 * below is full-image sized and the lane touches only its band, so lanes never write the same
 * element). Plain data only (typed arrays and numbers), so that it can be posted to a worker.
 */
export interface ForwardJob {
  FS: number; FR: number;
  V: Float64Array; faces: Uint32Array; A: Float64Array; geo: Float64Array; nAct: number;
  C: number; W: number; rowLo: number; rowHi: number;
  support: number; invSigma: number; invGamma: number; logitCut: number; bgz: number; bg: Float64Array;
  /**
   * Per-pixel state, one record of C + 4 numbers per pixel (one or two cache lines, so that a
   * fragment touches one place): 0 unused, 1 sum S, 2 product P of the nonzero 1 - D,
   * 3 count NZ of exact zeros, 4.. numerators N_c. Written only for pixels some fragment
   * reached (hit); the others' outputs are the background's.
   */
  PX: Float64Array;
  /**
   * Per pixel (dense, so that the geometry pass's scattered updates stay in cache): the softmax
   * stabiliser M = max(bgDepth, max_f z_f), and hit = 1 where a fragment was stored, else 0.
   */
  Mz: Float64Array; hit: Float64Array;
  /** Output [C + 1, H, W] channel-major (float64). */
  out: Float64Array;
  /** This lane's fragment records and, per face q, its range [range[2q], range[2q + 1]). */
  frag: Float64Array; range: Float64Array;
}

/** One lane's share of the backward (same band and fragments as its forward). */
export interface BackwardJob {
  FS: number; FR: number;
  V: Float64Array; faces: Uint32Array; A: Float64Array; geo: Float64Array; nAct: number;
  C: number; W: number; rowLo: number; rowHi: number; invSigma: number; invGamma: number;
  PX: Float64Array; out: Float64Array; frag: Float64Array; range: Float64Array;
  /** The forward's per-pixel hit flags (pixels without a fragment have no record and need none here). */
  hit: Float64Array;
  /**
   * Output gradient [C + 1, H, W] channel-major; per-pixel work records of C + 4 numbers:
   * 0 gd = (sum_c g_c out_c) / S, 1 ga = g_alpha, 2 P, 3 NZ, 4.. gs_c = g_c / S.
   */
  G: Float64Array; BX: Float64Array;
  /** This lane's gradient accumulators (zeroed here; the caller sums the lanes). */
  gV: Float64Array | null; gA: Float64Array | null;
}

/**
 * Forward of one band, in two passes. Geometry pass: walks every face's pixel box rows (clipped
 * to the band) and row spans, finds each fragment (face, pixel with D >= cutoff), its coverage
 * logit, clipped barycentrics, height and nearest boundary point, stores them and the softmax
 * stabiliser M[p] = max(bgDepth, max_f z_f). Accumulation pass (M known): e_f = D_f exp((z_f -
 * M) / gamma) into the sums (no online rescaling), keeping (1 - D, E, D) in the record for the
 * backward. Then out_c = N_c / S and alpha = NZ > 0 ? 1 : 1 - P for the band.
 * Returns the number of fragments, or -(the number needed) when `frag` is too small (nothing
 * but M, P, NZ of the band is written then; a rerun with a larger store starts afresh).
 * Self-contained (no free identifiers but globals): a worker thread evaluates its source.
 */
export function forwardBand(job: ForwardJob): number {
  const { FS, FR, V, faces, A, geo, nAct, C, W, rowLo, rowHi, support, invSigma, invGamma, logitCut, bgz, bg, PX, Mz, hit, out, frag, range } = job;
  const PS = C + 4;
  const p0 = rowLo * W, p1 = rowHi * W;
  Mz.fill(bgz, p0, p1);
  hit.fill(0, p0, p1);
  const cap = frag.length;
  const ms = -support;
  // ---------------------------------------------------------------------------- geometry pass
  let nb = 0; // numbers written (or needed)
  for (let q = 0; q < nAct; q++) {
    const o = q * FS;
    range[2 * q] = nb / FR;
    const jb0 = geo[o + 12], jb1 = geo[o + 13];
    const j0 = jb0 > rowLo ? jb0 : rowLo, j1 = jb1 < rowHi - 1 ? jb1 : rowHi - 1;
    if (j0 > j1) { range[2 * q + 1] = nb / FR; continue; }
    const x0 = geo[o], y0 = geo[o + 1], x1 = geo[o + 2], y1 = geo[o + 3], x2 = geo[o + 4], y2 = geo[o + 5];
    const S = geo[o + 6], il0 = geo[o + 7], il1 = geo[o + 8], il2 = geo[o + 9];
    const i0 = geo[o + 10], i1 = geo[o + 11];
    const f = geo[o + 14];
    const za = V[3 * faces[3 * f] + 2], zb = V[3 * faces[3 * f + 1] + 2], zc = V[3 * faces[3 * f + 2] + 2];
    const du0 = S * (y1 - y2), du1 = S * (y2 - y0), du2 = S * (y0 - y1);
    const dl0 = du0 * il0, dl1 = du1 * il1, dl2 = du2 * il2;
    const e0x = x2 - x1, e0y = y2 - y1, e1x = x0 - x2, e1y = y0 - y2, e2x = x1 - x0, e2y = y1 - y0;
    const ie0 = il0 * il0, ie1 = il1 * il1, ie2 = il2 * il2;
    for (let j = j0; j <= j1; j++) {
      const py = j + 0.5;
      let px = i0 + 0.5;
      let u0 = S * ((x1 - px) * (y2 - py) - (y1 - py) * (x2 - px));
      let u1 = S * ((x2 - px) * (y0 - py) - (y2 - py) * (x0 - px));
      let u2 = S * ((x0 - px) * (y1 - py) - (y0 - py) * (x1 - px));
      // Row span: the pixels whose three signed edge-line distances l_k(i) = l_k(i0) + dl_k (i -
      // i0) are all >= -support, widened by one pixel each side (the per-pixel test does the
      // exact rejection; the widening absorbs rounding).
      let lo = i0, hi = i1;
      const l00 = u0 * il0, l10 = u1 * il1, l20 = u2 * il2;
      if (dl0 > 0) { const t = i0 + Math.ceil((ms - l00) / dl0) - 1; if (t > lo) lo = t; } else if (dl0 < 0) { const t = i0 + Math.floor((ms - l00) / dl0) + 1; if (t < hi) hi = t; } else if (l00 < ms) hi = lo - 1;
      if (dl1 > 0) { const t = i0 + Math.ceil((ms - l10) / dl1) - 1; if (t > lo) lo = t; } else if (dl1 < 0) { const t = i0 + Math.floor((ms - l10) / dl1) + 1; if (t < hi) hi = t; } else if (l10 < ms) hi = lo - 1;
      if (dl2 > 0) { const t = i0 + Math.ceil((ms - l20) / dl2) - 1; if (t > lo) lo = t; } else if (dl2 < 0) { const t = i0 + Math.floor((ms - l20) / dl2) + 1; if (t < hi) hi = t; } else if (l20 < ms) hi = lo - 1;
      if (lo > hi) continue;
      px = lo + 0.5;
      u0 = S * ((x1 - px) * (y2 - py) - (y1 - py) * (x2 - px));
      u1 = S * ((x2 - px) * (y0 - py) - (y2 - py) * (x0 - px));
      u2 = S * ((x0 - px) * (y1 - py) - (y0 - py) * (x1 - px));
      const row = j * W;
      for (let i = lo; i <= hi; i++, px += 1, u0 += du0, u1 += du1, u2 += du2) {
        const l0 = u0 * il0, l1 = u1 * il1, l2 = u2 * il2;
        let x: number, code: number, t: number;
        if (l0 >= 0 && l1 >= 0 && l2 >= 0) {
          let dl = l0;
          code = 0;
          if (l1 < dl) { dl = l1; code = 1; }
          if (l2 < dl) { dl = l2; code = 2; }
          x = dl * dl * invSigma;
          if (code === 0) t = ((px - x1) * e0x + (py - y1) * e0y) * ie0;
          else if (code === 1) t = ((px - x2) * e1x + (py - y2) * e1y) * ie1;
          else t = ((px - x0) * e2x + (py - y0) * e2y) * ie2;
          t = t < 0 ? 0 : t > 1 ? 1 : t;
        } else {
          if (l0 < ms || l1 < ms || l2 < ms) continue;
          // the nearest boundary point of a convex polygon lies on an edge whose line p is outside of
          let d2 = Infinity;
          code = 3;
          t = 0;
          if (l0 < 0) {
            let tt = ((px - x1) * e0x + (py - y1) * e0y) * ie0;
            tt = tt < 0 ? 0 : tt > 1 ? 1 : tt;
            const dx = px - x1 - tt * e0x, dy = py - y1 - tt * e0y;
            d2 = dx * dx + dy * dy;
            t = tt;
          }
          if (l1 < 0) {
            let tt = ((px - x2) * e1x + (py - y2) * e1y) * ie1;
            tt = tt < 0 ? 0 : tt > 1 ? 1 : tt;
            const dx = px - x2 - tt * e1x, dy = py - y2 - tt * e1y;
            const dd = dx * dx + dy * dy;
            if (dd < d2) { d2 = dd; code = 4; t = tt; }
          }
          if (l2 < 0) {
            let tt = ((px - x0) * e2x + (py - y0) * e2y) * ie2;
            tt = tt < 0 ? 0 : tt > 1 ? 1 : tt;
            const dx = px - x0 - tt * e2x, dy = py - y0 - tt * e2y;
            const dd = dx * dx + dy * dy;
            if (dd < d2) { d2 = dd; code = 5; t = tt; }
          }
          x = -d2 * invSigma;
          if (x < logitCut) continue;
        }
        const r0 = u0 > 0 ? u0 : 0, r1 = u1 > 0 ? u1 : 0, r2 = u2 > 0 ? u2 : 0;
        const R = r0 + r1 + r2;
        let w0 = 1 / 3, w1 = 1 / 3, w2 = 1 / 3, sR = 0; // R > 0 for non-degenerate faces; kept finite
        if (R > 0) {
          const iR = 1 / R;
          w0 = r0 * iR; w1 = r1 * iR; w2 = r2 * iR;
          sR = S * iR;
        }
        const zf = w0 * za + w1 * zb + w2 * zc;
        const pix = row + i;
        if (zf > Mz[pix]) Mz[pix] = zf;
        hit[pix] = 1;
        if (nb + FR <= cap) {
          frag[nb] = pix;
          frag[nb + 1] = code;
          frag[nb + 2] = x;
          frag[nb + 3] = zf;
          frag[nb + 4] = w0;
          frag[nb + 5] = w1;
          frag[nb + 6] = w2;
          frag[nb + 7] = t;
          frag[nb + 8] = sR;
        }
        nb += FR;
      }
    }
    range[2 * q + 1] = nb / FR;
  }
  if (nb > cap) return -(nb / FR);
  // ------------------------------------------------------------------------ accumulation pass
  for (let p = p0; p < p1; p++) {
    if (hit[p] === 0) continue;
    const o = p * PS;
    const m = Mz[p];
    const eb = m > bgz ? Math.exp((bgz - m) * invGamma) : 1;
    PX[o + 1] = eb;
    PX[o + 2] = 1;
    PX[o + 3] = 0;
    for (let c = 0; c < C; c++) PX[o + 4 + c] = eb * bg[c];
  }
  for (let q = 0; q < nAct; q++) {
    const end = range[2 * q + 1] * FR;
    let b = range[2 * q] * FR;
    if (b === end) continue;
    const f = geo[q * FS + 14];
    const ac = faces[3 * f] * C, bc = faces[3 * f + 1] * C, cc = faces[3 * f + 2] * C;
    for (; b < end; b += FR) {
      const pix = frag[b], px = pix * PS;
      const x = frag[b + 2];
      let D: number, omD: number;
      if (x >= 0) {
        const e = Math.exp(-x);
        D = 1 / (1 + e);
        omD = e * D;
      } else {
        const e = Math.exp(x);
        omD = 1 / (1 + e);
        D = e * omD;
      }
      const E = Math.exp((frag[b + 3] - Mz[pix]) * invGamma);
      frag[b + 2] = omD;
      frag[b + 3] = E;
      frag[b + 9] = D;
      const w0 = frag[b + 4], w1 = frag[b + 5], w2 = frag[b + 6];
      const e = D * E;
      PX[px + 1] += e;
      if (omD === 0) PX[px + 3] += 1;
      else PX[px + 2] *= omD;
      const pn = px + 4;
      if (C === 4) {
        const e0 = e * w0, e1 = e * w1, e2 = e * w2;
        PX[pn] += e0 * A[ac] + e1 * A[bc] + e2 * A[cc];
        PX[pn + 1] += e0 * A[ac + 1] + e1 * A[bc + 1] + e2 * A[cc + 1];
        PX[pn + 2] += e0 * A[ac + 2] + e1 * A[bc + 2] + e2 * A[cc + 2];
        PX[pn + 3] += e0 * A[ac + 3] + e1 * A[bc + 3] + e2 * A[cc + 3];
      } else for (let k = 0; k < C; k++) PX[pn + k] += e * (w0 * A[ac + k] + w1 * A[bc + k] + w2 * A[cc + k]);
    }
  }
  // out_c = N_c / S (channel-major), alpha = NZ > 0 ? 1 : 1 - P; a pixel no fragment reached
  // has S = 1, N_c = bg_c, P = 1: the background, alpha 0
  const HW = PX.length / PS;
  for (let p = p0; p < p1; p++) {
    if (hit[p] === 0) {
      for (let c = 0; c < C; c++) out[c * HW + p] = bg[c];
      out[C * HW + p] = 0;
      continue;
    }
    const o = p * PS;
    const is = 1 / PX[o + 1];
    for (let c = 0; c < C; c++) out[c * HW + p] = PX[o + 4 + c] * is;
    out[C * HW + p] = PX[o + 3] > 0 ? 1 : 1 - PX[o + 2];
  }
  return nb / FR;
}

/**
 * Backward of one band over its stored fragments: per pixel gs_c = g_c / S (pixel-major),
 * gd = (sum_c g_c out_c) / S, ga = g_alpha; then the vertex (gV) and attribute (gA) gradients
 * of every fragment, a face's vertex gradients summed in locals. Self-contained like
 * forwardBand.
 */
export function backwardBand(job: BackwardJob): void {
  const { FS, FR, V, faces, A, geo, nAct, C, W, rowLo, rowHi, invSigma, invGamma, PX, out, frag, range, hit, G, BX, gV, gA } = job;
  const PS = C + 4;
  const HW = PX.length / PS;
  for (let p = rowLo * W, p1 = rowHi * W; p < p1; p++) {
    const o = p * PS;
    // a pixel no fragment reached: no fragment reads its record (most of the background)
    if (hit[p] === 0) continue;
    const is = 1 / PX[o + 1];
    let dot = 0;
    for (let c = 0; c < C; c++) {
      const g = G[c * HW + p];
      BX[o + 4 + c] = g * is;
      dot += g * out[c * HW + p];
    }
    BX[o] = dot * is;
    BX[o + 1] = G[C * HW + p];
    BX[o + 2] = PX[o + 2];
    BX[o + 3] = PX[o + 3];
  }
  if (gV) gV.fill(0);
  if (gA) gA.fill(0);
  for (let q = 0; q < nAct; q++) {
    const end = range[2 * q + 1] * FR;
    let b = range[2 * q] * FR;
    if (b === end) continue;
    const o = q * FS;
    const x0 = geo[o], y0 = geo[o + 1], x1 = geo[o + 2], y1 = geo[o + 3], x2 = geo[o + 4], y2 = geo[o + 5];
    const f = geo[o + 14];
    const ia = faces[3 * f], ib = faces[3 * f + 1], ic = faces[3 * f + 2];
    const za = V[3 * ia + 2], zb = V[3 * ib + 2], zc = V[3 * ic + 2];
    const ac = ia * C, bc = ib * C, cc = ic * C;
    const e0x = x2 - x1, e0y = y2 - y1, e1x = x0 - x2, e1y = y0 - y2, e2x = x1 - x0, e2y = y1 - y0;
    // vertex gradient accumulators of this face
    let gx0 = 0, gy0 = 0, gz0 = 0, gx1 = 0, gy1 = 0, gz1 = 0, gx2 = 0, gy2 = 0, gz2 = 0;
    for (; b < end; b += FR) {
      const pix = frag[b];
      const omD = frag[b + 2], E = frag[b + 3], w0 = frag[b + 4], w1 = frag[b + 5], w2 = frag[b + 6], D = frag[b + 9];
      const po = pix * PS, pc = po + 4;
      const e = D * E;
      // ge = d out / d e_f contracted with g (already divided by S); sa_k = sum_c gs_c a_kc
      let sa0 = 0, sa1 = 0, sa2 = 0;
      if (C === 4) {
        const g0 = BX[pc], g1 = BX[pc + 1], g2 = BX[pc + 2], g3 = BX[pc + 3];
        sa0 = g0 * A[ac] + g1 * A[ac + 1] + g2 * A[ac + 2] + g3 * A[ac + 3];
        sa1 = g0 * A[bc] + g1 * A[bc + 1] + g2 * A[bc + 2] + g3 * A[bc + 3];
        sa2 = g0 * A[cc] + g1 * A[cc + 1] + g2 * A[cc + 2] + g3 * A[cc + 3];
      } else {
        for (let k = 0; k < C; k++) {
          const g = BX[pc + k];
          sa0 += g * A[ac + k];
          sa1 += g * A[bc + k];
          sa2 += g * A[cc + k];
        }
      }
      if (gA) {
        for (let k = 0; k < C; k++) {
          const g = BX[pc + k] * e;
          gA[ac + k] += g * w0;
          gA[bc + k] += g * w1;
          gA[cc + k] += g * w2;
        }
      }
      if (!gV) continue;
      const ge = w0 * sa0 + w1 * sa1 + w2 * sa2 - BX[po];
      // d alpha / d D_f = prod_{g != f} (1 - D_g)
      // (P = product of the nonzero (1 - D_g), NZ = count of exact zeros; P contains 1 - D_f
      // when that is nonzero, so the ratio is <= 1 and never 0 / 0)
      const nz = BX[po + 3];
      const dAlpha = nz === 0 ? BX[po + 2] / omD : nz === 1 && omD === 0 ? BX[po + 2] : 0;
      const gD = ge * E + BX[po + 1] * dAlpha;
      const gz = ge * e * invGamma;
      gz0 += gz * w0;
      gz1 += gz * w1;
      gz2 += gz * w2;
      const gxx = gD * D * omD;
      const sR = frag[b + 8];
      if (sR === 0 && gxx === 0) continue;
      const j = ((pix + 0.5) / W) | 0; // row (exact: no float modulo)
      const px = pix - j * W + 0.5, py = j + 0.5;
      if (sR !== 0) {
        // gradients of the clipped barycentric weights, then of the edge functions
        // (w_k > 0 exactly where the clipped edge function r_k > 0)
        const gw0 = gz * za + e * sa0, gw1 = gz * zb + e * sa1, gw2 = gz * zc + e * sa2;
        const mean = gw0 * w0 + gw1 * w1 + gw2 * w2;
        const gu0 = w0 > 0 ? (gw0 - mean) * sR : 0;
        const gu1 = w1 > 0 ? (gw1 - mean) * sR : 0;
        const gu2 = w2 > 0 ? (gw2 - mean) * sR : 0;
        // u0 = cross(v1 - p, v2 - p): d/dv1 = (v2y - py, -(v2x - px)), d/dv2 = (-(v1y - py), v1x - px)
        const ax = x0 - px, ay = y0 - py, bx = x1 - px, by = y1 - py, cx = x2 - px, cy = y2 - py;
        gx1 += gu0 * cy - gu2 * ay;
        gy1 += -gu0 * cx + gu2 * ax;
        gx2 += -gu0 * by + gu1 * ay;
        gy2 += gu0 * bx - gu1 * ax;
        gx0 += -gu1 * cy + gu2 * by;
        gy0 += gu1 * cx - gu2 * bx;
      }
      // coverage: D = sigmoid(s d2 / sigma), d2 = |p - q|^2 with q on the nearest edge
      if (gxx !== 0) {
        const code = frag[b + 1];
        const t = frag[b + 7];
        const gd2 = (code < 3 ? gxx : -gxx) * invSigma;
        const edge = code < 3 ? code : code - 3;
        // edge k runs from vertex k+1 to vertex k+2; envelope theorem: dq/da = 1 - t, dq/db = t
        let qx: number, qy: number;
        if (edge === 0) { qx = x1 + t * e0x; qy = y1 + t * e0y; }
        else if (edge === 1) { qx = x2 + t * e1x; qy = y2 + t * e1y; }
        else { qx = x0 + t * e2x; qy = y0 + t * e2y; }
        const hx = -2 * (px - qx) * gd2, hy = -2 * (py - qy) * gd2;
        const ha = 1 - t;
        if (edge === 0) { gx1 += hx * ha; gy1 += hy * ha; gx2 += hx * t; gy2 += hy * t; }
        else if (edge === 1) { gx2 += hx * ha; gy2 += hy * ha; gx0 += hx * t; gy0 += hy * t; }
        else { gx0 += hx * ha; gy0 += hy * ha; gx1 += hx * t; gy1 += hy * t; }
      }
    }
    if (gV) {
      gV[3 * ia] += gx0; gV[3 * ia + 1] += gy0; gV[3 * ia + 2] += gz0;
      gV[3 * ib] += gx1; gV[3 * ib + 1] += gy1; gV[3 * ib + 2] += gz1;
      gV[3 * ic] += gx2; gV[3 * ic + 1] += gy2; gV[3 * ic + 2] += gz2;
    }
  }
}

/** The band kernels a worker evaluates (self-contained functions: their source is posted). */
export const RASTER_KERNELS = { forwardBand, backwardBand } as const;

/**
 * Row bands [b[k], b[k + 1]) with about equal work: the weight of a row is the summed width of
 * the face boxes that cover it (the pixels the geometry pass may visit there).
 */
function splitRows(geo: Float64Array, nAct: number, H: number, lanes: number): number[] {
  const w = new Float64Array(H + 1);
  for (let q = 0; q < nAct; q++) {
    const o = q * FS;
    const width = geo[o + 11] - geo[o + 10] + 1;
    w[geo[o + 12]] += width;
    w[geo[o + 13] + 1] -= width;
  }
  let total = 0, run = 0;
  for (let j = 0; j < H; j++) total += (run += w[j]) + 1; // + 1: the per-pixel passes of every row
  const bands = [0];
  let acc = 0;
  run = 0;
  for (let j = 0, k = 1; j < H && k < lanes; j++) {
    acc += (run += w[j]) + 1;
    if (acc >= (total * k) / lanes) {
      bands.push(j + 1);
      k++;
    }
  }
  while (bands.length < lanes) bands.push(H);
  bands.push(H);
  return bands;
}

/** Fragment store capacity per lane (numbers): the largest needed so far, so pools reuse it. */
let fragCap = FR << 15;

/**
 * Work-array length for n numbers: rounded up to 2^k (1 + m / 8), so that scenes with slightly
 * different vertex / face counts share the scratch pool's buffers instead of each leaving its
 * own exact size behind in it.
 */
function bucket(n: number): number {
  if (n <= 64) return 64;
  const step = 2 ** (Math.floor(Math.log2(n)) - 3);
  return Math.ceil(n / step) * step;
}

/** Runs the jobs on the lanes, or on this thread when there is one lane or the pool fails. */
function runLanes(runner: RasterLanes | null, kernel: keyof typeof RASTER_KERNELS, jobs: (ForwardJob | BackwardJob)[]): number[] {
  if (runner && jobs.length > 1) {
    try {
      return runner.run(kernel, jobs);
    } catch (e) {
      // a failed lane (its pool retires the workers): every band job is rerunnable from its
      // inputs, so the calling thread redoes all of them
      noteLaneFailure(e);
    }
  }
  return jobs.map((j) => (kernel === 'forwardBand' ? forwardBand(j as ForwardJob) : (backwardBand(j as BackwardJob), 0)));
}

export function softRasterize(verts: Tensor, faces: Uint32Array, attrs: Tensor, opts: SoftRasterOptions): Tensor {
  const W = opts.width, H = opts.height, HW = W * H;
  if (verts.ndim !== 2 || verts.shape[1] !== 3) throw new Error(`softRasterize: verts must be [V, 3], got [${verts.shape}]`);
  const nv = verts.shape[0];
  if (attrs.ndim !== 2 || attrs.shape[0] !== nv) throw new Error(`softRasterize: attrs must be [${nv}, C], got [${attrs.shape}]`);
  if (faces.length % 3 !== 0) throw new Error('softRasterize: faces length must be a multiple of 3');
  for (let i = 0; i < faces.length; i++) if (faces[i] >= nv) throw new Error(`softRasterize: face index ${faces[i]} out of range`);
  if (!(opts.sigma > 0) || !(opts.gamma > 0)) throw new Error('softRasterize: sigma and gamma must be > 0');
  const C = attrs.shape[1];
  const sigma = opts.sigma, gamma = opts.gamma;
  const invSigma = Math.min(1 / sigma, 1e300), invGamma = Math.min(1 / gamma, 1e300);
  const cutoff = opts.cutoff ?? 1e-4;
  const logitCut = Math.log(cutoff / (1 - cutoff));
  const support = coverageSupport(sigma, cutoff);
  const cull = opts.cullBackfaces ?? true;
  const bgz = opts.bgDepth ?? 0;

  // Face table first (on this thread): it decides whether the render is worth splitting.
  const geo0 = takeF64Dirty(bucket((faces.length / 3) * FS));
  const nAct = setupFaces(verts.data, faces, W, H, support, cull, geo0);
  const lr = rasterLanes();
  const runner = lr && lr.lanes > 1 && nAct >= (lr.minFaces ?? 256) && HW >= (lr.minPixels ?? 4096) ? lr : null;
  const lanes = runner ? runner.lanes : 1;
  // With lanes, every array a job holds lives in shared memory.
  const take = runner ? takeF64Shared : takeF64Dirty;
  let geo = geo0;
  if (runner) {
    geo = take(geo0.length);
    geo.set(geo0.subarray(0, nAct * FS));
    giveF64(geo0);
  }
  // Float64 copies so that the hot loops see one array type (monomorphic element access).
  const V = take(bucket(verts.size));
  V.set(verts.data);
  const A = take(bucket(attrs.size));
  A.set(attrs.data);
  const F = runner ? copyShared(faces) : faces;
  const bg = runner ? take(C) : new Float64Array(C);
  bg.fill(0);
  if (opts.background) for (let c = 0; c < C; c++) bg[c] = opts.background[c] ?? 0;

  // Per-pixel state (records of C + 4, see ForwardJob.PX) and the float64 output.
  const PX = take((C + 4) * HW);
  const Mz = take(HW), hit = take(HW);
  const outS = take((C + 1) * HW);
  const bands = lanes > 1 ? splitRows(geo, nAct, H, lanes) : [0, H];
  const jobs: ForwardJob[] = [];
  for (let k = 0; k < lanes; k++) {
    jobs.push({
      FS, FR, V, faces: F, A, geo, nAct, C, W, rowLo: bands[k], rowHi: bands[k + 1],
      support, invSigma, invGamma, logitCut, bgz, bg, PX, Mz, hit, out: outS,
      frag: take(fragCap), range: take(bucket((2 * faces.length) / 3)),
    });
  }
  const counts = runLanes(runner, 'forwardBand', jobs);
  for (let k = 0; k < lanes; k++) {
    if (counts[k] >= 0) continue;
    // the lane's store was too small: grow it (and the default) and redo that band here
    giveF64(jobs[k].frag);
    fragCap = Math.max(fragCap, Math.ceil(-counts[k] * 1.25) * FR);
    jobs[k].frag = take(fragCap);
    if (forwardBand(jobs[k]) < 0) throw new Error('softRasterize: fragment store overflow');
  }
  // with lanes installed the raster goes to shared memory, so that the image formation's row
  // kernels can run on the lanes too (src/render/lanes/lanes.ts)
  const out = allocOut(verts.dtype, (C + 1) * HW, lanesInstalled());
  out.set(outS);
  giveF64(bg);
  const result = new Tensor(out, [C + 1, H, W]);
  const release = (): void => {
    giveF64(geo, V, A, PX, Mz, hit, outS);
    for (const j of jobs) giveF64(j.frag, j.range);
  };

  // The fragments are kept for the backward only when a gradient will be recorded.
  const recorded = record('softRasterize', result, [verts, attrs], releasingBackward('softRasterize', (gOut: Tensor) => {
    // --------------------------------------------------------------------------------- backward
    const needV = verts.requiresGrad, needA = attrs.requiresGrad;
    const G = take((C + 1) * HW);
    G.set(gOut.data);
    const BX = take((C + 4) * HW);
    const bjobs: BackwardJob[] = jobs.map((j) => ({
      FS, FR, V, faces: F, A, geo, nAct, C, W, rowLo: j.rowLo, rowHi: j.rowHi, invSigma, invGamma,
      PX, out: outS, frag: j.frag, range: j.range, hit, G, BX,
      gV: needV ? take(bucket(verts.size)) : null, gA: needA ? take(bucket(attrs.size)) : null,
    }));
    runLanes(runner, 'backwardBand', bjobs);
    const collect = (pick: (j: BackwardJob) => Float64Array | null, like: Tensor): Tensor | null => {
      const first = pick(bjobs[0]);
      if (!first) return null;
      const d = allocData(like.dtype, like.size);
      d.set(first.subarray(0, d.length));
      for (let k = 1; k < bjobs.length; k++) {
        const g = pick(bjobs[k])!;
        for (let i = 0; i < d.length; i++) d[i] += g[i];
      }
      return new Tensor(d, like.shape);
    };
    const res = [collect((j) => j.gV, verts), collect((j) => j.gA, attrs)];
    giveF64(G, BX);
    for (const j of bjobs) giveF64(j.gV, j.gA);
    release();
    return res;
  }));
  if (!recorded.node) release();
  return recorded;
}
