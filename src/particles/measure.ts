/**
 * Per-particle measurements of an instance label map.
 *
 * Geometry convention: pixel (x, y) is the unit square [x, x+1] x [y, y+1], so a pixel's centre is
 * (x + 0.5, y + 0.5) and the image spans [0, width] x [0, height] (ImageJ's convention). All
 * lengths are multiplied by `pixelSize` and areas by its square, so with `pixelSize` in nm per
 * pixel the results are in nm and nm^2; with the default 1 they are in px.
 */
import { UserError } from '../errors.js';
import { checkShape } from './labels.js';

export interface Particle {
  /** The instance id in the label map. */
  id: number;
  /** Pixel count x pixelSize^2. */
  area: number;
  /** Equivalent circular diameter 2 sqrt(area / pi). */
  ecd: number;
  /** Cauchy-Crofton estimate of the boundary length (see `measureParticles`). */
  perimeter: number;
  /** Largest caliper width of the pixel polygon (its diameter). */
  feretMax: number;
  /** Smallest caliper width of the pixel polygon. */
  feretMin: number;
  /** feretMax / feretMin (>= 1). */
  aspectRatio: number;
  /** 4 pi area / perimeter^2, clamped to at most 1. */
  circularity: number;
  /** Centroid of the pixel centres. */
  centroidX: number;
  centroidY: number;
  /** Whether any pixel lies in the first or last row or column (the particle may be cut). */
  touchesBorder: boolean;
}

export interface MeasureOptions {
  /** Physical size of one pixel (e.g. nm); lengths scale by it, areas by its square (default 1). */
  pixelSize?: number;
}

/** A point (x, y) in pixel-corner coordinates. */
export type Point = [number, number];

function cross(o: Point, a: Point, b: Point): number {
  return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
}

/** Convex hull (Andrew's monotone chain), counter-clockwise in a y-up frame, no collinear points. */
export function convexHull(points: Point[]): Point[] {
  const pts = points.slice().sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (pts.length < 3) return pts;
  const lower: Point[] = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = pts.length - 1; i >= 0; i--) {
    const p = pts[i];
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  lower.pop();
  upper.pop();
  return lower.concat(upper);
}

/**
 * Max and min caliper (Feret) widths of a convex polygon. The maximum is the largest distance
 * between two vertices; the minimum is attained with one caliper flush with an edge (the
 * rotating-calipers theorem), so it is the smallest over edges of the farthest vertex from that
 * edge's line. Both are exact; O(n^2) in the hull size, which is small for pixel particles.
 */
export function feretDiameters(hull: Point[]): { max: number; min: number } {
  let max = 0;
  for (let i = 0; i < hull.length; i++) {
    for (let j = i + 1; j < hull.length; j++) {
      const dx = hull[i][0] - hull[j][0];
      const dy = hull[i][1] - hull[j][1];
      max = Math.max(max, dx * dx + dy * dy);
    }
  }
  let min = Infinity;
  if (hull.length < 3) min = 0;
  for (let i = 0; i < hull.length && hull.length >= 3; i++) {
    const a = hull[i];
    const b = hull[(i + 1) % hull.length];
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
    let far = 0;
    for (const p of hull) far = Math.max(far, Math.abs(cross(a, b, p)) / len);
    min = Math.min(min, far);
  }
  return { max: Math.sqrt(max), min };
}

/** Per-instance accumulators, filled in one raster pass. */
interface Acc {
  id: number;
  area: number;
  sumX: number;
  sumY: number;
  border: boolean;
  /** Crossings of the boundary along lines at 0, 90, 45 and 135 degrees. */
  n0: number;
  n90: number;
  nDiag: number;
  /** Row extents: y, first x, last x (flattened), plus the row in progress. */
  rows: number[];
  rowY: number;
  rowX0: number;
  rowX1: number;
}

/**
 * Measures every instance (positive id) of a label map; results are sorted by id.
 *
 * - area: pixel count; ecd = 2 sqrt(area / pi).
 * - perimeter: Cauchy-Crofton estimate with four line directions (0, 45, 90, 135 degrees).
 *   Crofton's formula P = 1/2 * integral over directions and offsets of the number of boundary
 *   crossings becomes P = (pi / 8) (N0 + N90 + (N45 + N135) / sqrt 2), where N_d counts pixel
 *   pairs adjacent along direction d with one pixel in the particle and the other not (or
 *   outside the image); the 1/sqrt 2 is the spacing of diagonal lines through pixel centres.
 *   It is unbiased over orientations (exact in the mean for a disk) and within -5.2 % / +2.6 %
 *   for a long straight edge at any angle (an axis-aligned a x b rectangle reads
 *   (pi / 8)(2a + 2b + 4(a + b - 1) / sqrt 2), 5.2 % short for long sides, more for small ones), unlike
 *   the pixel-edge ("crack") length, which is 4/pi = 27 % too long for a disk.
 * - feretMax / feretMin: exact caliper widths of the pixel polygon, from the convex hull of the
 *   pixel corners (only each row's first and last pixel contribute corners).
 * - aspectRatio = feretMax / feretMin.
 * - circularity = 4 pi area / perimeter^2, clamped to <= 1: digitisation can push the estimate
 *   above 1 for very small particles (a single pixel would read 1.75), and ImageJ clamps too.
 * - centroid: mean of the pixel centres (x + 0.5, y + 0.5).
 * - touchesBorder: a pixel in the first/last row or column.
 */
export function measureParticles(
  labels: ArrayLike<number>,
  width: number,
  height: number,
  options: MeasureOptions = {},
): Particle[] {
  checkShape(labels.length, width, height, 'label map');
  const { pixelSize = 1 } = options;
  if (!(pixelSize > 0) || !Number.isFinite(pixelSize)) {
    throw new UserError(`pixelSize must be a positive number (got ${pixelSize})`);
  }
  const index = new Map<number, Acc>();
  let last: Acc | undefined;
  const at = (x: number, y: number): number =>
    x < 0 || y < 0 || x >= width || y >= height ? 0 : labels[y * width + x];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const l = labels[y * width + x];
      if (!(l > 0)) continue;
      let a = last && last.id === l ? last : index.get(l);
      if (!a) {
        a = { id: l, area: 0, sumX: 0, sumY: 0, border: false, n0: 0, n90: 0, nDiag: 0, rows: [], rowY: y, rowX0: x, rowX1: x };
        index.set(l, a);
      }
      last = a;
      a.area++;
      a.sumX += x + 0.5;
      a.sumY += y + 0.5;
      if (x === 0 || y === 0 || x === width - 1 || y === height - 1) a.border = true;
      if (at(x - 1, y) !== l) a.n0++;
      if (at(x + 1, y) !== l) a.n0++;
      if (at(x, y - 1) !== l) a.n90++;
      if (at(x, y + 1) !== l) a.n90++;
      if (at(x - 1, y - 1) !== l) a.nDiag++;
      if (at(x + 1, y + 1) !== l) a.nDiag++;
      if (at(x + 1, y - 1) !== l) a.nDiag++;
      if (at(x - 1, y + 1) !== l) a.nDiag++;
      if (a.rowY !== y) {
        a.rows.push(a.rowY, a.rowX0, a.rowX1);
        a.rowY = y;
        a.rowX0 = x;
      }
      a.rowX1 = x;
    }
  }
  const particles: Particle[] = [];
  const ids = [...index.keys()].sort((p, q) => p - q);
  for (const id of ids) {
    const a = index.get(id)!;
    a.rows.push(a.rowY, a.rowX0, a.rowX1);
    const corners: Point[] = [];
    for (let k = 0; k < a.rows.length; k += 3) {
      const y = a.rows[k];
      const x0 = a.rows[k + 1];
      const x1 = a.rows[k + 2] + 1;
      corners.push([x0, y], [x0, y + 1], [x1, y], [x1, y + 1]);
    }
    const feret = feretDiameters(convexHull(corners));
    const perimeterPx = (Math.PI / 8) * (a.n0 + a.n90 + a.nDiag / Math.SQRT2);
    particles.push({
      id,
      area: a.area * pixelSize * pixelSize,
      ecd: 2 * Math.sqrt(a.area / Math.PI) * pixelSize,
      perimeter: perimeterPx * pixelSize,
      feretMax: feret.max * pixelSize,
      feretMin: feret.min * pixelSize,
      aspectRatio: feret.max / feret.min,
      circularity: Math.min(1, (4 * Math.PI * a.area) / (perimeterPx * perimeterPx)),
      centroidX: (a.sumX / a.area) * pixelSize,
      centroidY: (a.sumY / a.area) * pixelSize,
      touchesBorder: a.border,
    });
  }
  return particles;
}
