/**
 * The CLI runs the agglomerate calibration's settings and the image-formation calibration's
 * candidates on worker threads (src/node/task-workers.ts, started from dist/cli.js itself); an
 * in-process runTraining runs them on the calling thread. Both must calibrate the same scene: the
 * run's config.json (which holds the calibrated counts, agglomerate placement and image formation)
 * is the same. Likewise the chosen epoch's C2ST (its seeds on workers in the
 * CLI): the same row in metrics.jsonl.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../src/autodiff/index.js';
import { runTraining } from '../../src/node/train.js';
import { encodePngGrey8 } from '../../src/io/png.js';
import { interiorParticleRadii } from '../../src/gan/calibrate.js';
import { closeTaskWorkers, enableTaskWorkers, pooledTaskWorkers, runTasks } from '../../src/node/task-workers.js';
import { segmentPredict, segmentTrain } from '../../src/node/segment.js';
import { writePngGrey8 } from '../../src/node/files.js';
import { discSet } from '../seg/unet-helpers.js';
import { CLI, ensureBuilt, listTree, removeTempDirs, runCli, tempDir } from './helpers.js';

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

describe('the task-worker pool', () => {
  // One filled disc of radius r at (x, y) per entry, on a dark background.
  const image = (W: number, discs: [number, number, number][]) => {
    const data = new Float32Array(W * W).fill(0.1);
    for (const [cx, cy, r] of discs) for (let y = 0; y < W; y++) for (let x = 0; x < W; x++) if ((x - cx) ** 2 + (y - cy) ** 2 < r * r) data[y * W + x] = 0.8;
    return { width: W, height: W, data };
  };
  // A large first job: the small ones behind it finish first on the other worker.
  const jobs = [
    image(400, [[100, 100, 30], [250, 260, 45], [300, 90, 20]]),
    image(48, [[20, 20, 6]]),
    image(48, [[24, 24, 9]]),
    image(48, [[15, 30, 4], [34, 14, 5]]),
    image(64, [[30, 30, 12]]),
  ].map((image) => ({ image, polarity: 'bright' as const }));
  const here = jobs.map((j) => interiorParticleRadii(j.image, j.polarity));

  beforeAll(() => enableTaskWorkers(CLI, 2));
  afterAll(() => closeTaskWorkers());

  it('returns the results in the jobs order, the same as the calling thread computes', async () => {
    expect(new Set(here.map((r) => r.length)).size).toBeGreaterThan(1);
    expect(await runTasks('particleRadii', jobs)).toEqual(here);
  }, 60_000);

  it('keeps its workers from one call to the next and terminates them when closed', async () => {
    await runTasks('particleRadii', jobs);
    const first = pooledTaskWorkers();
    expect(first).toHaveLength(2);
    const ids = first.map((w) => w.threadId);
    expect(await runTasks('particleRadii', jobs.slice(1))).toEqual(here.slice(1));
    expect(pooledTaskWorkers().map((w) => w.threadId)).toEqual(ids);
    await closeTaskWorkers();
    expect(pooledTaskWorkers()).toEqual([]);
    // a terminated worker's thread id reads -1
    expect(first.map((w) => w.threadId)).toEqual([-1, -1]);
    // the next call starts new workers
    expect(await runTasks('particleRadii', jobs.slice(0, 2))).toEqual(here.slice(0, 2));
    expect(pooledTaskWorkers().map((w) => w.threadId)).not.toContain(ids[0]);
  }, 60_000);

  it("fails the call when a job throws, and the next call runs on fresh workers", async () => {
    await runTasks('particleRadii', jobs.slice(1, 3));
    const before = pooledTaskWorkers();
    const bad = { image: { width: 48, height: 48, data: null as unknown as Float32Array }, polarity: 'bright' as const };
    await expect(runTasks('particleRadii', [jobs[1], bad, jobs[2]])).rejects.toThrow(/particleRadii worker: /);
    expect(before.map((w) => w.threadId)).toEqual([-1, -1]);
    expect(await runTasks('particleRadii', jobs)).toEqual(here);
  }, 60_000);
});

describe('segment predict on worker threads', () => {
  it('the CLI (one image per worker, one lane each) writes the same files as an in-process run (calling thread)', async () => {
    const data = join(dir, 'discs');
    mkdirSync(join(data, 'images'), { recursive: true });
    mkdirSync(join(data, 'masks'), { recursive: true });
    const samples = discSet('d', 5, 48, 11);
    for (const d of samples) {
      writePngGrey8(join(data, 'images', `${d.name}.png`), 48, 48, d.image);
      writePngGrey8(join(data, 'masks', `${d.name}.png`), 48, 48, d.classes);
    }
    const quiet = { log: () => {}, error: () => {} };
    const model = join(dir, 'disc-model');
    await segmentTrain({ source: { data }, out: model, unet: { base: 4, depth: 2 }, train: { epochs: 2, batch: 4, crop: 32, stepsPerEpoch: 20 }, backend: 'wasm', relaxedSimd: false }, quiet);
    // Relaxed SIMD off on both sides (the CLI turns it on unless told): the same FMA choice.
    const cli = runCli(['segment', 'predict', '--model', model, '--in', join(data, 'images'), '--out', join(dir, 'pred-cli'), '--min-area', '1', '--backend', 'wasm'], { env: { DIFFRENDERGAN_RELAXED_SIMD: '0' }, timeoutMs: 300_000 });
    expect(cli.code, cli.stderr).toBe(0);
    const threads = Math.min(availableParallelism(), samples.length);
    if (threads > 1) expect(cli.stdout + cli.stderr).toMatch(new RegExp(`segmenting ${samples.length} images on ${threads} worker threads`));
    await segmentPredict({ model, inputs: [join(data, 'images')], out: join(dir, 'pred-here'), minArea: 1, backend: 'wasm', relaxedSimd: false }, quiet);
    const files = listTree(join(dir, 'pred-here')).filter((f) => !f.endsWith('/'));
    expect(files.length).toBeGreaterThan(5 * 3);
    expect(listTree(join(dir, 'pred-cli')).filter((f) => !f.endsWith('/'))).toEqual(files);
    for (const f of files) expect(readFileSync(join(dir, 'pred-cli', f)).equals(readFileSync(join(dir, 'pred-here', f))), f).toBe(true);
    // the images came out different from each other (a result in the wrong image's place shows)
    expect(new Set(samples.map((d) => readFileSync(join(dir, 'pred-here', `${d.name}_instances.png`)).toString('base64'))).size).toBe(samples.length);
    // An ensemble of the model with itself, on the workers: every file the same but summary.json's model name.
    const twice = runCli(['segment', 'predict', '--model', `${model},${model}`, '--in', join(data, 'images'), '--out', join(dir, 'pred-twice'), '--min-area', '1', '--backend', 'wasm'], { env: { DIFFRENDERGAN_RELAXED_SIMD: '0' }, timeoutMs: 300_000 });
    expect(twice.code, twice.stderr).toBe(0);
    for (const f of files) if (f !== 'summary.json') expect(readFileSync(join(dir, 'pred-twice', f)).equals(readFileSync(join(dir, 'pred-here', f))), f).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'pred-twice', 'summary.json'), 'utf8')).model).toBe(`${model},${model}`);
  }, 300_000);
});
