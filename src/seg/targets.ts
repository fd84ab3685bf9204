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
 * Each particle pixel's Euclidean distance (px) to the nearest pixel of its own outline (0 on the
 * outline, Infinity for an instance with no outline), 0 on background. A pixel is on its
 * particle's outline when one of its 4-neighbours inside the image belongs to another instance or
 * to background (a particle cut by the image border is not thinned there).
 */
export function instanceOutlineDistance(labels: ArrayLike<number>, width: number, height: number): Float32Array {
  checkShape(labels.length, width, height, 'instance map');
  const interior = new Uint8Array(width * height);
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
  return distanceTransform(interior, width, height);
}

/** The normalised per-instance distance map of an instance map (see the module comment). */
export function instanceDistanceTarget(labels: ArrayLike<number>, width: number, height: number): Float32Array {
  const n = width * height;
  const dist = instanceOutlineDistance(labels, width, height);
  const peak = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const l = labels[i];
    if (l && dist[i] > (peak.get(l) ?? 0)) peak.set(l, dist[i]);
  }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const p = labels[i] ? peak.get(labels[i]) : undefined;
    // One instance filling the whole image has no outline to measure from: every distance is
    // infinite, and the whole instance is its centre.
    if (p === Infinity) out[i] = 1;
    else if (p) out[i] = dist[i] / p;
  }
  return out;
}

/**
 * The U-Net paper's separation weight (O. Ronneberger, P. Fischer, T. Brox, "U-Net", MICCAI 2015,
 * eq. 2) without its class term: w0 exp(-(d1 + d2)^2 / (2 sigma^2)) on every pixel that is not
 * particle interior (class 0 background and class 2 contour: the paper's "background", which
 * holds its separation borders), 0 on class-1 pixels; d1 / d2 = Euclidean distance to the
 * nearest / second-nearest instance (0 to the instance a contour pixel belongs to). So the
 * contour and gap pixels between two close particles weigh most, and nothing changes far from a
 * second particle. Distances are computed within `3 sigma` of each instance's bounding box
 * only: beyond d1 + d2 > 3 sigma the term (< w0 e^-4.5 = 0.011 w0) is set to 0.
 */
export function boundaryWeightMap(labels: ArrayLike<number>, classes: ArrayLike<number>, width: number, height: number, w0: number, sigma: number): Float32Array {
  checkShape(labels.length, width, height, 'instance map');
  checkShape(classes.length, width, height, 'class mask');
  if (!(w0 >= 0) || !(sigma > 0)) throw new Error(`boundaryWeightMap: w0 must be >= 0 and sigma > 0, got ${w0}, ${sigma}`);
  const n = width * height;
  const out = new Float32Array(n);
  if (w0 === 0) return out;
  const reach = 3 * sigma;
  const pad = Math.ceil(reach);
  // Bounding boxes of the instances.
  const boxes = new Map<number, [number, number, number, number]>();
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const l = labels[y * width + x];
      if (!l) continue;
      const b = boxes.get(l);
      if (!b) boxes.set(l, [x, y, x, y]);
      else {
        if (x < b[0]) b[0] = x;
        if (y < b[1]) b[1] = y;
        if (x > b[2]) b[2] = x;
        if (y > b[3]) b[3] = y;
      }
    }
  }
  const d1 = new Float64Array(n).fill(Infinity);
  const d2 = new Float64Array(n).fill(Infinity);
  for (const [l, [bx0, by0, bx1, by1]] of boxes) {
    const x0 = Math.max(0, bx0 - pad), y0 = Math.max(0, by0 - pad);
    const x1 = Math.min(width - 1, bx1 + pad), y1 = Math.min(height - 1, by1 + pad);
    const w = x1 - x0 + 1, h = y1 - y0 + 1;
    // Distance to this instance: the instance is the "background" of the transform.
    const notL = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) notL[y * w + x] = labels[(y + y0) * width + x + x0] === l ? 0 : 1;
    const d = distanceTransform(notL, w, h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = d[y * w + x];
        if (v > reach) continue;
        const i = (y + y0) * width + x + x0;
        if (v < d1[i]) {
          d2[i] = d1[i];
          d1[i] = v;
        } else if (v < d2[i]) d2[i] = v;
      }
    }
  }
  const twoS2 = 2 * sigma * sigma;
  for (let i = 0; i < n; i++) {
    if (classes[i] === 1) continue;
    const s = d1[i] + d2[i];
    if (s <= reach) out[i] = w0 * Math.exp(-(s * s) / twoS2);
  }
  return out;
}
