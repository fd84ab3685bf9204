/**
 * Which exact particles the median-area statistic's watershed cuts interior pieces off, by their
 * size and look (docs/realism.md, "Why the statistic cuts pieces off synthetic frame-cut
 * particles"). A diagnostic, not part of any calibration; it reads the exact particles (the
 * dev-pool's manual masks or the pairs' instance maps) as scripts/median-area.ts does.
 *
 * On the `realism` command's kept 128 px tiles, every exact particle of >= 50 px in the tile
 * (carved like the class mask on pairs: `--carve`) is described by
 *  - whether it touches the tile border (frame-cut) and its visible area there,
 *  - its border contact (its pixels on the tile's outermost rows and columns), its solidity
 *    (area over the area of the convex hull of its pixel squares),
 *  - its Otsu-foreground fraction (the share of its pixels in the statistic's foreground,
 *    scene-stats' otsuComponents),
 *  - its grey profile inwards from its outline (distance transform, the frame not an outline) in
 *    units of the tile's threshold: (grey - stage median) / (Otsu threshold - stage median) of the
 *    sigma-1 smoothed tile, at 1 px inside (the rim) and >= 8 px inside (the core);
 * and it gets the statistic's interior pieces of which it holds the most: median-area.ts's
 * analyseTile classes (pieceOfFrameCut / pieceOfInterior: >= half of the piece in it, IoU < 0.5,
 * not touching the tile border).
 *
 * Printed: pieces per particle and the share of particles with at least one, by visible area
 * (frame-cut and interior), and for frame-cut particles by Otsu-foreground fraction (with the
 * grey profile), border contact and solidity; `--json FILE` writes the per-bin numbers, and
 * `--reference FILE` (such a file of the other side) adds a standardisation: this side's
 * frame-cut pieces per tile at the reference's per-area-bin rates, and the reference's at this
 * side's (which part of the difference is the size mix, which the rate at a given size).
 *
 * Usage (bundle with esbuild into the ignored .tmp/ of the repository, then run):
 *   npx esbuild scripts/frame-pieces.ts --bundle --platform=node --format=esm --packages=external --outfile=.tmp/frame-pieces.mjs
 *   node .tmp/frame-pieces.mjs --masks ../shared/data/tio2-sem/masks --crop-bottom 64 --json real.json <dev-pool tifs>
 *   node .tmp/frame-pieces.mjs --instances --carve --reference real.json RUN/synth/images/*.png
 */
import { writeFileSync, readFileSync } from 'node:fs';
import { analyseTile, carve, exactTiles, TILE } from './median-area.js';
import { gaussianBlur, otsuThreshold } from '../src/particles/otsu.js';
import { otsuComponents } from '../src/gan/scene-stats.js';
import { distanceTransform } from '../src/particles/distance.js';
import { median } from '../src/gan/median.js';

const MIN_AREA = 50;
/** Particles smaller than this get no grey profile (too few pixels >= 8 px inside). */
const PROFILE_MIN_AREA = 150;
export const AREA_BINS = [50, 150, 300, 500, 800, 1200, 2000, Infinity];
export const FOREGROUND_BINS = [0, 0.5, 0.8, 0.95, Infinity];
export const CONTACT_BINS = [1, 10, 20, 30, 40, Infinity];
export const SOLIDITY_BINS = [0, 0.8, 0.9, 0.95, Infinity];

export interface ExactParticle {
  area: number;
  frameCut: boolean;
  /** Pixels on the tile's outermost rows and columns. */
  contact: number;
  solidity: number;
  /** Share of its pixels in the statistic's Otsu foreground. */
  foreground: number;
  /** Grey over the threshold (stage 0, threshold 1) at 1 px inside and >= 8 px inside; NaN below PROFILE_MIN_AREA px. */
  rim: number;
  core: number;
  /** The statistic's interior pieces it holds the most of. */
  pieces: number;
}

/** Area of the convex hull of a set of points (monotone chain). */
export function hullArea(points: [number, number][]): number {
  const p = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (p.length < 3) return 0;
  const cross = (o: number[], a: number[], b: number[]) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const half = (pts: [number, number][]) => {
    const h: [number, number][] = [];
    for (const q of pts) {
      while (h.length >= 2 && cross(h[h.length - 2], h[h.length - 1], q) <= 0) h.pop();
      h.push(q);
    }
    return h.slice(0, -1);
  };
  const hull = [...half(p), ...half([...p].reverse())];
  let a = 0;
  for (let i = 0; i < hull.length; i++) {
    const [x0, y0] = hull[i], [x1, y1] = hull[(i + 1) % hull.length];
    a += x0 * y1 - x1 * y0;
  }
  return Math.abs(a) / 2;
}

/** The exact particles (>= 50 px) of one tile with the statistic's pieces they give; `exact`: 0 = stage. */
export function describeTile(data: Float32Array, exact: Int32Array, size = TILE): ExactParticle[] {
  const n = size * size;
  const pieces = new Map<number, number>();
  for (const p of analyseTile(data, exact, size).particles)
    if (p.cls === 'pieceOfFrameCut' || p.cls === 'pieceOfInterior') pieces.set(p.exactId, (pieces.get(p.exactId) ?? 0) + 1);
  const smooth = gaussianBlur(data, size, size, 1);
  const { foreground } = otsuComponents(smooth, size, size);
  const threshold = otsuThreshold(smooth);
  const stage: number[] = [];
  for (let i = 0; i < n; i++) if (!exact[i]) stage.push(smooth[i]);
  const level0 = stage.length ? median(stage) : NaN;
  const pixels = new Map<number, number[]>();
  for (let i = 0; i < n; i++) if (exact[i]) (pixels.get(exact[i]) ?? pixels.set(exact[i], []).get(exact[i])!).push(i);
  const out: ExactParticle[] = [];
  for (const [id, px] of pixels) {
    if (px.length < MIN_AREA) continue;
    let contact = 0, fg = 0;
    const corners: [number, number][] = [];
    const mask = new Uint8Array(n);
    for (const i of px) {
      const y = Math.floor(i / size), x = i - y * size;
      if (x === 0 || y === 0 || x === size - 1 || y === size - 1) contact++;
      fg += foreground[i];
      mask[i] = 1;
      corners.push([x, y], [x + 1, y], [x, y + 1], [x + 1, y + 1]);
    }
    let rim = NaN, core = NaN;
    if (px.length >= PROFILE_MIN_AREA) {
      const dist = distanceTransform(mask, size, size);
      const depth = (lo: number, hi: number) => {
        const v = px.filter((i) => dist[i] >= lo && dist[i] < hi).map((i) => (smooth[i] - level0) / (threshold - level0));
        return v.length ? v.reduce((s, x) => s + x, 0) / v.length : NaN;
      };
      rim = depth(1.5, 2.5);
      core = depth(8.5, Infinity);
    }
    out.push({ area: px.length, frameCut: contact > 0, contact, solidity: px.length / hullArea(corners), foreground: fg / px.length, rim, core, pieces: pieces.get(id) ?? 0 });
  }
  return out;
}

export interface BinRow {
  lo: number;
  hi: number;
  n: number;
  /** Pieces per particle, share of particles with >= 1 piece. */
  pieces: number;
  withPiece: number;
  rim: number;
  core: number;
}

const mean = (v: number[]) => (v.length ? v.reduce((s, x) => s + x, 0) / v.length : NaN);

export function binRows(ps: ExactParticle[], key: (p: ExactParticle) => number, edges: number[]): BinRow[] {
  return edges.slice(0, -1).map((lo, k) => {
    const hi = edges[k + 1];
    const b = ps.filter((p) => key(p) >= lo && key(p) < hi);
    const prof = b.filter((p) => Number.isFinite(p.rim) && Number.isFinite(p.core));
    return { lo, hi, n: b.length, pieces: mean(b.map((p) => p.pieces)), withPiece: mean(b.map((p) => (p.pieces > 0 ? 1 : 0))), rim: mean(prof.map((p) => p.rim)), core: mean(prof.map((p) => p.core)) };
  });
}

export interface FramePieces {
  tiles: number;
  /** Frame-cut and interior exact particles per tile, and the pieces they give per tile. */
  perTile: { frameCut: number; interior: number; piecesOfFrameCut: number; piecesOfInterior: number };
  frameCutByArea: BinRow[];
  interiorByArea: BinRow[];
  frameCutByForeground: BinRow[];
  frameCutByContact: BinRow[];
  frameCutBySolidity: BinRow[];
}

export function summarise(particles: ExactParticle[], tiles: number): FramePieces {
  const fc = particles.filter((p) => p.frameCut), inner = particles.filter((p) => !p.frameCut);
  const sum = (ps: ExactParticle[]) => ps.reduce((s, p) => s + p.pieces, 0);
  return {
    tiles,
    perTile: { frameCut: fc.length / tiles, interior: inner.length / tiles, piecesOfFrameCut: sum(fc) / tiles, piecesOfInterior: sum(inner) / tiles },
    frameCutByArea: binRows(fc, (p) => p.area, AREA_BINS),
    interiorByArea: binRows(inner, (p) => p.area, AREA_BINS),
    frameCutByForeground: binRows(fc, (p) => p.foreground, FOREGROUND_BINS),
    frameCutByContact: binRows(fc, (p) => p.contact, CONTACT_BINS),
    frameCutBySolidity: binRows(fc, (p) => p.solidity, SOLIDITY_BINS),
  };
}

/** Frame-cut pieces per tile of `side` at `rates`' pieces per particle in each visible-area bin. */
export function atRates(side: FramePieces, rates: FramePieces): number {
  // a bin this side fills and the reference leaves empty has no rate: NaN
  return side.frameCutByArea.reduce((s, b, k) => s + (b.n ? b.n * (Number.isFinite(rates.frameCutByArea[k].pieces) ? rates.frameCutByArea[k].pieces : NaN) : 0), 0) / side.tiles;
}

function table(title: string, rows: BinRow[], profile: boolean): string {
  const f = (v: number, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  const head = `| ${title} | n | pieces per particle | share with >= 1 piece |${profile ? ' grey / threshold: rim (1 px in) / core (>= 8 px in) |' : ''}`;
  const sep = `| --- | ---: | ---: | ---: |${profile ? ' --- |' : ''}`;
  return [head, sep, ...rows.map((r) => `| ${r.lo}-${Number.isFinite(r.hi) ? r.hi : ''} | ${r.n} | ${f(r.pieces)} | ${f(r.withPiece)} |${profile ? ` ${f(r.rim, 2)} / ${f(r.core, 2)} |` : ''}`)].join('\n');
}

function format(s: FramePieces, ref?: FramePieces): string {
  const t = s.perTile;
  const lines = [
    `${s.tiles} tiles; per tile ${t.frameCut.toFixed(2)} frame-cut and ${t.interior.toFixed(2)} interior exact particles, giving ${t.piecesOfFrameCut.toFixed(3)} and ${t.piecesOfInterior.toFixed(3)} interior pieces of the statistic`,
    table('frame-cut, visible area (px)', s.frameCutByArea, true),
    table('interior, area (px)', s.interiorByArea, true),
    table('frame-cut, Otsu-foreground fraction', s.frameCutByForeground, true),
    table('frame-cut, border contact (px)', s.frameCutByContact, false),
    table('frame-cut, solidity', s.frameCutBySolidity, false),
  ];
  if (ref)
    lines.push(`standardisation by visible area: this side's frame-cut pieces per tile ${t.piecesOfFrameCut.toFixed(3)}, at the reference's rates ${atRates(s, ref).toFixed(3)}; the reference's ${ref.perTile.piecesOfFrameCut.toFixed(3)}, at this side's rates ${atRates(ref, s).toFixed(3)}`);
  return lines.join('\n\n');
}

function main(argv: string[]): void {
  let cropBottom = 0, masks: string | undefined, instances = false, carved = false, json: string | undefined, reference: string | undefined;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--crop-bottom') cropBottom = Number(argv[++i]);
    else if (argv[i] === '--masks') masks = argv[++i];
    else if (argv[i] === '--instances') instances = true;
    else if (argv[i] === '--carve') carved = true;
    else if (argv[i] === '--json') json = argv[++i];
    else if (argv[i] === '--reference') reference = argv[++i];
    else files.push(argv[i]);
  }
  if (!masks === !instances) throw new Error('give exactly one of --masks DIR and --instances');
  const particles: ExactParticle[] = [];
  let tiles = 0;
  for (const f of files)
    for (const t of exactTiles(f, cropBottom, masks)) {
      particles.push(...describeTile(t.data, carved ? carve(t.labels, TILE) : t.labels));
      tiles++;
    }
  const s = summarise(particles, tiles);
  // JSON writes the last bin's Infinity edge and an empty bin's NaN as null
  if (json) writeFileSync(json, JSON.stringify(s, null, 1));
  const ref = reference ? (JSON.parse(readFileSync(reference, 'utf8')) as FramePieces) : undefined;
  console.log(format(s, ref));
}

if (process.argv[1] && /frame-pieces\.m?js$/.test(process.argv[1])) main(process.argv.slice(2));
