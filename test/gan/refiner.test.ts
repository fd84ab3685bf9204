import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/autodiff/index.js';
import { Tensor } from '../../src/autodiff/tensor.js';
import { Rng } from '../../src/autodiff/rng.js';
import { abs, mean } from '../../src/autodiff/ops/index.js';
import { Refiner, RefinerTrainer, refineImage, DEFAULT_REFINER, type RefinerSettings } from '../../src/gan/refiner.js';
import { normaliseBatch } from '../../src/gan/patch-normalise.js';
import { PatchDiscriminator } from '../../src/gan/models.js';
import { GanTrainer, type GanConfig } from '../../src/gan/trainer.js';
import { demoSetup } from '../../src/gan/demo.js';
import { demoGanConfig, writeTwoDiscImages } from './helpers.js';
import { generateSample } from '../../src/gan/export.js';
import { runTraining, type TrainOptions } from '../../src/node/train.js';
import { loadRun, runGenerate } from '../../src/node/generate.js';
import { decodePng, encodePngGrey8 } from '../../src/io/png.js';
import { ExitCode, InputError, UserError } from '../../src/errors.js';

const settings = (over: Partial<RefinerSettings> = {}): RefinerSettings => ({ ...DEFAULT_REFINER, steps: 4, seed: 5, ...over });

function image(size: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: size * size }, () => rng.uniform());
}

/** A refiner whose last layer is no longer zero (as after training). */
function perturbed(seed: number): Refiner {
  const r = new Refiner(4, 8, new Rng(seed));
  const rng = new Rng(seed + 1);
  for (const p of r.parameters()) for (let i = 0; i < p.size; i++) p.data[i] += 0.05 * rng.normal();
  return r;
}

describe('refiner (SimGAN after the renderer)', () => {
  it('is the identity at initialisation', () => {
    const r = new Refiner(4, 16, new Rng(1));
    const x = image(24, 2);
    expect(Array.from(r.forward(new Tensor(Float32Array.from(x), [1, 1, 24, 24])).data)).toEqual(Array.from(x));
    expect(Array.from(refineImage(r, x, 24))).toEqual(Array.from(x));
  });

  it('the critic sees each patch at zero mean and unit std', () => {
    const x = new Tensor(Float32Array.from([...image(8, 1).map((v) => 0.2 + 0.1 * v), ...image(8, 2).map((v) => 0.7 * v)]), [2, 1, 8, 8]);
    const n = normaliseBatch(x).data;
    for (const b of [0, 1]) {
      const s = Array.from(n.subarray(b * 64, (b + 1) * 64));
      const m = s.reduce((a, v) => a + v, 0) / 64;
      expect(m).toBeCloseTo(0, 5);
      expect(Math.sqrt(s.reduce((a, v) => a + (v - m) ** 2, 0) / 64)).toBeCloseTo(1, 2); // eps 1e-6 against a variance of ~1e-3
    }
  });

  it('the self-regularisation term has the gradient of mean |R(x)|: mean(sign R(x)) on the last bias', () => {
    const r = perturbed(3);
    const x = new Tensor(image(12, 4), [1, 1, 12, 12]);
    const res = r.residual(x);
    const l1 = mean(abs(res));
    l1.backward();
    const bias = r.net.namedParameters().filter(([n]) => n.endsWith('bias')).pop()![1]; // the last layer's
    const expected = Array.from(res.data).reduce((a, v) => a + Math.sign(v), 0) / res.size;
    expect(bias.grad!.data[0]).toBeCloseTo(expected, 6);
    expect(Math.abs(expected)).toBeGreaterThan(0); // the case is not trivially zero
  });

  it('training steps are finite, move the refiner off the identity, and are reproducible', () => {
    const P = 32;
    const reals = [image(P, 10), image(P, 11), image(P, 12)];
    const renders = [image(P, 20).map((v) => 0.5 * v), image(P, 21).map((v) => 0.5 * v)];
    const run = () => {
      const disc = new PatchDiscriminator(new Rng(7), { baseFilters: 4, layers: 3 });
      const t = new RefinerTrainer(settings({ steps: 6 }), disc, reals, renders, P, 1e-4, [0.5, 0.999]);
      const rows = Array.from({ length: 6 }, () => t.trainStep());
      return { t, rows };
    };
    const a = run();
    const b = run();
    for (const r of a.rows) for (const v of Object.values(r)) expect(Number.isFinite(v)).toBe(true);
    const x = renders[0];
    const ya = refineImage(a.t.averaged, x, P);
    expect(ya.some((v, i) => v !== x[i])).toBe(true);
    expect(Array.from(refineImage(b.t.averaged, x, P))).toEqual(Array.from(ya));
    expect(b.rows).toEqual(a.rows);
  });

  it('generateSample with a refiner changes the image only: classes and instances are the render\'s', () => {
    const d = demoSetup({ size: 48, count: 2, seed: 0 });
    const config = demoGanConfig(d);
    const t = new GanTrainer(config, d.reals);
    const refiner = perturbed(9);
    const plain = generateSample(3, 7, d.scene, t.fcn, t.mapping);
    const refined = generateSample(3, 7, d.scene, t.fcn, t.mapping, refiner);
    expect(Array.from(refined.classes)).toEqual(Array.from(plain.classes));
    expect(Array.from(refined.instances)).toEqual(Array.from(plain.instances));
    expect(refined.image.some((v, i) => v !== plain.image[i])).toBe(true);
    expect(Array.from(refined.image)).toEqual(Array.from(refineImage(refiner, plain.image, 48)));
    expect(Array.from(generateSample(3, 7, d.scene, t.fcn, t.mapping, refiner).image)).toEqual(Array.from(refined.image));
  });
});

const trainOpts = (over: Partial<TrainOptions>): TrainOptions => ({
  preset: 'tio2-sem', cropBottom: 0, batch: 1, lrD: 1e-4, norm: 'batch', evalSamples: 2, seed: 3, quiet: true,
  patch: 32, epochs: 1, stepsPerEpoch: 2, baseFilters: 4, configs: 4, ...over,
});

describe('refiner in the run folder (train --refiner-steps, generate)', () => {
  it('train saves it with the run, generate applies it to the images and never to the masks; a damaged file is an input error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drg-refiner-'));
    try {
      const run = join(dir, 'run');
      await runTraining(trainOpts({ out: run, refinerSteps: 3 }));
      const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
      expect(config.refiner).toMatchObject({ steps: 3, lambda: DEFAULT_REFINER.lambda, layers: DEFAULT_REFINER.layers });
      const record = JSON.parse(readFileSync(join(run, 'refiner', 'refiner.json'), 'utf8'));
      expect(record.epoch).toBe(1);
      expect(loadRun(run, 'best').refiner).not.toBeNull();

      await runGenerate({ run, epoch: 'best', n: 3, out: join(dir, 'refined'), format: 'png', seed: 4, workers: 1, quiet: true });
      // The same run without its refiner: the config's field removed (what --refiner-steps 0 does).
      const plainRun = join(dir, 'plain');
      await runTraining(trainOpts({ out: plainRun }));
      await runGenerate({ run: plainRun, epoch: 'best', n: 3, out: join(dir, 'plain-synth'), format: 'png', seed: 4, workers: 1, quiet: true });
      const png = (p: string) => Array.from(decodePng(readFileSync(p), p).data);
      for (const s of ['synth_00000', 'synth_00001', 'synth_00002']) {
        expect(png(join(dir, 'refined', 'masks', `${s}.png`))).toEqual(png(join(dir, 'plain-synth', 'masks', `${s}.png`)));
        expect(png(join(dir, 'refined', 'instances', `${s}.png`))).toEqual(png(join(dir, 'plain-synth', 'instances', `${s}.png`)));
      }
      expect(JSON.parse(readFileSync(join(dir, 'refined', 'dataset.json'), 'utf8')).refined).toBe(true);
      expect(JSON.parse(readFileSync(join(dir, 'plain-synth', 'dataset.json'), 'utf8')).refined).toBe(false);

      // A resume with the refiner already trained for the chosen epoch does not retrain it.
      const before = readFileSync(join(run, 'refiner', 'refiner.json'), 'utf8');
      await runTraining(trainOpts({ resume: run }));
      expect(readFileSync(join(run, 'refiner', 'refiner.json'), 'utf8')).toBe(before);

      const w = join(run, 'refiner', 'refiner.safetensors');
      const bytes = readFileSync(w);
      bytes[bytes.length - 1] ^= 1;
      writeFileSync(w, bytes);
      expect(() => loadRun(run, 'best')).toThrow(InputError);
      // --resume --refiner-steps 0 drops it from the run: generate then writes unrefined images.
      await runTraining(trainOpts({ resume: run, refinerSteps: 0 }));
      expect(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).refiner).toBeUndefined();
      expect(loadRun(run, 'best').refiner).toBeNull();
      expect(existsSync(w)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('the chosen epoch\'s classifier test scores refined renders when the run has a refiner, and again when that changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drg-refiner-'));
    try {
      writeTwoDiscImages(dir);
      const run = join(dir, 'run');
      const c2stRows = () => readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((x) => x.type === 'c2st');
      await runTraining(trainOpts({ real: [dir], out: run, cropBottom: 6, c2stSeeds: 1, refinerSteps: 2 }));
      expect(c2stRows().map((r) => r.refined)).toEqual([true]);
      await runTraining(trainOpts({ resume: run }));
      expect(c2stRows()).toHaveLength(1);
      await runTraining(trainOpts({ resume: run, refinerSteps: 0 }));
      expect(c2stRows().map((r) => r.refined)).toEqual([true, undefined]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('refuses bad refiner flags before any work, naming the flag', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drg-refiner-'));
    try {
      for (const [over, flag] of [[{ refinerSteps: -1 }, '--refiner-steps'], [{ refinerSteps: 1.5 }, '--refiner-steps'], [{ refinerSteps: 5, refinerLambda: -2 }, '--refiner-lambda'], [{ refinerLambda: 1 }, '--refiner-lambda']] as const) {
        const p = runTraining(trainOpts({ out: join(dir, 'run'), ...over }));
        await expect(p).rejects.toThrow(UserError);
        await expect(p).rejects.toThrow(flag);
        await expect(p).rejects.toMatchObject({ exitCode: ExitCode.usage });
        expect(existsSync(join(dir, 'run'))).toBe(false);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
