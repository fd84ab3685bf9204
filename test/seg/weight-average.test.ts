import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../src/autodiff/index.js';
import { UNet } from '../../src/seg/unet.js';
import { WeightAverage } from '../../src/seg/weight-average.js';
import { batchNormLayers } from '../../src/seg/adapt-bn.js';
import { trainUNet, type Checkpoint } from '../../src/seg/train.js';
import { loadCheckpoint, loadModel, saveCheckpoint } from '../../src/node/seg-checkpoint.js';
import { discSet } from './unet-helpers.js';

const tiny = { depth: 2, base: 4 } as const;

function paramValues(model: UNet): Map<string, number[]> {
  return new Map(model.namedParameters().map(([n, t]) => [n, Array.from(t.data)]));
}

describe('WeightAverage', () => {
  it('starts at the first weights, then a <- d a + (1 - d) w with d = 1 - 1/steps; buffers are the model own', () => {
    const model = new UNet({ ...tiny }, new Rng(1));
    const avg = new WeightAverage(model, 4);
    expect(avg.decay).toBe(0.75);
    const [name, p] = model.namedParameters()[0];
    const history: number[][] = [];
    for (let k = 0; k < 3; k++) {
      for (let i = 0; i < p.size; i++) p.data[i] = Math.sin(k * 7 + i);
      history.push(Array.from(p.data));
      avg.update();
    }
    const want = history[0].map((w0, i) => 0.75 * Math.fround(0.75 * w0 + 0.25 * history[1][i]) + 0.25 * history[2][i]);
    const got = avg.stateDict(model);
    expect(Array.from(got[name].data)).toEqual(Array.from(Float32Array.from(want)));
    expect(avg.updates).toBe(3);
    // Batch norm buffers are copied from the model, not averaged.
    const [bnName, bn] = batchNormLayers(model)[0];
    bn.state!.runningMean.data.fill(0.5);
    expect(Array.from(avg.stateDict(model)[`${bnName}.running_mean`].data).every((v) => v === 0.5)).toBe(true);
    expect(() => new WeightAverage(model, 0)).toThrow(/steps/);
    expect(() => new WeightAverage(new UNet({ ...tiny }, new Rng(1)), 2).stateDict(model)).toThrow(/no update/);
  });
});

describe('U-Net training with emaSteps', () => {
  const data = discSet('e', 6, 16, 5);
  const cfg = { batch: 2, crop: 12, lr: 3e-3, seed: 11, stepsPerEpoch: 1, epochs: 3 };

  it('trains the raw weights exactly as without it, and averages them step by step', () => {
    const raw: Map<string, number[]>[] = [];
    const plain = trainUNet(data, tiny, cfg);
    const averaged = trainUNet(data, tiny, { ...cfg, emaSteps: 3 }, { checkpoint: (c) => raw.push(new Map(Object.entries(c.weights).map(([k, t]) => [k, Array.from(t.data)]))) });
    // The training itself is untouched: same weights (with batch norm statistics), losses and data Rng.
    const a = plain.model.stateDict();
    const b = averaged.model.stateDict();
    for (const k of Object.keys(a)) expect(Array.from(b[k].data), k).toEqual(Array.from(a[k].data));
    expect(averaged.checkpoint.rng).toEqual(plain.checkpoint.rng);
    expect(averaged.checkpoint.history.map((h) => h.loss)).toEqual(plain.checkpoint.history.map((h) => h.loss));
    expect(plain.checkpoint.average).toBeUndefined();
    // One step per epoch: the checkpoints' raw weights are the steps' weights; d = 1 - 1/3.
    const avg = averaged.checkpoint.average!;
    const d = 1 - 1 / 3;
    const e = 1 - d;
    expect(avg.updates).toBe(3);
    for (const [name] of averaged.model.namedParameters()) {
      const [w1, w2, w3] = raw.map((r) => r.get(name)!);
      const want = w1.map((v, i) => d * Math.fround(d * v + e * w2[i]) + e * w3[i]);
      expect(Array.from(avg.weights[name].data), name).toEqual(Array.from(Float32Array.from(want)));
    }
    // The last checkpoint's average has batch norm statistics of its own (re-estimated for the
    // averaged weights); earlier ones carry the raw network's.
    for (const [layer] of batchNormLayers(averaged.model)) {
      const key = `${layer}.running_mean`;
      expect(Array.from(avg.weights[key].data), key).not.toEqual(Array.from(b[key].data));
    }
  });

  it('re-estimates batch norm statistics from the averaged network on training crops', () => {
    // emaSteps 1: the average is the last weights, so only the statistics differ from the raw
    // network's running ones (a momentum average over the last batches): pooled over one epoch of
    // crops they are finite and the variances positive.
    const r = trainUNet(data, tiny, { ...cfg, stepsPerEpoch: 3, emaSteps: 1 });
    const raw = r.model.stateDict();
    const avg = r.checkpoint.average!.weights;
    for (const [name] of r.model.namedParameters()) expect(Array.from(avg[name].data), name).toEqual(Array.from(raw[name].data));
    for (const [layer] of batchNormLayers(r.model)) {
      expect(Array.from(avg[`${layer}.running_var`].data).every((v) => Number.isFinite(v) && v > 0)).toBe(true);
      expect(Array.from(avg[`${layer}.running_mean`].data)).not.toEqual(Array.from(raw[`${layer}.running_mean`].data));
    }
  });

  it('saves the average, inference loads it, and a resumed run continues it exactly', () => {
    const full = trainUNet(data, tiny, { ...cfg, emaSteps: 2 });
    const dir = mkdtempSync(join(tmpdir(), 'unet-ema-'));
    try {
      expect(() =>
        trainUNet(data, tiny, { ...cfg, emaSteps: 2 }, {
          checkpoint: (c) => {
            saveCheckpoint(dir, c);
            if (c.epoch === 2) throw new Error('killed');
          },
        }),
      ).toThrow('killed');
      expect(readdirSync(dir).sort()).toEqual(['average.safetensors', 'config.json', 'done', 'model.safetensors', 'optimizer.json', 'train-state.json']);
      const ck: Checkpoint = loadCheckpoint(dir);
      expect(ck.average!.updates).toBe(2);
      const resumed = trainUNet(data, tiny, { ...cfg, emaSteps: 2 }, { checkpoint: (c) => saveCheckpoint(dir, c) }, ck);
      const want = full.checkpoint.average!.weights;
      const got = resumed.checkpoint.average!.weights;
      for (const k of Object.keys(want)) expect(Array.from(got[k].data), k).toEqual(Array.from(want[k].data));
      // Inference uses the averaged weights, not the raw ones.
      const { model } = loadModel(dir);
      const loaded = model.stateDict();
      for (const k of Object.keys(want)) expect(Array.from(loaded[k].data), k).toEqual(Array.from(want[k].data));
      expect(paramValues(model)).not.toEqual(paramValues(full.model));
      // A checkpoint without an average cannot continue one.
      const { average: _average, ...noAverage } = ck;
      expect(() => trainUNet(data, tiny, { ...cfg, emaSteps: 2 }, {}, noAverage)).toThrow(/no weight average/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a negative or fractional emaSteps', () => {
    expect(() => trainUNet(data, tiny, { ...cfg, emaSteps: -1 })).toThrow(/emaSteps/);
    expect(() => trainUNet(data, tiny, { ...cfg, emaSteps: 1.5 })).toThrow(/emaSteps/);
  });
});
