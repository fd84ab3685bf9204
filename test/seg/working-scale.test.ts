import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../src/autodiff/index.js';
import { UNet } from '../../src/seg/unet.js';
import { trainUNet } from '../../src/seg/train.js';
import { predictWithFlips, segmentImage } from '../../src/seg/infer.js';
import { checkWorkingScale, resampleBilinear, resampleNearest, workingSize } from '../../src/seg/working-scale.js';
import { loadModel, saveCheckpoint } from '../../src/node/seg-checkpoint.js';
import { writePngGrey8 } from '../../src/node/files.js';
import { runSegment } from '../../src/cli/segment.js';
import { segmentTrain } from '../../src/node/segment.js';
import { parseSets } from '../../src/node/pipeline.js';
import { discSet } from './unet-helpers.js';

const tiny = { depth: 2, base: 4 } as const;
const quiet = { log: (_: string) => {}, error: (_: string) => {} };

describe('working-scale resampling', () => {
  it('bilinear up by 1.5 and back down returns a linear ramp exactly away from the borders, and 2x down is the 2 x 2 box mean', () => {
    const w = 20, h = 12;
    const ramp = Float32Array.from({ length: w * h }, (_, i) => 0.01 * (i % w) + 0.02 * Math.floor(i / w));
    const [W, H] = workingSize(w, h, 1.5);
    expect([W, H]).toEqual([30, 18]);
    const back = resampleBilinear(resampleBilinear(ramp, 1, w, h, W, H), 1, W, H, w, h);
    // Bilinear reproduces linear functions; only the clamped border pixels differ.
    for (let y = 1; y < h - 1; y++) for (let x = 1; x < w - 1; x++) expect(back[y * w + x]).toBeCloseTo(ramp[y * w + x], 5);
    const up2 = Float32Array.from({ length: 16 }, (_, i) => i);
    const down = resampleBilinear(up2, 1, 4, 4, 2, 2);
    expect(Array.from(down)).toEqual([(0 + 1 + 4 + 5) / 4, (2 + 3 + 6 + 7) / 4, (8 + 9 + 12 + 13) / 4, (10 + 11 + 14 + 15) / 4]);
    // Several planes at once, each on its own; the input is not changed.
    const two = Float32Array.from([...ramp, ...ramp.map((v) => 1 - v)]);
    const both = resampleBilinear(two, 2, w, h, W, H);
    const one = resampleBilinear(ramp, 1, w, h, W, H);
    for (let i = 0; i < W * H; i++) expect(both[W * H + i]).toBeCloseTo(1 - one[i], 5);
    expect(two[0]).toBe(ramp[0]);
  });

  it('nearest keeps every one-pixel line (1-2 px wide at 1.5), keeps the label type, and maps back to the original exactly', () => {
    const w = 9, h = 7;
    const lines = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) lines[y * w + 4] = 2; // a one-pixel contour column
    for (let x = 0; x < w; x++) lines[3 * w + x] = 2; // and row
    const [W, H] = workingSize(w, h, 1.5);
    const up = resampleNearest(lines, w, h, W, H);
    expect(up).toBeInstanceOf(Uint8Array);
    for (let y = 0; y < H; y++) {
      const width = Array.from(up.subarray(y * W, (y + 1) * W)).filter((v) => v === 2).length;
      // The column on every row (the row band: every pixel).
      expect(width === W || (width >= 1 && width <= 2)).toBe(true);
    }
    expect(Array.from(resampleNearest(up, W, H, w, h))).toEqual(Array.from(lines));
    const ids = Int32Array.from({ length: w * h }, (_, i) => 1000 + i);
    const upIds = resampleNearest(ids, w, h, 18, 14);
    expect(upIds).toBeInstanceOf(Int32Array);
    expect(new Set(upIds).size).toBe(w * h); // every id survives
  });

  it('refuses a scale below 1, above 4 or not a number, naming what was given', () => {
    expect(() => checkWorkingScale(0.5, '--scale')).toThrow(/--scale must be a number in \[1, 4\].*'0.5'/);
    expect(() => checkWorkingScale(5, '--scale')).toThrow(/--scale/);
    expect(() => checkWorkingScale(NaN, 'x')).toThrow(/x must be/);
    expect(() => checkWorkingScale(1.5, '--scale')).not.toThrow();
  });
});

describe('U-Net training and inference at a working scale', () => {
  const data = discSet('w', 4, 16, 7);
  const cfg = { batch: 2, crop: 16, lr: 3e-3, seed: 5, stepsPerEpoch: 1, epochs: 1 };

  it('scale 1 is the run without it, bit for bit, and records nothing', () => {
    const plain = trainUNet(data, tiny, cfg);
    const one = trainUNet(data, tiny, { ...cfg, scale: 1 });
    for (const [k, t] of Object.entries(plain.checkpoint.weights)) expect(Array.from(one.checkpoint.weights[k].data)).toEqual(Array.from(t.data));
    expect('scale' in plain.checkpoint.model).toBe(false);
    expect('scale' in one.checkpoint.model).toBe(false);
    const x = Float32Array.from(data[0].image);
    expect(Array.from(predictWithFlips(plain.model, x, 16, 16, { scale: 1, flips: true }))).toEqual(Array.from(predictWithFlips(plain.model, x, 16, 16, { flips: true })));
  });

  it('records the scale, trains on resampled pairs (not the originals) and predicts on the original grid through the resampled image', () => {
    const scaled = trainUNet(data, tiny, { ...cfg, scale: 1.5 });
    expect(scaled.checkpoint.model.scale).toBe(1.5);
    const plain = trainUNet(data, tiny, cfg);
    const first = Object.keys(plain.checkpoint.weights)[0];
    expect(Array.from(scaled.checkpoint.weights[first].data)).not.toEqual(Array.from(plain.checkpoint.weights[first].data));
    const model = scaled.model;
    const x = Float32Array.from(data[1].image, (v) => (v - 0.5) / 0.25);
    const got = predictWithFlips(model, x, 16, 16, { scale: 1.5, tile: 64 });
    expect(got.length).toBe(4 * 16 * 16);
    // By hand: resample up, predict at 24 x 24, resample each plane back.
    const up = resampleBilinear(x, 1, 16, 16, 24, 24);
    const want = resampleBilinear(predictWithFlips(model, up, 24, 24, { tile: 64 }), 4, 24, 24, 16, 16);
    expect(Array.from(got)).toEqual(Array.from(want));
    // segmentImage returns everything on the original grid.
    const seg = segmentImage(model, data[1].image, 16, 16, { scale: 1.5, minArea: 1 });
    expect(seg.classes.length).toBe(256);
    expect(seg.instances.labels.length).toBe(256);
    expect(seg.probabilities.length).toBe(4 * 256);
  });

  it('the checkpoint keeps the scale through save and load; a model without one loads as 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'working-scale-'));
    try {
      saveCheckpoint(join(dir, 'a'), trainUNet(data, tiny, { ...cfg, scale: 2 }).checkpoint);
      expect(loadModel(join(dir, 'a')).info.scale).toBe(2);
      saveCheckpoint(join(dir, 'b'), trainUNet(data, tiny, cfg).checkpoint);
      expect(JSON.parse(readFileSync(join(dir, 'b', 'config.json'), 'utf8')).scale).toBeUndefined();
      expect(loadModel(join(dir, 'b')).info.scale ?? 1).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a scale below 1', () => {
    expect(() => trainUNet(data, tiny, { ...cfg, scale: 0.75 })).toThrow(/scale must be a number in \[1, 4\]/);
  });
});

describe('--scale and seg.scale', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'working-scale-cli-'));
    mkdirSync(join(root, 'ds', 'images'), { recursive: true });
    mkdirSync(join(root, 'ds', 'masks'), { recursive: true });
    for (const s of discSet('d', 3, 24, 3)) {
      writePngGrey8(join(root, 'ds', 'images', `${s.name}.png`), 24, 24, s.image);
      writePngGrey8(join(root, 'ds', 'masks', `${s.name}.png`), 24, 24, s.classes);
    }
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('a bad --scale is a usage error naming the flag; segment train --scale 1.5 records it and predict segments on the original grid', async () => {
    const base = ['train', '--data', join(root, 'ds'), '--epochs', '1', '--steps-per-epoch', '1', '--batch', '2', '--crop', '16', '--base', '4', '--depth', '2'];
    await expect(runSegment([...base, '--out', join(root, 'bad'), '--scale', '0.5'], quiet)).rejects.toThrow(/--scale/);
    await expect(runSegment([...base, '--out', join(root, 'bad'), '--scale', 'two'], quiet)).rejects.toThrow(/--scale/);
    await expect(segmentTrain({ source: { data: join(root, 'ds') }, out: join(root, 'bad2'), train: { epochs: 1, scale: 0 } }, quiet)).rejects.toThrow(/--scale must be a number in \[1, 4\]/);
    expect(await runSegment([...base, '--out', join(root, 'm1')], quiet)).toBe(0);
    expect(JSON.parse(readFileSync(join(root, 'm1', 'config.json'), 'utf8')).scale).toBeUndefined();
    expect(await runSegment([...base, '--out', join(root, 'm15'), '--scale', '1.5'], quiet)).toBe(0);
    expect(JSON.parse(readFileSync(join(root, 'm15', 'config.json'), 'utf8')).scale).toBe(1.5);
    expect(await runSegment(['predict', '--model', join(root, 'm15'), '--in', join(root, 'ds', 'images', 'd000.png'), '--out', join(root, 'pred')], quiet)).toBe(0);
    const summary = JSON.parse(readFileSync(join(root, 'pred', 'summary.json'), 'utf8'));
    expect(JSON.stringify(summary)).toMatch(/d000/);
  });

  it('pipeline --set seg.scale takes a decimal in [1, 4]; other fields stay integers', () => {
    expect(parseSets(['seg.scale=1.5'])).toEqual({ seg: { scale: 1.5 } });
    expect(() => parseSets(['seg.scale=0.5'])).toThrow(/seg.scale=0.5: the U-Net's working scale, 1-4/);
    expect(() => parseSets(['seg.epochs=1.5'])).toThrow(/expected GROUP.FIELD=INTEGER/);
  });
});
