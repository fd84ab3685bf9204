import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Tensor } from '../../src/autodiff/index.js';
import { trainUNet } from '../../src/seg/train.js';
import { runSegment } from '../../src/cli/segment.js';
import { loadModel } from '../../src/node/seg-checkpoint.js';
import { writePngGrey16, writePngGrey8 } from '../../src/node/files.js';
import type { UserError } from '../../src/errors.js';
import { discSet } from './unet-helpers.js';

const tiny = { depth: 2, base: 4 } as const;
const quiet = { log: (_: string) => {}, error: (_: string) => {} };

describe('trainUNet with initial weights', () => {
  const data = discSet('i', 6, 16, 5);
  const cfg = { batch: 2, crop: 12, lr: 3e-3, seed: 11, stepsPerEpoch: 2, epochs: 2 };

  it('starts from the given weights and batch norm statistics; the data stream is the seed\'s', () => {
    const pre = trainUNet(data, tiny, { ...cfg, seed: 3 }).model.stateDict();
    // At rate 0 nothing but batch norm's running statistics moves: the parameters are the init's.
    const frozen = trainUNet(data, tiny, { ...cfg, lr: 0 }, {}, undefined, pre).model;
    const params = new Set(frozen.namedParameters().map(([k]) => k));
    expect(params.size).toBeGreaterThan(0);
    const got = frozen.stateDict();
    for (const k of params) expect(Array.from(got[k].data), k).toEqual(Array.from(pre[k].data));
    // The same run from random weights keeps its own (the seed's) weights at rate 0.
    const random = trainUNet(data, tiny, { ...cfg, lr: 0 }).model.stateDict();
    expect([...params].some((k) => Array.from(random[k].data).some((v, i) => v !== pre[k].data[i]))).toBe(true);
    // Batch norm statistics come from the init too: the same init with other running statistics
    // (same parameters, so the same batches' statistics) ends with other running statistics.
    const buffers = Object.keys(got).filter((k) => !params.has(k));
    expect(buffers.length).toBeGreaterThan(0);
    const shifted = Object.fromEntries(Object.entries(pre).map(([k, t]) => [k, params.has(k) ? t : new Tensor(Float32Array.from(t.data, (v) => v + 1), t.shape)]));
    const other = trainUNet(data, tiny, { ...cfg, lr: 0 }, {}, undefined, shifted).model.stateDict();
    for (const k of params) expect(Array.from(other[k].data), k).toEqual(Array.from(pre[k].data));
    expect(buffers.some((k) => Array.from(other[k].data).some((v, i) => v !== got[k].data[i]))).toBe(true);
    // Trained at the usual rate, the run differs from the random start but draws the same crops.
    const a = trainUNet(data, tiny, cfg);
    const b = trainUNet(data, tiny, cfg, {}, undefined, pre);
    expect(b.checkpoint.rng).toEqual(a.checkpoint.rng);
    expect(b.checkpoint.split).toEqual(a.checkpoint.split);
    const wa = a.model.stateDict(), wb = b.model.stateDict();
    expect([...params].some((k) => Array.from(wb[k].data).some((v, i) => v !== wa[k].data[i]))).toBe(true);
    // Adam starts fresh: its step count is this run's.
    expect(b.checkpoint.optimizer.steps).toEqual(a.checkpoint.optimizer.steps);
  });

  it('refuses weights of another architecture', () => {
    const pre = trainUNet(data, { depth: 2, base: 2 }, { ...cfg, epochs: 1 }).model.stateDict();
    expect(() => trainUNet(data, tiny, cfg, {}, undefined, pre)).toThrow(/shape/);
  });
});

describe('segment train --init', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'seg-init-'));
    const ds = join(root, 'ds');
    for (const d of ['images', 'masks', 'instances']) mkdirSync(join(ds, d), { recursive: true });
    for (const s of discSet('d', 4, 24, 3)) {
      writePngGrey8(join(ds, 'images', `${s.name}.png`), 24, 24, s.image);
      writePngGrey8(join(ds, 'masks', `${s.name}.png`), 24, 24, s.classes);
      writePngGrey16(join(ds, 'instances', `${s.name}.png`), 24, 24, Uint16Array.from(s.instances));
    }
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const common = (out: string, more: string[] = [], base = '2', epochs = '1') => ['train', '--data', join(root, 'ds'), '--out', out, '--batch', '2', '--crop', '16', '--base', base, '--depth', '1', '--steps-per-epoch', '2', '--epochs', epochs, '--backend', 'reference', ...more];
  const code = (e: unknown) => (e as UserError).exitCode;
  const failure = (args: string[]) => runSegment(args, quiet).then(() => null, (e: unknown) => e);

  it('trains from a model\'s weights, records where they came from, and leaves the default untouched', async () => {
    const pre = join(root, 'pre');
    expect(await runSegment(common(pre, ['--seed', '5']), quiet)).toBe(0);
    const lines: string[] = [];
    const tuned = join(root, 'tuned');
    expect(await runSegment(common(tuned, ['--init', pre]), { log: (l) => lines.push(l), error: () => {} })).toBe(0);
    expect(lines.some((l) => l.includes(`initial weights from ${resolve(pre)}`))).toBe(true);
    expect(JSON.parse(readFileSync(join(tuned, 'config.json'), 'utf8')).train.init).toBe(resolve(pre));
    // Without --init: no record, and the weights differ from the fine-tuned run's.
    const plain = join(root, 'plain');
    expect(await runSegment(common(plain), quiet)).toBe(0);
    expect(JSON.parse(readFileSync(join(plain, 'config.json'), 'utf8')).train).not.toHaveProperty('init');
    const a = loadModel(plain).model.stateDict(), b = loadModel(tuned).model.stateDict();
    expect(Object.keys(a).some((k) => Array.from(a[k].data).some((v, i) => v !== b[k].data[i]))).toBe(true);
    // A resumed run keeps its record (and its own weights: --init is ignored).
    expect(await runSegment(common(tuned, ['--resume', '--init', join(root, 'no-model')], '2', '2'), quiet)).toBe(0);
    expect(JSON.parse(readFileSync(join(tuned, 'config.json'), 'utf8')).train.init).toBe(resolve(pre));
  });

  it('names --init and each difference of a model that does not fit (exit 2), or the missing folder (exit 3); writes nothing', async () => {
    const pre = join(root, 'pre2');
    expect(await runSegment(common(pre), quiet)).toBe(0);
    const out = join(root, 'never');
    const wider = await failure(common(out, ['--init', pre], '3'));
    expect(code(wider)).toBe(2);
    expect(String(wider)).toMatch(/--init .*pre2: the model does not fit this run: its base 2, this run 3 \(--base\)/);
    const both = await failure(common(out, ['--init', pre, '--instance-target', 'none', '--normalisation', 'image-zscore']));
    expect(code(both)).toBe(2);
    expect(String(both)).toMatch(/distance head true, this run false \(--instance-target\); normalisation fixed, this run image-zscore \(--normalisation\)/);
    const dark = await failure(common(out, ['--init', pre, '--polarity', 'dark']));
    expect(String(dark)).toMatch(/polarity bright, this run dark \(--polarity\)/);
    const missing = await failure(common(out, ['--init', join(root, 'no-model')]));
    expect(code(missing)).toBe(3);
    expect(String(missing)).toMatch(/no-model: model directory not found/);
    expect(existsSync(out)).toBe(false);
  });
});
