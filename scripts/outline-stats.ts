/**
 * Annotation-free outline statistics of the lone particles, to compare particle shapes of real
 * micrographs and synthetic images (docs/realism.md, "Geometry or appearance?"). Each image is cut
 * into 128 px tiles (a 128 px image is one tile), the tiles kept by the empty-patch rule's
 * thresholds (src/gan/patches.ts); in each, the Otsu components of scene-stats.ts (Gaussian
 * sigma 1, Otsu, holes < 100 px filled) that its distance-transform watershed leaves as one
 * particle, at least 50 px and not touching the tile border, are measured (src/particles/measure.ts):
 * aspect ratio (Feret max / min) and circularity (4 pi area / perimeter^2). Prints quartiles.
 *
 * Usage (bundle with esbuild into the ignored .tmp/ of the repository, then run):
 *   npx esbuild scripts/outline-stats.ts --bundle --platform=node --format=esm --packages=external --outfile=.tmp/outline-stats.mjs
 *   node .tmp/outline-stats.mjs [--crop-bottom PX] FILES...
 */
import { readImageFile } from '../src/node/files.js';
import { applyThreshold, gaussianBlur, otsuThreshold } from '../src/particles/otsu.js';
import { fillHoles, otsuInstances } from '../src/particles/instances.js';
import { connectedComponents } from '../src/particles/labels.js';
import { measureParticles } from '../src/particles/measure.js';
import { DEFAULT_PATCH_FILTER } from '../src/gan/patches.js';
import { tiles, type Img } from './realism-transform.js';

export const OUTLINE_TILE = 128;

export interface Outline {
  area: number;
  aspectRatio: number;
  circularity: number;
}

/** The lone particles' outlines of one tile; none when the empty-patch thresholds drop it. */
export function loneOutlines(t: Img): Outline[] {
  const { width, height } = t;
  const smooth = gaussianBlur(t.data, width, height, 1);
  const mask = fillHoles(applyThreshold(smooth, otsuThreshold(smooth)), width, height, 100);
  let fg = 0;
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < mask.length; i++) {
    fg += mask[i];
    s += t.data[i];
    s2 += t.data[i] * t.data[i];
  }
  const n = mask.length;
  const std = Math.sqrt(Math.max(0, s2 / n - (s / n) ** 2));
  const f = DEFAULT_PATCH_FILTER;
  if (fg / n < f.minParticle || fg / n > f.maxParticle || std < f.minStd) return [];
  const comps = connectedComponents(mask, width, height, 8);
  const inst = otsuInstances(smooth, width, height, { sigma: 0 });
  const particlesOf = new Map<number, Set<number>>();
  for (let i = 0; i < n; i++) {
    const c = comps.labels[i];
    const l = inst.labels[i];
    if (!c || !l) continue;
    let set = particlesOf.get(c);
    if (!set) particlesOf.set(c, (set = new Set()));
    set.add(l);
  }
  return measureParticles(comps.labels, width, height)
    .filter((p) => !p.touchesBorder && p.area >= 50 && particlesOf.get(p.id)?.size === 1)
    .map((p) => ({ area: p.area, aspectRatio: p.aspectRatio, circularity: p.circularity }));
}

export function imageOutlines(img: Img): Outline[] {
  const parts = img.width === OUTLINE_TILE && img.height === OUTLINE_TILE ? [img] : tiles(img, OUTLINE_TILE);
  return parts.flatMap(loneOutlines);
}

/** The value at quantile p (nearest rank below) of the values. */
export function quantile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(p * (s.length - 1))];
}

function main(argv: string[]): void {
  let cropBottom = 0;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--crop-bottom') cropBottom = Number(argv[++i]);
    else files.push(argv[i]);
  }
  const all: Outline[] = [];
  for (const f of files) {
    const raw = readImageFile(f);
    const height = raw.height - cropBottom;
    all.push(...imageOutlines({ width: raw.width, height, data: raw.data.slice(0, raw.width * height) }));
  }
  console.log(`${all.length} lone particles from ${files.length} images`);
  for (const key of ['aspectRatio', 'circularity', 'area'] as const) {
    const v = all.map((o) => o[key]);
    console.log(`${key}: q25 ${quantile(v, 0.25).toFixed(2)}, median ${quantile(v, 0.5).toFixed(2)}, q75 ${quantile(v, 0.75).toFixed(2)}, q90 ${quantile(v, 0.9).toFixed(2)}`);
  }
}

if (process.argv[1] && /outline-stats\.m?js$/.test(process.argv[1])) main(process.argv.slice(2));
