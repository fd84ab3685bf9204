/**
 * train's configFirst (--config-first): the user's scene config is applied before the
 * calibrations instead of after them, so the calibrations start from its fields. A field they
 * calibrate (the base radius) is then calibrated over the config's value, while one they do not
 * touch (the particle shapes) stays the config's; without the option the config's radius wins.
 * The calibrations see the config's shapes: the radius they choose differs from the one chosen
 * on the preset's shapes (same images, same seed).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../src/autodiff/index.js';
import { runTraining, type TrainOptions } from '../../src/node/train.js';
import { encodePngGrey8 } from '../../src/io/png.js';
import type { SceneConfig } from '../../src/render/config.js';
import { removeTempDirs, tempDir } from '../reliability/helpers.js';
import { tinyRealTrainOptions } from './helpers.js';

let dir = '';
const W = 96, H = 70;
const SHAPE = { facets: 14, irregularity: 0.5, roundness: 0.6, elongation: 3 };
beforeAll(() => {
  dir = tempDir('config-first');
  mkdirSync(join(dir, 'real'));
  // Bright ellipses (semi-axes 3-7 px) on a dark, slightly textured film.
  const blobs: [number, number, number, number][] = [[12, 12, 7, 3], [30, 14, 6, 3], [60, 15, 7, 4], [80, 50, 5, 3], [45, 45, 6, 3], [20, 50, 7, 3], [70, 30, 5, 4]];
  for (const name of ['a', 'b']) {
    const img = new Float32Array(W * H);
    const flip = name === 'b';
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const inside = blobs.some(([cx, cy, a, b]) => {
          const [dx, dy] = flip ? [y - cy, x - cx] : [x - cx, y - cy];
          return (dx / a) ** 2 + (dy / b) ** 2 < 1;
        });
        img[y * W + x] = 0.1 + 0.02 * ((x * 7 + y * 3) % 5) + (inside ? 0.6 : 0);
      }
    writeFileSync(join(dir, 'real', `${name}.png`), encodePngGrey8(W, H, img));
  }
  writeFileSync(join(dir, 'scene.json'), JSON.stringify({ particles: { baseRadius: 11, polyhedron: SHAPE } }));
  writeFileSync(join(dir, 'shape.json'), JSON.stringify({ particles: { polyhedron: SHAPE } }));
});
afterAll(() => removeTempDirs());

describe('--config-first: the scene config before the calibrations', () => {
  const common = (): TrainOptions => tinyRealTrainOptions(join(dir, 'real'));
  const scene = (run: string): SceneConfig => JSON.parse(readFileSync(join(dir, run, 'config.json'), 'utf8')).gan.scene;

  it('calibrates over the config and keeps its shapes; without it the config wins', async () => {
    await runTraining({ ...common(), out: join(dir, 'last'), configFile: join(dir, 'scene.json') });
    await runTraining({ ...common(), out: join(dir, 'first'), configFile: join(dir, 'scene.json'), configFirst: true });
    const last = scene('last');
    const first = scene('first');
    expect(last.particles.baseRadius).toBe(11);
    expect(last.particles.polyhedron).toEqual(SHAPE);
    expect(first.particles.polyhedron).toEqual(SHAPE);
    expect(first.particles.baseRadius).not.toBe(11);
  }, 600_000);

  it('the calibrations see the config\'s shapes: another radius than on the preset\'s shapes', async () => {
    await runTraining({ ...common(), out: join(dir, 'plain') });
    await runTraining({ ...common(), out: join(dir, 'shape'), configFile: join(dir, 'shape.json'), configFirst: true });
    const plain = scene('plain');
    const shape = scene('shape');
    expect(plain.particles.polyhedron).not.toEqual(SHAPE);
    expect(shape.particles.polyhedron).toEqual(SHAPE);
    expect(shape.particles.baseRadius).not.toBe(plain.particles.baseRadius);
  }, 600_000);

  it('needs a config file and real images', async () => {
    await expect(runTraining({ ...common(), out: join(dir, 'none'), configFirst: true })).rejects.toThrow(/--config-first needs --config FILE/);
    await expect(runTraining({ ...common(), real: undefined, out: join(dir, 'demo'), configFile: join(dir, 'scene.json'), configFirst: true })).rejects.toThrow(/--config-first needs --real/);
  });
});
