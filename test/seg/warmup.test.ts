import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { learningRate, trainUNet, type Checkpoint, type TrainProgress } from '../../src/seg/train.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/node/seg-checkpoint.js';
import { discSet } from './unet-helpers.js';

const tiny = { depth: 2, base: 4 } as const;

describe('learningRate', () => {
  it('without a warm-up is exactly the poly schedule (or the constant rate)', () => {
    for (let s = 0; s < 40; s++) {
      expect(learningRate({ lr: 2e-3, poly: true, warmupSteps: 0 }, s, 40)).toBe(2e-3 * Math.pow(Math.max(0, 1 - s / 40), 0.9));
      expect(learningRate({ lr: 2e-3, poly: true }, s, 40)).toBe(2e-3 * Math.pow(Math.max(0, 1 - s / 40), 0.9));
      expect(learningRate({ lr: 2e-3, poly: false, warmupSteps: 0 }, s, 40)).toBe(2e-3);
    }
  });

  it('ramps linearly over warmupSteps steps, then follows the schedule', () => {
    const cfg = { lr: 1e-2, poly: false, warmupSteps: 4 };
    expect([0, 1, 2, 3, 4, 9].map((s) => learningRate(cfg, s, 10))).toEqual([0.25e-2, 0.5e-2, 0.75e-2, 1e-2, 1e-2, 1e-2]);
    // With poly decay the warm-up multiplies the decayed rate.
    const poly = { lr: 1e-2, poly: true, warmupSteps: 5 };
    for (let s = 0; s < 20; s++) {
      const decayed = learningRate({ lr: 1e-2, poly: true }, s, 20);
      expect(learningRate(poly, s, 20)).toBeCloseTo(decayed * Math.min(1, (s + 1) / 5), 15);
    }
    expect(learningRate(poly, 0, 20)).toBeLessThan(learningRate(poly, 1, 20));
  });
});

describe('U-Net training with warmupSteps', () => {
  const data = discSet('w', 6, 16, 5);
  const cfg = { batch: 2, crop: 12, lr: 3e-3, seed: 11, stepsPerEpoch: 2, epochs: 3 };
  const lrs = (c: object): number[] => {
    const seen: number[] = [];
    trainUNet(data, tiny, { ...cfg, ...c }, { every: 1, progress: (p: TrainProgress) => { if (p.kind === 'step') seen.push(p.lr); } });
    return seen;
  };

  it('trains with the warmed-up rates; warmupSteps 0 is the run without it, bit for bit', () => {
    const total = cfg.stepsPerEpoch * cfg.epochs;
    expect(lrs({ warmupSteps: 3 })).toEqual(Array.from({ length: total }, (_, s) => learningRate({ ...cfg, poly: true, warmupSteps: 3 }, s, total)));
    const plain = trainUNet(data, tiny, cfg);
    const off = trainUNet(data, tiny, { ...cfg, warmupSteps: 0 });
    const on = trainUNet(data, tiny, { ...cfg, warmupSteps: 3 });
    const a = plain.model.stateDict(), b = off.model.stateDict(), c = on.model.stateDict();
    for (const k of Object.keys(a)) expect(Array.from(b[k].data), k).toEqual(Array.from(a[k].data));
    expect(Object.keys(a).some((k) => Array.from(c[k].data).some((v, i) => v !== a[k].data[i]))).toBe(true);
    // The data stream is the same: the warm-up changes only the step sizes.
    expect(on.checkpoint.rng).toEqual(plain.checkpoint.rng);
    expect(on.checkpoint.train.warmupSteps).toBe(3);
  });

  it('a run resumed inside the warm-up ends exactly as the uninterrupted run', () => {
    const wcfg = { ...cfg, warmupSteps: 5 };
    const full = trainUNet(data, tiny, wcfg);
    const dir = mkdtempSync(join(tmpdir(), 'warmup-resume-'));
    try {
      // Stop after epoch 1 (step 2 of a 5-step warm-up), then resume from disk.
      expect(() =>
        trainUNet(data, tiny, wcfg, {
          checkpoint: (c: Checkpoint) => {
            saveCheckpoint(dir, c);
            if (c.epoch === 1) throw new Error('stop');
          },
        }),
      ).toThrow('stop');
      expect(readdirSync(dir).length).toBeGreaterThan(0);
      const ck = loadCheckpoint(dir);
      expect(ck.step).toBe(2);
      const resumed = trainUNet(data, tiny, wcfg, {}, ck);
      const a = full.model.stateDict(), b = resumed.model.stateDict();
      for (const k of Object.keys(a)) expect(Array.from(b[k].data), k).toEqual(Array.from(a[k].data));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a negative or fractional warmupSteps', () => {
    expect(() => trainUNet(data, tiny, { ...cfg, warmupSteps: -1 })).toThrow(/warmupSteps/);
    expect(() => trainUNet(data, tiny, { ...cfg, warmupSteps: 1.5 })).toThrow(/warmupSteps/);
  });
});
