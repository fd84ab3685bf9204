import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePngGrey8 } from '../../src/io/png.js';
import type { GanConfig } from '../../src/gan/trainer.js';
import type { DemoSetup } from '../../src/gan/demo.js';
import type { TrainOptions } from '../../src/node/train.js';
import { tempDir } from '../reliability/helpers.js';

/** A small GAN configuration on a demo setup (its scene size as the patch); tests override what they vary. */
export function demoGanConfig(d: DemoSetup, over: Partial<GanConfig> = {}): GanConfig {
  return {
    preset: 'tio2-sem', scene: d.scene, learned: d.learned, patch: d.scene.width, epochs: 1, stepsPerEpoch: 1, batch: 1, lrG: 1e-3, lrD: 1e-4,
    betas: [0.5, 0.999], baseFilters: 4, discLayers: 3, norm: 'batch', seed: 1, numConfigs: 2, evalSamples: 1,
    ...over,
  };
}

/**
 * Two 80 x 70 "micrographs" a.png / b.png in `dir`: a faint textured film with one bright disc
 * each (at x = 30 and 50), enough real images for train's classifier test.
 */
export function writeTwoDiscImages(dir: string): void {
  const W = 80, H = 70;
  for (const [name, cx] of [['a', 30], ['b', 50]] as const) {
    const img = new Float32Array(W * H);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) img[y * W + x] = 0.1 + 0.02 * ((x * 7 + y * 3) % 5) + ((x - cx) ** 2 + (y - 30) ** 2 < 150 ? 0.6 : 0);
    writeFileSync(join(dir, `${name}.png`), encodePngGrey8(W, H, img));
  }
}

/**
 * A new temporary folder (tempDir(prefix); removeTempDirs removes it) whose `real/` holds the
 * clumped disc images below; returns the folder.
 */
export function tempDirWithClumpedDiscs(prefix: string): string {
  const dir = tempDir(prefix);
  mkdirSync(join(dir, 'real'));
  writeClumpedDiscImages(join(dir, 'real'));
  return dir;
}

/**
 * Two 96 x 70 "micrographs" a.png / b.png in `dir`: clumps and lone bright discs (radius 3-5 px) on
 * a dark, slightly textured film, enough for train's size and agglomerate calibrations.
 */
function writeClumpedDiscImages(dir: string): void {
  const W = 96, H = 70;
  const discs: Record<string, [number, number, number][]> = {
    a: [[12, 12, 5], [20, 14, 4], [16, 21, 4], [26, 20, 3], [60, 15, 4], [80, 50, 5], [45, 45, 4], [52, 48, 4], [48, 55, 5], [57, 57, 3], [20, 50, 3]],
    b: [[70, 20, 5], [78, 24, 4], [74, 31, 4], [66, 28, 3], [83, 32, 4], [15, 45, 4], [30, 15, 3], [40, 50, 5], [48, 52, 4], [88, 58, 3]],
  };
  for (const [name, ds] of Object.entries(discs)) {
    const img = new Float32Array(W * H);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) img[y * W + x] = 0.1 + 0.02 * ((x * 7 + y * 3) % 5) + (ds.some(([cx, cy, r]) => (x - cx) ** 2 + (y - cy) ** 2 < r * r) ? 0.6 : 0);
    writeFileSync(join(dir, `${name}.png`), encodePngGrey8(W, H, img));
  }
}

/**
 * The smallest train run on the real images in `realDir` that still runs every calibration:
 * 32 px patches, one step, no classifier test; tests add `out` and what they vary.
 */
export function tinyRealTrainOptions(realDir: string): TrainOptions {
  return {
    real: [realDir], preset: 'tio2-sem', patch: 32, epochs: 1, stepsPerEpoch: 1, baseFilters: 4, configs: 2, evalSamples: 1,
    seed: 5, cropBottom: 6, batch: 1, lrD: 1e-4, norm: 'batch', quiet: true, c2stSeeds: 0, rasterThreads: 1,
  };
}
