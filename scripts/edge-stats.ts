/**
 * Annotation-free statistics of the particles' outlines, for comparing synthetic pairs with real
 * micrographs (docs/realism.md, "The silhouettes"): both sides are cut into 128 px tiles, one Otsu
 * threshold over all tiles of a side (images smoothed at sigma 1, as src/gan/imaging-calibration.ts
 * does), tiles with fewer than 200 foreground or background pixels skipped. Reported, each over
 * the contrast c = body median - substrate median (pixels >= 6 px inside / outside the boundary):
 *  - edgeHF: median |I - G_1 * I| (the high-pass residual) over the pixels within sqrt(2) px of
 *    the Otsu boundary: aliased staircases and a speckled one-pixel rim raise it;
 *  - bodyHF, subHF: the same on the bodies and the substrate (the noise and grain it sits on);
 *  - edgeGrad: median gradient magnitude (central differences) over the same boundary pixels;
 *  - the profile: median grey over the signed distance to the boundary (0.5 px bins, + inside).
 * Usage (bundle with esbuild, then run):
 *   npx esbuild scripts/edge-stats.ts --bundle --platform=node --format=esm --packages=external --outfile=.tmp/edge-stats.mjs
 *   node .tmp/edge-stats.mjs [--crop-bottom 64] FILE_OR_SYNTH_DIR...
 * A folder is a `generate` output (its images/); files are micrographs.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage } from '../src/io/decode.js';
import { otsuThreshold, gaussianBlur } from '../src/particles/otsu.js';
import { squaredDistanceTransform } from '../src/particles/distance.js';

type Grey = { width: number; height: number; data: Float32Array };
const TILE = 128, FAR2 = 36;
const args = process.argv.slice(2);
let cropBottom = 0;
const inputs: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--crop-bottom') cropBottom = Number(args[++i]);
  else inputs.push(args[i]);
}
if (inputs.length === 0 || !(cropBottom >= 0)) throw new Error('usage: edge-stats [--crop-bottom PX] FILE_OR_SYNTH_DIR...');
const files = inputs.flatMap((p) => (statSync(p).isDirectory() ? readdirSync(join(p, 'images')).filter((f) => f.endsWith('.png')).sort().map((f) => join(p, 'images', f)) : [p]));
const tiles: Grey[] = [];
for (const f of files) {
  const im = decodeImage(readFileSync(f), f);
  const H = im.height - cropBottom;
  for (let y0 = 0; y0 + TILE <= H; y0 += TILE) {
    for (let x0 = 0; x0 + TILE <= im.width; x0 += TILE) {
      const d = new Float32Array(TILE * TILE);
      for (let y = 0; y < TILE; y++) d.set(im.data.subarray((y0 + y) * im.width + x0, (y0 + y) * im.width + x0 + TILE), y * TILE);
      tiles.push({ width: TILE, height: TILE, data: d });
    }
  }
}
const smooth = tiles.map((t) => gaussianBlur(t.data, t.width, t.height, 1));
const pooled = new Float32Array(smooth.length * TILE * TILE);
smooth.forEach((s, k) => pooled.set(s, k * TILE * TILE));
const thr = otsuThreshold(pooled);
const median = (v: number[]): number => {
  const s = Float64Array.from(v).sort();
  return s.length ? s[s.length >> 1] : NaN;
};
const NB = 24; // profile bins of 0.5 px from -5 (outside) to +7 (inside)
const prof: number[][] = Array.from({ length: NB }, () => []);
const edgeHF: number[] = [], grad: number[] = [], bodyHF: number[] = [], subHF: number[] = [], body: number[] = [], sub: number[] = [];
let kept = 0;
tiles.forEach((t, k) => {
  const { width: W, height: H, data } = t;
  const s = smooth[k];
  const fg = new Uint8Array(W * H), bg = new Uint8Array(W * H);
  let nfg = 0;
  for (let i = 0; i < W * H; i++) {
    fg[i] = s[i] > thr ? 1 : 0;
    bg[i] = 1 - fg[i];
    nfg += fg[i];
  }
  if (nfg < 200 || nfg > W * H - 200) return;
  kept++;
  const din = squaredDistanceTransform(fg, W, H), dout = squaredDistanceTransform(bg, W, H);
  const low = gaussianBlur(data, W, H, 1);
  for (let y = 2; y < H - 2; y++) {
    for (let x = 2; x < W - 2; x++) {
      const i = y * W + x;
      const hf = Math.abs(data[i] - low[i]);
      const d2 = fg[i] ? din[i] : dout[i];
      if (d2 <= 2) {
        edgeHF.push(hf);
        grad.push(Math.hypot(0.5 * (data[i + 1] - data[i - 1]), 0.5 * (data[i + W] - data[i - W])));
      }
      if (fg[i] && din[i] >= FAR2) { bodyHF.push(hf); body.push(data[i]); }
      if (!fg[i] && dout[i] >= FAR2) { subHF.push(hf); sub.push(data[i]); }
      const sd = fg[i] ? Math.sqrt(din[i]) - 0.5 : 0.5 - Math.sqrt(dout[i]);
      const b = Math.floor((sd + 5) * 2);
      if (b >= 0 && b < NB) prof[b].push(data[i]);
    }
  }
});
const c = median(body) - median(sub);
const r = (v: number, d = 3): number => +v.toFixed(d);
console.log(JSON.stringify({
  files: files.length, tiles: kept, threshold: r(thr), contrast: r(c),
  edgeHF: r(median(edgeHF) / c), bodyHF: r(median(bodyHF) / c), subHF: r(median(subHF) / c), edgeGrad: r(median(grad) / c),
  profile: Object.fromEntries(prof.flatMap((v, k) => (v.length >= 20 ? [[(k / 2 - 5).toFixed(1), r((median(v) - median(sub)) / c, 2)]] : []))),
}));
