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
 *          the ratio below and is kept with an online-softmax rescale, so it has no gradient)
 *   out_c = (sum_f e_f A_fc + e_bg bg_c) / (sum_f e_f + e_bg)
 *   alpha = 1 - prod_f (1 - D_f)
 * sigma, gamma -> 0 gives the hard z-buffer image (nearest face by height, exact coverage).
 *
 * Work per face is bounded by its bounding box grown by the coverage support
 * sqrt(sigma * ln((1 - cutoff) / cutoff)) pixels; pixels where D_f < cutoff (default 1e-4) are
 * cut (a jump of at most `cutoff` in D, documented). Guards (no NaN / Inf):
 *  - |doubled area| < AREA_EPS (1e-10 px^2): the face is skipped (degenerate / edge-on faces
 *    have no area to cover; neighbours cover their edges);
 *  - zero-length edges: the segment projection divides by max(|e|^2, 1e-30);
 *  - barycentric sum R >= |area| > AREA_EPS for every pixel, so w_i is finite;
 *  - alpha's gradient prod_{g != f}(1 - D_g) is formed in log space with a count of exact zeros,
 *    never as prod / (1 - D_f);
 *  - sigmoid and 1 - sigmoid are evaluated in their stable forms.
 * Backface culling (optional, default on): faces with negative doubled area in image space (the
 * far side of closed outward-oriented meshes) are skipped.
 */
import { record } from '../../autodiff/tape.js';
import { Tensor, allocData } from '../../autodiff/tensor.js';

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

interface Geom {
  x0: number; y0: number; x1: number; y1: number; x2: number; y2: number;
  S: number;
  /** 1 / |edge k| (edge k opposite vertex k). */
  il0: number; il1: number; il2: number;
}

/** Iterates pixels of every face bounding box, calling fn with shared per-pixel quantities. */
type PixelFn = (f: number, pix: number, px: number, py: number, g: Geom) => void;

function forEachFacePixel(
  V: ArrayLike<number>, faces: Uint32Array, W: number, H: number, support: number, cull: boolean, fn: PixelFn,
): void {
  const g: Geom = { x0: 0, y0: 0, x1: 0, y1: 0, x2: 0, y2: 0, S: 1, il0: 0, il1: 0, il2: 0 };
  const nf = faces.length / 3;
  for (let f = 0; f < nf; f++) {
    const a = 3 * faces[3 * f], b = 3 * faces[3 * f + 1], c = 3 * faces[3 * f + 2];
    const x0 = V[a], y0 = V[a + 1], x1 = V[b], y1 = V[b + 1], x2 = V[c], y2 = V[c + 1];
    const area2 = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0);
    if (!(Math.abs(area2) >= AREA_EPS)) continue; // also skips NaN
    if (cull && area2 < 0) continue;
    const xmin = Math.min(x0, x1, x2) - support, xmax = Math.max(x0, x1, x2) + support;
    const ymin = Math.min(y0, y1, y2) - support, ymax = Math.max(y0, y1, y2) + support;
    const i0 = Math.max(0, Math.ceil(xmin - 0.5)), i1 = Math.min(W - 1, Math.floor(xmax - 0.5));
    const j0 = Math.max(0, Math.ceil(ymin - 0.5)), j1 = Math.min(H - 1, Math.floor(ymax - 0.5));
    if (i0 > i1 || j0 > j1) continue;
    g.x0 = x0; g.y0 = y0; g.x1 = x1; g.y1 = y1; g.x2 = x2; g.y2 = y2;
    g.S = area2 > 0 ? 1 : -1;
    // edge lengths are > 0 here (a zero-length edge means zero area); floor kept as a guard
    g.il0 = 1 / Math.max(Math.hypot(x2 - x1, y2 - y1), 1e-15);
    g.il1 = 1 / Math.max(Math.hypot(x0 - x2, y0 - y2), 1e-15);
    g.il2 = 1 / Math.max(Math.hypot(x1 - x0, y1 - y0), 1e-15);
    for (let j = j0; j <= j1; j++) {
      const py = j + 0.5;
      for (let i = i0; i <= i1; i++) fn(f, j * W + i, i + 0.5, py, g);
    }
  }
}

// Per-pixel scratch written by evalPixel (module-level to avoid allocation in the inner loop).
const ev = {
  D: 0, omD: 0, x: 0, inside: false, d2: 0,
  w0: 0, w1: 0, w2: 0, R: 0, r0: 0, r1: 0, r2: 0,
  edge: 0, t: 0,
};

/** Squared distance from (px,py) to segment a-b; leaves the clamped projection parameter in segT. */
function seg2(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const ex = bx - ax, ey = by - ay;
  let t = ((px - ax) * ex + (py - ay) * ey) / Math.max(ex * ex + ey * ey, 1e-30);
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  const dx = px - (ax + t * ex), dy = py - (ay + t * ey);
  segT = t;
  return dx * dx + dy * dy;
}
let segT = 0;

/**
 * Coverage and clipped barycentrics of pixel (px, py) for a face; returns false when the pixel
 * is outside the support (D < cutoff). Outside pixels farther than the support from any edge's
 * line are rejected before segment distances are formed; for inside pixels the nearest boundary
 * point is the perpendicular foot on the nearest edge line (convexity), so one projection suffices.
 */
function evalPixel(px: number, py: number, g: Geom, support: number, support2: number, invSigma: number, logitCut: number): boolean {
  const { x0, y0, x1, y1, x2, y2, S } = g;
  const u0 = S * ((x1 - px) * (y2 - py) - (y1 - py) * (x2 - px));
  const u1 = S * ((x2 - px) * (y0 - py) - (y2 - py) * (x0 - px));
  const u2 = S * ((x0 - px) * (y1 - py) - (y0 - py) * (x1 - px));
  // signed distances to the three edge lines (positive inside)
  const l0 = u0 * g.il0, l1 = u1 * g.il1, l2 = u2 * g.il2;
  const inside = l0 >= 0 && l1 >= 0 && l2 >= 0;
  let d2: number, edge: number, t: number;
  if (inside) {
    edge = 0;
    let dl = l0;
    if (l1 < dl) { dl = l1; edge = 1; }
    if (l2 < dl) { dl = l2; edge = 2; }
    d2 = dl * dl;
    if (edge === 0) seg2(px, py, x1, y1, x2, y2);
    else if (edge === 1) seg2(px, py, x2, y2, x0, y0);
    else seg2(px, py, x0, y0, x1, y1);
    t = segT;
  } else {
    if (l0 < -support || l1 < -support || l2 < -support) return false;
    d2 = seg2(px, py, x1, y1, x2, y2);
    edge = 0;
    t = segT;
    const d2b = seg2(px, py, x2, y2, x0, y0);
    if (d2b < d2) { d2 = d2b; edge = 1; t = segT; }
    const d2c = seg2(px, py, x0, y0, x1, y1);
    if (d2c < d2) { d2 = d2c; edge = 2; t = segT; }
    if (d2 > support2) return false;
  }
  const x = (inside ? d2 : -d2) * invSigma;
  if (x < logitCut) return false;
  let D: number, omD: number;
  if (x >= 0) {
    const e = Math.exp(-x);
    D = 1 / (1 + e);
    omD = e / (1 + e);
  } else {
    const e = Math.exp(x);
    D = e / (1 + e);
    omD = 1 / (1 + e);
  }
  const r0 = u0 > 0 ? u0 : 0, r1 = u1 > 0 ? u1 : 0, r2 = u2 > 0 ? u2 : 0;
  const R = r0 + r1 + r2;
  ev.D = D; ev.omD = omD; ev.x = x; ev.inside = inside; ev.d2 = d2;
  ev.r0 = r0; ev.r1 = r1; ev.r2 = r2; ev.R = R;
  if (R > 0) {
    ev.w0 = r0 / R; ev.w1 = r1 / R; ev.w2 = r2 / R;
  } else {
    ev.w0 = ev.w1 = ev.w2 = 1 / 3; // unreachable for non-degenerate faces; kept finite
  }
  ev.edge = edge; ev.t = t;
  return true;
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
  const invSigma = 1 / sigma, invGamma = 1 / gamma;
  const cutoff = opts.cutoff ?? 1e-4;
  const logitCut = Math.log(cutoff / (1 - cutoff));
  const support = coverageSupport(sigma, cutoff);
  const support2 = support * support;
  const cull = opts.cullBackfaces ?? true;
  const bgz = opts.bgDepth ?? 0;
  const bg = new Float64Array(C);
  if (opts.background) for (let c = 0; c < C; c++) bg[c] = opts.background[c] ?? 0;
  const V = verts.data, A = attrs.data;

  // Per-pixel state: running max m, sum S, numerators N (C), log prod of nonzero (1 - D), zero count.
  const m = new Float64Array(HW).fill(bgz);
  const Ssum = new Float64Array(HW).fill(1);
  const N = new Float64Array(C * HW);
  for (let c = 0; c < C; c++) N.fill(bg[c], c * HW, (c + 1) * HW);
  const logP = new Float64Array(HW);
  const nz = new Int32Array(HW);

  forEachFacePixel(V, faces, W, H, support, cull, (f, pix, px, py, g) => {
    if (!evalPixel(px, py, g, support, support2, invSigma, logitCut)) return;
    const a = faces[3 * f], b = faces[3 * f + 1], c3 = faces[3 * f + 2];
    const w0 = ev.w0, w1 = ev.w1, w2 = ev.w2;
    const zf = w0 * V[3 * a + 2] + w1 * V[3 * b + 2] + w2 * V[3 * c3 + 2];
    let mm = m[pix];
    if (zf > mm) {
      const s = Math.exp((mm - zf) * invGamma);
      Ssum[pix] *= s;
      for (let c = 0; c < C; c++) N[c * HW + pix] *= s;
      m[pix] = mm = zf;
    }
    const e = ev.D * Math.exp((zf - mm) * invGamma);
    Ssum[pix] += e;
    for (let c = 0; c < C; c++) N[c * HW + pix] += e * (w0 * A[a * C + c] + w1 * A[b * C + c] + w2 * A[c3 * C + c]);
    if (ev.omD === 0) nz[pix]++;
    else logP[pix] += Math.log(ev.omD);
  });

  const out = allocData(verts.dtype, (C + 1) * HW);
  for (let c = 0; c < C; c++) for (let p = 0; p < HW; p++) out[c * HW + p] = N[c * HW + p] / Ssum[p];
  for (let p = 0; p < HW; p++) out[C * HW + p] = nz[p] > 0 ? 1 : -Math.expm1(logP[p]);
  const result = new Tensor(out, [C + 1, H, W]);

  return record('softRasterize', result, [verts, attrs], (gOut) => {
    const G = gOut.data;
    const gV = allocData(verts.dtype, verts.size);
    const gA = allocData(attrs.dtype, attrs.size);
    // per-pixel: gdot = sum_c g_c out_c
    const gdot = new Float64Array(HW);
    for (let c = 0; c < C; c++) for (let p = 0; p < HW; p++) gdot[p] += G[c * HW + p] * out[c * HW + p];
    const Af = new Float64Array(C);
    forEachFacePixel(V, faces, W, H, support, cull, (f, pix, px, py, g) => {
      if (!evalPixel(px, py, g, support, support2, invSigma, logitCut)) return;
      const ia = faces[3 * f], ib = faces[3 * f + 1], ic = faces[3 * f + 2];
      const w0 = ev.w0, w1 = ev.w1, w2 = ev.w2;
      const za = V[3 * ia + 2], zb = V[3 * ib + 2], zc = V[3 * ic + 2];
      const zf = w0 * za + w1 * zb + w2 * zc;
      const E = Math.exp((zf - m[pix]) * invGamma);
      const D = ev.D, omD = ev.omD;
      const e = D * E;
      const invS = 1 / Ssum[pix];
      let gA_dot = 0;
      for (let c = 0; c < C; c++) {
        Af[c] = w0 * A[ia * C + c] + w1 * A[ib * C + c] + w2 * A[ic * C + c];
        gA_dot += G[c * HW + pix] * Af[c];
      }
      const ge = (gA_dot - gdot[pix]) * invS;
      // d alpha / d D_f = prod_{g != f} (1 - D_g)
      let dAlpha = 0;
      const k = nz[pix];
      if (k === 0) dAlpha = Math.exp(logP[pix] - Math.log(omD));
      else if (k === 1 && omD === 0) dAlpha = Math.exp(logP[pix]);
      const gD = ge * E + G[C * HW + pix] * dAlpha;
      const gz = (ge * e) * invGamma;
      // gradients of barycentric weights
      let gw0 = gz * za, gw1 = gz * zb, gw2 = gz * zc;
      const se = e * invS;
      for (let c = 0; c < C; c++) {
        const gAc = G[c * HW + pix] * se;
        if (gAc !== 0) {
          gA[ia * C + c] += gAc * w0;
          gA[ib * C + c] += gAc * w1;
          gA[ic * C + c] += gAc * w2;
          gw0 += gAc * A[ia * C + c];
          gw1 += gAc * A[ib * C + c];
          gw2 += gAc * A[ic * C + c];
        }
      }
      gV[3 * ia + 2] += gz * w0;
      gV[3 * ib + 2] += gz * w1;
      gV[3 * ic + 2] += gz * w2;
      const R = ev.R;
      if (R > 0) {
        const mean = gw0 * w0 + gw1 * w1 + gw2 * w2;
        const S = g.S;
        const gu0 = ev.r0 > 0 ? (S * (gw0 - mean)) / R : 0;
        const gu1 = ev.r1 > 0 ? (S * (gw1 - mean)) / R : 0;
        const gu2 = ev.r2 > 0 ? (S * (gw2 - mean)) / R : 0;
        // u0 = cross(v1 - p, v2 - p): d/dv1 = (v2y - py, -(v2x - px)), d/dv2 = (-(v1y - py), v1x - px)
        const ax = g.x0 - px, ay = g.y0 - py, bx = g.x1 - px, by = g.y1 - py, cx = g.x2 - px, cy = g.y2 - py;
        gV[3 * ib] += gu0 * cy - gu2 * ay;
        gV[3 * ib + 1] += -gu0 * cx + gu2 * ax;
        gV[3 * ic] += -gu0 * by + gu1 * ay;
        gV[3 * ic + 1] += gu0 * bx - gu1 * ax;
        gV[3 * ia] += -gu1 * cy + gu2 * by;
        gV[3 * ia + 1] += gu1 * cx - gu2 * bx;
      }
      // coverage: D = sigmoid(s d2 / sigma), d2 = |p - q|^2 with q on the nearest edge
      const gx = gD * D * omD;
      if (gx !== 0) {
        const gd2 = (ev.inside ? gx : -gx) * invSigma;
        const edge = ev.edge, t = ev.t;
        const pa = edge === 0 ? ib : edge === 1 ? ic : ia;
        const pb = edge === 0 ? ic : edge === 1 ? ia : ib;
        const qx = V[3 * pa] + t * (V[3 * pb] - V[3 * pa]);
        const qy = V[3 * pa + 1] + t * (V[3 * pb + 1] - V[3 * pa + 1]);
        // d d2 / d q = -2 (p - q); envelope theorem: d q / d a = (1 - t), d q / d b = t
        const hx = -2 * (px - qx) * gd2, hy = -2 * (py - qy) * gd2;
        gV[3 * pa] += hx * (1 - t);
        gV[3 * pa + 1] += hy * (1 - t);
        gV[3 * pb] += hx * t;
        gV[3 * pb + 1] += hy * t;
      }
    });
    return [new Tensor(gV, verts.shape), new Tensor(gA, attrs.shape)];
  });
}
