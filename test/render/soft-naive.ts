/**
 * The naive soft rasterizer: the definition in src/render/raster/soft.ts written as the plainest
 * possible loop (every pixel against every face, no bounding boxes, spans, pools or stored
 * fragments), float64, values only. Small scenes only (O(H W F)). Its gradients are taken by
 * central finite differences in the tests, so the fast hand-written backward is checked against
 * an independent derivative of an independent forward.
 */
import { AREA_EPS, coverageSupport } from '../../src/render/raster/soft.js';

export interface NaiveOptions {
  width: number;
  height: number;
  sigma: number;
  gamma: number;
  background?: ArrayLike<number>;
  bgDepth?: number;
  cutoff?: number;
  cullBackfaces?: boolean;
}

function segDist2(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const ex = bx - ax, ey = by - ay;
  let t = ((px - ax) * ex + (py - ay) * ey) / (ex * ex + ey * ey);
  t = Math.min(1, Math.max(0, t));
  const dx = px - (ax + t * ex), dy = py - (ay + t * ey);
  return dx * dx + dy * dy;
}

/** Output [C + 1, H, W] (channel-major) as a Float64Array. */
export function naiveSoftRasterize(V: ArrayLike<number>, faces: ArrayLike<number>, A: ArrayLike<number>, C: number, o: NaiveOptions): Float64Array {
  const W = o.width, H = o.height, HW = W * H;
  const cutoff = o.cutoff ?? 1e-4;
  const support = coverageSupport(o.sigma, cutoff);
  const bgz = o.bgDepth ?? 0;
  const cull = o.cullBackfaces ?? true;
  const out = new Float64Array((C + 1) * HW);
  for (let py = 0; py < H; py++) {
    for (let px = 0; px < W; px++) {
      const cx = px + 0.5, cy = py + 0.5;
      // collect (D, z, attributes) of every face reaching this pixel
      const frags: { D: number; z: number; a: number[] }[] = [];
      for (let f = 0; f < faces.length / 3; f++) {
        const ia = faces[3 * f], ib = faces[3 * f + 1], ic = faces[3 * f + 2];
        const P = [ia, ib, ic].map((v) => [V[3 * v], V[3 * v + 1], V[3 * v + 2]]);
        const area2 = (P[1][0] - P[0][0]) * (P[2][1] - P[0][1]) - (P[1][1] - P[0][1]) * (P[2][0] - P[0][0]);
        if (!(Math.abs(area2) >= AREA_EPS)) continue;
        if (cull && area2 < 0) continue;
        const S = Math.sign(area2);
        // edge functions u_k (edge k opposite vertex k)
        const u = [0, 1, 2].map((k) => {
          const p = P[(k + 1) % 3], q = P[(k + 2) % 3];
          return S * ((p[0] - cx) * (q[1] - cy) - (p[1] - cy) * (q[0] - cx));
        });
        const inside = u[0] >= 0 && u[1] >= 0 && u[2] >= 0;
        const d2 = Math.min(...[0, 1, 2].map((k) => segDist2(cx, cy, P[(k + 1) % 3][0], P[(k + 1) % 3][1], P[(k + 2) % 3][0], P[(k + 2) % 3][1])));
        if (!inside && d2 > support * support) continue;
        const D = 1 / (1 + Math.exp(-(inside ? d2 : -d2) / o.sigma));
        if (D < cutoff) continue;
        const r = u.map((x) => Math.max(x, 0));
        const R = r[0] + r[1] + r[2];
        const w = r.map((x) => x / R);
        const z = w[0] * P[0][2] + w[1] * P[1][2] + w[2] * P[2][2];
        const a = Array.from({ length: C }, (_, c) => w[0] * A[ia * C + c] + w[1] * A[ib * C + c] + w[2] * A[ic * C + c]);
        frags.push({ D, z, a });
      }
      const m = Math.max(bgz, ...frags.map((fr) => fr.z));
      let den = Math.exp((bgz - m) / o.gamma);
      const num = Array.from({ length: C }, (_, c) => den * (o.background?.[c] ?? 0));
      let keep = 1;
      for (const fr of frags) {
        const e = fr.D * Math.exp((fr.z - m) / o.gamma);
        den += e;
        for (let c = 0; c < C; c++) num[c] += e * fr.a[c];
        keep *= 1 - fr.D;
      }
      const p = py * W + px;
      for (let c = 0; c < C; c++) out[c * HW + p] = num[c] / den;
      out[C * HW + p] = 1 - keep;
    }
  }
  return out;
}
