/**
 * Silhouettes drawn from the particles' masks instead of an Otsu threshold, for the silhouette
 * classifier test of docs/realism.md ("What the lone outlines are"): the particle foreground
 * (manual masks NAME_m.tif of the TiO2-SEM dev-pool, which its README allows to be read for
 * statistics; or a generated pair's exact instance map, IMAGES/../instances/NAME.png) closed by
 * a 3 x 3 square (so the manual masks' one-pixel separation lines between touching particles,
 * which instance maps do not have, vanish on both sides), as 0 / 1 blurred by sigma 1 px like
 * realism-transform.ts's silhouettes, written as 16-bit PNGs. The output is derived from the
 * data: write it outside the repository.
 *
 * Usage (bundle with esbuild into the ignored .tmp/ of the repository, then run):
 *   npx esbuild scripts/mask-silhouettes.ts --bundle --platform=node --format=esm --packages=external --outfile=.tmp/mask-silhouettes.mjs
 *   node .tmp/mask-silhouettes.mjs OUT_DIR --masks DIR|instances [--crop-bottom PX] FILES...
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { readImageFile } from '../src/node/files.js';
import { gaussianBlur } from '../src/particles/otsu.js';
import { encodePngGrey16 } from '../src/io/png.js';

/** 3 x 3 max (grow) or min (shrink) filter of a 0/1 mask; outside the image repeats the edge. */
export function morph3(m: Uint8Array, W: number, H: number, grow: boolean): Uint8Array {
  const out = new Uint8Array(m.length);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let v = grow ? 0 : 1;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = Math.min(H - 1, Math.max(0, y + dy));
        for (let dx = -1; dx <= 1; dx++) {
          const q = m[yy * W + Math.min(W - 1, Math.max(0, x + dx))];
          v = grow ? Math.max(v, q) : Math.min(v, q);
        }
      }
      out[y * W + x] = v;
    }
  }
  return out;
}

/** The closed foreground as 0 / 1, blurred by sigma 1 px. */
export function maskSilhouette(fg: Uint8Array, W: number, H: number): Float32Array {
  const closed = morph3(morph3(fg, W, H, true), W, H, false);
  return gaussianBlur(Float32Array.from(closed), W, H, 1);
}

function main(argv: string[]): void {
  const [outDir, ...rest] = argv;
  let cropBottom = 0;
  let masks = '';
  const files: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--crop-bottom') cropBottom = Number(rest[++i]);
    else if (rest[i] === '--masks') masks = rest[++i];
    else files.push(rest[i]);
  }
  if (!outDir || !masks || files.length === 0) {
    console.error('usage: mask-silhouettes OUT_DIR --masks DIR|instances [--crop-bottom PX] FILES...');
    process.exit(2);
  }
  mkdirSync(outDir, { recursive: true });
  for (const f of files) {
    const stem = basename(f, extname(f));
    const m = readImageFile(masks === 'instances' ? join(dirname(f), '..', 'instances', basename(f)) : join(masks, `${stem}_m.tif`));
    const W = m.width, H = m.height - cropBottom;
    const fg = Uint8Array.from(m.data.subarray(0, W * H), (v) => (v > 0 ? 1 : 0));
    const s = maskSilhouette(fg, W, H);
    const u = Uint16Array.from(s, (v) => Math.round(Math.min(1, Math.max(0, v)) * 65535));
    writeFileSync(join(outDir, `${stem}.png`), encodePngGrey16(W, H, u));
  }
}

if (process.argv[1] && /mask-silhouettes\.m?js$/.test(process.argv[1])) main(process.argv.slice(2));
