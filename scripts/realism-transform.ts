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
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { readImageFile } from '../src/node/files.js';
import { encodePngGrey16 } from '../src/io/png.js';
import { applyThreshold, gaussianBlur, otsuThreshold } from '../src/particles/otsu.js';
import { fillHoles } from '../src/particles/instances.js';

export const TRANSFORMS = ['silhouette', 'particles', 'substrate', 'lowpass', 'down2'] as const;
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
  if (t === 'silhouette') {
    const f = new Float32Array(fg.length);
    for (let i = 0; i < fg.length; i++) f[i] = fg[i];
    return { width, height, data: gaussianBlur(f, width, height, 1) };
  }
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
 * Size-preserving transforms only.
 */
export function transformStitched(img: Img, t: Transform, size: number): Img {
  if (t === 'down2') throw new Error('--stitch needs a size-preserving transform');
  const data = new Float32Array(img.data.length);
  const parts = tiles(img, size);
  let k = 0;
  for (const y0 of tileStarts(img.height, size)) {
    for (const x0 of tileStarts(img.width, size)) {
      const out = transform(parts[k++], t);
      for (let y = 0; y < size; y++) data.set(out.data.subarray(y * size, (y + 1) * size), (y0 + y) * img.width + x0);
    }
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
  const files: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--crop-bottom') cropBottom = Number(rest[++i]);
    else if (rest[i] === '--tile') tile = Number(rest[++i]);
    else if (rest[i] === '--tile-first') tileFirst = true;
    else if (rest[i] === '--stitch') stitch = Number(rest[++i]);
    else files.push(rest[i]);
  }
  mkdirSync(outDir, { recursive: true });
  for (const f of files) {
    const raw = readImageFile(f);
    const height = raw.height - cropBottom;
    const img = { width: raw.width, height, data: raw.data.slice(0, raw.width * height) };
    const stem = basename(f, extname(f));
    if (tileFirst) {
      if (!(tile > 0)) throw new Error('--tile-first needs --tile');
      tiles(img, tile).forEach((p, k) => writeFileSync(join(outDir, `${stem}_t${String(k).padStart(2, '0')}.png`), toPng(transform(p, t as Transform))));
      continue;
    }
    const out = stitch > 0 ? transformStitched(img, t as Transform, stitch) : transform(img, t as Transform);
    if (tile > 0) tiles(out, tile).forEach((p, k) => writeFileSync(join(outDir, `${stem}_t${String(k).padStart(2, '0')}.png`), toPng(p)));
    else writeFileSync(join(outDir, `${stem}.png`), toPng(out));
  }
}

if (process.argv[1] && /realism-transform\.m?js$/.test(process.argv[1])) main(process.argv.slice(2));
