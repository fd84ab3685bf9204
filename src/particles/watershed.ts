/**
 * Marker-controlled watershed by priority flooding, significant-maxima detection, and the
 * distance-transform watershed that splits touching particles (as ImageJ's Process > Binary >
 * Watershed does).
 */
import { UserError } from '../errors.js';
import { checkConnectivity, checkShape, connectedComponents, findRoot, relabelSequential, type Connectivity, type Labelled } from './labels.js';
import { distanceTransform, type DistanceOptions } from './distance.js';
import { gaussianBlur } from './otsu.js';

/** Neighbour offsets: the 4 edge neighbours first, then the 4 corners (take the first 4 or 8). */
const DX = Int8Array.from([1, -1, 0, 0, 1, -1, 1, -1]);
const DY = Int8Array.from([0, 0, 1, -1, 1, 1, -1, -1]);

/**
 * Min-heap of (priority, insertion number) -> pixel and label. Equal priorities pop in insertion
 * order, which makes the flooding deterministic (first come, first served).
 */
class PixelHeap {
  private prio: Float64Array = new Float64Array(1024);
  private age: Float64Array = new Float64Array(1024);
  private pix: Int32Array = new Int32Array(1024);
  private lab: Int32Array = new Int32Array(1024);
  private counter = 0;
  size = 0;

  push(priority: number, pixel: number, label: number): void {
    if (this.size === this.prio.length) this.grow();
    let i = this.size++;
    const age = this.counter++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.prio[parent] < priority || (this.prio[parent] === priority && this.age[parent] < age)) break;
      this.move(parent, i);
      i = parent;
    }
    this.prio[i] = priority;
    this.age[i] = age;
    this.pix[i] = pixel;
    this.lab[i] = label;
  }

  /** Pops the top entry; returns its pixel and leaves its label in `poppedLabel`. */
  poppedLabel = 0;
  pop(): number {
    const pixel = this.pix[0];
    this.poppedLabel = this.lab[0];
    const last = --this.size;
    const p = this.prio[last];
    const a = this.age[last];
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= last) break;
      if (c + 1 < last && this.less(c + 1, c)) c++;
      if (p < this.prio[c] || (p === this.prio[c] && a < this.age[c])) break;
      this.move(c, i);
      i = c;
    }
    this.prio[i] = p;
    this.age[i] = a;
    this.pix[i] = this.pix[last];
    this.lab[i] = this.lab[last];
    return pixel;
  }

  private less(i: number, j: number): boolean {
    return this.prio[i] < this.prio[j] || (this.prio[i] === this.prio[j] && this.age[i] < this.age[j]);
  }

  private move(from: number, to: number): void {
    this.prio[to] = this.prio[from];
    this.age[to] = this.age[from];
    this.pix[to] = this.pix[from];
    this.lab[to] = this.lab[from];
  }

  private grow(): void {
    const n = this.prio.length * 2;
    const grow64 = (a: Float64Array): Float64Array => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    const grow32 = (a: Int32Array): Int32Array => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.prio = grow64(this.prio);
    this.age = grow64(this.age);
    this.pix = grow32(this.pix);
    this.lab = grow32(this.lab);
  }
}

export interface WatershedOptions {
  /** Only pixels where the mask is non-zero are flooded (default: all pixels). */
  mask?: ArrayLike<number>;
  /** Flooding neighbourhood (default 4). */
  connectivity?: Connectivity;
  /**
   * Leave watershed lines (default false). With lines, a pixel that, when its turn comes, already
   * has a neighbour (in the flooding connectivity) of another label becomes background instead,
   * so no two neighbouring pixels carry different labels (unless both are markers). With
   * 4-connectivity this gives the one-pixel, possibly diagonal separation lines of the TiO2-SEM
   * ground-truth masks. Without lines every reachable pixel joins the basin that reaches it first.
   */
  lines?: boolean;
}

/**
 * Marker-controlled watershed (Meyer's flooding): starting from the marker pixels (non-zero
 * `markers`, their value is the label), pixels are taken from a priority queue lowest `cost`
 * first (ties: first pushed first) and give their label to their unlabelled neighbours, which
 * enter the queue with their own cost. Markers outside the mask are dropped; mask pixels that no
 * marker reaches stay 0. Returns a new Int32Array of labels (the marker ids).
 */
export function markerWatershed(
  cost: ArrayLike<number>,
  markers: ArrayLike<number>,
  width: number,
  height: number,
  options: WatershedOptions = {},
): Int32Array {
  checkShape(cost.length, width, height, 'cost');
  checkShape(markers.length, width, height, 'markers');
  const { mask, connectivity = 4, lines = false } = options;
  if (mask) checkShape(mask.length, width, height, 'mask');
  checkConnectivity(connectivity);
  const n = width * height;
  const out = new Int32Array(n);
  const queued = new Uint8Array(n);
  const heap = new PixelHeap();
  for (let i = 0; i < n; i++) {
    const m = markers[i];
    if (m > 0 && (!mask || mask[i])) {
      out[i] = m;
      queued[i] = 1;
      heap.push(cost[i], i, m);
    }
  }
  while (heap.size > 0) {
    const i = heap.pop();
    const label = heap.poppedLabel;
    const x = i % width;
    const y = (i - x) / width;
    if (out[i] === 0) {
      if (lines) {
        let clash = false;
        for (let k = 0; k < connectivity; k++) {
          const nx = x + DX[k];
          const ny = y + DY[k];
          if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          const l = out[ny * width + nx];
          if (l > 0 && l !== label) {
            clash = true;
            break;
          }
        }
        if (clash) {
          out[i] = -1;
          continue;
        }
      }
      out[i] = label;
    }
    for (let k = 0; k < connectivity; k++) {
      const nx = x + DX[k];
      const ny = y + DY[k];
      if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
      const j = ny * width + nx;
      if (queued[j] || (mask && !mask[j])) continue;
      queued[j] = 1;
      heap.push(cost[j], j, label);
    }
  }
  for (let i = 0; i < n; i++) if (out[i] < 0) out[i] = 0;
  return out;
}

export interface MaximaOptions {
  /** Only maxima inside the mask (non-zero) are found; the mask's outside acts as -Infinity. */
  mask?: ArrayLike<number>;
  /**
   * Prominence: a maximum is kept only if every path from it to a higher maximum descends by
   * more than `h` (its dynamic, as in the h-maxima transform and ImageJ's "Find Maxima" with
   * prominence h). Default 0: every regional maximum (plateaus count once).
   */
  h?: number;
  /** Neighbourhood used to merge pixels and to tell mask components apart (default 8). */
  connectivity?: Connectivity;
  /**
   * Of two kept maxima of the same mask component closer than this (Euclidean, px),
   * the lower one is dropped (default 0: no suppression). Maxima of different components never
   * suppress each other, so every component keeps at least its highest maximum.
   */
  minDistance?: number;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * `idx` (pixel indices in ascending order) ordered by decreasing values[i], equal values in
 * ascending index order: the order of idx.sort((a, b) => values[b] - values[a] || a - b) for
 * values without NaN (-0 and +0 are equal, as there), found by a stable LSD radix sort of the
 * values' float64 bits (16-bit digits; a digit all keys share is skipped) instead of a
 * comparison sort calling back into JavaScript ~m log m times (450 ms for a 1024 x 704 image).
 */
export function sortByValueDesc(values: ArrayLike<number>, idx: Uint32Array): Uint32Array {
  const m = idx.length;
  const f = new Float64Array(1);
  const u = new Uint32Array(f.buffer);
  const [iLo, iHi] = LITTLE_ENDIAN ? [0, 1] : [1, 0];
  const hi = new Uint32Array(m);
  const lo = new Uint32Array(m);
  for (let k = 0; k < m; k++) {
    f[0] = values[idx[k]] + 0; // -0 + 0 = +0
    let h = u[iHi];
    let l = u[iLo];
    // Bits in ascending order of the value: flip negatives entirely, set the sign bit of the rest;
    // then complement for decreasing order.
    if (h & 0x80000000) {
      h = ~h;
      l = ~l;
    } else h ^= 0x80000000;
    hi[k] = ~h;
    lo[k] = ~l;
  }
  let pos = new Uint32Array(m);
  for (let k = 0; k < m; k++) pos[k] = k;
  let next = new Uint32Array(m);
  const count = new Uint32Array(65537);
  for (const [keys, shift] of [[lo, 0], [lo, 16], [hi, 0], [hi, 16]] as const) {
    count.fill(0);
    for (let k = 0; k < m; k++) count[((keys[k] >>> shift) & 0xffff) + 1]++;
    if (m === 0 || count[((keys[0] >>> shift) & 0xffff) + 1] === m) continue;
    for (let d = 1; d <= 65536; d++) count[d] += count[d - 1];
    for (let k = 0; k < m; k++) {
      const p = pos[k];
      next[count[(keys[p] >>> shift) & 0xffff]++] = p;
    }
    [pos, next] = [next, pos];
  }
  const out = new Uint32Array(m);
  for (let k = 0; k < m; k++) out[k] = idx[pos[k]];
  return out;
}

/**
 * Significant maxima of `values`: one pixel per maximum (the first pixel in raster order among the
 * highest of its plateau), found by merging pixels in decreasing value order with union-find and
 * measuring each maximum's dynamic when its component merges into a higher one.
 * Returns a label map with the maxima numbered 1..count in decreasing value order.
 */
export function findMaxima(values: ArrayLike<number>, width: number, height: number, options: MaximaOptions = {}): Labelled {
  checkShape(values.length, width, height, 'values');
  const { mask, h = 0, minDistance = 0, connectivity = 8 } = options;
  checkConnectivity(connectivity);
  if (mask) checkShape(mask.length, width, height, 'mask');
  if (!(h >= 0) || !(minDistance >= 0)) {
    throw new UserError(`findMaxima: h and minDistance must be >= 0 (got ${h}, ${minDistance})`);
  }
  const n = width * height;
  let m = 0;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) if (!mask || mask[i]) order[m++] = i;
  const sorted = sortByValueDesc(values, order.subarray(0, m));
  const parent = new Int32Array(n).fill(-1);
  const peak = new Int32Array(n); // peak pixel of a root's component
  // Rank of each pixel in the sorted order: a lower rank is a higher (or earlier equal) peak.
  const rank = new Int32Array(n);
  for (let k = 0; k < m; k++) rank[sorted[k]] = k;
  const kept: number[] = [];
  for (let k = 0; k < m; k++) {
    const p = sorted[k];
    parent[p] = p;
    peak[p] = p;
    const level = values[p];
    const x = p % width;
    const y = (p - x) / width;
    for (let k = 0; k < connectivity; k++) {
      const nx = x + DX[k];
      const ny = y + DY[k];
      if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
      const q = ny * width + nx;
      if (parent[q] < 0) continue;
      const rp = findRoot(parent, p);
      const rq = findRoot(parent, q);
      if (rp === rq) continue;
      // The component with the lower peak ends here; its dynamic is its peak minus this level.
      const [hi, lo] = rank[peak[rp]] < rank[peak[rq]] ? [rp, rq] : [rq, rp];
      if (values[peak[lo]] - level > h) kept.push(peak[lo]);
      parent[lo] = hi;
    }
  }
  for (let k = 0; k < m; k++) {
    const p = sorted[k];
    if (parent[p] === p) kept.push(peak[p]);
  }
  kept.sort((a, b) => rank[a] - rank[b]);
  let accepted = kept;
  if (minDistance > 0 && kept.length > 1) {
    const comp = connectedComponents(mask ?? new Uint8Array(n).fill(1), width, height, connectivity).labels;
    const d2 = minDistance * minDistance;
    accepted = [];
    for (const p of kept) {
      const px = p % width;
      const py = (p - px) / width;
      const close = accepted.some((q) => {
        if (comp[q] !== comp[p]) return false;
        const qx = q % width;
        const qy = (q - qx) / width;
        return (px - qx) * (px - qx) + (py - qy) * (py - qy) < d2;
      });
      if (!close) accepted.push(p);
    }
  }
  const labels = new Int32Array(n);
  accepted.forEach((p, k) => (labels[p] = k + 1));
  return { labels, count: accepted.length };
}

export interface DistanceWatershedOptions extends DistanceOptions {
  /** Gaussian smoothing (px) of the distance map before the maxima are found (default 0). */
  sigma?: number;
  /** Prominence of a marker in px of distance (default 0.5, ImageJ's EDM-watershed tolerance). */
  h?: number;
  /** Minimum distance between markers in one component (px, default 0: off). */
  minDistance?: number;
  /** Leave one-pixel separation lines between split particles (default true; see `lines`). */
  lines?: boolean;
}

/**
 * Splits touching particles of a binary mask, in the manner of ImageJ's binary watershed:
 * the Euclidean distance map (optionally smoothed) gives one marker per maximum that stands out
 * by more than `h` px (and is at least `minDistance` px from a higher one), and the mask is
 * flooded on the inverted distance map from those markers. Maxima, components and flooding all
 * use 4-connectivity, so every 4-connected component of the mask gets at least one marker and is
 * reached by the flood (instances are 4-connected, as in the ground truth). By default the
 * pixels where two basins meet are left as background lines, as in the ground-truth masks;
 * with `lines: false` they join a neighbouring basin. Returns instances numbered 1..count in raster order.
 */
export function distanceWatershed(
  mask: ArrayLike<number>,
  width: number,
  height: number,
  options: DistanceWatershedOptions = {},
): Labelled {
  const { sigma = 0, h = 0.5, minDistance = 0, lines = true } = options;
  let dist = distanceTransform(mask, width, height, options);
  if (sigma > 0) {
    dist = gaussianBlur(dist, width, height, sigma);
    for (let i = 0; i < dist.length; i++) if (!mask[i]) dist[i] = 0;
  }
  const markers = findMaxima(dist, width, height, { mask, h, minDistance, connectivity: 4 });
  const cost = new Float32Array(dist.length);
  for (let i = 0; i < cost.length; i++) cost[i] = -dist[i];
  const labels = markerWatershed(cost, markers.labels, width, height, { mask, connectivity: 4, lines });
  return relabelSequential(labels);
}
