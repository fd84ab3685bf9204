/**
 * The particle bodies' shading profile, annotation-free and the same on real patches and renders:
 * how much brighter a particle is at each distance inside its outline than at its centre.
 *
 * Particles: the Otsu components (one threshold over the whole set, of the images smoothed at
 * sigma 1, as imagingStatistics) that look like lone particles: not touching the image border,
 * solidity (area over convex-hull area) at least MIN_SOLIDITY, and at least MIN_DEPTH px deep
 * (the largest distance inside the component), so that the profile has room to fall. Per
 * particle: the centre level is the mean grey of its pixels at least 70 % of its depth inside,
 * and profile[d - 1] the median grey at (rounded) distance d px from the outside, over the centre
 * level, d = 1 .. PROFILE_DEPTH; the result is the median over particles of each bin.
 *
 * Why: the SE yield's tilt law on a rounded body draws a broad bright band inside the outline
 * and a darker top, on a polytope's flat faces a thin rim and a flat body. On the 24 TiO2-SEM
 * dev-pool micrographs (full images, 82 lone particles) the band is 1.66 x the centre 2 px
 * inside and still 1.18 x at 6 px; the baseline's pairs (rounded polytopes) 1.50 and 1.07
 * (docs/realism.md, "Fourth round: the particle bodies"). The edge profile (imaging-calibration.ts) pools every
 * foreground pixel of agglomerates and lone particles alike and cannot see this.
 */
import { pooledOtsuThreshold, gaussianBlur } from '../particles/otsu.js';
import { median } from './median.js';
import { squaredDistanceTransform } from '../particles/distance.js';
import { connectedComponents } from '../particles/labels.js';
import { convexHull, type Point } from '../particles/measure.js';

/** Bins of the profile: 1 .. PROFILE_DEPTH px inside the outline. */
export const PROFILE_DEPTH = 8;
/** Least depth (px) of a particle the profile reads. */
export const MIN_DEPTH = 8;
/** Least solidity of a component counted as one lone particle. */
export const MIN_SOLIDITY = 0.9;

type Grey = { width: number; height: number; data: ArrayLike<number> };

export interface BodyProfile {
  /** profile[d - 1]: median over particles of (grey d px inside) / (centre grey). */
  profile: number[];
  /** Lone particles behind it. */
  particles: number;
}

/** Area of the convex hull of a pixel set's corners. */
function hullArea(pixels: readonly number[], W: number): number {
  const pts: Point[] = [];
  for (const i of pixels) {
    const x = i % W, y = (i - x) / W;
    pts.push([x, y], [x + 1, y], [x, y + 1], [x + 1, y + 1]);
  }
  const h = convexHull(pts);
  let a = 0;
  for (let j = 0; j < h.length; j++) {
    const p = h[j], q = h[(j + 1) % h.length];
    a += p[0] * q[1] - q[0] * p[1];
  }
  return Math.abs(a) / 2;
}

/**
 * The profile above over a set of images with bright particles; null without any lone particle
 * deep enough. `threshold` and `smoothed` (the images at sigma 1): when the caller has them.
 */
export function bodyProfile(images: readonly Grey[], threshold?: number, smoothed?: readonly ArrayLike<number>[]): BodyProfile | null {
  if (images.length === 0) return null;
  const smooth = smoothed ?? images.map((im) => gaussianBlur(im.data, im.width, im.height, 1));
  const t = threshold ?? pooledOtsuThreshold(smooth);
  const bins: number[][] = Array.from({ length: PROFILE_DEPTH }, () => []);
  let particles = 0;
  images.forEach((im, k) => {
    const { width: W, height: H, data } = im;
    const s = smooth[k];
    const fg = new Uint8Array(W * H);
    for (let i = 0; i < W * H; i++) fg[i] = s[i] > t ? 1 : 0;
    const { labels, count } = connectedComponents(fg, W, H, 8);
    const members: number[][] = Array.from({ length: count + 1 }, () => []);
    const border = new Uint8Array(count + 1);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const l = labels[y * W + x];
        if (l === 0) continue;
        members[l].push(y * W + x);
        if (x === 0 || y === 0 || x === W - 1 || y === H - 1) border[l] = 1;
      }
    }
    const inside = squaredDistanceTransform(fg, W, H);
    for (let l = 1; l <= count; l++) {
      const px = members[l];
      if (border[l] || px.length < Math.PI * MIN_DEPTH * MIN_DEPTH) continue;
      let depth2 = 0;
      for (const i of px) if (inside[i] > depth2) depth2 = inside[i];
      const depth = Math.sqrt(depth2);
      if (depth < MIN_DEPTH || px.length / hullArea(px, W) < MIN_SOLIDITY) continue;
      let centre = 0, nc = 0;
      const at: number[][] = Array.from({ length: PROFILE_DEPTH }, () => []);
      for (const i of px) {
        const d = Math.sqrt(inside[i]);
        if (d >= 0.7 * depth) {
          centre += data[i];
          nc++;
        }
        const b = Math.round(d);
        if (b >= 1 && b <= PROFILE_DEPTH) at[b - 1].push(data[i]);
      }
      centre /= nc;
      if (!(centre > 0)) continue;
      particles++;
      at.forEach((v, j) => {
        if (v.length > 0) bins[j].push(median(v) / centre);
      });
    }
  });
  if (particles === 0) return null;
  return { profile: bins.map((b) => (b.length ? median(b) : 1)), particles };
}
