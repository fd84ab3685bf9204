/**
 * Renders every preset to PNG (one image each, plus a 2 x 2 grid with masks beside) so the
 * defaults can be checked by eye. Usage (after bundling with esbuild):
 *   node render-presets.mjs [outDir=docs] [seed=1]
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { Rng } from '../src/autodiff/rng.js';
import { encodePngGrey8 } from '../src/io/png.js';
import { sampleScene, renderScene, sceneParams, PRESET_NAMES } from '../src/render/index.js';

const outDir = process.argv[2] ?? 'docs';
const seed = Number(process.argv[3] ?? 1);
mkdirSync(outDir, { recursive: true });
const W = 256, H = 256, GAP = 4;
// grid: each row = preset image | class mask (0 black, 1 grey, 2 white)
const GW = 4 * W + 3 * GAP, GH = 2 * H + GAP;
const grid = new Uint8Array(GW * GH).fill(255);
PRESET_NAMES.forEach((preset, k) => {
  const scene = sampleScene(preset, new Rng(seed + 17 * k));
  const t0 = performance.now();
  const r = renderScene(scene, sceneParams(scene));
  const ms = performance.now() - t0;
  const img = r.image.data;
  writeFileSync(`${outDir}/render-${preset}.png`, encodePngGrey8(W, H, Float32Array.from(img)));
  const ox = (k % 2) * (2 * W + 2 * GAP), oy = Math.floor(k / 2) * (H + GAP);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      grid[(oy + y) * GW + ox + x] = Math.round(255 * Math.min(1, Math.max(0, img[y * W + x])));
      grid[(oy + y) * GW + ox + W + GAP + x] = [0, 128, 255][r.classes![y * W + x]];
    }
  }
  console.log(`${preset}: ${scene.layout.particles.length} particles, ${scene.mesh.faces.length / 3} faces, ${ms.toFixed(0)} ms, rejected: ${r.rejected}`);
});
writeFileSync(`${outDir}/render-presets.png`, encodePngGrey8(GW, GH, grid));
