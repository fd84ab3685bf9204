/**
 * Transforms micrographs identically on both sides of the C2ST (`diffrendergan realism`), to ask
 * which part of an image gives the synthetic pairs away: the particles' geometry (silhouettes) or
 * their appearance, and at which scale. Writes 16-bit PNGs to an output folder OUTSIDE the
 * repository (transformed real images are derived data: never commit them).
 *
 * Transforms (each image on its own; Otsu foreground as src/gan/scene-stats.ts: Gaussian sigma 1,
 * Otsu's threshold, holes < 100 px filled; bright particles):
 *   silhouette  the foreground as 0 / 1, blurred by sigma 1 px (no aliased staircase to read)
 *   particles   the grey values inside the foreground, the substrate set to its mean
 *   substrate   the grey values outside the foreground dilated by 2 px, the rest set to the
 *               substrate's mean
 *   lowpass     the image blurred by sigma 2 px (shading and geometry, no pixel-scale texture)
 *   down2       2 x 2 box average (half the resolution; run the C2ST with --patch 64)
 * Silhouettes with one attribute taken out (each 0 / 1, blurred by sigma 1 px like `silhouette`;
 * components are the foreground's 8-connected components):
 *   hull        each component replaced by its convex hull (no concave outline, notch, hole or
 *               neck between touching particles; sizes, count and positions kept)
 *   disks       each component replaced by a disk of its area at its centroid (sizes, count and
 *               positions kept; every shape removed)
 *   smooth      the foreground blurred by sigma 3 px and thresholded at 0.5 (outline roughness and
 *               notches below ~3 px removed; shapes at particle scale kept)
 *   lone        only the components that the distance-transform watershed of scene-stats.ts
 *               leaves as one particle (or none); the agglomerates removed
 *   agglomerates  only the components it splits into two particles or more
 *   interior    only the components that do not touch the image's (with --stitch: the tile's)
 *               border: whether objects cut by the frame give a set away
 *   border      only the components that touch it
 *
 * Usage (bundle with esbuild into the ignored .tmp/ of the repository, then run):
 *   npx esbuild scripts/realism-transform.ts --bundle --platform=node --format=esm --packages=external --outfile=.tmp/realism-transform.mjs
 *   node .tmp/realism-transform.mjs TRANSFORM OUT_DIR [--crop-bottom PX] [--tile PX [--tile-first] | --stitch PX] FILES...
 * --crop-bottom removes the data bar first (real micrographs: 64); --tile cuts the transformed
 * image into non-overlapping square tiles of that size (the last row / column aligned to the
 * edge), as the `realism` command needs for its --synth side (the real-vs-real control);
 * --tile-first cuts the tiles before the transform, so that each tile gets its own Otsu threshold
 * like a synthetic image of that size (the control for the threshold's scope); --stitch PX
 * transforms each PX tile on its own and writes the tiles back into the whole image (one file, so
 * the C2ST still splits by micrograph), the real side's match to synthetic images of PX px.
 * --kept-only PX keeps only the PX tiles that the `realism` command's empty-patch rule
 * (src/gan/patches.ts: per-image Otsu threshold, 1-95 % particle, std >= 0.035) keeps on the
 * UNtransformed image, i.e. the patches the plain C2ST sees: the other tiles are set to 0 (whole
 * or stitched images; the command then drops them as empty), not written (--tile), and an image
 * with no kept tile is not written. Without it a transform can admit tiles the plain test never
 * sees (a silhouette of an empty stage tile, thresholded on its own, is a field of noise specks).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { readImageFile } from '../src/node/files.js';
import { encodePngGrey16 } from '../src/io/png.js';
import { extractPatches } from '../src/gan/patches.js';
import { applyThreshold, gaussianBlur, otsuThreshold } from '../src/particles/otsu.js';
import { fillHoles, otsuInstances } from '../src/particles/instances.js';
import { connectedComponents } from '../src/particles/labels.js';
import { convexHull, type Point } from '../src/particles/measure.js';

export const TRANSFORMS = ['silhouette', 'particles', 'substrate', 'lowpass', 'down2', 'hull', 'disks', 'smooth', 'lone', 'agglomerates', 'interior', 'border'] as const;
export type Transform = (typeof TRANSFORMS)[number];

export interface Img {
  width: number;
  height: number;
  data: Float32Array;
}

/** The Otsu foreground of scene-stats.ts (smoothed sigma 1, holes < 100 px filled). */
export function otsuForeground(img: Img): Uint8Array {
  const smooth = gaussianBlur(img.data, img.width, img.height, 1);
  return fillHoles(applyThreshold(smooth, otsuThreshold(smooth)), img.width, img.height, 100);
}

/** The mask grown by r px (square neighbourhood). */
export function dilate(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  const out = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      for (let dy = -r; dy <= r; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -r; dx <= r; dx++) {
          const xx = x + dx;
          if (xx >= 0 && xx < width) out[yy * width + xx] = 1;
        }
      }
    }
  }
  return out;
}

/** Each 8-connected component of `mask` replaced by the filled convex hull of its pixel centres. */
export function hullMask(mask: Uint8Array, width: number, height: number): Uint8Array {
  const comps = connectedComponents(mask, width, height, 8);
  const pts: Point[][] = Array.from({ length: comps.count + 1 }, () => []);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const l = comps.labels[y * width + x];
    if (l) pts[l].push([x, y]);
  }
  const out = new Uint8Array(mask.length);
  for (let l = 1; l <= comps.count; l++) {
    const hull = convexHull(pts[l]);
    if (hull.length < 3) {
      for (const [x, y] of pts[l]) out[y * width + x] = 1;
      continue;
    }
    let area2 = 0;
    let x0 = width, x1 = 0, y0 = height, y1 = 0;
    for (let k = 0; k < hull.length; k++) {
      const [ax, ay] = hull[k];
      const [bx, by] = hull[(k + 1) % hull.length];
      area2 += ax * by - bx * ay;
      x0 = Math.min(x0, ax); x1 = Math.max(x1, ax); y0 = Math.min(y0, ay); y1 = Math.max(y1, ay);
    }
    const sign = Math.sign(area2);
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) {
      let inside = true;
      for (let k = 0; k < hull.length && inside; k++) {
        const [ax, ay] = hull[k];
        const [bx, by] = hull[(k + 1) % hull.length];
        if (sign * ((bx - ax) * (y - ay) - (by - ay) * (x - ax)) < -1e-9) inside = false;
      }
      if (inside) out[y * width + x] = 1;
    }
  }
  return out;
}

/** Each 8-connected component of `mask` replaced by a disk of its area centred at its centroid. */
export function diskMask(mask: Uint8Array, width: number, height: number): Uint8Array {
  const comps = connectedComponents(mask, width, height, 8);
  const n = new Float64Array(comps.count + 1);
  const sx = new Float64Array(comps.count + 1);
  const sy = new Float64Array(comps.count + 1);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const l = comps.labels[y * width + x];
    if (!l) continue;
    n[l]++;
    sx[l] += x;
    sy[l] += y;
  }
  const out = new Uint8Array(mask.length);
  for (let l = 1; l <= comps.count; l++) {
    const cx = sx[l] / n[l];
    const cy = sy[l] / n[l];
    const r2 = n[l] / Math.PI;
    const r = Math.sqrt(r2);
    for (let y = Math.max(0, Math.floor(cy - r)); y <= Math.min(height - 1, Math.ceil(cy + r)); y++)
      for (let x = Math.max(0, Math.floor(cx - r)); x <= Math.min(width - 1, Math.ceil(cx + r)); x++)
        if ((x - cx) ** 2 + (y - cy) ** 2 <= r2) out[y * width + x] = 1;
  }
  return out;
}

/** The mask blurred by sigma px and thresholded at one half (features below ~sigma removed). */
export function smoothMask(mask: Uint8Array, width: number, height: number, sigma: number): Uint8Array {
  const f = new Float32Array(mask.length);
  for (let i = 0; i < mask.length; i++) f[i] = mask[i];
  return applyThreshold(gaussianBlur(f, width, height, sigma), 0.5);
}

/**
 * The components of the Otsu foreground with at most one (`lone`) or at least two (`agglomerates`)
 * particles of scene-stats.ts's watershed (otsuInstances on the same smoothed image).
 */
export function componentsByParticles(img: Img, fg: Uint8Array, keep: 'lone' | 'agglomerates'): Uint8Array {
  const { width, height } = img;
  const comps = connectedComponents(fg, width, height, 8);
  const inst = otsuInstances(gaussianBlur(img.data, width, height, 1), width, height, { sigma: 0 });
  const seen = new Set<string>();
  const particles = new Int32Array(comps.count + 1);
  for (let i = 0; i < fg.length; i++) {
    const c = comps.labels[i];
    const l = inst.labels[i];
    if (!c || !l) continue;
    const key = `${c}:${l}`;
    if (seen.has(key)) continue;
    seen.add(key);
    particles[c]++;
  }
  const out = new Uint8Array(fg.length);
  for (let i = 0; i < fg.length; i++) {
    const c = comps.labels[i];
    if (c && (keep === 'lone' ? particles[c] <= 1 : particles[c] >= 2)) out[i] = 1;
  }
  return out;
}

/** The components of `fg` that touch the image border (`touching`) or do not. */
export function componentsByBorder(fg: Uint8Array, width: number, height: number, touching: boolean): Uint8Array {
  const comps = connectedComponents(fg, width, height, 8);
  const atBorder = new Uint8Array(comps.count + 1);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) if (x === 0 || y === 0 || x === width - 1 || y === height - 1) atBorder[comps.labels[y * width + x]] = 1;
  const out = new Uint8Array(fg.length);
  for (let i = 0; i < fg.length; i++) {
    const c = comps.labels[i];
    if (c && atBorder[c] === (touching ? 1 : 0)) out[i] = 1;
  }
  return out;
}

function blurredMask(mask: Uint8Array, width: number, height: number): Float32Array {
  const f = new Float32Array(mask.length);
  for (let i = 0; i < mask.length; i++) f[i] = mask[i];
  return gaussianBlur(f, width, height, 1);
}

function meanWhere(data: Float32Array, mask: Uint8Array, value: number): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < data.length; i++) {
    if (mask[i] === value) {
      s += data[i];
      n++;
    }
  }
  return n > 0 ? s / n : 0;
}

export function transform(img: Img, t: Transform): Img {
  const { width, height } = img;
  if (t === 'lowpass') return { width, height, data: gaussianBlur(img.data, width, height, 2) };
  if (t === 'down2') {
    const w = Math.floor(width / 2);
    const h = Math.floor(height / 2);
    const data = new Float32Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = 2 * y * width + 2 * x;
        data[y * w + x] = (img.data[i] + img.data[i + 1] + img.data[i + width] + img.data[i + width + 1]) / 4;
      }
    }
    return { width: w, height: h, data };
  }
  const fg = otsuForeground(img);
  if (t === 'silhouette') return { width, height, data: blurredMask(fg, width, height) };
  if (t === 'hull') return { width, height, data: blurredMask(hullMask(fg, width, height), width, height) };
  if (t === 'disks') return { width, height, data: blurredMask(diskMask(fg, width, height), width, height) };
  if (t === 'smooth') return { width, height, data: blurredMask(smoothMask(fg, width, height, 3), width, height) };
  if (t === 'interior' || t === 'border') return { width, height, data: blurredMask(componentsByBorder(fg, width, height, t === 'border'), width, height) };
  if (t === 'lone' || t === 'agglomerates') return { width, height, data: blurredMask(componentsByParticles(img, fg, t), width, height) };
  const substrateMean = meanWhere(img.data, fg, 0);
  const data = new Float32Array(img.data);
  if (t === 'particles') {
    for (let i = 0; i < data.length; i++) if (!fg[i]) data[i] = substrateMean;
    return { width, height, data };
  }
  const grown = dilate(fg, width, height, 2);
  for (let i = 0; i < data.length; i++) if (grown[i]) data[i] = substrateMean;
  return { width, height, data };
}

function tileStarts(n: number, size: number): number[] {
  const s: number[] = [];
  for (let o = 0; o + size <= n; o += size) s.push(o);
  if (s.length > 0 && s[s.length - 1] + size < n) s.push(n - size);
  return s;
}

/** Non-overlapping square tiles, the last row / column aligned to the edge. */
export function tiles(img: Img, size: number): Img[] {
  const starts = (n: number): number[] => tileStarts(n, size);
  const out: Img[] = [];
  for (const y0 of starts(img.height)) {
    for (const x0 of starts(img.width)) {
      const data = new Float32Array(size * size);
      for (let y = 0; y < size; y++) data.set(img.data.subarray((y0 + y) * img.width + x0, (y0 + y) * img.width + x0 + size), y * size);
      out.push({ width: size, height: size, data });
    }
  }
  return out;
}

/**
 * The transform applied to each tile of `size` px on its own (tiles as `tiles`; where the last
 * row / column overlaps its neighbour, the later tile wins), written back into one image.
 * Size-preserving transforms only. With `kept` (origins "x,y"), only those tiles are transformed
 * and written, the rest stay 0 (a dropped tile never overwrites a kept one where they overlap).
 */
export function transformStitched(img: Img, t: Transform, size: number, kept?: Set<string>): Img {
  if (t === 'down2') throw new Error('--stitch needs a size-preserving transform');
  const data = new Float32Array(img.data.length);
  const parts = tiles(img, size);
  let k = 0;
  for (const y0 of tileStarts(img.height, size)) {
    for (const x0 of tileStarts(img.width, size)) {
      const part = parts[k++];
      if (kept && !kept.has(`${x0},${y0}`)) continue;
      const out = transform(part, t);
      for (let y = 0; y < size; y++) data.set(out.data.subarray(y * size, (y + 1) * size), (y0 + y) * img.width + x0);
    }
  }
  return { width: img.width, height: img.height, data };
}

/** Origins "x,y" of the size px tiles (tiles' grid) that the empty-patch rule keeps on `img`. */
export function keptTiles(img: Img, size: number): Set<string> {
  const set = extractPatches(img, 'image', { patch: size, polarity: 'bright' });
  return new Set(set.kept.map((p) => `${p.x},${p.y}`));
}

/** `img` with every size px tile (tiles' grid) not in `kept` set to 0. */
export function zeroDropped(img: Img, size: number, kept: Set<string>): Img {
  const data = new Float32Array(img.data);
  for (const y0 of tileStarts(img.height, size))
    for (const x0 of tileStarts(img.width, size)) {
      if (kept.has(`${x0},${y0}`)) continue;
      for (let y = 0; y < size; y++) data.fill(0, (y0 + y) * img.width + x0, (y0 + y) * img.width + x0 + size);
    }
  // A dropped tile overlapping a kept one (last row / column) must not erase the kept one's pixels.
  for (const y0 of tileStarts(img.height, size))
    for (const x0 of tileStarts(img.width, size)) {
      if (!kept.has(`${x0},${y0}`)) continue;
      for (let y = 0; y < size; y++) data.set(img.data.subarray((y0 + y) * img.width + x0, (y0 + y) * img.width + x0 + size), (y0 + y) * img.width + x0);
    }
  return { width: img.width, height: img.height, data };
}

function toPng(img: Img): Uint8Array {
  const u = new Uint16Array(img.data.length);
  for (let i = 0; i < u.length; i++) u[i] = Math.round(Math.min(1, Math.max(0, img.data[i])) * 65535);
  return encodePngGrey16(img.width, img.height, u);
}

function main(argv: string[]): void {
  const [t, outDir, ...rest] = argv;
  if (!TRANSFORMS.includes(t as Transform) || !outDir) {
    console.error(`usage: realism-transform ${TRANSFORMS.join('|')} OUT_DIR [--crop-bottom PX] [--tile PX [--tile-first] | --stitch PX] FILES...`);
    process.exit(2);
  }
  let cropBottom = 0;
  let tile = 0;
  let tileFirst = false;
  let stitch = 0;
  let keptOnly = 0;
  const files: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--crop-bottom') cropBottom = Number(rest[++i]);
    else if (rest[i] === '--tile') tile = Number(rest[++i]);
    else if (rest[i] === '--tile-first') tileFirst = true;
    else if (rest[i] === '--stitch') stitch = Number(rest[++i]);
    else if (rest[i] === '--kept-only') keptOnly = Number(rest[++i]);
    else files.push(rest[i]);
  }
  mkdirSync(outDir, { recursive: true });
  for (const f of files) {
    const raw = readImageFile(f);
    const height = raw.height - cropBottom;
    const img = { width: raw.width, height, data: raw.data.slice(0, raw.width * height) };
    const stem = basename(f, extname(f));
    if (keptOnly > 0 && ((tile > 0 && tile !== keptOnly) || (stitch > 0 && stitch !== keptOnly))) throw new Error('--kept-only needs the --tile / --stitch size');
    const kept = keptOnly > 0 ? keptTiles(img, keptOnly) : null;
    if (kept && kept.size === 0) continue;
    const isKept = (k: number): boolean => {
      if (!kept) return true;
      const xs = tileStarts(img.width, tile);
      return kept.has(`${xs[k % xs.length]},${tileStarts(img.height, tile)[Math.floor(k / xs.length)]}`);
    };
    if (tileFirst) {
      if (!(tile > 0)) throw new Error('--tile-first needs --tile');
      tiles(img, tile).forEach((p, k) => {
        if (isKept(k)) writeFileSync(join(outDir, `${stem}_t${String(k).padStart(2, '0')}.png`), toPng(transform(p, t as Transform)));
      });
      continue;
    }
    let out = stitch > 0 ? transformStitched(img, t as Transform, stitch, kept ?? undefined) : transform(img, t as Transform);
    if (kept && tile === 0 && stitch === 0) out = zeroDropped(out, keptOnly, kept);
    if (tile > 0) tiles(out, tile).forEach((p, k) => {
      if (isKept(k)) writeFileSync(join(outDir, `${stem}_t${String(k).padStart(2, '0')}.png`), toPng(p));
    });
    else writeFileSync(join(outDir, `${stem}.png`), toPng(out));
  }
}

if (process.argv[1] && /realism-transform\.m?js$/.test(process.argv[1])) main(process.argv.slice(2));
