/**
 * Label maps and connected components.
 *
 * Images are row-major (index = y * width + x). A mask is any array of numbers where non-zero
 * means foreground; a label map is an `Int32Array` or `Uint16Array` where 0 is background and
 * every positive value names one instance. Everything here is a pure function over typed arrays
 * (no Node modules), so it also runs in a browser.
 */
import { UserError } from '../errors.js';

/** A map of instance ids per pixel; 0 = background. */
export type LabelMap = Int32Array | Uint16Array;

/** 4 = edge neighbours only; 8 = edge and corner neighbours. */
export type Connectivity = 4 | 8;

/** A label map whose ids are exactly 1..count. */
export interface Labelled {
  labels: Int32Array;
  count: number;
}

/** Throws a UserError unless width and height are positive integers and `length` matches them. */
export function checkShape(length: number, width: number, height: number, what = 'image'): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new UserError(`${what}: width and height must be positive integers (got ${width} x ${height})`);
  }
  if (length !== width * height) {
    throw new UserError(`${what}: has ${length} pixels, expected ${width} x ${height} = ${width * height}`);
  }
}

/** Throws a UserError unless connectivity is 4 or 8. */
export function checkConnectivity(connectivity: number): void {
  if (connectivity !== 4 && connectivity !== 8) {
    throw new UserError(`connectivity must be 4 or 8 (got ${connectivity})`);
  }
}

/** Root of i in a union-find forest (parent[root] = root), compressing the path on the way. */
export function findRoot(parent: Int32Array, i: number): number {
  let root = i;
  while (parent[root] !== root) root = parent[root];
  while (parent[i] !== root) {
    const next = parent[i];
    parent[i] = root;
    i = next;
  }
  return root;
}

function union(parent: Int32Array, a: number, b: number): number {
  const ra = findRoot(parent, a);
  const rb = findRoot(parent, b);
  if (ra === rb) return ra;
  // The smaller provisional label becomes the root, so final ids follow raster order.
  if (ra < rb) {
    parent[rb] = ra;
    return ra;
  }
  parent[ra] = rb;
  return rb;
}

/**
 * Connected components of the non-zero pixels of `mask`, by the classic two-pass algorithm with
 * union-find over provisional labels (linear time up to the inverse-Ackermann factor).
 * Components are numbered 1..count in the raster order of their first pixel.
 */
export function connectedComponents(
  mask: ArrayLike<number>,
  width: number,
  height: number,
  connectivity: Connectivity = 8,
): Labelled {
  checkShape(mask.length, width, height, 'mask');
  checkConnectivity(connectivity);
  const n = width * height;
  const labels = new Int32Array(n);
  // Provisional labels: at most one per foreground pixel, plus the unused 0.
  const parent = new Int32Array(n + 1);
  const merge = (l: number, j: number): number => {
    const lj = labels[j];
    if (lj === 0) return l;
    return l === 0 ? findRoot(parent, lj) : union(parent, l, lj);
  };
  let next = 1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const i = row + x;
      if (!mask[i]) continue;
      let l = 0;
      if (x > 0) l = merge(l, i - 1);
      if (y > 0) {
        l = merge(l, i - width);
        if (connectivity === 8) {
          if (x > 0) l = merge(l, i - width - 1);
          if (x < width - 1) l = merge(l, i - width + 1);
        }
      }
      if (l === 0) {
        parent[next] = next;
        l = next++;
      }
      labels[i] = l;
    }
  }
  // Resolve roots and number them sequentially in order of first appearance.
  const final = new Int32Array(next);
  let count = 0;
  for (let l = 1; l < next; l++) {
    const r = findRoot(parent, l);
    if (r === l) final[l] = ++count;
  }
  for (let l = 1; l < next; l++) final[l] = final[findRoot(parent, l)];
  for (let i = 0; i < n; i++) if (labels[i]) labels[i] = final[labels[i]];
  return { labels, count };
}

/**
 * Renumbers the positive ids of a label map to 1..count in the raster order of their first pixel;
 * 0 stays 0. Negative ids are treated as background (set to 0).
 */
export function relabelSequential(labels: ArrayLike<number>): Labelled {
  const out = new Int32Array(labels.length);
  const ids = new Map<number, number>();
  let count = 0;
  let lastId = 0;
  let lastNew = 0;
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (!(v > 0)) continue;
    if (v === lastId) {
      out[i] = lastNew;
      continue;
    }
    let nv = ids.get(v);
    if (nv === undefined) {
      nv = ++count;
      ids.set(v, nv);
    }
    lastId = v;
    lastNew = nv;
    out[i] = nv;
  }
  return { labels: out, count };
}

/** Pixel count of every id 0..count of a sequential label map (index 0 = background). */
export function componentAreas(labels: ArrayLike<number>, count: number): Int32Array {
  const areas = new Int32Array(count + 1);
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (v > count || v < 0) throw new UserError(`label ${v} is outside 0..${count}`);
    areas[v]++;
  }
  return areas;
}

/**
 * Sets every instance with fewer than `minArea` pixels to background and renumbers the rest
 * sequentially. Accepts arbitrary (non-sequential) positive ids.
 */
export function removeSmallComponents(labels: ArrayLike<number>, minArea: number): Labelled {
  if (!Number.isFinite(minArea) || minArea < 0) {
    throw new UserError(`minArea must be a finite number >= 0 (got ${minArea})`);
  }
  const seq = relabelSequential(labels);
  const areas = componentAreas(seq.labels, seq.count);
  const keep = new Int32Array(seq.count + 1);
  let count = 0;
  for (let l = 1; l <= seq.count; l++) if (areas[l] >= minArea) keep[l] = ++count;
  const out = seq.labels;
  for (let i = 0; i < out.length; i++) out[i] = keep[out[i]];
  return { labels: out, count };
}

/**
 * Instances of a ground-truth mask.
 *
 * - A binary mask (at most one distinct non-zero value, e.g. the {0, 255} masks of the TiO2-SEM
 *   set) is split into its 4-connected components. Those masks separate touching particles by
 *   one-pixel background lines that may run diagonally; such a line blocks 4-connectivity but not
 *   8-connectivity, which would merge the particles on both sides. Hence 4, not 8.
 * - A mask with two or more distinct non-zero values is taken to be instance-labelled already:
 *   its ids are kept as instances (renumbered 1..count in raster order), even where one id covers
 *   several pieces.
 */
export function instancesFromBinaryMask(mask: ArrayLike<number>, width: number, height: number): Labelled {
  checkShape(mask.length, width, height, 'mask');
  let first = 0;
  let multi = false;
  for (let i = 0; i < mask.length; i++) {
    const v = mask[i];
    if (v === 0) continue;
    if (first === 0) first = v;
    else if (v !== first) {
      multi = true;
      break;
    }
  }
  if (multi) return relabelSequential(mask);
  return connectedComponents(mask, width, height, 4);
}
