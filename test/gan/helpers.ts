import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePngGrey8 } from '../../src/io/png.js';
import type { GanConfig } from '../../src/gan/trainer.js';
import type { DemoSetup } from '../../src/gan/demo.js';

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
