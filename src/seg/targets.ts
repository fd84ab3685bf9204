/**
 * Instance-aware training targets from instance maps (pure: no Node modules).
 *
 * The distance target gives every particle pixel its Euclidean distance to the particle's own
 * outline, divided by the particle's largest such distance: 1 at each particle's centre, falling
 * to 0 on its outline, 0 on background. Where two particles touch, the target drops to 0 along
 * the contact line even though both sides are foreground, which is the signal a segmenter needs
 * to split touching particles (StarDist / DCAN-style centre maps); normalising per particle makes
 * small and large particles peak at the same height, so one threshold seeds both.
 */
import { checkShape } from '../particles/labels.js';
import { distanceTransform } from '../particles/distance.js';

/**
 * The normalised per-instance distance map of an instance map (see the module comment). A pixel
 * is on its particle's outline when one of its 4-neighbours inside the image belongs to another
 * instance or to background (a particle cut by the image border is not thinned there).
 */
export function instanceDistanceTarget(labels: ArrayLike<number>, width: number, height: number): Float32Array {
  checkShape(labels.length, width, height, 'instance map');
  const n = width * height;
  const interior = new Uint8Array(n);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const l = labels[i];
      if (!l) continue;
      const edge =
        (x > 0 && labels[i - 1] !== l) ||
        (x < width - 1 && labels[i + 1] !== l) ||
        (y > 0 && labels[i - width] !== l) ||
        (y < height - 1 && labels[i + width] !== l);
      interior[i] = edge ? 0 : 1;
    }
  }
  const dist = distanceTransform(interior, width, height);
  const peak = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const l = labels[i];
    if (l && dist[i] > (peak.get(l) ?? 0)) peak.set(l, dist[i]);
  }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const p = labels[i] ? peak.get(labels[i]) : undefined;
    if (p) out[i] = dist[i] / p;
  }
  return out;
}
