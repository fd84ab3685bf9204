/**
 * Irregular rounded polyhedra (TiO2 particles). A geodesic sphere is pushed onto the surface of
 * a random convex polytope (the intersection of `facets` half-spaces whose normals are random
 * unit vectors and whose offsets vary by +-`irregularity`), blended towards the sphere by
 * `roundness`: along each ray the radius is (1 - roundness) r + roundness (1 + r) / 2, r the
 * polytope's, so 0 gives sharp facets and 1 the midway between polytope and unit sphere (facets
 * still visible, edges and corners softened; not a sphere), then blended towards the unit sphere
 * by `sphericity`: (1 - sphericity) r' + sphericity, so 1 gives a true sphere (an ellipsoid after
 * the elongation) and values between give faces that curve all the way to their centres, then
 * stretched along a random axis by `elongation` (>= 1) and rescaled so that the bounding radius
 * is 1.
 *
 * Why sphericity: seen from above, the SE yield's tilt law (sem.ts) draws a polytope's flat faces
 * at one grey level and its steep sides as a thin bright rim; a rounded body's surface tilts
 * gradually from the outline inwards, which can draw the broad bright band and the darker top
 * of the TiO2 micrographs (measured in docs/realism.md, "Fourth round: the particle bodies";
 * not a preset default). The radial map keeps the shape star-shaped and, for roundness 0,
 * exactly convex; blending with the sphere rounds edges and corners, which is what the SEM
 * micrographs show.
 */
import type { Rng } from '../../autodiff/rng.js';
import { icosphere } from './icosphere.js';

const baseCache = new Map<number, Mesh>();
import { boundingRadius, quatMatrix, type Mesh } from './types.js';
import { randomRotation } from '../layout-math.js';

export interface PolyhedronOptions {
  /** Geodesic frequency of the underlying sphere (20 freq^2 faces). */
  freq?: number;
  /** Number of cutting planes. */
  facets?: number;
  /** Relative spread of plane distances. */
  irregularity?: number;
  /** 0 sharp polytope .. 1 sphere. */
  roundness?: number;
  /** 0 (default): the rounded polytope above .. 1: a true sphere (ellipsoid after the elongation). */
  sphericity?: number;
  /** Maximum aspect ratio; the actual one is uniform in [1, elongation]. */
  elongation?: number;
}

export function roundedPolyhedron(rng: Rng, opts: PolyhedronOptions = {}): Mesh {
  const freq = opts.freq ?? 5;
  const nPlanes = Math.max(4, opts.facets ?? 14);
  const irr = opts.irregularity ?? 0.15;
  const round = opts.roundness ?? 0.3;
  const sph = opts.sphericity ?? 0;
  const elong = 1 + rng.uniform() * Math.max(0, (opts.elongation ?? 1.4) - 1);
  let base = baseCache.get(freq);
  if (!base) baseCache.set(freq, (base = icosphere(freq)));
  const planes = new Float64Array(4 * nPlanes);
  for (let k = 0; k < nPlanes; k++) {
    let x = rng.normal(), y = rng.normal(), z = rng.normal();
    const l = Math.hypot(x, y, z) || 1;
    x /= l; y /= l; z /= l;
    planes[4 * k] = x; planes[4 * k + 1] = y; planes[4 * k + 2] = z; planes[4 * k + 3] = 1 + irr * (2 * rng.uniform() - 1);
  }
  const axisQ = randomRotation(rng);
  // elongation along the random axis: R diag(1, 1, elong) R^T as one matrix
  const Rm = quatMatrix(axisQ);
  const E = new Float64Array(9);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) E[3 * r + c] = Rm[3 * r] * Rm[3 * c] + Rm[3 * r + 1] * Rm[3 * c + 1] + elong * Rm[3 * r + 2] * Rm[3 * c + 2];
  }
  const p = base.positions;
  const out = new Float32Array(p.length);
  for (let i = 0; i < p.length; i += 3) {
    const dx = p[i], dy = p[i + 1], dz = p[i + 2];
    // Distance along the ray d to the nearest plane: min over planes facing d of off / (d . n).
    let r = 1.6;
    for (let k = 0; k < planes.length; k += 4) {
      const c = dx * planes[k] + dy * planes[k + 1] + dz * planes[k + 2];
      if (c > 1e-6) {
        const rk = planes[k + 3] / c;
        if (rk < r) r = rk;
      }
    }
    const rr0 = (1 - round) * r + round * 0.5 * (1 + r);
    const rr = sph === 0 ? rr0 : (1 - sph) * rr0 + sph;
    // elongate along the random axis: rotate into its frame, stretch z, rotate back
    const vx = dx * rr, vy = dy * rr, vz = dz * rr;
    out[i] = E[0] * vx + E[1] * vy + E[2] * vz;
    out[i + 1] = E[3] * vx + E[4] * vy + E[5] * vz;
    out[i + 2] = E[6] * vx + E[7] * vy + E[8] * vz;
  }
  const m = { positions: out, faces: base.faces };
  const br = boundingRadius(m);
  for (let i = 0; i < out.length; i++) out[i] /= br;
  return m;
}
