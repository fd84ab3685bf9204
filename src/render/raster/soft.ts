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
 *  - per-pixel accumulators are pixel-major (N[p * C + c]) and come from a scratch pool; they are
 *    returned to it after the backward pass (or at once when no gradient is recorded);
 *  - the forward makes two passes over the fragments: the first finds the softmax stabiliser m
 *    per pixel (geometry only, no exp), the second accumulates against the final m (so no
 *    online rescaling and no rescale exps);
 *  - when a gradient will be recorded, the second pass keeps each fragment's
 *    (D, 1 - D, exp((z - m) / gamma)) in visiting order; the backward recomputes the geometry of
 *    each fragment with exactly the same expressions (so it visits exactly the same fragments,
 *    in the same order) and reads those back, so it evaluates no exp / log at all; it
 *    accumulates the vertex gradients of a face in locals and skips the vertex / attribute
 *    halves when that input needs no gradient.
 * Binning: with face-major scatter and per-face row spans no per-pixel face lists are built, so
 * a tile-binning pass (needed by pixel-major GPU rasterizers) would only add work here.
 * A naive per-pixel-per-face reference lives in test/render/soft-naive.ts; the property test
 * test/render/soft-fast.test.ts checks this implementation against it (values and gradients).
 */
import { record, isGradEnabled } from '../../autodiff/tape.js';
import { Tensor, allocData } from '../../autodiff/tensor.js';
import { takeF64, takeF64Dirty, giveF64 } from '../scratch.js';

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
    geo[o + 7] = 1 / Math.max(Math.hypot(x2 - x1, y2 - y1), 1e-15);
    geo[o + 8] = 1 / Math.max(Math.hypot(x0 - x2, y0 - y2), 1e-15);
    geo[o + 9] = 1 / Math.max(Math.hypot(x1 - x0, y1 - y0), 1e-15);
    geo[o + 10] = i0; geo[o + 11] = i1; geo[o + 12] = j0; geo[o + 13] = j1;
    geo[o + 14] = f;
    n++;
  }
  return n;
}

/**
 * Row span: the pixels i in [i0, i1] whose three signed edge-line distances l_k(i) =
 * l_k(i0) + dl_k (i - i0) are all >= -support, widened by one pixel each side (the per-pixel
 * test does the exact rejection; the widening absorbs rounding). Writes SPAN[0..1]; lo > hi
 * means empty.
 */
const SPAN = new Int32Array(2);
function rowSpan(i0: number, i1: number, l0: number, l1: number, l2: number, d0: number, d1: number, d2: number, support: number): void {
  let lo = i0, hi = i1;
  const ms = -support;
  if (d0 > 0) { const t = i0 + Math.ceil((ms - l0) / d0) - 1; if (t > lo) lo = t; } else if (d0 < 0) { const t = i0 + Math.floor((ms - l0) / d0) + 1; if (t < hi) hi = t; } else if (l0 < ms) hi = lo - 1;
  if (d1 > 0) { const t = i0 + Math.ceil((ms - l1) / d1) - 1; if (t > lo) lo = t; } else if (d1 < 0) { const t = i0 + Math.floor((ms - l1) / d1) + 1; if (t < hi) hi = t; } else if (l1 < ms) hi = lo - 1;
  if (d2 > 0) { const t = i0 + Math.ceil((ms - l2) / d2) - 1; if (t > lo) lo = t; } else if (d2 < 0) { const t = i0 + Math.floor((ms - l2) / d2) + 1; if (t < hi) hi = t; } else if (l2 < ms) hi = lo - 1;
  SPAN[0] = lo;
  SPAN[1] = hi;
}

/**
 * Forward, in two passes over the same fragments. Pass 0 (maxOnly) only finds the softmax
 * stabiliser M[p] = max(bgDepth, max_f z_f) (no transcendental functions); pass 1 then
 * accumulates e_f = D_f exp((z_f - M) / gamma) directly against the final M (no online
 * rescaling) into the pixel-major state, and when asked keeps (D, 1 - D, exp((z_f - M) / gamma))
 * per fragment for the backward.
 */
function rasterForward(
  maxOnly: boolean,
  geo: Float64Array, nAct: number, faces: Uint32Array, V: Float64Array, A: Float64Array, C: number, W: number,
  support: number, invSigma: number, invGamma: number, logitCut: number,
  M: Float64Array, Ssum: Float64Array, N: Float64Array, P: Float64Array, NZ: Float64Array,
  frags: FragStore | null,
): void {
  let frag = frags ? frags.buf : null;
  let nfr = 0;
  for (let q = 0; q < nAct; q++) {
    const o = q * FS;
    const x0 = geo[o], y0 = geo[o + 1], x1 = geo[o + 2], y1 = geo[o + 3], x2 = geo[o + 4], y2 = geo[o + 5];
    const S = geo[o + 6], il0 = geo[o + 7], il1 = geo[o + 8], il2 = geo[o + 9];
    const i0 = geo[o + 10], i1 = geo[o + 11], j0 = geo[o + 12], j1 = geo[o + 13];
    const f = geo[o + 14];
    const ia = faces[3 * f], ib = faces[3 * f + 1], ic = faces[3 * f + 2];
    const za = V[3 * ia + 2], zb = V[3 * ib + 2], zc = V[3 * ic + 2];
    const ac = ia * C, bc = ib * C, cc = ic * C;
    const du0 = S * (y1 - y2), du1 = S * (y2 - y0), du2 = S * (y0 - y1);
    const e0x = x2 - x1, e0y = y2 - y1, e1x = x0 - x2, e1y = y0 - y2, e2x = x1 - x0, e2y = y1 - y0;
    const ie0 = il0 * il0, ie1 = il1 * il1, ie2 = il2 * il2;
    for (let j = j0; j <= j1; j++) {
      const py = j + 0.5;
      let px = i0 + 0.5;
      let u0 = S * ((x1 - px) * (y2 - py) - (y1 - py) * (x2 - px));
      let u1 = S * ((x2 - px) * (y0 - py) - (y2 - py) * (x0 - px));
      let u2 = S * ((x0 - px) * (y1 - py) - (y0 - py) * (x1 - px));
      rowSpan(i0, i1, u0 * il0, u1 * il1, u2 * il2, du0 * il0, du1 * il1, du2 * il2, support);
      const lo = SPAN[0], hi = SPAN[1];
      if (lo > hi) continue;
      px = lo + 0.5;
      u0 = S * ((x1 - px) * (y2 - py) - (y1 - py) * (x2 - px));
      u1 = S * ((x2 - px) * (y0 - py) - (y2 - py) * (x0 - px));
      u2 = S * ((x0 - px) * (y1 - py) - (y0 - py) * (x1 - px));
      for (let i = lo; i <= hi; i++, px += 1, u0 += du0, u1 += du1, u2 += du2) {
        const l0 = u0 * il0, l1 = u1 * il1, l2 = u2 * il2;
        let x: number;
        if (l0 >= 0 && l1 >= 0 && l2 >= 0) {
          let dl = l0;
          if (l1 < dl) dl = l1;
          if (l2 < dl) dl = l2;
          x = dl * dl * invSigma;
        } else {
          if (l0 < -support || l1 < -support || l2 < -support) continue;
          let d2 = Infinity;
          if (l0 < 0) {
            let t = ((px - x1) * e0x + (py - y1) * e0y) * ie0;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            const dx = px - x1 - t * e0x, dy = py - y1 - t * e0y;
            d2 = dx * dx + dy * dy;
          }
          if (l1 < 0) {
            let t = ((px - x2) * e1x + (py - y2) * e1y) * ie1;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            const dx = px - x2 - t * e1x, dy = py - y2 - t * e1y;
            const dd = dx * dx + dy * dy;
            if (dd < d2) d2 = dd;
          }
          if (l2 < 0) {
            let t = ((px - x0) * e2x + (py - y0) * e2y) * ie2;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            const dx = px - x0 - t * e2x, dy = py - y0 - t * e2y;
            const dd = dx * dx + dy * dy;
            if (dd < d2) d2 = dd;
          }
          x = -d2 * invSigma;
          if (x < logitCut) continue;
        }
        const r0 = u0 > 0 ? u0 : 0, r1 = u1 > 0 ? u1 : 0, r2 = u2 > 0 ? u2 : 0;
        const R = r0 + r1 + r2;
        let w0 = 1 / 3, w1 = 1 / 3, w2 = 1 / 3; // R > 0 for non-degenerate faces; kept finite
        if (R > 0) {
          const iR = 1 / R;
          w0 = r0 * iR; w1 = r1 * iR; w2 = r2 * iR;
        }
        const zf = w0 * za + w1 * zb + w2 * zc;
        const pix = j * W + i;
        if (maxOnly) {
          if (zf > M[pix]) M[pix] = zf;
          continue;
        }
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
        const E = Math.exp((zf - M[pix]) * invGamma);
        if (frag) {
          if (nfr + 3 > frag.length) {
            const g = new Float64Array(2 * frag.length + 3);
            g.set(frag);
            frag = g;
          }
          frag[nfr] = D;
          frag[nfr + 1] = omD;
          frag[nfr + 2] = E;
          nfr += 3;
        }
        const pc = pix * C;
        const e = D * E;
        Ssum[pix] += e;
        if (C === 4) {
          const e0 = e * w0, e1 = e * w1, e2 = e * w2;
          N[pc] += e0 * A[ac] + e1 * A[bc] + e2 * A[cc];
          N[pc + 1] += e0 * A[ac + 1] + e1 * A[bc + 1] + e2 * A[cc + 1];
          N[pc + 2] += e0 * A[ac + 2] + e1 * A[bc + 2] + e2 * A[cc + 2];
          N[pc + 3] += e0 * A[ac + 3] + e1 * A[bc + 3] + e2 * A[cc + 3];
        } else for (let k = 0; k < C; k++) N[pc + k] += e * (w0 * A[ac + k] + w1 * A[bc + k] + w2 * A[cc + k]);
        if (omD === 0) NZ[pix] += 1;
        else P[pix] *= omD;
      }
    }
  }
  if (frags && frag) {
    frags.buf = frag;
    frags.n = nfr;
    if (frag.length > fragCap) fragCap = frag.length;
  }
}

/** Capacity of the fragment store: the largest needed so far (so the pool can reuse it). */
let fragCap = 3 << 16;

/** Softmax stabiliser known: background term e_bg = exp((bgDepth - M) / gamma) and its numerators. */
function initSums(M: Float64Array, Ssum: Float64Array, N: Float64Array, bg: Float64Array, bgz: number, invGamma: number): void {
  const C = bg.length;
  for (let p = 0; p < M.length; p++) {
    const m = M[p];
    const eb = m > bgz ? Math.exp((bgz - m) * invGamma) : 1;
    Ssum[p] = eb;
    for (let c = 0; c < C; c++) N[p * C + c] = eb * bg[c];
  }
}

/** out_c = N_c / S (channel-major), alpha = NZ > 0 ? 1 : 1 - P. */
function finish(out: Float32Array | Float64Array, N: Float64Array, Ssum: Float64Array, P: Float64Array, NZ: Float64Array, C: number): void {
  const HW = Ssum.length;
  for (let p = 0; p < HW; p++) {
    const is = 1 / Ssum[p];
    for (let c = 0; c < C; c++) out[c * HW + p] = N[p * C + c] * is;
    out[C * HW + p] = NZ[p] > 0 ? 1 : 1 - P[p];
  }
}

/** Per pixel: gs_c = g_c / S (pixel-major), gd = (sum_c g_c out_c) / S, ga = g_alpha. */
function prepareGrad(G: ArrayLike<number>, out: ArrayLike<number>, Ssum: Float64Array, C: number, gs: Float64Array, gd: Float64Array, ga: Float64Array): void {
  const HW = Ssum.length;
  for (let p = 0; p < HW; p++) {
    ga[p] = G[C * HW + p];
    const is = 1 / Ssum[p];
    let dot = 0;
    for (let c = 0; c < C; c++) {
      const g = G[c * HW + p];
      gs[p * C + c] = g * is;
      dot += g * out[c * HW + p];
    }
    gd[p] = dot * is;
  }
}

/** (D, 1 - D, exp((z - M) / gamma)) of every fragment in visiting order, kept for the backward. */
interface FragStore {
  buf: Float64Array;
  n: number;
}

/**
 * Backward: revisits exactly the forward's fragments (same expressions) and accumulates vertex
 * (gV, may be null) and attribute (gA, may be null) gradients. gs = g_c / S pixel-major,
 * gd = (sum_c g_c out_c) / S, ga = g_alpha.
 */
function rasterBackward(
  geo: Float64Array, nAct: number, faces: Uint32Array, V: Float64Array, A: Float64Array, C: number, W: number,
  support: number, invSigma: number, invGamma: number, logitCut: number,
  M: Float64Array, P: Float64Array, NZ: Float64Array, frag: Float64Array,
  gs: Float64Array, gd: Float64Array, ga: Float64Array, gV: Float64Array | null, gA: Float64Array | null,
): void {
  let kf = 0;
  for (let q = 0; q < nAct; q++) {
    const o = q * FS;
    const x0 = geo[o], y0 = geo[o + 1], x1 = geo[o + 2], y1 = geo[o + 3], x2 = geo[o + 4], y2 = geo[o + 5];
    const S = geo[o + 6], il0 = geo[o + 7], il1 = geo[o + 8], il2 = geo[o + 9];
    const i0 = geo[o + 10], i1 = geo[o + 11], j0 = geo[o + 12], j1 = geo[o + 13];
    const f = geo[o + 14];
    const ia = faces[3 * f], ib = faces[3 * f + 1], ic = faces[3 * f + 2];
    const za = V[3 * ia + 2], zb = V[3 * ib + 2], zc = V[3 * ic + 2];
    const ac = ia * C, bc = ib * C, cc = ic * C;
    const du0 = S * (y1 - y2), du1 = S * (y2 - y0), du2 = S * (y0 - y1);
    const e0x = x2 - x1, e0y = y2 - y1, e1x = x0 - x2, e1y = y0 - y2, e2x = x1 - x0, e2y = y1 - y0;
    const ie0 = il0 * il0, ie1 = il1 * il1, ie2 = il2 * il2;
    // vertex gradient accumulators of this face
    let gx0 = 0, gy0 = 0, gz0 = 0, gx1 = 0, gy1 = 0, gz1 = 0, gx2 = 0, gy2 = 0, gz2 = 0;
    for (let j = j0; j <= j1; j++) {
      const py = j + 0.5;
      let px = i0 + 0.5;
      let u0 = S * ((x1 - px) * (y2 - py) - (y1 - py) * (x2 - px));
      let u1 = S * ((x2 - px) * (y0 - py) - (y2 - py) * (x0 - px));
      let u2 = S * ((x0 - px) * (y1 - py) - (y0 - py) * (x1 - px));
      rowSpan(i0, i1, u0 * il0, u1 * il1, u2 * il2, du0 * il0, du1 * il1, du2 * il2, support);
      const lo = SPAN[0], hi = SPAN[1];
      if (lo > hi) continue;
      px = lo + 0.5;
      u0 = S * ((x1 - px) * (y2 - py) - (y1 - py) * (x2 - px));
      u1 = S * ((x2 - px) * (y0 - py) - (y2 - py) * (x0 - px));
      u2 = S * ((x0 - px) * (y1 - py) - (y0 - py) * (x1 - px));
      for (let i = lo; i <= hi; i++, px += 1, u0 += du0, u1 += du1, u2 += du2) {
        const l0 = u0 * il0, l1 = u1 * il1, l2 = u2 * il2;
        let x: number, edge: number, t: number;
        const inside = l0 >= 0 && l1 >= 0 && l2 >= 0;
        if (inside) {
          let dl = l0;
          edge = 0;
          if (l1 < dl) { dl = l1; edge = 1; }
          if (l2 < dl) { dl = l2; edge = 2; }
          x = dl * dl * invSigma;
          if (edge === 0) t = ((px - x1) * e0x + (py - y1) * e0y) * ie0;
          else if (edge === 1) t = ((px - x2) * e1x + (py - y2) * e1y) * ie1;
          else t = ((px - x0) * e2x + (py - y0) * e2y) * ie2;
          t = t < 0 ? 0 : t > 1 ? 1 : t;
        } else {
          if (l0 < -support || l1 < -support || l2 < -support) continue;
          let d2 = Infinity;
          edge = 0;
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
            if (dd < d2) { d2 = dd; edge = 1; t = tt; }
          }
          if (l2 < 0) {
            let tt = ((px - x0) * e2x + (py - y0) * e2y) * ie2;
            tt = tt < 0 ? 0 : tt > 1 ? 1 : tt;
            const dx = px - x0 - tt * e2x, dy = py - y0 - tt * e2y;
            const dd = dx * dx + dy * dy;
            if (dd < d2) { d2 = dd; edge = 2; t = tt; }
          }
          x = -d2 * invSigma;
          if (x < logitCut) continue;
        }
        const D = frag[kf], omD = frag[kf + 1], E = frag[kf + 2];
        kf += 3;
        const r0 = u0 > 0 ? u0 : 0, r1 = u1 > 0 ? u1 : 0, r2 = u2 > 0 ? u2 : 0;
        const R = r0 + r1 + r2;
        let w0 = 1 / 3, w1 = 1 / 3, w2 = 1 / 3;
        if (R > 0) {
          const iR = 1 / R;
          w0 = r0 * iR; w1 = r1 * iR; w2 = r2 * iR;
        }
        const zf = w0 * za + w1 * zb + w2 * zc;
        const pix = j * W + i;
        const pc = pix * C;
        const e = D * E;
        // ge = d out / d e_f contracted with g (already divided by S); gsA_k = sum_c gs_c a_kc
        let sa0 = 0, sa1 = 0, sa2 = 0;
        for (let k = 0; k < C; k++) {
          const g = gs[pc + k];
          sa0 += g * A[ac + k];
          sa1 += g * A[bc + k];
          sa2 += g * A[cc + k];
        }
        if (gA) {
          for (let k = 0; k < C; k++) {
            const g = gs[pc + k] * e;
            gA[ac + k] += g * w0;
            gA[bc + k] += g * w1;
            gA[cc + k] += g * w2;
          }
        }
        if (!gV) continue;
        const ge = w0 * sa0 + w1 * sa1 + w2 * sa2 - gd[pix];
        // d alpha / d D_f = prod_{g != f} (1 - D_g)
        // (P = product of the nonzero (1 - D_g), NZ = count of exact zeros; P contains 1 - D_f
        // when that is nonzero, so the ratio is <= 1 and never 0 / 0)
        const nz = NZ[pix];
        const dAlpha = nz === 0 ? P[pix] / omD : nz === 1 && omD === 0 ? P[pix] : 0;
        const gD = ge * E + ga[pix] * dAlpha;
        const gz = ge * e * invGamma;
        gz0 += gz * w0;
        gz1 += gz * w1;
        gz2 += gz * w2;
        if (R > 0) {
          // gradients of the clipped barycentric weights, then of the edge functions
          const gw0 = gz * za + e * sa0, gw1 = gz * zb + e * sa1, gw2 = gz * zc + e * sa2;
          const mean = gw0 * w0 + gw1 * w1 + gw2 * w2;
          const sR = S / R;
          const gu0 = r0 > 0 ? (gw0 - mean) * sR : 0;
          const gu1 = r1 > 0 ? (gw1 - mean) * sR : 0;
          const gu2 = r2 > 0 ? (gw2 - mean) * sR : 0;
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
        const gxx = gD * D * omD;
        if (gxx !== 0) {
          const gd2 = (inside ? gxx : -gxx) * invSigma;
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
    }
    if (gV) {
      gV[3 * ia] += gx0; gV[3 * ia + 1] += gy0; gV[3 * ia + 2] += gz0;
      gV[3 * ib] += gx1; gV[3 * ib + 1] += gy1; gV[3 * ib + 2] += gz1;
      gV[3 * ic] += gx2; gV[3 * ic + 1] += gy2; gV[3 * ic + 2] += gz2;
    }
  }
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
  // Float64 copies so that the hot loops see one array type (monomorphic element access).
  const V = takeF64Dirty(verts.size);
  V.set(verts.data);
  const A = takeF64Dirty(attrs.size);
  A.set(attrs.data);

  const geo = takeF64Dirty(Math.max(1, (faces.length / 3) * FS));
  const nAct = setupFaces(V, faces, W, H, support, cull, geo);

  // Per-pixel state (pixel-major): running max M, sum S, numerators N (C), product P of the
  // nonzero (1 - D) and the count NZ of exact zeros (alpha = NZ > 0 ? 1 : 1 - P).
  const M = takeF64(HW, bgz);
  const Ssum = takeF64Dirty(HW);
  const N = takeF64Dirty(C * HW);
  const P = takeF64(HW, 1);
  const NZ = takeF64(HW, 0);
  const bg = new Float64Array(C);
  if (opts.background) for (let c = 0; c < C; c++) bg[c] = opts.background[c] ?? 0;

  // Keep per-fragment values for the backward only when a gradient will be recorded.
  const willRecord = isGradEnabled() && (verts.requiresGrad || attrs.requiresGrad);
  const frags: FragStore | null = willRecord ? { buf: takeF64Dirty(fragCap), n: 0 } : null;
  rasterForward(true, geo, nAct, faces, V, A, C, W, support, invSigma, invGamma, logitCut, M, Ssum, N, P, NZ, null);
  initSums(M, Ssum, N, bg, bgz, invGamma);
  rasterForward(false, geo, nAct, faces, V, A, C, W, support, invSigma, invGamma, logitCut, M, Ssum, N, P, NZ, frags);

  const out = allocData(verts.dtype, (C + 1) * HW);
  finish(out, N, Ssum, P, NZ, C);
  giveF64(N);
  const result = new Tensor(out, [C + 1, H, W]);

  const recorded = record('softRasterize', result, [verts, attrs], (gOut) => {
    // --------------------------------------------------------------------------------- backward
    const G = gOut.data;
    const needV = verts.requiresGrad, needA = attrs.requiresGrad;
    const gV = needV ? takeF64(verts.size) : null;
    const gA = needA ? takeF64(attrs.size) : null;
    // per pixel: gs_c = g_c / S (pixel-major), gd = (sum_c g_c out_c) / S, ga = g_alpha
    const gs = takeF64Dirty(C * HW);
    const gd = takeF64Dirty(HW);
    const ga = takeF64Dirty(HW);
    prepareGrad(G, out, Ssum, C, gs, gd, ga);
    rasterBackward(geo, nAct, faces, V, A, C, W, support, invSigma, invGamma, logitCut, M, P, NZ, frags!.buf, gs, gd, ga, gV, gA);
    const toTensor = (buf: Float64Array | null, like: Tensor): Tensor | null => {
      if (!buf) return null;
      const d = allocData(like.dtype, like.size);
      d.set(buf);
      return new Tensor(d, like.shape);
    };
    const res = [toTensor(gV, verts), toTensor(gA, attrs)];
    giveF64(gs, gd, ga, gV, gA, geo, M, Ssum, P, NZ, V, A, frags!.buf);
    return res;
  });
  if (!recorded.node) giveF64(geo, M, Ssum, P, NZ, V, A, frags?.buf);
  return recorded;
}
