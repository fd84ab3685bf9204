/**
 * Star-convex polygon instances (U. Schmidt, M. Weigert, C. Broaddus, G. Myers, "Cell Detection
 * with Star-convex Polygons", MICCAI 2018), pure (no Node modules).
 *
 * Every particle pixel carries R radial distances: along R directions evenly spaced in angle
 * (direction k at angle 2 pi k / R, x to the right, y down), the distance from the pixel to the
 * edge of its own particle (starRays, StarDist's star_dist with its half-pixel overshoot
 * correction). The U-Net learns them (segment train --instance-target stardist) beside the
 * object probability, which is the distance head's normalised distance to the outline
 * (seg/targets.ts, StarDist's own probability target). At inference (polygonInstances) every
 * foreground pixel whose predicted probability exceeds a threshold proposes the polygon of its
 * predicted rays; a greedy non-maximum suppression by polygon IoU keeps the most probable ones;
 * they are painted (most probable on top) within the predicted foreground, separated by one-pixel
 * lines as the manual masks are, and the foreground they do not cover is flooded from them.
 */
import { checkShape, removeSmallComponents, type Labelled } from '../particles/labels.js';
import { markerWatershed } from '../particles/watershed.js';
import { typicalPeak } from '../particles/instances.js';

/** The ray counts a model may have: multiples of 4, so the 8 symmetries of a square map the ray set onto itself. */
export function checkRayCount(rays: number, what = 'rays'): void {
  if (!Number.isInteger(rays) || rays < 4 || rays > 64 || rays % 4 !== 0) throw new Error(`${what} must be a multiple of 4 in [4, 64], got ${String(rays)}`);
}

/** Unit direction (dx, dy) of ray k of R. */
export function rayDirection(k: number, rays: number): [number, number] {
  const a = (2 * Math.PI * k) / rays;
  return [Math.cos(a), Math.sin(a)];
}

/**
 * Radial distances [R, H*W] (ray k's plane, row-major) of an instance map; 0 on background. A ray
 * walks from the pixel centre in unit steps until the rounded position leaves the image or the
 * pixel's instance; its length is then corrected back by half a pixel along the ray's major axis
 * (StarDist's star_dist), so a one-pixel particle has rays of 0.5-0.71 px and a ray that ends
 * between pixel centres ends on the pixel edge. The image border ends a ray like background.
 */
export function starRays(labels: ArrayLike<number>, width: number, height: number, rays: number): Float32Array {
  checkShape(labels.length, width, height, 'instance map');
  checkRayCount(rays);
  const n = width * height;
  const out = new Float32Array(rays * n);
  for (let k = 0; k < rays; k++) {
    const [dx, dy] = rayDirection(k, rays);
    const corr = 0.5 / Math.max(Math.abs(dx), Math.abs(dy));
    const plane = out.subarray(k * n, (k + 1) * n);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const l = labels[y * width + x];
        if (!l) continue;
        let t = 0;
        for (;;) {
          t++;
          const xx = Math.round(x + t * dx);
          const yy = Math.round(y + t * dy);
          if (xx < 0 || yy < 0 || xx >= width || yy >= height || labels[yy * width + xx] !== l) break;
        }
        plane[y * width + x] = t - 1 + corr;
      }
    }
  }
  return out;
}

/**
 * Ray k of the image seen mirrored (in x: angle pi - a; in y: angle -a) is ray perm[k] of the
 * original: so a prediction on a mirrored image, mirrored back, has its ray planes reordered.
 */
export function mirroredRayIndex(rays: number, flipX: boolean, flipY: boolean): Int32Array {
  checkRayCount(rays);
  const perm = new Int32Array(rays);
  for (let k = 0; k < rays; k++) {
    let j = k;
    if (flipX) j = (rays / 2 - j + rays) % rays;
    if (flipY) j = (rays - j) % rays;
    perm[k] = j;
  }
  return perm;
}

/** A polygon rasterised as a pixel mask over its bounding box. */
interface Raster {
  x0: number;
  y0: number;
  w: number;
  h: number;
  mask: Uint8Array;
  area: number;
}

/**
 * The pixels (centres) of the star-convex polygon with centre (cx, cy) and vertices at distance
 * r[k] along ray k, clipped to the image: a pixel is inside when it lies in the triangle of the
 * centre and the two vertices of its angular sector (on the centre's side of their edge, or on it).
 */
export function rasterStarPolygon(cx: number, cy: number, r: ArrayLike<number>, width: number, height: number): Raster {
  const rays = r.length;
  const vx = new Float64Array(rays);
  const vy = new Float64Array(rays);
  let rmax = 0;
  for (let k = 0; k < rays; k++) {
    const [dx, dy] = rayDirection(k, rays);
    const rk = Math.max(0, r[k]);
    vx[k] = cx + rk * dx;
    vy[k] = cy + rk * dy;
    if (rk > rmax) rmax = rk;
  }
  const x0 = Math.max(0, Math.floor(cx - rmax));
  const y0 = Math.max(0, Math.floor(cy - rmax));
  const x1 = Math.min(width - 1, Math.ceil(cx + rmax));
  const y1 = Math.min(height - 1, Math.ceil(cy + rmax));
  const w = Math.max(0, x1 - x0 + 1);
  const h = Math.max(0, y1 - y0 + 1);
  const mask = new Uint8Array(w * h);
  const sector = rays / (2 * Math.PI);
  let area = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const px = x + x0 - cx;
      const py = y + y0 - cy;
      let inside: boolean;
      if (px === 0 && py === 0) inside = true;
      else {
        let a = Math.atan2(py, px);
        if (a < 0) a += 2 * Math.PI;
        const k = Math.min(rays - 1, Math.floor(a * sector));
        const k1 = (k + 1) % rays;
        const ex = vx[k1] - vx[k], ey = vy[k1] - vy[k];
        const sq = ex * (y + y0 - vy[k]) - ey * (x + x0 - vx[k]);
        const sc = ex * (cy - vy[k]) - ey * (cx - vx[k]);
        inside = sc !== 0 && (sq === 0 || sq > 0 === sc > 0);
      }
      if (inside) {
        mask[y * w + x] = 1;
        area++;
      }
    }
  }
  return { x0, y0, w, h, mask, area };
}

function overlap(a: Raster, b: Raster): number {
  const xs = Math.max(a.x0, b.x0), xe = Math.min(a.x0 + a.w, b.x0 + b.w);
  const ys = Math.max(a.y0, b.y0), ye = Math.min(a.y0 + a.h, b.y0 + b.h);
  let n = 0;
  for (let y = ys; y < ye; y++) {
    const ao = (y - a.y0) * a.w - a.x0, bo = (y - b.y0) * b.w - b.x0;
    for (let x = xs; x < xe; x++) n += a.mask[ao + x] & b.mask[bo + x];
  }
  return n;
}

/** The defaults of polygonInstances' thresholds. */
export const STAR_DEFAULTS = { prob: 0.4, nms: 0.3 } as const;

export interface StarInstanceOptions {
  /** Foreground = P(background) below this (default 0.5). */
  background?: number;
  /** A foreground pixel proposes its polygon when its predicted probability exceeds this (default 0.4). */
  prob?: number;
  /**
   * When set, the level is this fraction of the image's typical predicted centre value instead
   * of `prob` (typicalPeak, as the distance instances' core level: a U-Net trained on renders
   * predicts centre values of ~0.5, not 1).
   */
  relative?: number;
  /** A proposal is suppressed when its IoU with a kept polygon exceeds this (default 0.3). */
  nms?: number;
  /** Flood the foreground the polygons leave uncovered from them (default true). */
  fill?: boolean;
  /** Particles smaller than this are dropped at the end (default 50 px). */
  minArea?: number;
  /** One-pixel background lines between touching particles (default true). */
  lines?: boolean;
}

/** The greedy polygon NMS: the kept proposals, as pixel indices of their centres, most probable first. */
export function starNms(prob: ArrayLike<number>, rays: ArrayLike<number>, candidates: ArrayLike<number>, width: number, height: number, nRays: number, nmsIoU: number): { centre: number; raster: Raster }[] {
  const n = width * height;
  const order = Array.from(candidates).sort((a, b) => prob[b] - prob[a] || a - b);
  // Kept polygons by the 32 px cells their bounding boxes touch, for the overlap search.
  const cell = 32;
  const gw = Math.ceil(width / cell), gh = Math.ceil(height / cell);
  const grid: number[][] = Array.from({ length: gw * gh }, () => []);
  const kept: { centre: number; raster: Raster }[] = [];
  const r = new Float64Array(nRays);
  // The proposal that last compared each kept polygon: each once per proposal, whatever the cells both touch.
  const lastSeen: number[] = [];
  let tick = 0;
  for (const i of order) {
    const x = i % width, y = (i - x) / width;
    for (let k = 0; k < nRays; k++) r[k] = rays[k * n + i];
    const p = rasterStarPolygon(x, y, r, width, height);
    if (p.area === 0) continue;
    let suppressed = false;
    tick++;
    const cx0 = Math.floor(p.x0 / cell), cx1 = Math.floor((p.x0 + p.w - 1) / cell);
    const cy0 = Math.floor(p.y0 / cell), cy1 = Math.floor((p.y0 + p.h - 1) / cell);
    for (let gy = cy0; gy <= cy1 && !suppressed; gy++) {
      for (let gx = cx0; gx <= cx1 && !suppressed; gx++) {
        for (const j of grid[gy * gw + gx]) {
          if (lastSeen[j] === tick) continue;
          lastSeen[j] = tick;
          const q = kept[j].raster;
          const inter = overlap(p, q);
          if (inter > 0 && inter / (p.area + q.area - inter) > nmsIoU) {
            suppressed = true;
            break;
          }
        }
      }
    }
    if (suppressed) continue;
    const id = kept.length;
    kept.push({ centre: i, raster: p });
    for (let gy = cy0; gy <= cy1; gy++) for (let gx = cx0; gx <= cx1; gx++) grid[gy * gw + gx].push(id);
  }
  return kept;
}

/**
 * Instances from class probabilities [3, H, W], the predicted object probability [H, W] (the
 * distance head) and predicted rays [R, H, W] (px): see the module comment. Returns instances
 * numbered 1..count in raster order.
 */
export function polygonInstances(probabilities: ArrayLike<number>, prob: ArrayLike<number>, rays: ArrayLike<number>, width: number, height: number, options: StarInstanceOptions = {}): Labelled {
  const n = width * height;
  checkShape(probabilities.length, 3 * width, height, 'class probabilities (3 classes)');
  checkShape(prob.length, width, height, 'object probability');
  if (rays.length % n !== 0) throw new Error(`polygonInstances: ${rays.length} ray values are not a whole number of ${width} x ${height} planes`);
  const nRays = rays.length / n;
  checkRayCount(nRays, 'polygonInstances: the number of ray planes');
  const { background = 0.5, nms = STAR_DEFAULTS.nms, fill = true, minArea = 50, lines = true } = options;
  const fg = new Uint8Array(n);
  for (let i = 0; i < n; i++) fg[i] = probabilities[i] < background ? 1 : 0;
  const level = options.relative !== undefined ? options.relative * typicalPeak(prob, fg, width, height) : (options.prob ?? STAR_DEFAULTS.prob);
  const candidates: number[] = [];
  for (let i = 0; i < n; i++) if (fg[i] && prob[i] > level) candidates.push(i);
  const kept = starNms(prob, rays, candidates, width, height, nRays, nms);
  // Painted least probable first, so the most probable polygon owns the pixels they share.
  const painted = new Int32Array(n);
  for (let id = kept.length - 1; id >= 0; id--) {
    const { x0, y0, w, h, mask } = kept[id].raster;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (mask[y * w + x]) {
      const i = (y + y0) * width + x + x0;
      if (fg[i]) painted[i] = id + 1;
    }
  }
  if (lines) {
    // Of two 4-neighbours with different particles, the one of the lower id becomes background:
    // afterwards no two particles touch, and the line is one pixel wide.
    const carved = painted.slice();
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        const l = painted[i];
        if (!l) continue;
        const higher = (j: number) => painted[j] > l;
        if ((x > 0 && higher(i - 1)) || (x < width - 1 && higher(i + 1)) || (y > 0 && higher(i - width)) || (y < height - 1 && higher(i + width))) carved[i] = 0;
      }
    }
    painted.set(carved);
  }
  let labels: Int32Array = painted;
  if (fill) {
    const cost = new Float32Array(n);
    for (let i = 0; i < n; i++) cost[i] = -prob[i];
    // With lines, a pixel is flooded only when no other particle touches it, so the carved lines stay.
    labels = markerWatershed(cost, painted, width, height, { mask: fg, connectivity: 4, lines });
  }
  return removeSmallComponents(labels, minArea);
}
