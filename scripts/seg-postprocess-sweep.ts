/**
 * The instance post-processing of a trained U-Net, swept on cached probabilities: how the tables of
 * docs/segmentation.md ("Choosing the post-processing on held-out synthetic pairs") were made.
 *   predict: runs the model once over a set and caches its probabilities (v8-serialised):
 *     a synthetic dataset folder (`generate` output: images/, masks/, instances/; the truth is the
 *     exact instance map with the contact line each higher id carves out of itself set to
 *     background, the convention of the manual masks), or annotated real images (--images /
 *     --masks with --crop-bottom and --ids, as segment eval reads them);
 *   sweep: scores every post-processing setting of a JSON list on a cache: per-image mean DSC /
 *     AP50 / PQ and the pooled sizing figures of segment eval (count, ECD D50, KS, outline bias,
 *     merges / splits; no bootstrap).
 *   breakdown: where AP50's errors come from (src/seg/error-breakdown.ts) with one setting (default:
 *     the defaults of segment eval, distance instances with half-level outlines): per image, pooled
 *     counts, recall by ground-truth area and the per-image mean AP50 with each kind of error removed.
 * A setting: { "method": "distance" | "watershed" | "stardist", "background", "contour", "relative", "coreH",
 * "minCore" (distance) or "h" (watershed) or "prob", "nms", "fill" (stardist: a model trained with
 * --instance-target stardist; its cache holds the ray planes after the distance one), "outlines": "half-level" | "network" (default "network") }.
 * Usage (bundle with esbuild into the ignored .tmp/ of the repository, where the packages resolve, then run):
 *   npx esbuild scripts/seg-postprocess-sweep.ts --bundle --platform=node --format=esm --packages=external --outfile=.tmp/sweep.mjs
 *   node .tmp/sweep.mjs predict MODEL_DIR SYNTH_DIR CACHE [--flips]
 *   node .tmp/sweep.mjs predict MODEL_DIR IMAGES_DIR CACHE --masks MASKS_DIR --crop-bottom 64 --ids ID,ID,... [--flips]
 *   predict's --adapt-bn FILE,FILE,... [--adapt-crop-bottom 64]: the model's batch norm adapted to
 *     those images first (as segment eval --adapt-bn; src/seg/adapt-bn.ts)
 *   node .tmp/sweep.mjs sweep CACHE SETTINGS.json [--json OUT.json]
 *   node .tmp/sweep.mjs calibrate CACHE[,CACHE...] GRID.json [--bootstrap B] [--json OUT.json]
 *     calibrate: the per-model split calibration of docs/segmentation.md ("Calibrating the split level
 *     per model on held-out renders"): scores every setting of GRID on the pooled caches (held-out
 *     renders), chooses the one whose pooled count error is closest to 0 (ties: the earlier in GRID),
 *     and bootstraps the choice over images (B resamples, default 1000, seed fixed).
 *   node .tmp/sweep.mjs breakdown CACHE [SETTING.json]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { serialize, deserialize } from 'node:v8';
import { initBackend } from '../src/node/init-backend.js';
import { loadModel } from '../src/node/seg-checkpoint.js';
import { readAnnotatedSet, readCroppedImage, readSegDataset, readSegInstances } from '../src/node/seg-dataset.js';
import { applyBatchNormStats, estimateBatchNormStats } from '../src/seg/adapt-bn.js';
import { normaliseImage, predictWithFlips } from '../src/seg/infer.js';
import { instancesFromDistance, instancesFromProbabilities } from '../src/particles/instances.js';
import { polygonInstances } from '../src/seg/stardist.js';
import { brightParticleView, type Polarity } from '../src/particles/polarity.js';
import { growToHalfLevel } from '../src/seg/edge-outline.js';
import { evaluate, meanOf } from '../src/seg/metrics.js';
import { sizingParts, sizingFromParts } from '../src/seg/sizing.js';
import { errorBreakdown, type ErrorBreakdown } from '../src/seg/error-breakdown.js';

interface Cached {
  name: string;
  width: number;
  height: number;
  /** The bright-particle view of the image (for the half-level outlines). */
  image: Float32Array;
  probabilities: Float32Array;
  truth: Int32Array;
}

interface Setting {
  method: 'distance' | 'watershed' | 'stardist';
  background?: number;
  /** stardist: polygonInstances' prob (or relative), nms and fill (src/seg/stardist.ts). */
  prob?: number;
  nms?: number;
  fill?: boolean;
  contour?: number;
  relative?: number;
  coreH?: number;
  minCore?: number;
  h?: number;
  outlines?: 'half-level' | 'network';
}

/** The manual masks' convention on an exact instance map: the line each higher id carves out of itself where it touches a lower one is background. */
function carveContacts(inst: Int32Array, w: number, h: number): Int32Array {
  const out = Int32Array.from(inst);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      const id = inst[p];
      if (!id) continue;
      const lower = (q: number) => q !== 0 && q < id;
      if ((x > 0 && lower(inst[p - 1])) || (x < w - 1 && lower(inst[p + 1])) || (y > 0 && lower(inst[p - w])) || (y < h - 1 && lower(inst[p + w]))) out[p] = 0;
    }
  }
  return out;
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function predict(modelDir: string, set: string, cache: string, args: string[]): Promise<void> {
  await initBackend('auto', { relaxedSimd: true });
  const { model, info } = loadModel(modelDir);
  const polarity: Polarity = info.polarity;
  const adapt = flag(args, '--adapt-bn');
  if (adapt) {
    const images = adapt.split(',').map((f) => readCroppedImage(f, Number(flag(args, '--adapt-crop-bottom') ?? 0)));
    if ((info.scale ?? 1) !== 1) throw new Error('predict --adapt-bn: not for a model with a working scale (segment eval --adapt-bn handles it)');
    const stats = estimateBatchNormStats(model, images, { tile: 2 * info.crop, normalisation: info.normalisation, polarity });
    applyBatchNormStats(model, stats);
    console.log(`batch norm adapted to ${stats.images} images (${stats.tiles} tiles)`);
  }
  const masks = flag(args, '--masks');
  const items = masks
    ? readAnnotatedSet(set, masks, { cropBottom: Number(flag(args, '--crop-bottom') ?? 0), ids: flag(args, '--ids')?.split(',') }).map((a) => ({ ...a, truth: a.instances }))
    : readSegInstances(set, readSegDataset(set)).map((s) => ({ ...s, truth: carveContacts(s.instances, s.width, s.height) }));
  const out: Cached[] = items.map((it) => ({
    name: it.name,
    width: it.width,
    height: it.height,
    image: brightParticleView(it.image, polarity),
    probabilities: predictWithFlips(model, normaliseImage(it.image, info.normalisation, polarity), it.width, it.height, { tile: 2 * info.crop, flips: args.includes('--flips'), scale: info.scale }),
    truth: it.truth,
  }));
  writeFileSync(cache, serialize(out));
  console.log(`${out.length} images -> ${cache}`);
}

function instances(c: Cached, s: Setting): Int32Array {
  const n = c.width * c.height;
  const p = c.probabilities;
  const labels =
    s.method === 'stardist'
      ? polygonInstances(p.subarray(0, 3 * n), p.subarray(3 * n, 4 * n), p.subarray(4 * n), c.width, c.height, { background: s.background, prob: s.prob, relative: s.relative, nms: s.nms, fill: s.fill }).labels
      : s.method === 'distance'
      ? instancesFromDistance(p.subarray(0, 3 * n), p.subarray(3 * n, 4 * n), c.width, c.height, { background: s.background, contour: s.contour, relative: s.relative, coreH: s.coreH, minCore: s.minCore }).labels
      : instancesFromProbabilities(p.subarray(0, 3 * n), c.width, c.height, { background: s.background, contour: s.contour, h: s.h }).labels;
  return s.outlines === 'half-level' ? growToHalfLevel(labels, c.image, c.width, c.height) : labels;
}

function sweep(cache: string, settingsFile: string, jsonOut?: string): void {
  const items = deserialize(readFileSync(cache)) as Cached[];
  const settings = JSON.parse(readFileSync(settingsFile, 'utf8')) as Setting[];
  const records: object[] = [];
  const pc = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)} %`;
  console.log('| setting | DSC | AP50 | PQ | count | ECD D50 | KS | outline bias | merges / splits |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const s of settings) {
    const rows = [];
    const parts = [];
    for (const c of items) {
      const labels = instances(c, s);
      rows.push(evaluate(labels, c.truth, c.width, c.height));
      parts.push(sizingParts(labels, c.truth, c.width, c.height, 50));
    }
    const m = meanOf(rows);
    const z = sizingFromParts(parts, { minArea: 50, bootstrap: 0 });
    console.log(`| ${JSON.stringify(s)} | ${m.dsc.toFixed(3)} | ${m.ap50.toFixed(3)} | ${m.pq.toFixed(3)} | ${z.count.pred} / ${z.count.truth} (${pc(z.count.relError)}) | ${pc(z.ecd.relError.d50)} | ${z.ecd.ks.toFixed(3)} | ${z.outlineBias.toFixed(2)} px | ${z.merges} / ${z.splits} |`);
    records.push({ setting: s, dsc: m.dsc, ap50: m.ap50, pq: m.pq, count: z.count, d50: z.ecd.relError.d50, ks: z.ecd.ks, outlineBias: z.outlineBias, merges: z.merges, splits: z.splits });
  }
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(records, null, 1));
}

/** Index of the count closest to its truth (relative error nearest 0); ties go to the earlier index. */
function closestCount(pred: readonly number[], truth: number): number {
  let best = 0;
  for (let k = 1; k < pred.length; k++) if (Math.abs(pred[k] - truth) < Math.abs(pred[best] - truth)) best = k;
  return best;
}

function calibrate(caches: string, gridFile: string, args: string[]): void {
  const items = caches.split(',').flatMap((c) => deserialize(readFileSync(c)) as Cached[]);
  const grid = JSON.parse(readFileSync(gridFile, 'utf8')) as Setting[];
  const bootstrap = Number(flag(args, '--bootstrap') ?? 1000);
  const pc = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)} %`;
  // per setting, per image: counted predicted and true particles (interior, >= 50 px)
  const predCounts: number[][] = grid.map(() => []);
  let truthCounts: number[] = [];
  const pooled: { count: number; relError: number; d50: number; ks: number; ap50: number }[] = [];
  for (const [k, s] of grid.entries()) {
    const parts = items.map((c) => sizingParts(instances(c, s), c.truth, c.width, c.height, 50));
    const ap50 = meanOf(items.map((c) => evaluate(instances(c, s), c.truth, c.width, c.height))).ap50;
    predCounts[k] = parts.map((p) => p.pred.length);
    truthCounts = parts.map((p) => p.truth.length);
    const z = sizingFromParts(parts, { minArea: 50, bootstrap: 0 });
    pooled.push({ count: z.count.pred, relError: z.count.relError, d50: z.ecd.relError.d50, ks: z.ecd.ks, ap50 });
  }
  const truth = truthCounts.reduce((a, b) => a + b, 0);
  const chosen = closestCount(pooled.map((p) => p.count), truth);
  console.log(`${items.length} images, ${truth} counted true particles`);
  console.log('| setting | count | ECD D50 | KS | AP50 |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const [k, s] of grid.entries()) console.log(`| ${JSON.stringify(s)}${k === chosen ? ' (chosen)' : ''} | ${pooled[k].count} (${pc(pooled[k].relError)}) | ${pc(pooled[k].d50)} | ${pooled[k].ks.toFixed(3)} | ${pooled[k].ap50.toFixed(3)} |`);
  // Bootstrap over images: how often each setting is chosen, and the chosen setting's count error.
  let state = 12345;
  const rand = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const picks = new Array<number>(grid.length).fill(0);
  const errs: number[] = [];
  for (let b = 0; b < bootstrap; b++) {
    const idx = items.map(() => Math.floor(rand() * items.length));
    const t = idx.reduce((a, i) => a + truthCounts[i], 0);
    const sums = grid.map((_, k) => idx.reduce((a, i) => a + predCounts[k][i], 0));
    picks[closestCount(sums, t)]++;
    errs.push(sums[chosen] / t - 1);
  }
  errs.sort((a, b) => a - b);
  const q = (f: number) => errs[Math.min(errs.length - 1, Math.floor(f * errs.length))];
  if (bootstrap > 0) {
    console.log(`bootstrap over images (${bootstrap}): chosen setting's count error 90 % interval ${pc(q(0.05))} .. ${pc(q(0.95))}`);
    console.log('times each setting is chosen: ' + grid.map((s, k) => `${JSON.stringify(s)} ${picks[k]}`).join(', '));
  }
  const out = { images: items.length, truth, chosen: grid[chosen], pooled: grid.map((s, k) => ({ setting: s, ...pooled[k] })), bootstrap: { n: bootstrap, countErr90: bootstrap > 0 ? [q(0.05), q(0.95)] : null, picks } };
  const jsonOut = flag(args, '--json');
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(out, null, 1));
}

function breakdown(cache: string, settingFile?: string): void {
  const items = deserialize(readFileSync(cache)) as Cached[];
  const s: Setting = settingFile ? (JSON.parse(readFileSync(settingFile, 'utf8')) as Setting) : { method: 'distance', outlines: 'half-level' };
  const all: ErrorBreakdown[] = [];
  console.log('| image | truth | pred | TP | FN tiny / missed / merged / split / outline | FP spurious / merge / fragment / other | AP50 |');
  console.log('| --- | ---: | ---: | ---: | --- | --- | ---: |');
  for (const c of items) {
    const b = errorBreakdown(instances(c, s), c.truth, c.width, c.height);
    all.push(b);
    console.log(`| ${c.name} | ${b.truth} | ${b.pred} | ${b.tp} | ${b.fn.tiny} / ${b.fn.missed} / ${b.fn.merged} / ${b.fn.split} / ${b.fn.outline} | ${b.fp.spurious} / ${b.fp.merge} / ${b.fp.fragment} / ${b.fp.other} | ${b.ap50Without.none.toFixed(3)} |`);
  }
  const sum = (f: (b: ErrorBreakdown) => number) => all.reduce((a, b) => a + f(b), 0);
  const fn = (['tiny', 'missed', 'merged', 'split', 'outline'] as const).map((k) => sum((b) => b.fn[k])).join(' / ');
  const fp = (['spurious', 'merge', 'fragment', 'other'] as const).map((k) => sum((b) => b.fp[k])).join(' / ');
  console.log(`| all | ${sum((b) => b.truth)} | ${sum((b) => b.pred)} | ${sum((b) => b.tp)} | ${fn} | ${fp} | ${(sum((b) => b.ap50Without.none) / all.length).toFixed(3)} (mean) |`);
  console.log('\nrecall by ground-truth area (px): ' + all[0].byArea.map((bin, i) => {
    const truth = sum((b) => b.byArea[i].truth);
    const tp = sum((b) => b.byArea[i].tp);
    return `${bin.lo}-${Number.isFinite(bin.hi) ? bin.hi : 'inf'}: ${tp} / ${truth} = ${(tp / Math.max(1, truth)).toFixed(3)}`;
  }).join(', '));
  const kinds = Object.keys(all[0].ap50Without) as (keyof ErrorBreakdown['ap50Without'])[];
  console.log('per-image mean AP50 with one kind of error removed: ' + kinds.map((k) => `${k} ${(sum((b) => b.ap50Without[k]) / all.length).toFixed(3)}`).join(', '));
}

const [cmd, ...rest] = process.argv.slice(2);
if (cmd === 'predict' && rest.length >= 3) await predict(rest[0], rest[1], rest[2], rest.slice(3));
else if (cmd === 'sweep' && (rest.length === 2 || rest.length === 4)) sweep(rest[0], rest[1], flag(rest, '--json'));
else if (cmd === 'calibrate' && rest.length >= 2) calibrate(rest[0], rest[1], rest.slice(2));
else if (cmd === 'breakdown' && (rest.length === 1 || rest.length === 2)) breakdown(rest[0], rest[1]);
else {
  console.error('usage: sweep.mjs predict MODEL_DIR SET CACHE [--masks DIR --crop-bottom N --ids A,B] [--flips] | sweep CACHE SETTINGS.json [--json OUT] | calibrate CACHE[,CACHE] GRID.json [--bootstrap B] [--json OUT] | breakdown CACHE [SETTING.json]');
  process.exit(2);
}
