/**
 * The outer outline of a labelled particle as a polygon on pixel corners (pixel (x, y) is the
 * square [x, x+1] x [y, y+1]), traced along pixel edges like ImageJ's wand / particle analyzer:
 * vertices only where the direction turns, clockwise on screen (y down), starting at the top-left
 * corner of the particle's first pixel in raster order. Pixels that touch only at a corner count as
 * connected (8-connectivity); holes are not traced. For a particle without holes the polygon's area
 * is its pixel count.
 */
export interface Outline {
  xs: number[];
  ys: number[];
}

// Directions E, S, W, N (y down); turning right = +1.
const DX = [1, 0, -1, 0];
const DY = [0, 1, 0, -1];

/** Traces the outline of `label` starting at its first pixel `start` (index y * w + x) in raster order. */
export function traceOutline(labels: ArrayLike<number>, w: number, h: number, label: number, start: number): Outline {
  const inside = (x: number, y: number): boolean => x >= 0 && y >= 0 && x < w && y < h && labels[y * w + x] === label;
  const x0 = start % w;
  const y0 = (start - x0) / w;
  let x = x0;
  let y = y0;
  let d = 0;
  const xs: number[] = [];
  const ys: number[] = [];
  // Each boundary edge is walked once: the loop ends within 4 (w + 1)(h + 1) steps.
  const limit = 4 * (w + 1) * (h + 1);
  for (let step = 0; step < limit; step++) {
    // The two pixels ahead of the vertex (x, y) when heading d: ahead-left and ahead-right.
    const rx = -DY[d];
    const ry = DX[d];
    const alx = Math.floor(x + 0.5 * DX[d] - 0.5 * rx);
    const aly = Math.floor(y + 0.5 * DY[d] - 0.5 * ry);
    const arx = Math.floor(x + 0.5 * DX[d] + 0.5 * rx);
    const ary = Math.floor(y + 0.5 * DY[d] + 0.5 * ry);
    let nd: number;
    if (inside(alx, aly)) nd = (d + 3) % 4; // turn left (8-connected: a corner neighbour joins)
    else if (inside(arx, ary)) nd = d; // straight on along the edge
    else nd = (d + 1) % 4; // turn right
    if (nd !== d || step === 0) {
      xs.push(x);
      ys.push(y);
    }
    d = nd;
    x += DX[d];
    y += DY[d];
    // Back at the start (always arriving heading north: nothing of the label lies left of or above
    // its first pixel, so the start is a turn and a vertex, and no earlier pass can touch it).
    if (x === x0 && y === y0) return { xs, ys };
  }
  throw new Error(`traceOutline: label ${label} did not close within ${limit} steps`);
}

/** The outline of every label 1..count (null for a label with no pixels), by one raster scan. */
export function traceOutlines(labels: ArrayLike<number>, w: number, h: number, count: number): (Outline | null)[] {
  const first = new Int32Array(count + 1).fill(-1);
  for (let i = 0; i < w * h; i++) {
    const l = labels[i];
    if (l > 0 && l <= count && first[l] < 0) first[l] = i;
  }
  const out: (Outline | null)[] = [];
  for (let l = 1; l <= count; l++) out.push(first[l] < 0 ? null : traceOutline(labels, w, h, l, first[l]));
  return out;
}

/** Shoelace area of a polygon (positive for clockwise on screen, y down). */
export function polygonArea(o: Outline): number {
  let a = 0;
  const n = o.xs.length;
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    a += o.xs[i] * o.ys[j] - o.xs[j] * o.ys[i];
  }
  return a / 2;
}
