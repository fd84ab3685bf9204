/**
 * Moving predicted particle outlines out to the half level of the visible edge (pure, no Node
 * modules).
 *
 * Why: a U-Net puts its outlines where its training masks put them relative to the grey-level
 * edge. The manual TiO2-SEM masks follow the edge's half maximum (seg/align.ts: edge offset 0.02 px
 * on the dev-test masks), while the synthetic masks sit 0.25-0.37 px inside it (the same measure on
 * the 400 pairs of two standard pipeline runs), less than the whole pixel `--grow-masks auto` can
 * add, and a U-Net trained on them draws real particles 0.4-0.7 px inside the manual outlines.
 * This step measures the levels on the image itself from the prediction (no mask, no training
 * data) and adds to each particle the pixels next to it that are brighter than the half level, so
 * the outline lands where annotators draw it whatever the training masks' convention; where the
 * outlines already sit there (a U-Net trained on the manual masks) it adds next to nothing.
 */
import { checkShape } from '../particles/labels.js';
import { edgeLevels, edgeProfile } from './align.js';

export interface HalfLevelOptions {
  /** Rounds of growth, px (default 2: the offsets to correct are below a pixel; more could leak along bright substrate). */
  maxPx?: number;
}

/**
 * Grows every particle of `labels` (0 = background) over the background pixels that are 4-adjacent
 * to it and at least as bright as the half level between the image's background and particle
 * levels (edgeLevels of the edgeProfile of `labels` on `image`), for up to `maxPx` rounds. A pixel
 * that has two particles in its 8-neighbourhood, or would become 4-adjacent to another particle's
 * new pixel, stays background, so the one-pixel lines between touching particles stay. `image` is
 * the bright-particle view (particles brighter than the background). Returns a new label map (the
 * input unchanged when the prediction shows no edge contrast).
 */
export function growToHalfLevel(labels: ArrayLike<number>, image: Float32Array, width: number, height: number, options: HalfLevelOptions = {}): Int32Array {
  checkShape(labels.length, width, height, 'instance map');
  checkShape(image.length, width, height, 'image');
  const { maxPx = 2 } = options;
  let cur = Int32Array.from(labels);
  const n = width * height;
  const levels = edgeLevels(edgeProfile([{ width, height, image, classes: Uint8Array.from(cur, (l) => (l ? 1 : 0)) }]));
  if (!levels) return cur;
  const half = (levels.background + levels.particle) / 2;
  for (let r = 0; r < maxPx; r++) {
    const next = cur.slice();
    let added = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        if (cur[i] || image[i] < half) continue;
        let label = 0;
        let twoParticles = false;
        let edgeNeighbour = false;
        for (let dy = -1; dy <= 1; dy++) {
          const yy = y + dy;
          if (yy < 0 || yy >= height) continue;
          for (let dx = -1; dx <= 1; dx++) {
            const xx = x + dx;
            if ((dx === 0 && dy === 0) || xx < 0 || xx >= width) continue;
            const l = cur[yy * width + xx];
            if (!l) continue;
            if (label && l !== label) twoParticles = true;
            label = l;
            if (dx === 0 || dy === 0) edgeNeighbour = true;
          }
        }
        if (label && edgeNeighbour && !twoParticles) {
          next[i] = label;
          added++;
        }
      }
    }
    if (added === 0) break;
    // New pixels of two particles that meet 4-adjacently would close the line between them: both stay background.
    const clash = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      if (cur[i] || !next[i]) continue;
      const x = i % width;
      const other = (j: number) => next[j] !== 0 && next[j] !== next[i];
      if ((x > 0 && other(i - 1)) || (x < width - 1 && other(i + 1)) || (i >= width && other(i - width)) || (i < n - width && other(i + width))) clash[i] = 1;
    }
    for (let i = 0; i < n; i++) if (clash[i]) next[i] = 0;
    cur = next;
  }
  return cur;
}
