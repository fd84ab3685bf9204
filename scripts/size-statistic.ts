/**
 * Validation of annotation-free particle-size statistics against the exact particles
 * (docs/realism.md, "A size statistic that reads real tiles and pairs alike"). A diagnostic, not
 * part of any calibration.
 *
 * On the `realism` command's 128 px tiles (the empty-patch rule's kept tiles, as
 * scripts/median-area.ts cuts them), each candidate statistic is computed on the Otsu foreground
 * the scene statistics see (Gaussian sigma 1, Otsu, holes < 100 px filled, components >= 50 px; no
 * masks) and on the exact foreground of the same tile (the dev-pool's manual mask, or the pairs'
 * instance map carved like their class mask: touching particles apart by one pixel), next to the
 * exact median particle area (interior particles >= 50 px, 4-connected components of the mask /
 * instances) and to today's statistic (the Otsu + watershed median, scripts/median-area.ts).
 *
 * The candidate: the local thickness of the foreground (src/particles/local-thickness.ts), pooled
 * over the tiles' foreground pixels, reported as
 *  - the pixel-weighted median thickness t (px; a disc of diameter t covers pi t^2 / 4 px);
 *  - the number-weighted median: each pixel of thickness t counts 4 / (pi t^2) of a particle (a
 *    disc of diameter t is that many pixels of that thickness), so the weights turn the area
 *    pattern spectrum into a count of discs; its disc area pi t^2 / 4 is the candidate "median
 *    particle area";
 *  - the same number-weighted median over the pixels of thickness >= MIN_DISC (the outlines' thin
 *    fringe left out);
 * each with the frame open (distances to background inside the tile only: a frame-cut particle
 * goes on beyond the tile) and closed (the frame is background; the scene statistics' option
 * `thickness` uses this one), and the large-component share of the Otsu components at 12 x each
 * size unit (the exact median particle area, the watershed statistic, the candidates' discs).
 * Measured: the pixel-weighted median, frame closed, reads both sides alike; the number-weighted
 * form does not follow the radius (docs/realism.md).
 *
 * Usage (bundle into the ignored .tmp/, as scripts/median-area.ts):
 *   npx esbuild scripts/size-statistic.ts --bundle --platform=node --format=esm --packages=external --outfile=.tmp/size-statistic.mjs
 *   node .tmp/size-statistic.mjs --masks ../shared/data/tio2-sem/masks --crop-bottom 64 <dev-pool tifs>
 *   node .tmp/size-statistic.mjs --instances RUN/synth/images/*.png
 * `--json` prints the summary as JSON.
 */
import { gaussianBlur } from '../src/particles/otsu.js';
import { otsuComponents, LARGE_COMPONENT_PARTICLES } from '../src/gan/scene-stats.js';
import { localThickness } from '../src/particles/local-thickness.js';
import { median } from '../src/gan/median.js';
import { analyseTile, carve, exactTiles, summarise, TILE, type TileAnalysis } from './median-area.js';

export const FRAMES = ['open', 'closed'] as const;
export type Frame = (typeof FRAMES)[number];

/** The scene statistics' Otsu foreground of one tile: components >= 50 px. */
export function otsuForeground(data: ArrayLike<number>, size = TILE): Uint8Array {
  return otsuComponents(gaussianBlur(data, size, size, 1), size, size).foreground;
}

/** Thickness values of the foreground pixels of one tile. */
export function thicknessValues(mask: Uint8Array, frame: Frame, size = TILE): number[] {
  const t = localThickness(mask, size, size, { borderIsBackground: frame === 'closed' });
  const out: number[] = [];
  for (let i = 0; i < mask.length; i++) if (mask[i]) out.push(t[i]);
  return out;
}

/** Weighted quantile: the smallest value at which the cumulative weight reaches p of the total. */
export function weightedQuantile(values: readonly number[], weights: readonly number[], p: number): number {
  const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b]);
  let total = 0;
  for (const w of weights) total += w;
  let acc = 0;
  for (const i of order) {
    acc += weights[i];
    if (acc >= p * total) return values[i];
  }
  return NaN;
}

export interface ThicknessSummary {
  /** Pixel-weighted median and quartiles of the thickness, px. */
  pixel: [number, number, number];
  /** Number-weighted (weights 4 / (pi t^2)) median and quartiles, px. */
  number: [number, number, number];
  /**
   * The same over the pixels of thickness >= MIN_DISC px (the diameter of a 50 px disc, the
   * smallest particle the statistics count), which leaves out the thin fringe of the outlines.
   */
  numberAboveMin: [number, number, number];
}

/** Diameter of a disc of 50 px. */
export const MIN_DISC = 2 * Math.sqrt(50 / Math.PI);

export function summariseThickness(values: number[]): ThicknessSummary {
  const w = values.map((t) => 4 / (Math.PI * t * t));
  const ones = values.map(() => 1);
  const qs = (ws: number[]) => [0.25, 0.5, 0.75].map((p) => weightedQuantile(values, ws, p)) as [number, number, number];
  const pixel = qs(ones);
  const number = qs(w);
  const wAbove = values.map((t, i) => (t >= MIN_DISC ? w[i] : 0));
  const above = qs(wAbove);
  return { pixel: [pixel[1], pixel[0], pixel[2]], number: [number[1], number[0], number[2]], numberAboveMin: [above[1], above[0], above[2]] };
}

const discArea = (t: number) => (Math.PI * t * t) / 4;

function main(argv: string[]): void {
  let cropBottom = 0;
  let masks: string | undefined;
  let instances = false;
  let json = false;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--crop-bottom') cropBottom = Number(argv[++i]);
    else if (argv[i] === '--masks') masks = argv[++i];
    else if (argv[i] === '--instances') instances = true;
    else if (argv[i] === '--json') json = true;
    else files.push(argv[i]);
  }
  if (!masks === !instances) throw new Error('give exactly one of --masks DIR and --instances');
  const tiles: { data: Float32Array; analysis: TileAnalysis }[] = [];
  const values: Record<'otsu' | 'exact', Record<Frame, number[]>> = { otsu: { open: [], closed: [] }, exact: { open: [], closed: [] } };
  for (const f of files) {
    for (const t of exactTiles(f, cropBottom, masks)) {
      // The manual masks separate touching particles by a one-pixel line; the pairs' instance
      // maps are carved the same way, so both exact sides are the same kind of mask.
      const exact = instances ? carve(t.labels, TILE) : t.labels;
      tiles.push({ data: t.data, analysis: analyseTile(t.data, exact) });
      const fgOtsu = otsuForeground(t.data);
      const fgExact = Uint8Array.from(exact, (v) => (v ? 1 : 0));
      for (const frame of FRAMES) {
        for (const v of thicknessValues(fgOtsu, frame)) values.otsu[frame].push(v);
        for (const v of thicknessValues(fgExact, frame)) values.exact[frame].push(v);
      }
    }
  }
  const ma = summarise(tiles);
  const exactMedianArea = median(tiles.flatMap((t) => t.analysis.exact));
  // The large-component share (Otsu components, as the scene statistics) at 12 x a size unit:
  // the exact median particle area (what "12 particles" means) and each candidate's disc.
  const comps = tiles.flatMap((t) => t.analysis.components);
  const covered = comps.reduce((a, c) => a + c, 0);
  const largeShareAt = (unit: number) => comps.filter((a) => a > LARGE_COMPONENT_PARTICLES * unit).reduce((a, c) => a + c, 0) / covered;
  const out = {
    tiles: tiles.length,
    largeShare: {
      exactMedian: largeShareAt(exactMedianArea),
      watershed: largeShareAt(ma.statistic),
      ...Object.fromEntries(FRAMES.flatMap((frame) => {
        const o = summariseThickness(values.otsu[frame]);
        return [[`pixel-${frame}`, largeShareAt(discArea(o.pixel[0]))], [`numberAboveMin-${frame}`, largeShareAt(discArea(o.numberAboveMin[0]))]];
      })),
    },
    exactMedianArea,
    watershedStatistic: ma.statistic,
    watershedOverExact: ma.statistic / exactMedianArea,
    thickness: Object.fromEntries(
      FRAMES.map((frame) => {
        const o = summariseThickness(values.otsu[frame]);
        const e = summariseThickness(values.exact[frame]);
        return [
          frame,
          {
            otsu: o,
            exact: e,
            pixelOtsuOverExact: o.pixel[0] / e.pixel[0],
            numberOtsuOverExact: o.number[0] / e.number[0],
            numberAboveMinOtsuOverExact: o.numberAboveMin[0] / e.numberAboveMin[0],
            numberAboveMinDiscAreaOverExactMedianArea: discArea(o.numberAboveMin[0]) / exactMedianArea,
            numberAboveMinExactDiscAreaOverExactMedianArea: discArea(e.numberAboveMin[0]) / exactMedianArea,
            pixelExactDiscAreaOverExactMedianArea: discArea(e.pixel[0]) / exactMedianArea,
            numberDiscAreaOtsu: discArea(o.number[0]),
            numberDiscAreaOverExactMedianArea: discArea(o.number[0]) / exactMedianArea,
            pixelDiscAreaOverExactMedianArea: discArea(o.pixel[0]) / exactMedianArea,
          },
        ];
      }),
    ),
  };
  if (json) console.log(JSON.stringify(out, null, 1));
  else {
    const f2 = (v: number) => v.toFixed(2);
    console.log(`${out.tiles} tiles; exact median particle area ${exactMedianArea.toFixed(0)} px; watershed statistic ${ma.statistic.toFixed(0)} px (${f2(out.watershedOverExact)} of exact)`);
    for (const frame of FRAMES) {
      const t = out.thickness[frame];
      console.log(
        `frame ${frame}: thickness pixel-weighted median (q25-q75) Otsu ${f2(t.otsu.pixel[0])} (${f2(t.otsu.pixel[1])}-${f2(t.otsu.pixel[2])}) exact ${f2(t.exact.pixel[0])} (${f2(t.exact.pixel[1])}-${f2(t.exact.pixel[2])}) ratio ${(t.pixelOtsuOverExact).toFixed(3)}; ` +
          `number-weighted Otsu ${f2(t.otsu.number[0])} (${f2(t.otsu.number[1])}-${f2(t.otsu.number[2])}) exact ${f2(t.exact.number[0])} (${f2(t.exact.number[1])}-${f2(t.exact.number[2])}) ratio ${(t.numberOtsuOverExact).toFixed(3)}; ` +
          `disc area (number) Otsu ${t.numberDiscAreaOtsu.toFixed(0)} px = ${(t.numberDiscAreaOverExactMedianArea).toFixed(3)} of exact median area; (pixel) ${(t.pixelDiscAreaOverExactMedianArea).toFixed(3)}`,
      );
    }
  }
}

if (process.argv[1] && /size-statistic\.m?js$/.test(process.argv[1])) main(process.argv.slice(2));
