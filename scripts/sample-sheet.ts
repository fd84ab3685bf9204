/**
 * A sheet of synthetic pairs from a `generate` output folder: each generated image beside its
 * class mask (0 black, 1 grey, 2 white), `cols` pairs per row. For docs pictures of generated
 * samples (never real micrographs: the data sets' licences forbid committing them).
 * Usage (bundle with esbuild, then run):
 *   npx esbuild scripts/sample-sheet.ts --bundle --platform=node --format=esm --packages=external --outfile=.tmp/sample-sheet.mjs
 *   node .tmp/sample-sheet.mjs SYNTH_DIR OUT.png [count=8] [cols=4]
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage } from '../src/io/decode.js';
import { encodePngGrey8 } from '../src/io/png.js';

const [dir, out, countS = '8', colsS = '4'] = process.argv.slice(2);
if (!dir || !out) throw new Error('usage: sample-sheet SYNTH_DIR OUT.png [count] [cols]');
const names = readdirSync(join(dir, 'images')).filter((f) => f.endsWith('.png')).sort().slice(0, Number(countS));
const cols = Number(colsS);
const pairs = names.map((n) => ({ image: decodeImage(readFileSync(join(dir, 'images', n)), n), mask: decodeImage(readFileSync(join(dir, 'masks', n)), n) }));
const S = pairs[0].image.width, GAP = 4;
const PW = 2 * S + GAP;
const rows = Math.ceil(pairs.length / cols);
const W = cols * PW + (cols - 1) * 3 * GAP, H = rows * S + (rows - 1) * GAP;
const grid = new Float32Array(W * H).fill(1);
pairs.forEach(({ image, mask }, k) => {
  const ox = (k % cols) * (PW + 3 * GAP), oy = Math.floor(k / cols) * (S + GAP);
  for (let y = 0; y < S; y++)
    for (let x = 0; x < S; x++) {
      grid[(oy + y) * W + ox + x] = image.data[y * S + x];
      // masks are 8-bit class ids 0 / 1 / 2 (decoded to k / 255)
      grid[(oy + y) * W + ox + S + GAP + x] = Math.round(mask.data[y * S + x] * 255) / 2;
    }
});
writeFileSync(out, encodePngGrey8(W, H, grid));
console.log(`${out}: ${pairs.length} pairs of ${S} px`);
