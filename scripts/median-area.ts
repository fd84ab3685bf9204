/**
 * What the scene statistic "median particle area" (src/gan/scene-stats.ts) measures, against the
 * exact particles of the same tiles (docs/realism.md, "What the median-area statistic measures on
 * windowed pairs"). A diagnostic, not part of any calibration.
 *
 * Each image is cut into 128 px tiles kept by the empty-patch rule (src/gan/patches.ts), as the
 * `realism` command does (a 128 px synthetic image is one tile). On each tile:
 *  - the statistic's particles: Gaussian sigma 1, Otsu, holes < 100 px filled, the
 *    distance-transform watershed of `otsuInstances` (>= 50 px); those not touching the tile border
 *    enter the median (scene-stats.ts, recomputed here particle by particle; the script prints the
 *    statistic as `sceneStatistics` gives it next to its own median as a check);
 *  - the exact particles: for real micrographs the 4-connected components of the manual mask
 *    (`--masks DIR` with NAME_m.tif; TiO2-SEM dev-pool only: the data's README allows its masks
 *    to be read for statistics), for generated pairs the instance map (`--instances`:
 *    IMAGES/../instances/NAME.png), optionally carved like the class mask (`--carve`: pixels
 *    4-adjacent to an instance of a smaller id removed, the one-pixel line the manual masks leave
 *    between touching particles); those >= 50 px not touching the tile border enter the median.
 *
 * Each interior statistic particle is then classed by the exact particles under it:
 *  - merged: two or more exact particles each cover >= 20 % of it;
 *  - whole: IoU >= 0.5 with the exact particle that covers most of it;
 *  - piece of a frame-cut particle: >= half of it lies in one exact particle that touches the
 *    tile border, IoU < 0.5 (a fragment the frame left interior);
 *  - piece of an interior particle: the same for an exact particle inside the tile (the watershed
 *    cut it, or only part of it is above the threshold);
 *  - other: less than half of it in any one exact particle (stage, or several small ones).
 * For each class: count, share and median area; the statistic's median with classes left out,
 * and over the particles of components that do not touch the tile border; the area ratio
 * statistic / exact of the whole ones (outline placement); the exact particles cut by the frame
 * per tile; the 75th percentile of both sides' equivalent radii (what the upper-quartile radius
 * calibration matches); the coverage; and the share of the component area in components larger
 * than 12 x {the statistic's median, the exact median, a fixed area} (the large-component
 * statistic's threshold).
 *
 * Usage (bundle with esbuild into the ignored .tmp/ of the repository, then run):
 *   npx esbuild scripts/median-area.ts --bundle --platform=node --format=esm --packages=external --outfile=.tmp/median-area.mjs
 *   node .tmp/median-area.mjs --masks ../shared/data/tio2-sem/masks --crop-bottom 64 <dev-pool tifs>
 *   node .tmp/median-area.mjs --instances [--carve] RUN/synth/images/*.png
 * `--json` prints the summary as JSON; `--fixed-large A` sets the fixed area (default 331 px,
 * the dev-pool's statistic).
 */
import { basename, dirname, join } from 'node:path';
import { readImageFile } from '../src/node/files.js';
import { extractPatches } from '../src/gan/patches.js';
import { gaussianBlur } from '../src/particles/otsu.js';
import { otsuInstances } from '../src/particles/instances.js';
import { connectedComponents } from '../src/particles/labels.js';
import { sceneStatistics, otsuComponents, LARGE_COMPONENT_PARTICLES } from '../src/gan/scene-stats.js';
import { median } from '../src/gan/median.js';
import { quantileRadius } from '../src/gan/calibrate.js';

export const TILE = 128;
const MIN_AREA = 50;
export const CLASSES = ['whole', 'merged', 'pieceOfFrameCut', 'pieceOfInterior', 'other'] as const;
export type PieceClass = (typeof CLASSES)[number];

export interface TileParticle {
  area: number;
  /** Whether its Otsu component touches the tile border. */
  componentAtBorder: boolean;
  cls: PieceClass;
  /** Area of the exact particle covering most of it (0 for none). */
  exactArea: number;
  /** Label of that exact particle in the tile's exact labels (0 for none). */
  exactId: number;
}

export interface TileAnalysis {
  /** Interior statistic particles, classed. */
  particles: TileParticle[];
  /** Areas of the interior exact particles >= 50 px. */
  exact: number[];
  /** Otsu component areas (>= 50 px). */
  components: number[];
  /** Exact particles >= 50 px in the tile that touch its border (cut by the frame). */
  exactFrameCut: number;
}

function touchesBorder(i: number, size: number): boolean {
  const y = Math.floor(i / size), x = i - y * size;
  return x === 0 || y === 0 || x === size - 1 || y === size - 1;
}

/**
 * Exact instance labels with the one-pixel carving of src/render/masks.ts: a pixel 4-adjacent to
 * a pixel of a smaller non-zero id becomes background.
 */
export function carve(labels: Int32Array, size: number): Int32Array {
  const out = Int32Array.from(labels);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      const id = labels[i];
      if (!id) continue;
      const nb = [x > 0 ? i - 1 : -1, x < size - 1 ? i + 1 : -1, y > 0 ? i - size : -1, y < size - 1 ? i + size : -1];
      for (const j of nb) if (j >= 0 && labels[j] && labels[j] < id) { out[i] = 0; break; }
    }
  return out;
}

/** The statistic's particles and components of one tile, classed against its exact labels (0 = stage). */
export function analyseTile(data: Float32Array, exact: Int32Array, size = TILE): TileAnalysis {
  const n = size * size;
  if (data.length !== n || exact.length !== n) throw new Error(`analyseTile: ${data.length} / ${exact.length} values for a ${size} px tile`);
  const smooth = gaussianBlur(data, size, size, 1);
  const { comps, compArea } = otsuComponents(smooth, size, size);
  const compBorder = new Uint8Array(comps.count + 1);
  for (let i = 0; i < n; i++) if (touchesBorder(i, size)) compBorder[comps.labels[i]] = 1;
  const components: number[] = [];
  for (let c = 1; c <= comps.count; c++) if (compArea[c] >= MIN_AREA) components.push(compArea[c]);
  const inst = otsuInstances(smooth, size, size, { sigma: 0 });
  // Exact particles: area in the tile, border contact.
  let maxId = 0;
  for (let i = 0; i < n; i++) if (exact[i] > maxId) maxId = exact[i];
  const eArea = new Int32Array(maxId + 1);
  const eBorder = new Uint8Array(maxId + 1);
  for (let i = 0; i < n; i++) {
    const e = exact[i];
    if (!e) continue;
    eArea[e]++;
    if (touchesBorder(i, size)) eBorder[e] = 1;
  }
  const exactInterior: number[] = [];
  let exactFrameCut = 0;
  for (let e = 1; e <= maxId; e++) {
    if (eArea[e] < MIN_AREA) continue;
    if (eBorder[e]) exactFrameCut++;
    else exactInterior.push(eArea[e]);
  }
  // Statistic particles: area, border contact, overlap with each exact particle.
  const pArea = new Int32Array(inst.count + 1);
  const pBorder = new Uint8Array(inst.count + 1);
  const pComp = new Int32Array(inst.count + 1);
  const overlap: Map<number, number>[] = Array.from({ length: inst.count + 1 }, () => new Map());
  for (let i = 0; i < n; i++) {
    const l = inst.labels[i];
    if (!l) continue;
    pArea[l]++;
    if (touchesBorder(i, size)) pBorder[l] = 1;
    pComp[l] = comps.labels[i];
    const e = exact[i];
    if (e) overlap[l].set(e, (overlap[l].get(e) ?? 0) + 1);
  }
  const particles: TileParticle[] = [];
  for (let l = 1; l <= inst.count; l++) {
    if (pArea[l] === 0 || pBorder[l]) continue;
    const a = pArea[l];
    let best = 0, bestOv = 0, big = 0;
    for (const [e, ov] of overlap[l]) {
      if (ov > bestOv) { best = e; bestOv = ov; }
      if (ov >= 0.2 * a) big++;
    }
    let cls: PieceClass;
    if (big >= 2) cls = 'merged';
    else if (best && bestOv / (a + eArea[best] - bestOv) >= 0.5) cls = 'whole';
    else if (best && bestOv >= 0.5 * a) cls = eBorder[best] ? 'pieceOfFrameCut' : 'pieceOfInterior';
    else cls = 'other';
    particles.push({ area: a, componentAtBorder: compBorder[pComp[l]] === 1, cls, exactArea: best ? eArea[best] : 0, exactId: best });
  }
  return { particles, exact: exactInterior, components, exactFrameCut };
}

export interface Summary {
  tiles: number;
  /** Fraction of the tiles' pixels in Otsu components (the coverage statistic). */
  coverage: number;
  /** The statistic as sceneStatistics computes it on the same tiles (a check of this script). */
  statistic: number;
  /** The same median recomputed here from the classed particles. */
  statisticHere: number;
  /**
   * Quartiles (25th, 75th percentile) of the statistic's interior particle areas: no masks needed,
   * so a candidate for calibrating the shape of the size distribution (docs/realism.md "The shape
   * of the size distribution").
   */
  statisticQuartiles: [number, number];
  exactMedian: number;
  exactQuartiles: [number, number];
  exactCount: number;
  /** Exact particles cut by the frame, per tile. */
  frameCutPerTile: number;
  classes: Record<PieceClass, { count: number; share: number; median: number }>;
  /** The statistic's median without the pieces of frame-cut particles, without all pieces, without merges, whole only. */
  medianWithout: { frameCutPieces: number; allPieces: number; merged: number; wholeOnly: number };
  /** The statistic's median over the particles of components that do not touch the border (and their count). */
  interiorComponents: { median: number; count: number };
  /** Median of statistic area / exact area over the whole particles. */
  wholeAreaRatio: number;
  /** Share of the component area in components > 12 x the threshold's area. */
  largeShare: { statisticMedian: number; exactMedian: number; fixed: number };
  fixedLarge: number;
  /**
   * 75th percentile of the equivalent radius (px) of the statistic's interior particles and of the
   * exact ones: what the upper-quartile radius calibration matches (src/gan/calibrate.ts).
   */
  upperQuartileRadius: { statistic: number; exact: number };
}

function q(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.floor(p * (s.length - 1))] : NaN;
}

export function summarise(tiles: { data: Float32Array; analysis: TileAnalysis }[], fixedLarge = 331): Summary {
  const all = tiles.flatMap((t) => t.analysis.particles);
  const exact = tiles.flatMap((t) => t.analysis.exact);
  const comps = tiles.flatMap((t) => t.analysis.components);
  const areas = (f: (p: TileParticle) => boolean) => all.filter(f).map((p) => p.area);
  const classes = {} as Summary['classes'];
  for (const c of CLASSES) {
    const a = areas((p) => p.cls === c);
    classes[c] = { count: a.length, share: all.length ? a.length / all.length : NaN, median: a.length ? median(a) : NaN };
  }
  const statistic = sceneStatistics(tiles.map((t) => ({ width: TILE, height: TILE, data: t.data }))).medianParticleArea;
  const statisticHere = median(all.map((p) => p.area));
  const exactMedian = median(exact);
  const covered = comps.reduce((s, a) => s + a, 0);
  const share = (threshold: number) => comps.filter((a) => a > LARGE_COMPONENT_PARTICLES * threshold).reduce((s, a) => s + a, 0) / covered;
  const whole = all.filter((p) => p.cls === 'whole');
  return {
    tiles: tiles.length,
    coverage: covered / (tiles.length * TILE * TILE),
    statistic,
    statisticHere,
    statisticQuartiles: [q(all.map((p) => p.area), 0.25), q(all.map((p) => p.area), 0.75)],
    exactMedian,
    exactQuartiles: [q(exact, 0.25), q(exact, 0.75)],
    exactCount: exact.length,
    frameCutPerTile: tiles.reduce((n, t) => n + t.analysis.exactFrameCut, 0) / tiles.length,
    classes,
    medianWithout: {
      frameCutPieces: median(areas((p) => p.cls !== 'pieceOfFrameCut')),
      allPieces: median(areas((p) => p.cls !== 'pieceOfFrameCut' && p.cls !== 'pieceOfInterior')),
      merged: median(areas((p) => p.cls !== 'merged')),
      wholeOnly: median(areas((p) => p.cls === 'whole')),
    },
    interiorComponents: { median: median(areas((p) => !p.componentAtBorder)), count: areas((p) => !p.componentAtBorder).length },
    wholeAreaRatio: median(whole.map((p) => p.area / p.exactArea)),
    largeShare: { statisticMedian: share(statistic), exactMedian: share(exactMedian), fixed: share(fixedLarge) },
    fixedLarge,
    upperQuartileRadius: { statistic: radiusQuantile(all.map((p) => p.area), 0.75), exact: radiusQuantile(exact, 0.75) },
  };
}

/** The `p` quantile of the equivalent radii sqrt(area / pi), interpolated as quantileRadius does. */
function radiusQuantile(areas: number[], p: number): number {
  return quantileRadius(areas.map((a) => Math.sqrt(a / Math.PI)), p)?.radius ?? NaN;
}

/** The kept 128 px tiles of one image with its exact labels cut at the same place. */
export function keptTiles(image: { width: number; height: number; data: Float32Array }, labels: Int32Array, name: string): { data: Float32Array; labels: Int32Array }[] {
  const set = extractPatches(image, name, { patch: TILE, polarity: 'bright' });
  return set.kept.map((p) => {
    const l = new Int32Array(TILE * TILE);
    for (let y = 0; y < TILE; y++) l.set(labels.subarray((p.y + y) * image.width + p.x, (p.y + y) * image.width + p.x + TILE), y * TILE);
    return { data: p.data, labels: l };
  });
}

/**
 * The kept tiles of one image with its exact instance labels: the 4-connected components of its
 * manual mask (`masks`: DIR holding NAME_m.tif) or, without `masks`, the generated pair's instance
 * map (IMAGES/../instances/NAME.png); `cropBottom` rows cut from both.
 */
export function exactTiles(file: string, cropBottom: number, masks?: string): { data: Float32Array; labels: Int32Array }[] {
  const raw = readImageFile(file);
  const height = raw.height - cropBottom;
  const image = { width: raw.width, height, data: Float32Array.from(raw.data.subarray(0, raw.width * height)) };
  let labels: Int32Array;
  if (!masks) {
    const m = readImageFile(join(dirname(file), '..', 'instances', basename(file)));
    const scale = m.bitDepth === 16 ? 65535 : 255;
    labels = Int32Array.from(m.data.subarray(0, raw.width * height), (v) => Math.round(v * scale));
  } else {
    const m = readImageFile(join(masks, `${basename(file).replace(/\.tiff?$/, '')}_m.tif`));
    const bin = new Uint8Array(raw.width * height);
    for (let i = 0; i < bin.length; i++) bin[i] = m.data[i] > 0.5 ? 1 : 0;
    labels = Int32Array.from(connectedComponents(bin, raw.width, height, 4).labels);
  }
  return keptTiles(image, labels, file);
}

function format(s: Summary): string {
  const f0 = (v: number) => v.toFixed(0);
  const lines = [
    `${s.tiles} tiles, coverage ${s.coverage.toFixed(3)}; statistic (sceneStatistics) ${f0(s.statistic)} px, recomputed ${f0(s.statisticHere)} px (quartiles ${f0(s.statisticQuartiles[0])}-${f0(s.statisticQuartiles[1])}); exact median ${f0(s.exactMedian)} px (quartiles ${f0(s.exactQuartiles[0])}-${f0(s.exactQuartiles[1])}, ${s.exactCount} interior particles); statistic / exact ${(s.statistic / s.exactMedian).toFixed(3)}`,
    `per tile: ${(s.exactCount / s.tiles).toFixed(2)} interior and ${s.frameCutPerTile.toFixed(2)} frame-cut exact particles, ${(CLASSES.reduce((n, c) => n + s.classes[c].count, 0) / s.tiles).toFixed(2)} interior statistic particles of which ${(s.classes.pieceOfFrameCut.count / s.tiles).toFixed(2)} pieces of frame-cut ones`,
    `classes of the statistic's interior particles: ${CLASSES.map((c) => `${c} ${s.classes[c].count} (${(100 * s.classes[c].share).toFixed(1)} %, median ${f0(s.classes[c].median)} px)`).join(', ')}`,
    `statistic's median without frame-cut pieces ${f0(s.medianWithout.frameCutPieces)}, without all pieces ${f0(s.medianWithout.allPieces)}, without merges ${f0(s.medianWithout.merged)}, whole only ${f0(s.medianWithout.wholeOnly)} px`,
    `statistic's median over the particles of components not touching the border: ${f0(s.interiorComponents.median)} px (${s.interiorComponents.count} particles)`,
    `whole particles: statistic area / exact area, median ${s.wholeAreaRatio.toFixed(3)}`,
    `upper-quartile equivalent radius: statistic ${s.upperQuartileRadius.statistic.toFixed(2)} px, exact ${s.upperQuartileRadius.exact.toFixed(2)} px`,
    `large-component share at 12 x the statistic's median ${s.largeShare.statisticMedian.toFixed(3)}, x the exact median ${s.largeShare.exactMedian.toFixed(3)}, x ${s.fixedLarge} px ${s.largeShare.fixed.toFixed(3)}`,
  ];
  return lines.join('\n');
}

function main(argv: string[]): void {
  let cropBottom = 0;
  let masks: string | undefined;
  let instances = false;
  let carved = false;
  let json = false;
  let fixedLarge = 331;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--crop-bottom') cropBottom = Number(argv[++i]);
    else if (argv[i] === '--masks') masks = argv[++i];
    else if (argv[i] === '--instances') instances = true;
    else if (argv[i] === '--carve') carved = true;
    else if (argv[i] === '--json') json = true;
    else if (argv[i] === '--fixed-large') fixedLarge = Number(argv[++i]);
    else files.push(argv[i]);
  }
  if (!masks === !instances) throw new Error('give exactly one of --masks DIR and --instances');
  const tiles: { data: Float32Array; analysis: TileAnalysis }[] = [];
  for (const f of files)
    for (const t of exactTiles(f, cropBottom, masks)) tiles.push({ data: t.data, analysis: analyseTile(t.data, carved ? carve(t.labels, TILE) : t.labels) });
  const s = summarise(tiles, fixedLarge);
  console.log(json ? JSON.stringify(s, null, 1) : format(s));
}

if (process.argv[1] && /median-area\.m?js$/.test(process.argv[1])) main(process.argv.slice(2));
