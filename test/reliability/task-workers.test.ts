/**
 * The CLI runs the agglomerate calibration's settings on worker threads (src/node/task-workers.ts,
 * started from dist/cli.js itself); an in-process runTraining runs them on the calling thread.
 * Both must calibrate the same scene: the run's config.json (which holds the calibrated counts and
 * agglomerate placement) is the same. Likewise the chosen epoch's C2ST (its seeds on workers in the
 * CLI): the same row in metrics.jsonl.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../src/autodiff/index.js';
import { runTraining } from '../../src/node/train.js';
import { encodePngGrey8 } from '../../src/io/png.js';
import { ensureBuilt, removeTempDirs, runCli, tempDir } from './helpers.js';

let dir = '';
beforeAll(() => {
  ensureBuilt();
  dir = tempDir('task-workers');
  const W = 96, H = 70;
  for (const [name, cx] of [['a', 30], ['b', 60]] as const) {
    const img = new Float32Array(W * H);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) img[y * W + x] = 0.1 + 0.02 * ((x * 7 + y * 3) % 5) + ((x - cx) ** 2 + (y - 30) ** 2 < 150 || (x - cx - 14) ** 2 + (y - 36) ** 2 < 120 ? 0.6 : 0);
    writeFileSync(join(dir, `${name}.png`), encodePngGrey8(W, H, img));
  }
});
afterAll(() => removeTempDirs());

describe('agglomerate calibration and C2ST seeds on worker threads', () => {
  it('the CLI (worker threads) and an in-process run (calling thread) calibrate the same scene and score the same C2ST', async () => {
    const common = { patch: 32, epochs: 1, stepsPerEpoch: 1, baseFilters: 4, configs: 2, evalSamples: 1, seed: 5, cropBottom: 6 };
    const cli = runCli([
      'train', '--real', dir, '--out', join(dir, 'cli'), '--patch', '32', '--epochs', '1', '--steps-per-epoch', '1', '--base-filters', '4', '--configs', '2',
      '--eval-samples', '1', '--seed', '5', '--crop-bottom', '6', '--c2st-seeds', '3', '--backend', 'reference', '--raster-threads', '1',
    ], { timeoutMs: 300_000 });
    expect(cli.code, cli.stderr).toBe(0);
    const threads = Math.min(availableParallelism(), 46);
    if (threads > 1) expect(cli.stderr).toMatch(new RegExp(`agglomerate calibration: \\d+ settings in [\\d.]+ s on ${threads} worker threads`));
    const here = await runTraining({ real: [dir], out: join(dir, 'here'), preset: 'tio2-sem', batch: 1, lrD: 1e-4, norm: 'batch', quiet: true, c2stSeeds: 3, rasterThreads: 1, ...common });
    expect(here.runDir).toBe(join(dir, 'here'));
    const scene = (run: string) => JSON.parse(readFileSync(join(dir, run, 'config.json'), 'utf8')).gan.scene;
    expect(scene('cli')).toBeDefined();
    expect(scene('cli').particles).toEqual(scene('here').particles);
    expect(scene('cli')).toEqual(scene('here'));
    // the chosen epoch's C2ST: its 3 seeds on worker threads in the CLI, one after the other here
    const c2st = (run: string) => readFileSync(join(dir, run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'c2st');
    expect(c2st('cli')).toHaveLength(1);
    expect(c2st('cli')[0].seeds).toHaveLength(3);
    expect(c2st('cli')).toEqual(c2st('here'));
  });
});
