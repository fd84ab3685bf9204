/**
 * Aligning class masks with the visible particle edges of their images (pure, no Node modules).
 *
 * Why: a segmenter learns where its training masks put the particle boundary relative to the
 * grey-level edge. On the real TiO2-SEM images the annotated boundary lies at the edge's half
 * maximum (mean grey level by signed distance to the mask boundary, dev-pool images 1908248/52/56:
 * -2 px 0.13, -1 px 0.20, 0 px 0.53, 1 px 0.62). Renders of the current generator put the half
 * maximum outside their exact (z-buffer) masks: ~2 px with the tio2-sem preset defaults, ~4.5 px
 * in pairs of a short GAN run (its learned blur, 2.9 px, spreads a bright halo that the masks
 * call background). A U-Net trained on such pairs shrinks every real particle by that margin.
 *
 * `edgeOffset` measures the margin on the training pairs themselves (no real mask is read) and
 * `growClassMask` grows every particle by it (rounded), so that the masks follow the visible edge
 * as annotators draw it. With a generator whose masks already match its images the measured
 * offset rounds to 0 and nothing changes.
 */
import { checkShape } from '../particles/labels.js';
import { distanceTransform } from '../particles/distance.js';
import { classesFromInstances } from './classmask.js';
import { instancesFromClassMap } from '../particles/instances.js';

/** An image with its 3-class mask (0 background, 1 particle, 2 contour). */
export interface MaskedImage {
  width: number;
  height: number;
  image: Float32Array;
  classes: Uint8Array;
}

/**
 * Mean grey level by signed distance to the mask boundary, over all images: index k holds
 * distance k - maxDist, where 0 is the first particle pixel (Euclidean distance to the nearest
 * background pixel rounded, minus 1) and -1 the first background pixel (minus the rounded
 * distance to the nearest particle pixel). NaN where no pixel has that distance.
 */
export function edgeProfile(images: readonly MaskedImage[], maxDist = 12): Float64Array {
  const sum = new Float64Array(2 * maxDist + 1);
  const cnt = new Float64Array(2 * maxDist + 1);
  for (const a of images) {
    const { width: w, height: h } = a;
    checkShape(a.image.length, w, h, 'image');
    checkShape(a.classes.length, w, h, 'mask');
    const fg = Uint8Array.from(a.classes, (c) => (c ? 1 : 0));
    const din = distanceTransform(fg, w, h);
    const dout = distanceTransform(Uint8Array.from(fg, (v) => 1 - v), w, h);
    for (let i = 0; i < fg.length; i++) {
      const d = fg[i] ? Math.round(din[i]) - 1 : -Math.round(dout[i]);
      if (d >= -maxDist && d <= maxDist) {
        sum[d + maxDist] += a.image[i];
        cnt[d + maxDist]++;
      }
    }
  }
  return sum.map((s, k) => (cnt[k] > 0 ? s / cnt[k] : NaN));
}

/**
 * How far outside the mask boundary (px; negative: inside) the grey level crosses halfway from
 * the background level (mean of the 3 outermost background distances) to the particle level (the
 * maximum over distances 0..4), searching from the background side; 0 when the profile has no
 * such crossing (no contrast, or too few pixels). The boundary itself lies between distances -1
 * and 0, at -0.5: a crossing there gives 0.
 */
export function edgeOffset(profile: Float64Array): number {
  const maxDist = (profile.length - 1) / 2;
  const at = (d: number) => profile[d + maxDist];
  const levels = edgeLevels(profile);
  if (!levels) return 0;
  const half = (levels.background + levels.particle) / 2;
  for (let d = -maxDist; d < 4; d++) {
    const a = at(d);
    const b = at(d + 1);
    if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
    if (a < half && b >= half) return -0.5 - (d + (half - a) / (b - a));
  }
  return 0;
}

/**
 * The background level (mean of the 3 outermost background distances) and the particle level
 * (the maximum over distances 0..4) of an edgeProfile; null when a side has no pixels or the
 * contrast is below 0.02 (no edge to measure).
 */
export function edgeLevels(profile: Float64Array): { background: number; particle: number } | null {
  const maxDist = (profile.length - 1) / 2;
  const at = (d: number) => profile[d + maxDist];
  const bgVals = [-maxDist, -maxDist + 1, -maxDist + 2].map(at).filter(Number.isFinite);
  const fgVals = [0, 1, 2, 3, 4].map(at).filter(Number.isFinite);
  if (!bgVals.length || !fgVals.length) return null;
  const background = bgVals.reduce((s, v) => s + v, 0) / bgVals.length;
  const particle = Math.max(...fgVals);
  return particle - background > 0.02 ? { background, particle } : null;
}

/**
 * Grows every instance of a label map by `px` pixels into the background: `px` rounds in which
 * each background pixel takes the label of a labelled neighbour (alternately 4- and
 * 8-neighbours, an octagon close to a disc; ties: the lowest label). Instances never overwrite
 * each other.
 */
export function growInstances(labels: Int32Array, width: number, height: number, px: number): Int32Array {
  checkShape(labels.length, width, height, 'instance map');
  let cur = labels.slice();
  for (let r = 0; r < px; r++) {
    const diag = r % 2 === 1;
    const next = cur.slice();
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        if (cur[i]) continue;
        let best = 0;
        for (let dy = -1; dy <= 1; dy++) {
          const yy = y + dy;
          if (yy < 0 || yy >= height) continue;
          for (let dx = -1; dx <= 1; dx++) {
            const xx = x + dx;
            if ((dx === 0 && dy === 0) || xx < 0 || xx >= width || (!diag && dx !== 0 && dy !== 0)) continue;
            const l = cur[yy * width + xx];
            if (l && (best === 0 || l < best)) best = l;
          }
        }
        next[i] = best;
      }
    }
    cur = next;
  }
  return cur;
}

/**
 * A 3-class mask whose particles are grown by `px` pixels: instances from the mask (class-1
 * seeds grown over the contour, no size limit), grown, then contour rings and separation lines
 * recomputed (classesFromInstances). px = 0 returns the mask unchanged.
 */
export function growClassMask(classes: Uint8Array, width: number, height: number, px: number): Uint8Array {
  if (px <= 0) return classes;
  const inst = instancesFromClassMap(classes, width, height, { minArea: 0 });
  return classesFromInstances(growInstances(inst.labels, width, height, px), width, height);
}
