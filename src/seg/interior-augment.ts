/**
 * Training augmentation of the particles' interior shading, from the exact instance maps of
 * synthetic pairs (domain randomisation; pure: no Node modules). It changes pixel values only,
 * never the masks.
 *
 * Why: the renders' particle bodies are flatter than the micrographs' (docs/realism.md, "Fourth
 * round: the particle bodies"): lone particles' grey 2 px inside the outline over their centre's
 * is 1.66 on the TiO2-SEM dev-pool and still 1.14-1.18 at 6 px, on the renders 1.39-1.47 and 1.04-1.05,
 * with a hard one-pixel rim; real particles show no common shading direction (the renders one
 * towards the detector), and real agglomerates hold light and dark neighbours. A classifier finds
 * the renders by their interiors. So each particle of a crop is re-shaded by a random profile:
 * with bg the crop's mean background grey, every pixel x of particle P becomes
 *
 *   bg + (img(x) - bg) * top * (1 + a exp(-d(x) / w)) / (1 + a exp(-D / w)) * (1 + g (x - c) . u / R)
 *
 * d(x) = the distance to P's own outline (1 on the outline pixels, the body profile's convention;
 * a contact with another particle is an outline), D = P's largest d in the crop (its centre: the
 * band is relative to the top, as the measured profile is), c / R = its centroid and
 * equivalent radius in the crop, u a random direction; a, w, top, g drawn per particle from
 * INTERIOR_RANGES. The range of a spans the renders' own profile (a = 0) to beyond the
 * micrographs' band (INTERIOR_RANGES' comment); top makes neighbours lighter or darker.
 */
import type { Rng } from '../autodiff/index.js';

/** One particle's draw (see the module comment). */
export interface InteriorShade {
  /** Band amplitude a (0 = the render's own profile). */
  amplitude: number;
  /** Band decay length w, px. */
  width: number;
  /** Factor of the whole particle's signal above background (its top's brightness). */
  top: number;
  /** Linear gradient g across the particle, per equivalent radius, along (ux, uy). */
  gradient: number;
  ux: number;
  uy: number;
}

/**
 * The ranges each particle's draw comes from, uniform. Chosen against the body profiles above,
 * not against any segmentation score: the final26 pairs (120 per seed) re-shaded whole with one
 * fixed draw and measured by bodyProfile (src/gan/body-profile.ts, 128 px tiles as `realism
 * --stats-only`): 2 / 4 / 6 px inside 1.50 / 1.24 / 1.08 as rendered (seed 1: 1.48 / 1.20 / 1.07),
 * 1.69 / 1.30 / 1.10 at a = 0.4, w = 2 px (1.67 / 1.26 / 1.08), 1.82 / 1.53 / 1.18 at a = 1.2,
 * w = 3 px (1.75 / 1.43 / 1.13); the dev-pool's tiles 1.66 / 1.34 / 1.14. So a in [0, 1.2] and
 * w in [1, 4] px span the renders' own profile, the micrographs' and a stronger band; top in
 * [0.8, 1.1] makes light and dark neighbours; |g| up to 0.2 per radius (the micrographs' median
 * 0.11, the renders' 0.145) in a random direction removes the renders' common direction.
 */
export const INTERIOR_RANGES = { amplitude: [0, 1.2], width: [1, 4], top: [0.8, 1.1], gradient: 0.2 } as const;

/** One particle's random shade from INTERIOR_RANGES (5 draws, a fixed number so the stream stays aligned). */
export function drawInteriorShade(rng: Rng): InteriorShade {
  const r = INTERIOR_RANGES;
  const amplitude = rng.range(r.amplitude[0], r.amplitude[1]);
  const width = rng.range(r.width[0], r.width[1]);
  const top = rng.range(r.top[0], r.top[1]);
  const gradient = rng.range(0, r.gradient);
  const angle = rng.range(0, 2 * Math.PI);
  return { amplitude, width, top, gradient, ux: Math.cos(angle), uy: Math.sin(angle) };
}

/**
 * Re-shades every particle of a size x size image in place (see the module comment): `ids` the
 * crop's instance ids (0 = background), `outline` each pixel's distance to its particle's nearest
 * outline pixel (0 on the outline; seg/targets.ts instanceOutlineDistance), `shade(id)` the
 * particle's draw, called once per particle in order of first appearance (row-major). No change
 * without a background pixel (no level to shade against). Values are not clamped.
 */
export function shadeInteriors(img: Float32Array, ids: ArrayLike<number>, outline: ArrayLike<number>, size: number, shade: (id: number) => InteriorShade): void {
  const n = size * size;
  if (img.length !== n || ids.length !== n || outline.length !== n) throw new Error(`shadeInteriors: expected ${n} pixels in the image, ids and distances`);
  let bg = 0;
  let nb = 0;
  interface Stats { count: number; sx: number; sy: number; depth: number; shade?: InteriorShade }
  const stats = new Map<number, Stats>();
  const order: number[] = [];
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if (id === 0) {
      bg += img[i];
      nb++;
      continue;
    }
    let s = stats.get(id);
    if (!s) {
      s = { count: 0, sx: 0, sy: 0, depth: 0 };
      stats.set(id, s);
      order.push(id);
    }
    s.count++;
    s.sx += i % size;
    s.sy += Math.floor(i / size);
    const d = outline[i] + 1;
    if (d > s.depth) s.depth = d;
  }
  if (nb === 0 || order.length === 0) return;
  bg /= nb;
  for (const id of order) stats.get(id)!.shade = shade(id);
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if (id === 0) continue;
    const s = stats.get(id)!;
    const { amplitude: a, width: w, top, gradient: g, ux, uy } = s.shade!;
    const d = outline[i] + 1;
    const radius = Math.sqrt(s.count / Math.PI);
    const along = ((i % size) - s.sx / s.count) * ux + (Math.floor(i / size) - s.sy / s.count) * uy;
    // An instance without an outline (filling the crop) has infinite depth: exp(-inf) = 0, band 1.
    const band = (1 + a * Math.exp(-d / w)) / (1 + a * Math.exp(-s.depth / w));
    const k = top * band * (1 + (g * along) / radius);
    img[i] = bg + (img[i] - bg) * k;
  }
}
