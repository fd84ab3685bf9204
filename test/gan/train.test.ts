import { describe, it, expect } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/autodiff/index.js';
import { GanTrainer, type GanConfig } from '../../src/gan/trainer.js';
import { demoSetup } from '../../src/gan/demo.js';
import { demoGanConfig, writeTwoDiscImages } from './helpers.js';
import { runTraining, type TrainOptions } from '../../src/node/train.js';
import { runGenerate } from '../../src/node/generate.js';
import { generateSample, cocoRle } from '../../src/gan/export.js';
import { ParamMapping } from '../../src/gan/generator.js';
import { loadCheckpoint } from '../../src/node/gan-checkpoint.js';
import { PARAMETER_TABLE, paramIndex } from '../../src/render/params.js';
import { encodePngGrey8 } from '../../src/io/png.js';
import { UserError } from '../../src/errors.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'drg-gan-'));

function trainOpts(over: Partial<TrainOptions>): TrainOptions {
  return {
    preset: 'tio2-sem', cropBottom: 0, batch: 1, lrD: 1e-4, norm: 'batch', evalSamples: 4, seed: 3, quiet: true,
    patch: 32, epochs: 2, stepsPerEpoch: 3, baseFilters: 4, configs: 6, ...over,
  };
}

function normalisedDistance(values: Record<string, number>, hidden: Record<string, number>): number {
  const names = Object.keys(hidden);
  return names.reduce((s, n) => {
    const p = PARAMETER_TABLE[paramIndex(n)];
    return s + Math.abs(values[n] - hidden[n]) / (p.max - p.min);
  }, 0) / names.length;
}

describe('parameter recovery (the built-in demo)', () => {
  it('moves the learned parameters towards the hidden ones', () => {
    const d = demoSetup({ size: 48, count: 24, seed: 0 });
    const config = demoGanConfig(d, { stepsPerEpoch: 240, baseFilters: 8, numConfigs: 24, evalSamples: 2 });
    const t = new GanTrainer(config, d.reals);
    const before = normalisedDistance(t.evaluate().paramMean, d.hidden);
    for (let i = 0; i < config.stepsPerEpoch; i++) t.trainStep();
    const after = normalisedDistance(t.evaluate().paramMean, d.hidden);
    console.log(`demo recovery: mean normalised distance to the hidden parameters ${before.toFixed(3)} -> ${after.toFixed(3)}`);
    expect(before).toBeGreaterThan(0.15);
    expect(after).toBeLessThan(0.5 * before);
  }, 600_000);
});

describe('training runs', () => {
  it('writes the run folder, and a run killed mid-epoch resumes to the same weights as an uninterrupted one', async () => {
    const a = tmp();
    const b = tmp();
    try {
      const full = await runTraining(trainOpts({ out: join(a, 'run') }));
      expect(full.best).not.toBeNull();
      for (const f of ['config.json', 'metrics.jsonl', 'report.html', 'best.json', 'samples/epoch-0002.png', 'epoch-0002/fcn.safetensors', 'epoch-0002/disc.safetensors']) {
        expect(existsSync(join(a, 'run', f)), f).toBe(true);
      }
      const html = readFileSync(join(a, 'run', 'report.html'), 'utf8');
      expect(html).toContain('<svg');
      expect(html).not.toMatch(/<script[^>]+src=/);
      // Killed after 4 steps: epoch 1 complete (3 steps), epoch 2 interrupted after 1 step.
      await runTraining(trainOpts({ out: join(b, 'run'), stopAfterSteps: 4 }));
      expect(existsSync(join(b, 'run', 'epoch-0001', 'done'))).toBe(true);
      expect(existsSync(join(b, 'run', 'epoch-0002'))).toBe(false);
      const resumed = await runTraining(trainOpts({ resume: join(b, 'run') }));
      expect(resumed.trainer.step).toBe(6);
      const wa = loadCheckpoint(join(a, 'run'), 2);
      const wb = loadCheckpoint(join(b, 'run'), 2);
      for (const k of Object.keys(wa.fcn)) expect(Array.from(wb.fcn[k].data), k).toEqual(Array.from(wa.fcn[k].data));
      for (const k of Object.keys(wa.disc)) expect(Array.from(wb.disc[k].data), k).toEqual(Array.from(wa.disc[k].data));
      // The step rows of the interrupted epoch were not duplicated.
      const steps = readFileSync(join(b, 'run', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'step');
      expect(steps.map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6]);
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  }, 600_000);

  it('with two or more real images: the classifier two-sample test of the chosen epoch in metrics.jsonl and report.html', async () => {
    const dir = tmp();
    try {
      writeTwoDiscImages(dir);
      const r = await runTraining(trainOpts({ real: [dir], out: join(dir, 'run'), cropBottom: 6, epochs: 1, stepsPerEpoch: 2, c2stSeeds: 2 }));
      const rows = readFileSync(join(r.runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      const c = rows.filter((x) => x.type === 'c2st');
      expect(c).toHaveLength(1);
      expect(c[0].epoch).toBe(r.best!.epoch);
      expect(c[0].seeds).toHaveLength(2);
      expect(c[0].patch).toBe(32);
      expect(c[0].accuracy).toBeGreaterThanOrEqual(0);
      expect(c[0].accuracy).toBeLessThanOrEqual(1);
      expect(readFileSync(join(r.runDir, 'report.html'), 'utf8')).toMatch(/Classifier two-sample test, chosen epoch 1/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('trains on real image files and refuses a non-empty output folder', async () => {
    const dir = tmp();
    try {
      const W = 80, H = 70;
      const img = new Float32Array(W * H);
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) img[y * W + x] = 0.1 + 0.02 * ((x * 7 + y * 3) % 5) + ((x - 40) ** 2 + (y - 30) ** 2 < 150 ? 0.6 : 0);
      writeFileSync(join(dir, 'a.png'), encodePngGrey8(W, H, img));
      const r = await runTraining(trainOpts({ real: [dir], out: join(dir, 'run'), cropBottom: 6, epochs: 1, stepsPerEpoch: 2 }));
      const cfg = JSON.parse(readFileSync(join(r.runDir, 'config.json'), 'utf8'));
      expect(cfg.data.kind).toBe('real');
      expect(cfg.data.files).toHaveLength(1);
      expect(cfg.data.polarity).toBe('bright');
      await expect(runTraining(trainOpts({ real: [dir], out: join(dir, 'run') }))).rejects.toThrow(/not empty; use --resume/);
      // The same image with dark particles on a bright film: the SEM preset renders the other contrast.
      const dark = join(dir, 'dark');
      mkdirSync(dark);
      writeFileSync(join(dark, 'b.png'), encodePngGrey8(W, H, img.map((v) => 1 - v)));
      const wrong = runTraining(trainOpts({ real: [dark], out: join(dir, 'run3'), cropBottom: 6 }));
      await expect(wrong).rejects.toThrow(/real images show dark particles but preset 'tio2-sem' \(shading model 'sem'\) renders bright ones/);
      await expect(runTraining(trainOpts({ real: [dark], out: join(dir, 'run4'), cropBottom: 6 }))).rejects.toMatchObject({ exitCode: 4 });
      expect(existsSync(join(dir, 'run3'))).toBe(false);
      await expect(runTraining(trainOpts({ real: [join(dir, 'missing.tif')], out: join(dir, 'run2') }))).rejects.toBeInstanceOf(UserError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});

describe('dataset export', () => {
  it('a sample depends only on (seed, index); masks match the rendered particles', () => {
    const d = demoSetup({ size: 48, count: 2 });
    const config = demoGanConfig(d);
    const t = new GanTrainer(config, d.reals);
    const mapping = new ParamMapping(d.learned, d.scene.params);
    const s1 = generateSample(5, 9, d.scene, t.fcn, mapping);
    generateSample(6, 9, d.scene, t.fcn, mapping);
    const s2 = generateSample(5, 9, d.scene, t.fcn, mapping);
    expect(Array.from(s2.image)).toEqual(Array.from(s1.image));
    expect(Array.from(s2.classes)).toEqual(Array.from(s1.classes));
    const fg = s1.classes.reduce((n, c) => n + (c > 0 ? 1 : 0), 0);
    expect(fg).toBeGreaterThan(0);
    expect(fg).toBeLessThan(0.85 * s1.classes.length + 1);
    for (let i = 0; i < s1.classes.length; i++) expect(s1.classes[i] > 0).toBe(s1.instances[i] > 0);
  });

  it('COCO RLE runs are column-major and start with zeros', () => {
    // 3 x 2 mask (w=3, h=2): row 0 = 0 1 1, row 1 = 0 0 1 -> column-major 0 0, 1 0, 1 1 -> runs 2 0s, 1 1, 1 0, 2 1s
    const m = [0, 1, 1, 0, 0, 1];
    expect(cocoRle((i) => m[i] === 1, 3, 2)).toEqual({ size: [2, 3], counts: [2, 1, 1, 2] });
    expect(cocoRle((i) => i >= 0, 2, 2).counts).toEqual([0, 4]);
  });

  it('generate writes every format and a rerun skips finished samples', async () => {
    const dir = tmp();
    try {
      const r = await runTraining(trainOpts({ out: join(dir, 'run'), epochs: 1, stepsPerEpoch: 1, patch: 48 }));
      for (const format of ['png', 'nnunet', 'coco'] as const) {
        const out = join(dir, format);
        const datasetId = format === 'nnunet' ? 7 : undefined;
        await runGenerate({ run: r.runDir, epoch: 'best', n: 3, out, format, seed: 2, workers: 1, quiet: true, datasetId });
        expect(existsSync(join(out, format === 'nnunet' ? 'Dataset007_DiffRenderGAN' : '', 'dataset.json'))).toBe(true);
      }
      // nnU-Net v2's layout: nnUNet_raw/DatasetNNN_Name/{imagesTr,labelsTr}, dataset.json named so.
      const nn = join(dir, 'nnunet', 'Dataset007_DiffRenderGAN');
      expect(existsSync(join(nn, 'imagesTr', 'synth_00002_0000.png'))).toBe(true);
      expect(existsSync(join(nn, 'labelsTr', 'synth_00002.png'))).toBe(true);
      expect(JSON.parse(readFileSync(join(nn, 'dataset.json'), 'utf8'))).toMatchObject({ name: 'DiffRenderGAN', numTraining: 3, file_ending: '.png' });
      const gen = (o: Partial<Parameters<typeof runGenerate>[0]>) => runGenerate({ run: r.runDir, epoch: 'best', n: 1, out: join(dir, 'y'), format: 'nnunet', seed: 1, workers: 1, quiet: true, ...o });
      await expect(gen({ datasetId: 1000 })).rejects.toThrow(/--dataset-id must be an integer from 1 to 999/);
      await expect(gen({ datasetId: 3, format: 'png' })).rejects.toThrow(/--dataset-id is for --format nnunet/);
      await expect(gen({ datasetId: 3, datasetName: 'a b' })).rejects.toThrow(/--dataset-name/);
      const coco = JSON.parse(readFileSync(join(dir, 'coco', 'annotations.json'), 'utf8'));
      expect(coco.images).toHaveLength(3);
      expect(coco.annotations.length).toBeGreaterThan(0);
      const before = readFileSync(join(dir, 'png', 'masks', 'synth_00001.png'));
      await runGenerate({ run: r.runDir, epoch: 'last', n: 4, out: join(dir, 'png'), format: 'png', seed: 2, workers: 1, quiet: true });
      expect(readFileSync(join(dir, 'png', 'masks', 'synth_00001.png')).equals(before)).toBe(true);
      expect(existsSync(join(dir, 'png', 'masks', 'synth_00003.png'))).toBe(true);
      await expect(runGenerate({ run: join(dir, 'nope'), epoch: 'best', n: 1, out: join(dir, 'x'), format: 'png', seed: 1, workers: 1, quiet: true })).rejects.toThrow(/no config.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});

describe('numerical faults', () => {
  it('tracedBackward names the op whose gradient first became non-finite', async () => {
    const { tracedBackward } = await import('../../src/gan/trainer.js');
    const { parameter, tensor, sqrt, sum, mul, exp } = await import('../../src/autodiff/index.js');
    const x = parameter(tensor([0, 1, 4]));
    expect(tracedBackward(sum(mul(exp(sqrt(x)), 2)))).toBe('sqrt');
    const y = parameter(tensor([1, 2]));
    expect(tracedBackward(sum(mul(sqrt(y), 2)))).toBeNull();
    expect(y.grad!.toArray().every(Number.isFinite)).toBe(true);
  });
});
