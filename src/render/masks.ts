/**
 * Exact masks from the hard z-buffer, with the reference post-processing:
 *  1. every 4-connected piece of an instance smaller than `minArea` (default 50 px) is removed;
 *  2. contour: an instance pixel is contour when a 4-neighbour is background, or belongs to an
 *     instance with a smaller id (so touching particles are separated by a one-pixel line that
 *     the higher id carves out of itself; interiors of different instances are never
 *     4-adjacent); image borders are not contours;
 *  3. optional dilation of the contour class by `contourDilation` 4-neighbour steps;
 * class mask: 0 background, 1 particle, 2 contour.
 * Rejection (reference): fewer than `minBackground` (15 %) background pixels, or too little
 * contrast: for bright particles (SEM, HIM) mean(background) * contrastFactor (1.15) >
 * mean(particle); for dark particles (transmission) the same rule with the roles swapped,
 * mean(particle) * contrastFactor > mean(background).
 */
import type { Polarity } from '../particles/polarity.js';

export interface MaskOptions {
  minArea?: number;
  contourDilation?: number;
}

export interface Masks {
  /** Instance ids after small-piece removal (0 = background). */
  instances: Uint16Array;
  /** 0 background, 1 particle, 2 contour. */
  classes: Uint8Array;
}

/** Removes 4-connected pieces of each instance that are smaller than minArea (in place copy). */
export function removeSmallPieces(instances: Uint16Array, W: number, H: number, minArea: number): Uint16Array {
  const out = Uint16Array.from(instances);
  const seen = new Uint8Array(W * H);
  const stack = new Int32Array(W * H);
  const piece = new Int32Array(W * H);
  for (let s = 0; s < W * H; s++) {
    const id = out[s];
    if (id === 0 || seen[s]) continue;
    let top = 0, n = 0;
    stack[top++] = s;
    seen[s] = 1;
    while (top > 0) {
      const p = stack[--top];
      piece[n++] = p;
      const x = p % W, y = (p - x) / W;
      if (x > 0 && !seen[p - 1] && out[p - 1] === id) { seen[p - 1] = 1; stack[top++] = p - 1; }
      if (x < W - 1 && !seen[p + 1] && out[p + 1] === id) { seen[p + 1] = 1; stack[top++] = p + 1; }
      if (y > 0 && !seen[p - W] && out[p - W] === id) { seen[p - W] = 1; stack[top++] = p - W; }
      if (y < H - 1 && !seen[p + W] && out[p + W] === id) { seen[p + W] = 1; stack[top++] = p + W; }
    }
    if (n < minArea) for (let k = 0; k < n; k++) out[piece[k]] = 0;
  }
  return out;
}

export function buildMasks(instancesIn: Uint16Array, W: number, H: number, opts: MaskOptions = {}): Masks {
  const instances = removeSmallPieces(instancesIn, W, H, opts.minArea ?? 50);
  const classes = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const p = y * W + x;
      const id = instances[p];
      if (id === 0) continue;
      let contour = false;
      const check = (q: number): void => {
        const j = instances[q];
        if (j === 0 || j < id) contour = true;
      };
      if (x > 0) check(p - 1);
      if (x < W - 1) check(p + 1);
      if (y > 0) check(p - W);
      if (y < H - 1) check(p + W);
      classes[p] = contour ? 2 : 1;
    }
  }
  for (let k = 0; k < (opts.contourDilation ?? 0); k++) {
    const prev = Uint8Array.from(classes);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const p = y * W + x;
        if (prev[p] === 2) continue;
        if ((x > 0 && prev[p - 1] === 2) || (x < W - 1 && prev[p + 1] === 2) || (y > 0 && prev[p - W] === 2) || (y < H - 1 && prev[p + W] === 2)) classes[p] = 2;
      }
    }
  }
  return { instances, classes };
}

export interface RejectOptions {
  minBackground?: number;
  contrastFactor?: number;
  /** Whether particles must be brighter (default) or darker than the background. */
  polarity?: Polarity;
}

/** Reason the sample is rejected, or null when it is kept. */
export function rejectReason(image: ArrayLike<number>, instances: Uint16Array, opts: RejectOptions = {}): string | null {
  const n = instances.length;
  let nb = 0, sb = 0, np = 0, sp = 0;
  for (let i = 0; i < n; i++) {
    if (instances[i] === 0) { nb++; sb += image[i]; } else { np++; sp += image[i]; }
  }
  if (np === 0) return 'no particle pixels';
  const minBg = opts.minBackground ?? 0.15;
  if (nb / n < minBg) return `background ${((100 * nb) / n).toFixed(1)} % < ${100 * minBg} %`;
  const f = opts.contrastFactor ?? 1.15;
  if (nb === 0) return null;
  const bg = sb / nb, fg = sp / np;
  if ((opts.polarity ?? 'bright') === 'bright') {
    if (bg * f > fg) return `low contrast: mean background ${bg.toFixed(3)} x ${f} > mean particle ${fg.toFixed(3)}`;
  } else if (fg * f > bg) return `low contrast (dark particles): mean particle ${fg.toFixed(3)} x ${f} > mean background ${bg.toFixed(3)}`;
  return null;
}
