import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { trainUNet, splitNames, type Checkpoint, type TrainProgress } from '../../src/seg/train.js';
import { segmentImage } from '../../src/seg/infer.js';
import { dice } from '../../src/seg/metrics.js';
import { saveCheckpoint, loadCheckpoint, loadModel, readDoneMarker, isFinished, hasCheckpoint } from '../../src/node/seg-checkpoint.js';
import { Rng } from '../../src/autodiff/index.js';
import { discSet } from './unet-helpers.js';

const tiny = { depth: 2, base: 4 } as const;

describe('U-Net training', () => {
  // Tempered class weights: on 16 px discs the contour ring is a third of each disc, so full
  // balancing would over-weight it.
  it('learns to segment synthetic discs (loss falls, held-out foreground DSC > 0.9)', () => {
    const train = discSet('t', 24, 16, 1);
    const events: TrainProgress[] = [];
    const { model, checkpoint } = trainUNet(train, tiny, { epochs: 8, batch: 4, crop: 16, lr: 1e-2, seed: 3, stepsPerEpoch: 5, classWeightPower: 0.5 }, { progress: (p) => events.push(p), every: 1 });
    const steps = events.filter((e): e is Extract<TrainProgress, { kind: 'step' }> => e.kind === 'step');
    expect(steps.length).toBe(40);
    const first = steps.slice(0, 5).reduce((s, e) => s + e.loss, 0) / 5;
    const last = steps.slice(-5).reduce((s, e) => s + e.loss, 0) / 5;
    expect(last).toBeLessThan(first * 0.7);
    expect(checkpoint.history).toHaveLength(8);
    expect(events[0].kind).toBe('start');
    expect(steps.every((e) => Number.isFinite(e.etaSeconds) && e.stepsPerSecond > 0)).toBe(true);
    const test = discSet('h', 8, 16, 99);
    const scores = test.map((s) => {
      const seg = segmentImage(model, s.image, 16, 16, { tile: 16, minArea: 1 });
      // Foreground = particle or contour.
      return dice(seg.classes, s.instances);
    });
    const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
    expect(mean).toBeGreaterThan(0.9);
  });

  it('a resumed run continues exactly like the uninterrupted one (weights, Adam, RNG, batch-norm stats)', () => {
    const data = discSet('r', 6, 16, 5);
    const cfg = { batch: 2, crop: 12, lr: 3e-3, seed: 11, stepsPerEpoch: 2, valFraction: 0.34 };
    const full = trainUNet(data, tiny, { ...cfg, epochs: 3 });
    const dir = mkdtempSync(join(tmpdir(), 'unet-ckpt-'));
    try {
      // The same 3-epoch run, killed right after its second checkpoint.
      expect(() =>
        trainUNet(data, tiny, { ...cfg, epochs: 3 }, {
          checkpoint: (c) => {
            saveCheckpoint(dir, c);
            if (c.epoch === 2) throw new Error('killed');
          },
        }),
      ).toThrow('killed');
      expect(readdirSync(dir).sort()).toEqual(['config.json', 'done', 'model.safetensors', 'optimizer.json', 'train-state.json']);
      expect(readDoneMarker(dir)).toMatchObject({ epoch: 2, finished: false });
      expect(isFinished(dir)).toBe(false);
      const ck: Checkpoint = loadCheckpoint(dir);
      expect(ck.epoch).toBe(2);
      expect(ck.split.val).toHaveLength(2);
      const resumed = trainUNet(data, tiny, { ...cfg, epochs: 3 }, {}, ck);
      const a = full.model.stateDict();
      const b = resumed.model.stateDict();
      for (const k of Object.keys(a)) expect(Array.from(b[k].data), k).toEqual(Array.from(a[k].data));
      expect(resumed.checkpoint.rng).toEqual(full.checkpoint.rng);
      expect(resumed.checkpoint.history.map((h) => h.loss)).toEqual(full.checkpoint.history.map((h) => h.loss));
      // The saved model loads for inference.
      const { model, info } = loadModel(dir);
      expect(info.unet).toEqual({ inChannels: 1, classes: 3, depth: 2, distanceHead: true, base: 4, norm: 'batch' });
      expect(model.training).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses checkpoint files from different steps (an interrupted save)', () => {
    const data = discSet('m', 2, 8, 2);
    const dir = mkdtempSync(join(tmpdir(), 'unet-mix-'));
    try {
      trainUNet(data, { depth: 1, base: 2 }, { epochs: 1, batch: 1, crop: 8, stepsPerEpoch: 1 }, { checkpoint: (c) => saveCheckpoint(dir, c) });
      expect(loadCheckpoint(dir).step).toBe(1);
      const p = join(dir, 'train-state.json');
      const edited = readFileSync(p, 'utf8').replace('"step": 1', '"step": 2');
      writeFileSync(p, edited);
      // Caught first by the checksum; with the checksum re-recorded (files of two whole saves), by the steps.
      expect(() => loadCheckpoint(dir)).toThrow(/train-state\.json: SHA-256 [0-9a-f]{64} differs/);
      const done = join(dir, 'done');
      const marker = JSON.parse(readFileSync(done, 'utf8'));
      marker.sha256['train-state.json'] = createHash('sha256').update(edited).digest('hex');
      writeFileSync(done, JSON.stringify(marker));
      expect(() => loadCheckpoint(dir)).toThrow(/disagree/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('marks a complete save done (finished at the last epoch) and refuses an interrupted one', () => {
    const data = discSet('d', 2, 8, 4);
    const dir = mkdtempSync(join(tmpdir(), 'unet-done-'));
    try {
      expect(hasCheckpoint(dir)).toBe(false);
      trainUNet(data, { depth: 1, base: 2 }, { epochs: 2, batch: 1, crop: 8, stepsPerEpoch: 1 }, { checkpoint: (c) => saveCheckpoint(dir, c) });
      expect(readDoneMarker(dir)).toMatchObject({ epoch: 2, step: 2, finished: true });
      expect(isFinished(dir)).toBe(true);
      expect(hasCheckpoint(dir)).toBe(true);
      expect(loadCheckpoint(dir).epoch).toBe(2);
      // A save killed after the weights were rewritten: the sizes no longer match the marker.
      writeFileSync(join(dir, 'optimizer.json'), '{"step": 2}');
      expect(readDoneMarker(dir)).toMatch(/optimizer.json has/);
      expect(hasCheckpoint(dir)).toBe(false);
      expect(isFinished(dir)).toBe(false);
      expect(() => loadCheckpoint(dir)).toThrow(/cannot resume/);
      // A save killed before its marker.
      rmSync(join(dir, 'done'));
      expect(readDoneMarker(dir)).toMatch(/no done marker/);
      expect(() => loadCheckpoint(dir)).toThrow(/cannot resume/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('splits names reproducibly and keeps a training image', () => {
    const names = ['a', 'b', 'c', 'd', 'e'];
    const s1 = splitNames(names, 0.4, new Rng(1));
    const s2 = splitNames(names, 0.4, new Rng(1));
    expect(s1).toEqual(s2);
    expect(s1.val).toHaveLength(2);
    expect([...s1.train, ...s1.val].sort()).toEqual(names);
    expect(splitNames(['x'], 0.9, new Rng(0)).train).toEqual(['x']);
    expect(splitNames(names, 0, new Rng(0)).val).toEqual([]);
  });
});
