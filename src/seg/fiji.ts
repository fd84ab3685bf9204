/**
 * ImageJ / Fiji "Analyze Particles" measurements of a label map, with Fiji's column names, so a
 * particles.csv opens next to Fiji's own results: Area, Perim., Feret, MinFeret, Circ., AR, Round,
 * Solidity (and X, Y, the centroid). Definitions as ImageJ computes them for a traced particle:
 *   Area      pixel count x pixelSize^2
 *   Perim.    the traced outline's length, corners cut: edges counted 1, each non-adjacent corner
 *             2 - sqrt(2) less (ImageJ's PolygonRoi.getTracedPerimeter)
 *   Feret, MinFeret  largest / smallest caliper width of the pixel polygon (from measure.ts)
 *   Circ.     4 pi Area / Perim.^2, at most 1
 *   AR        major / minor axis of the ellipse with the particle's second moments
 *   Round     4 Area / (pi major^2) = 1 / AR (ImageJ's ellipse keeps the particle's area)
 *   Solidity  Area / area of the convex hull of the outline
 */
import { convexHull, type Particle, type Point } from '../particles/measure.js';
import { polygonArea, traceOutlines, type Outline } from './outline.js';
import { csvField } from './csv.js';

export interface FijiParticle {
  id: number;
  area: number;
  perim: number;
  feret: number;
  minFeret: number;
  circ: number;
  ar: number;
  round: number;
  solidity: number;
  x: number;
  y: number;
}

export const FIJI_CSV_HEADER = ' ,Label,Area,Perim.,Feret,MinFeret,Circ.,AR,Round,Solidity,X,Y';

/** ImageJ's traced perimeter of an outline, in px (PolygonRoi.getTracedPerimeter). */
export function tracedPerimeter(o: Outline): number {
  const n = o.xs.length;
  if (n < 4) return 0;
  let sumdx = 0;
  let sumdy = 0;
  let corners = 0;
  let dx1 = o.xs[0] - o.xs[n - 1];
  let dy1 = o.ys[0] - o.ys[n - 1];
  let side1 = Math.abs(dx1) + Math.abs(dy1);
  let corner = false;
  for (let i = 0; i < n; i++) {
    const j = i + 1 === n ? 0 : i + 1;
    const dx2 = o.xs[j] - o.xs[i];
    const dy2 = o.ys[j] - o.ys[i];
    sumdx += Math.abs(dx1);
    sumdy += Math.abs(dy1);
    const side2 = Math.abs(dx2) + Math.abs(dy2);
    if (side1 > 1 || !corner) {
      corner = true;
      corners++;
    } else corner = false;
    dx1 = dx2;
    dy1 = dy2;
    side1 = side2;
  }
  return sumdx + sumdy - corners * (2 - Math.SQRT2);
}

/**
 * Fiji's measurements of each particle of `particles` (measured by measureParticles on the same
 * labels with the same pixel size), plus each particle's outline for an ROI set.
 */
export function fijiMeasurements(
  labels: ArrayLike<number>, w: number, h: number, particles: readonly Particle[], pixelSize = 1,
): { rows: FijiParticle[]; outlines: Map<number, Outline> } {
  const count = particles.reduce((m, p) => Math.max(m, p.id), 0);
  const outlines = traceOutlines(labels, w, h, count);
  // Second moments per label about the origin, then central (pixel centres; + 1/12 per axis for the pixel's own extent).
  const n = new Float64Array(count + 1), sx = new Float64Array(count + 1), sy = new Float64Array(count + 1);
  const sxx = new Float64Array(count + 1), syy = new Float64Array(count + 1), sxy = new Float64Array(count + 1);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const l = labels[y * w + x];
      if (l <= 0 || l > count) continue;
      const cx = x + 0.5, cy = y + 0.5;
      n[l]++; sx[l] += cx; sy[l] += cy; sxx[l] += cx * cx; syy[l] += cy * cy; sxy[l] += cx * cy;
    }
  }
  const rows: FijiParticle[] = [];
  const byId = new Map<number, Outline>();
  for (const p of particles) {
    const o = outlines[p.id - 1];
    if (!o) continue;
    byId.set(p.id, o);
    const k = n[p.id];
    const mx = sx[p.id] / k, my = sy[p.id] / k;
    const a = sxx[p.id] / k - mx * mx + 1 / 12;
    const c = syy[p.id] / k - my * my + 1 / 12;
    const b = sxy[p.id] / k - mx * my;
    const root = Math.sqrt((a - c) ** 2 + 4 * b * b);
    const l1 = (a + c + root) / 2, l2 = (a + c - root) / 2;
    const ar = l2 > 0 ? Math.sqrt(l1 / l2) : Infinity;
    const perimPx = tracedPerimeter(o);
    const hull = convexHull(o.xs.map((x, i): Point => [x, o.ys[i]]));
    const hullArea = Math.abs(polygonArea({ xs: hull.map((q) => q[0]), ys: hull.map((q) => q[1]) }));
    const area = k * pixelSize * pixelSize;
    const perim = perimPx * pixelSize;
    rows.push({
      id: p.id, area, perim, feret: p.feretMax, minFeret: p.feretMin,
      circ: perim > 0 ? Math.min(1, (4 * Math.PI * area) / (perim * perim)) : 0,
      ar, round: 1 / ar, solidity: hullArea > 0 ? k / hullArea : 1,
      x: mx * pixelSize, y: my * pixelSize,
    });
  }
  return { rows, outlines: byId };
}

const num = (v: number): string => (Number.isFinite(v) ? Number(v.toPrecision(7)).toString() : 'NaN');

/** particles.csv with Fiji's columns: a row number, Label (image:id), then the measurements. */
export function fijiCsv(images: readonly { image: string; rows: readonly FijiParticle[] }[]): string {
  const lines = [FIJI_CSV_HEADER];
  let row = 0;
  for (const { image, rows } of images) {
    for (const r of rows) {
      lines.push([String(++row), csvField(`${image}:${r.id}`), num(r.area), num(r.perim), num(r.feret), num(r.minFeret), num(r.circ), num(r.ar), num(r.round), num(r.solidity), num(r.x), num(r.y)].join(','));
    }
  }
  return lines.join('\n') + '\n';
}
