/**
 * Local thickness of a binary mask (T. Hildebrand, P. Rüegsegger, "A new method for the
 * model-independent assessment of thickness in three-dimensional images", J. Microsc. 185, 67
 * (1997); BoneJ's "Thickness"): each foreground pixel gets the diameter of the largest disc that
 * contains it and lies inside the foreground. A disc of radius R reads 2R at every pixel; two
 * touching discs read their own diameters (no pieces, no cut between them), and the share of the
 * foreground above thickness t is the area left by an opening with a disc of diameter t (the
 * area pattern spectrum of a granulometry by discs).
 *
 * Discs are centred on foreground pixels c with radius sqrt(D(c)), D the squared Euclidean
 * distance to the nearest background pixel (src/particles/distance.ts), and cover the pixels p
 * with |p - c|^2 < D(c). A centre whose disc lies inside an 8-neighbour's (sqrt D(c') >= sqrt D(c)
 * + |c - c'|) adds nothing and is skipped, which leaves the result exact and the work close to
 * the distance ridge's.
 */
import { squaredDistanceTransform, type DistanceOptions } from './distance.js';
import { checkShape } from './labels.js';

/**
 * Local thickness (px, a diameter) of every pixel; 0 on background. `borderIsBackground` says how
 * the frame reads: false (default) measures distances to background pixels inside the image
 * only, so a particle cut by the frame is taken to go on beyond it; true closes the frame, so a
 * cut particle reads as thin as the part inside.
 */
export function localThickness(mask: ArrayLike<number>, width: number, height: number, options: DistanceOptions = {}): Float32Array {
  checkShape(mask.length, width, height, 'mask');
  const d2 = squaredDistanceTransform(mask, width, height, options);
  const out = new Float32Array(width * height);
  for (let cy = 0; cy < height; cy++)
    for (let cx = 0; cx < width; cx++) {
      const c = cy * width + cx;
      const r2 = d2[c];
      if (!mask[c] || !(r2 > 0) || r2 === Infinity) continue;
      const r = Math.sqrt(r2);
      if (insideNeighbourDisc(d2, width, height, cx, cy, r)) continue;
      const t = 2 * r;
      const reach = Math.ceil(r) - 1;
      for (let y = Math.max(0, cy - reach); y <= Math.min(height - 1, cy + reach); y++) {
        const dy2 = (y - cy) * (y - cy);
        for (let x = Math.max(0, cx - reach); x <= Math.min(width - 1, cx + reach); x++) {
          const i = y * width + x;
          if (dy2 + (x - cx) * (x - cx) < r2 && out[i] < t) out[i] = t;
        }
      }
    }
  // A mask with no background pixel (distances Infinity) has no finite disc: read it as the
  // largest disc the image holds.
  for (let i = 0; i < out.length; i++) if (mask[i] && d2[i] === Infinity) out[i] = Math.min(width, height);
  return out;
}

/** Whether the disc (cx, cy, r) lies inside the disc of one of its 8 neighbours. */
function insideNeighbourDisc(d2: Float64Array, width: number, height: number, cx: number, cy: number, r: number): boolean {
  for (let dy = -1; dy <= 1; dy++)
    for (let dx = -1; dx <= 1; dx++) {
      if (!dx && !dy) continue;
      const x = cx + dx, y = cy + dy;
      if (x < 0 || y < 0 || x >= width || y >= height) continue;
      const n2 = d2[y * width + x];
      if (n2 === Infinity) continue;
      // Strictly larger, so that of two equal discs neither is skipped for the other.
      if (Math.sqrt(n2) > r + Math.hypot(dx, dy) - 1e-9 && n2 > r * r) return true;
    }
  return false;
}
