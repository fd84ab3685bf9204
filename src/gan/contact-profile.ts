/**
 * The contact profile: how dark the lines are where touching particles meet, read without
 * annotations and the same way on real micrographs and on renders (imaging-calibration.ts fits
 * the SEM crease terms to it).
 *
 * In each image (already smoothed, with the set's Otsu threshold): the foreground (holes < 100 px
 * filled) is split by the distance-transform watershed of the classical baseline (the scene
 * statistics' split, src/particles/watershed.ts). Its lines inside one Otsu component are the
 * contacts: line pixels with two different particles among their 8 neighbours. Each contact pixel
 * is read relative to its two particles (the mean of their median grey levels), each particle
 * pixel d px from the nearest contact (d = 1 .. CONTACT_REACH, rounded) relative to its own
 * particle's median. The profile is the median ratio at each distance: below 1 at d = 0 where
 * contacts are dark creases, about 1 where touching particles blend into each other.
 *
 * Why relative to the two particles: neighbouring particles differ a lot in brightness (on the
 * TiO2-SEM dev-pool the bodies' 10-90 % spread is 0.7 of their median), so the contact's grey
 * level alone says little. Why the watershed lines: a crease statistic over the whole foreground
 * (the darkest valleys anywhere) scored renders without creases as high as the micrographs,
 * because the particles' own shading has valleys too (docs/realism.md). Contacts dark enough to
 * fall below the Otsu threshold part the component and are not read here; the scene statistics'
 * particles per component see those.
 */
import { applyThreshold } from '../particles/otsu.js';
import { fillHoles } from '../particles/instances.js';
import { distanceWatershed } from '../particles/watershed.js';
import { squaredDistanceTransform } from '../particles/distance.js';
import { median } from './median.js';

/** The profile's depth: contact pixels (d = 0) and particle pixels 1 .. this many px from them. */
export const CONTACT_REACH = 5;
/** Holes in the foreground smaller than this (px) are filled first, as the scene statistics do. */
const MAX_HOLE = 100;

/** Ratios gathered per distance 0 .. CONTACT_REACH, to be pooled over a set of images. */
export type ContactBins = number[][];

export function emptyContactBins(): ContactBins {
  return Array.from({ length: CONTACT_REACH + 1 }, () => []);
}

/** Adds one smoothed image's ratios (see above) to `bins`; `threshold` is the set's Otsu threshold. */
export function addContactRatios(bins: ContactBins, s: ArrayLike<number>, W: number, H: number, threshold: number): void {
  const n = W * H;
  const mask = fillHoles(applyThreshold(s, threshold), W, H, MAX_HOLE);
  const { labels, count } = distanceWatershed(mask, W, H, { lines: true });
  const values: number[][] = Array.from({ length: count + 1 }, () => []);
  for (let i = 0; i < n; i++) if (labels[i]) values[labels[i]].push(s[i]);
  const level = values.map(median);
  const notContact = new Uint8Array(n).fill(1);
  const contactLevel = new Float64Array(n);
  let any = false;
  for (let y = 1; y < H - 1; y++) {
    for (let x = 1; x < W - 1; x++) {
      const i = y * W + x;
      if (!mask[i] || labels[i]) continue;
      let a = 0, b = 0;
      for (const j of [i - 1, i + 1, i - W, i + W, i - W - 1, i - W + 1, i + W - 1, i + W + 1]) {
        const l = labels[j];
        if (l === 0) continue;
        if (a === 0) a = l;
        else if (l !== a) b = l;
      }
      if (b === 0) continue;
      notContact[i] = 0;
      contactLevel[i] = 0.5 * (level[a] + level[b]);
      any = true;
    }
  }
  if (!any) return;
  const d2 = squaredDistanceTransform(notContact, W, H);
  for (let i = 0; i < n; i++) {
    if (!notContact[i]) {
      if (contactLevel[i] > 0) bins[0].push(s[i] / contactLevel[i]);
      continue;
    }
    const l = labels[i];
    if (!l || !(level[l] > 0)) continue;
    const d = Math.round(Math.sqrt(d2[i]));
    if (d >= 1 && d <= CONTACT_REACH) bins[d].push(s[i] / level[l]);
  }
}

/** The profile of pooled bins: the median ratio per distance (NaN where a bin is empty). */
export function contactProfile(bins: ContactBins): number[] {
  return bins.map(median);
}

/** Squared distance between two contact profiles over the bins both have. */
export function contactDistance(a: readonly number[], b: readonly number[]): number {
  let d = 0;
  for (let k = 0; k < Math.min(a.length, b.length); k++) if (Number.isFinite(a[k]) && Number.isFinite(b[k])) d += (a[k] - b[k]) ** 2;
  return d;
}
