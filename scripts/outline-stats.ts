/**
 * Annotation-free outline statistics of the lone particles, to compare particle shapes of real
 * micrographs and synthetic images (docs/realism.md, "Geometry or appearance?"). Each image is cut
 * into 128 px tiles (a 128 px image is one tile), the tiles kept by the empty-patch rule's
 * thresholds (src/gan/patches.ts); in each, the Otsu components of scene-stats.ts (Gaussian
 * sigma 1, Otsu, holes < 100 px filled) that its distance-transform watershed leaves as one
 * particle, at least 50 px and not touching the tile border, are measured (src/particles/measure.ts):
 * aspect ratio (Feret max / min), circularity (4 pi area / perimeter^2), solidity (area over the
 * area of the convex hull of the pixel squares: 1 for a convex outline, lower for notched, lobed
 * or joined ones; insensitive to pixel-scale roughness, unlike circularity) and the circularity
 * after a 3 x 3 closing then opening of the component (outline roughness of 1-2 px removed).
 * Prints quartiles.
 *
 * `--masks DIR|instances` reads each image's particles, to say what the lone components are (a
 * diagnostic, not part of any calibration): DIR holds NAME_m.tif, binary manual masks whose
 * 4-connected components are the particles (TiO2-SEM dev-pool only: the data's README allows its
 * masks to be read for statistics); `instances` takes a generated pair's exact instance map
 * (IMAGES/../instances/NAME.png). It prints how many particles cover >= 15 % of each lone
 * component, the IoU of each lone component with its largest particle (a component that holds
 * only part of its particle: IoU < 0.5), the share of each particle (>= 50 px, not cut by the tile)
 * that lies in its tile's Otsu foreground, and the shape statistics of the particles that touch no
 * other within 3 px (isolated particles as annotated), over the whole cropped image.
 *
 * Usage (bundle with esbuild into the ignored .tmp/ of the repository, then run):
 *   npx esbuild scripts/outline-stats.ts --bundle --platform=node --format=esm --packages=external --outfile=.tmp/outline-stats.mjs
 *   node .tmp/outline-stats.mjs [--crop-bottom PX] FILES...
 */
import { readImageFile } from '../src/node/files.js';
import { applyThreshold, gaussianBlur, otsuThreshold } from '../src/particles/otsu.js';
import { fillHoles, otsuInstances } from '../src/particles/instances.js';
import { connectedComponents } from '../src/particles/labels.js';
import { basename, dirname, join } from 'node:path';
import { convexHull, measureParticles, type Point } from '../src/particles/measure.js';
import { DEFAULT_PATCH_FILTER } from '../src/gan/patches.js';
import { tiles, type Img } from './realism-transform.js';
import { morph3 } from './mask-silhouettes.js';

export const OUTLINE_TILE = 128;

export interface Outline {
  area: number;
  aspectRatio: number;
  circularity: number;
  solidity: number;
  smoothCircularity: number;
  /** Particles covering >= 15 % of the component (only with masks). */
  manual?: number;
  /** IoU of the component with the particle that covers most of it (only with masks). */
  iou?: number;
}

/** Area of the convex hull of the pixel squares of the pixels `px` (indices into a width-W image). */
export function pixelHullArea(px: readonly number[], W: number): number {
  const rows = new Map<number, [number, number]>();
  for (const i of px) {
    const y = Math.floor(i / W), x = i - y * W;
    const r = rows.get(y);
    if (!r) rows.set(y, [x, x]);
    else { if (x < r[0]) r[0] = x; if (x > r[1]) r[1] = x; }
  }
  const pts: Point[] = [];
  for (const [y, [x0, x1]] of rows) pts.push([x0, y], [x0, y + 1], [x1 + 1, y], [x1 + 1, y + 1]);
  const h = convexHull(pts);
  let a = 0;
  for (let i = 0; i < h.length; i++) {
    const j = (i + 1) % h.length;
    a += h[i][0] * h[j][1] - h[j][0] * h[i][1];
  }
  return Math.abs(a) / 2;
}

/** Shape statistics of one component given by its pixel indices in a W x H image. */
export function shapeOf(px: readonly number[], W: number, H: number): Omit<Outline, 'manual'> {
  let x0 = W, y0 = H, x1 = 0, y1 = 0;
  for (const i of px) {
    const y = Math.floor(i / W), x = i - y * W;
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  const pad = 3;
  const w = x1 - x0 + 1 + 2 * pad, h = y1 - y0 + 1 + 2 * pad;
  const m = new Uint8Array(w * h);
  for (const i of px) {
    const y = Math.floor(i / W), x = i - y * W;
    m[(y - y0 + pad) * w + (x - x0 + pad)] = 1;
  }
  const [p] = measureParticles(m, w, h);
  // The 3 px padding keeps the foreground off the edge pixels through all four steps, so the
  // filter's edge rule (morph3 repeats the edge) never matters here.
  const closedOpened = morph3(morph3(morph3(morph3(m, w, h, true), w, h, false), w, h, false), w, h, true);
  const cc = connectedComponents(closedOpened, w, h, 8);
  const smooth = measureParticles(cc.labels, w, h).sort((a, b) => b.area - a.area)[0];
  return {
    area: p.area, aspectRatio: p.aspectRatio, circularity: p.circularity,
    solidity: px.length / pixelHullArea(px, W),
    smoothCircularity: smooth ? smooth.circularity : p.circularity,
  };
}

/** A particle of the mask (>= 50 px, not cut by the tile) as the tile's Otsu threshold sees it. */
export interface ParticleLevel {
  /** Share of its pixels in the tile's Otsu foreground. */
  coverage: number;
  /** Its median grey level (sigma 1) above the substrate's median, over the threshold's (1: at the threshold). */
  level: number;
}

export interface TileOutlines {
  outlines: Outline[];
  /** Only with a mask. */
  particles: ParticleLevel[];
}

/** How the tile's Otsu threshold sees each particle of `manual` (instance ids per pixel). */
function particleLevels(t: Img, smooth: Float32Array, mask: Uint8Array, manual: Int32Array): ParticleLevel[] {
  const { width, height } = t;
  const n = mask.length;
  const values = new Map<number, number[]>();
  const inFg = new Map<number, number>();
  const cut = new Set<number>();
  const sub: number[] = [];
  for (let i = 0; i < n; i++) {
    const l = manual[i];
    if (!l) {
      if (!mask[i]) sub.push(smooth[i]);
      continue;
    }
    let v = values.get(l);
    if (!v) values.set(l, (v = []));
    v.push(smooth[i]);
    if (mask[i]) inFg.set(l, (inFg.get(l) ?? 0) + 1);
    const y = Math.floor(i / width), x = i - y * width;
    if (x === 0 || y === 0 || x === width - 1 || y === height - 1) cut.add(l);
  }
  const subMedian = sub.length > 0 ? quantile(sub, 0.5) : 0;
  const thr = otsuThreshold(smooth);
  const out: ParticleLevel[] = [];
  for (const [l, v] of values) {
    if (v.length < 50 || cut.has(l)) continue;
    out.push({ coverage: (inFg.get(l) ?? 0) / v.length, level: (quantile(v, 0.5) - subMedian) / (thr - subMedian) });
  }
  return out;
}

/**
 * The lone particles' outlines of one tile (none when the empty-patch thresholds drop it); with
 * `manual` (the tile's particle ids per pixel), also each outline's particles and IoU, and how
 * the threshold sees each particle.
 */
export function tileOutlines(t: Img, manual?: Int32Array): TileOutlines {
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
  if (fg / n < f.minParticle || fg / n > f.maxParticle || std < f.minStd) return { outlines: [], particles: [] };
  const particles = manual ? particleLevels(t, smooth, mask, manual) : [];
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
  const members: number[][] = Array.from({ length: comps.count + 1 }, () => []);
  for (let i = 0; i < n; i++) if (comps.labels[i]) members[comps.labels[i]].push(i);
  const outlines = measureParticles(comps.labels, width, height)
    .filter((p) => !p.touchesBorder && p.area >= 50 && particlesOf.get(p.id)?.size === 1)
    .map((p) => {
      const px = members[p.id];
      const o: Outline = shapeOf(px, width, height);
      if (manual) {
        const cover = new Map<number, number>();
        for (const i of px) if (manual[i]) cover.set(manual[i], (cover.get(manual[i]) ?? 0) + 1);
        o.manual = [...cover.values()].filter((c) => c >= 0.15 * px.length).length;
        const best = [...cover.entries()].sort((a, b) => b[1] - a[1])[0];
        let bestArea = 0;
        if (best) for (let i = 0; i < n; i++) if (manual[i] === best[0]) bestArea++;
        o.iou = best ? best[1] / (px.length + bestArea - best[1]) : 0;
      }
      return o;
    });
  return { outlines, particles };
}

export function loneOutlines(t: Img, manual?: Int32Array): Outline[] {
  return tileOutlines(t, manual).outlines;
}

/** Manual instances (4-connected components of the mask) touching no other within 3 px, not the border, >= 50 px. */
export function isolatedManual(labels: Int32Array, count: number, W: number, H: number): Outline[] {
  const members: number[][] = Array.from({ length: count + 1 }, () => []);
  for (let i = 0; i < labels.length; i++) if (labels[i]) members[labels[i]].push(i);
  const out: Outline[] = [];
  for (let l = 1; l <= count; l++) {
    const px = members[l];
    if (px.length < 50) continue;
    let ok = true;
    for (const i of px) {
      const y = Math.floor(i / W), x = i - y * W;
      if (x === 0 || y === 0 || x === W - 1 || y === H - 1) { ok = false; break; }
      for (let dy = -3; dy <= 3 && ok; dy++) {
        for (let dx = -3; dx <= 3; dx++) {
          const xx = x + dx, yy = y + dy;
          if (xx < 0 || yy < 0 || xx >= W || yy >= H) continue;
          const q = labels[yy * W + xx];
          if (q && q !== l) { ok = false; break; }
        }
      }
      if (!ok) break;
    }
    if (ok) out.push(shapeOf(px, W, H));
  }
  return out;
}

/** The tiles' outlines (and particles, with `manual`) of an image; a 128 px image is one tile. */
export function imageTileOutlines(img: Img, manual?: Int32Array): TileOutlines {
  if (img.width === OUTLINE_TILE && img.height === OUTLINE_TILE) return tileOutlines(img, manual);
  const parts = tiles(img, OUTLINE_TILE);
  const labelTiles = manual ? tiles({ width: img.width, height: img.height, data: Float32Array.from(manual) }, OUTLINE_TILE) : undefined;
  const all = parts.map((t, k) => tileOutlines(t, labelTiles ? Int32Array.from(labelTiles[k].data) : undefined));
  return { outlines: all.flatMap((r) => r.outlines), particles: all.flatMap((r) => r.particles) };
}

export function imageOutlines(img: Img): Outline[] {
  return imageTileOutlines(img).outlines;
}

/** The value at quantile p (nearest rank below) of the values. */
export function quantile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(p * (s.length - 1))];
}

const KEYS = ['aspectRatio', 'circularity', 'smoothCircularity', 'solidity', 'area'] as const;

function summary(title: string, all: Outline[]): void {
  console.log(title);
  for (const key of KEYS) {
    const v = all.map((o) => o[key]);
    console.log(`  ${key}: q10 ${quantile(v, 0.1).toFixed(2)}, q25 ${quantile(v, 0.25).toFixed(2)}, median ${quantile(v, 0.5).toFixed(2)}, q75 ${quantile(v, 0.75).toFixed(2)}, q90 ${quantile(v, 0.9).toFixed(2)}`);
  }
}

function main(argv: string[]): void {
  let cropBottom = 0;
  let masks: string | undefined;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--crop-bottom') cropBottom = Number(argv[++i]);
    else if (argv[i] === '--masks') masks = argv[++i];
    else files.push(argv[i]);
  }
  const all: Outline[] = [];
  const levels: ParticleLevel[] = [];
  const iso: Outline[] = [];
  for (const f of files) {
    const raw = readImageFile(f);
    const height = raw.height - cropBottom;
    let manual: Int32Array | undefined;
    if (masks === 'instances') {
      const m = readImageFile(join(dirname(f), '..', 'instances', basename(f)));
      const scale = m.bitDepth === 16 ? 65535 : 255;
      manual = Int32Array.from(m.data.subarray(0, raw.width * height), (v) => Math.round(v * scale));
      iso.push(...isolatedManual(manual, manual.reduce((a, b) => Math.max(a, b), 0), raw.width, height));
    } else if (masks) {
      const m = readImageFile(join(masks, `${basename(f).replace(/\.tiff?$/, '')}_m.tif`));
      const bin = new Uint8Array(raw.width * height);
      for (let i = 0; i < bin.length; i++) bin[i] = m.data[i] > 0.5 ? 1 : 0;
      const cc = connectedComponents(bin, raw.width, height, 4);
      manual = Int32Array.from(cc.labels);
      iso.push(...isolatedManual(manual, cc.count, raw.width, height));
    }
    const r = imageTileOutlines({ width: raw.width, height, data: raw.data.slice(0, raw.width * height) }, manual);
    all.push(...r.outlines);
    levels.push(...r.particles);
  }
  summary(`${all.length} lone particles from ${files.length} images`, all);
  if (masks) {
    const hist = new Map<number, number>();
    for (const o of all) hist.set(o.manual!, (hist.get(o.manual!) ?? 0) + 1);
    console.log(`manual instances per lone component: ${[...hist.entries()].sort((a, b) => a[0] - b[0]).map(([k, c]) => `${k}: ${c}`).join(', ')}`);
    const part = all.filter((o) => o.iou! < 0.5);
    console.log(`lone components with IoU < 0.5 against their particle (a part of it): ${part.length} of ${all.length}; IoU q25 ${quantile(all.map((o) => o.iou!), 0.25).toFixed(2)}, median ${quantile(all.map((o) => o.iou!), 0.5).toFixed(2)}`);
    summary('lone components with IoU >= 0.5 (the whole particle)', all.filter((o) => o.iou! >= 0.5));
    summary('lone components with IoU < 0.5', part);
    const c = levels.map((p) => p.coverage);
    console.log(`${c.length} particles in kept tiles: share in the Otsu foreground q10 ${quantile(c, 0.1).toFixed(2)}, q25 ${quantile(c, 0.25).toFixed(2)}, median ${quantile(c, 0.5).toFixed(2)}; below 0.5: ${(c.filter((v) => v < 0.5).length / c.length * 100).toFixed(1)} %`);
    const b = levels.map((p) => p.level);
    console.log(`  their median grey level above the substrate's, over the threshold's: q10 ${quantile(b, 0.1).toFixed(2)}, q25 ${quantile(b, 0.25).toFixed(2)}, median ${quantile(b, 0.5).toFixed(2)}, q75 ${quantile(b, 0.75).toFixed(2)}; below 1 (median under the threshold): ${(b.filter((v) => v < 1).length / b.length * 100).toFixed(1)} %`);
    summary(`${iso.length} isolated particles (whole images)`, iso);
  }
}

if (process.argv[1] && /outline-stats\.m?js$/.test(process.argv[1])) main(process.argv.slice(2));
