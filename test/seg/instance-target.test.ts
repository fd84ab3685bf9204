import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { instanceDistanceTarget } from '../../src/seg/targets.js';
import { instancesFromClassMap, instancesFromDistance, instancesFromProbabilities, typicalPeak } from '../../src/particles/instances.js';
import { segLoss, trainUNet } from '../../src/seg/train.js';
import { segmentImage } from '../../src/seg/infer.js';
import { UNet } from '../../src/seg/unet.js';
import { Rng, Tensor } from '../../src/autodiff/index.js';
import { gradcheck, randomInput } from '../../src/autodiff/gradcheck.js';
import { loadCheckpoint, loadModel, saveCheckpoint } from '../../src/node/seg-checkpoint.js';
import { discSet } from './unet-helpers.js';
import { probsOf } from './helpers.js';

/** Two discs of radius r whose centres are `gap` px apart, on a w x h map: labels 1 and 2. */
function twoDiscs(w: number, h: number, r: number, gap: number): Int32Array {
  const labels = new Int32Array(w * h);
  const cy = h / 2;
  const c1 = w / 2 - gap / 2;
  const c2 = w / 2 + gap / 2;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const d1 = Math.hypot(x + 0.5 - c1, y + 0.5 - cy);
      const d2 = Math.hypot(x + 0.5 - c2, y + 0.5 - cy);
      if (d1 <= r || d2 <= r) labels[y * w + x] = d1 <= d2 ? 1 : 2;
    }
  }
  return labels;
}

describe('instanceDistanceTarget', () => {
  it('is 1 at each particle centre, 0 on its outline, at the contact line and on background', () => {
    const w = 40, h = 24;
    const labels = twoDiscs(w, h, 8, 14);
    const t = instanceDistanceTarget(labels, w, h);
    for (const l of [1, 2]) {
      let max = 0;
      for (let i = 0; i < t.length; i++) if (labels[i] === l) max = Math.max(max, t[i]);
      expect(max).toBe(1);
    }
    for (let i = 0; i < t.length; i++) {
      if (!labels[i]) expect(t[i]).toBe(0);
      else expect(t[i]).toBeGreaterThanOrEqual(0);
    }
    // The pixels on both sides of the contact line (x = 19 | 20 on the middle row) are outline.
    expect(labels[12 * w + 19]).toBe(1);
    expect(labels[12 * w + 20]).toBe(2);
    expect(t[12 * w + 19]).toBe(0);
    expect(t[12 * w + 20]).toBe(0);
    // Each disc peaks near its own centre, not at the contact.
    expect(t[12 * w + 13]).toBeGreaterThan(0.8);
    expect(t[12 * w + 27]).toBeGreaterThan(0.8);
  });

  it('normalises per particle: a small and a large particle both peak at 1', () => {
    const w = 48, h = 24;
    const labels = new Int32Array(w * h);
    for (let y = 2; y < 22; y++) for (let x = 2; x < 22; x++) labels[y * w + x] = 1;
    for (let y = 8; y < 14; y++) for (let x = 30; x < 36; x++) labels[y * w + x] = 7;
    const t = instanceDistanceTarget(labels, w, h);
    expect(t[11 * w + 11]).toBeCloseTo(1, 5);
    expect(Math.max(t[10 * w + 32], t[10 * w + 33], t[11 * w + 32], t[11 * w + 33])).toBeCloseTo(1, 5);
    // A particle cut by the image border is not thinned there: its border row is not outline.
    const cut = new Int32Array(w * h);
    for (let y = 0; y < 6; y++) for (let x = 10; x < 20; x++) cut[y * w + x] = 3;
    const tc = instanceDistanceTarget(cut, w, h);
    expect(tc[0 * w + 15]).toBeGreaterThan(0);
  });

  it('an instance filling the whole image (no outline inside it) is centre everywhere, not NaN', () => {
    const t = instanceDistanceTarget(new Int32Array([4, 4, 4, 4]), 2, 2);
    expect(Array.from(t)).toEqual([1, 1, 1, 1]);
  });

  it('properties: in [0, 1], 0 exactly off the instances and on outlines, every instance peaks at 1 or is all outline', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 2, max: 12 }), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 144, maxLength: 144 }), (w, h, vals) => {
        const labels = Int32Array.from(vals.slice(0, w * h));
        const t = instanceDistanceTarget(labels, w, h);
        const peak = new Map<number, number>();
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            const i = y * w + x;
            const l = labels[i];
            expect(t[i]).toBeGreaterThanOrEqual(0);
            expect(t[i]).toBeLessThanOrEqual(1);
            if (!l) {
              expect(t[i]).toBe(0);
              continue;
            }
            const outline = (x > 0 && labels[i - 1] !== l) || (x < w - 1 && labels[i + 1] !== l) || (y > 0 && labels[i - w] !== l) || (y < h - 1 && labels[i + w] !== l);
            if (outline) expect(t[i]).toBe(0);
            else expect(t[i]).toBeGreaterThan(0);
            peak.set(l, Math.max(peak.get(l) ?? 0, t[i]));
          }
        }
        for (const p of peak.values()) expect(p === 0 || Math.abs(p - 1) < 1e-6).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('instancesFromDistance', () => {
  it('splits two touching particles whose union has no waist, which the classical watershed merges', () => {
    const w = 48, h = 32;
    // Centres 6 px apart with radius 9: the union is nearly convex (no distance-map saddle).
    const truth = twoDiscs(w, h, 9, 6);
    const probs = probsOf(truth);
    const classic = instancesFromProbabilities(probs, w, h, { minArea: 5 });
    expect(classic.count).toBe(1);
    const d = instanceDistanceTarget(truth, w, h);
    const r = instancesFromDistance(probs, d, w, h, { minArea: 5, seeds: 'threshold' });
    expect(r.count).toBe(2);
    const rc = instancesFromDistance(probs, d, w, h, { minArea: 5 });
    expect(rc.count).toBe(2);
    const rm = instancesFromDistance(probs, d, w, h, { minArea: 5, seeds: 'maxima' });
    expect(rm.count).toBe(2);
    // Each found particle lies (but for the dividing line) inside one true particle.
    for (const res of [r, rc, rm]) {
      for (let l = 1; l <= 2; l++) {
        const hits = new Set<number>();
        for (let i = 0; i < truth.length; i++) if (res.labels[i] === l) hits.add(truth[i]);
        expect(hits.size).toBe(1);
      }
    }
    // One-pixel background lines between them by default; none with lines: false.
    let fgPixels = 0;
    for (let i = 0; i < truth.length; i++) if (truth[i]) fgPixels++;
    const covered = (labels: Int32Array) => labels.reduce((s, v) => s + (v ? 1 : 0), 0);
    expect(covered(r.labels)).toBeLessThan(fgPixels);
    expect(covered(instancesFromDistance(probs, d, w, h, { minArea: 5, seeds: 'threshold', lines: false }).labels)).toBe(fgPixels);
    expect(covered(instancesFromDistance(probs, d, w, h, { minArea: 5, lines: false }).labels)).toBe(fgPixels);
  });

  it('a seed threshold above the whole map finds nothing; below the contact level it merges', () => {
    const w = 48, h = 32;
    const truth = twoDiscs(w, h, 9, 6);
    const probs = probsOf(truth);
    const d = instanceDistanceTarget(truth, w, h);
    const t = { minArea: 5, seeds: 'threshold' } as const;
    expect(instancesFromDistance(probs, d, w, h, { ...t, threshold: 1 }).count).toBe(0);
    // At threshold 0 every foreground pixel with a positive distance is seed; the outline pixels
    // (0 on both sides of the contact) keep the two seeds apart.
    expect(instancesFromDistance(probs, d, w, h, { ...t, threshold: 0 }).count).toBe(2);
    // A distance map with no dip at the contact (one particle's target for both) merges them.
    const one = instanceDistanceTarget(Int32Array.from(truth, (v) => (v ? 1 : 0)), w, h);
    expect(instancesFromDistance(probs, one, w, h, t).count).toBe(1);
    expect(instancesFromDistance(probs, one, w, h, { minArea: 5 }).count).toBe(1);
  });

  it('counts low-confidence merges and splits at threshold +- step', () => {
    const w = 48, h = 32;
    const truth = twoDiscs(w, h, 9, 6);
    const probs = probsOf(truth);
    const d = instanceDistanceTarget(truth, w, h);
    // A distance map whose dip between the particles sits at 0.55: at 0.5 one particle, which
    // would split at 0.65 (a low-confidence merge).
    const dip = Float32Array.from(d, (v, i) => (truth[i] ? 0.55 + 0.45 * v : 0));
    const merged = instancesFromDistance(probs, dip, w, h, { minArea: 5, seeds: 'threshold', confidenceStep: 0.15 });
    expect(merged.count).toBe(1);
    expect(merged.lowConfidence).toEqual({ splits: 0, merges: 1 });
    // Seeding at 0.6 splits them; at 0.45 they would merge: two low-confidence splits.
    const split = instancesFromDistance(probs, dip, w, h, { minArea: 5, seeds: 'threshold', threshold: 0.6, confidenceStep: 0.15 });
    expect(split.count).toBe(2);
    expect(split.lowConfidence).toEqual({ splits: 2, merges: 0 });
    // A clear dip is confident both ways.
    expect(instancesFromDistance(probs, d, w, h, { minArea: 5, seeds: 'threshold' }).lowConfidence).toEqual({ splits: 0, merges: 0 });
  });

  it("'core' cuts the core at a level relative to the image's typical predicted centre value", () => {
    const w = 48, h = 32;
    const truth = twoDiscs(w, h, 9, 6);
    const probs = probsOf(truth);
    const d = instanceDistanceTarget(truth, w, h);
    // Under-confident predictions (centres at 0.45, as on real micrographs) still split: the
    // level follows the centre values; an absolute threshold of 0.5 finds nothing.
    const low = Float32Array.from(d, (v) => 0.45 * v);
    expect(typicalPeak(low, Uint8Array.from(truth, (v) => (v ? 1 : 0)), w, h)).toBeCloseTo(0.45, 6);
    expect(instancesFromDistance(probs, low, w, h, { minArea: 5 }).count).toBe(2);
    expect(instancesFromDistance(probs, low, w, h, { minArea: 5, seeds: 'threshold' }).count).toBe(0);
    // A level above every centre leaves no core, hence no particle.
    expect(instancesFromDistance(probs, low, w, h, { minArea: 5, relative: 1.01 }).count).toBe(0);
    // The contour class still cuts the core: P(contour) 1 everywhere leaves no particle.
    const allContour = Float32Array.from(probs);
    allContour.fill(1, 2 * w * h);
    expect(instancesFromDistance(allContour, low, w, h, { minArea: 5 }).count).toBe(0);
  });

  it('typicalPeak is the median of the maxima inside the foreground', () => {
    const w = 9, h = 1;
    const d = Float32Array.from([0.2, 0.9, 0.2, 0.3, 0.2, 0.6, 0.1, 1, 0]);
    const fg = Uint8Array.from([1, 1, 1, 1, 1, 1, 1, 0, 0]);
    // Maxima in the foreground: 0.9, 0.3, 0.6 (the 1 lies outside it) -> median 0.6.
    expect(typicalPeak(d, fg, w, h)).toBeCloseTo(0.6, 6);
    expect(typicalPeak(d, new Uint8Array(9), w, h)).toBe(0);
  });

  it('checks its inputs', () => {
    expect(() => instancesFromDistance(new Float32Array(3 * 16), new Float32Array(15), 4, 4)).toThrow(/predicted distance/);
    expect(() => instancesFromDistance(new Float32Array(3 * 15), new Float32Array(16), 4, 4)).toThrow(/class probabilities/);
    expect(() => instancesFromDistance(new Float32Array(3 * 16), new Float32Array(16), 4, 4, { seeds: 'x' as 'maxima' })).toThrow(/seeds must be/);
  });
});

describe('segLoss with a distance channel', () => {
  it('float64 gradients of CE + Dice + distance BCE match finite differences', () => {
    const rng = new Rng(5);
    const [n, c, h, w] = [2, 3, 3, 4];
    const target = Int32Array.from({ length: n * h * w }, () => rng.int(c));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.double({ min: 0, max: 3, noNaN: true }), (seed, dw) => {
        const r = new Rng(seed);
        const dist = new Tensor(Float64Array.from({ length: n * h * w }, () => r.uniform()), [n, 1, h, w]);
        const out = randomInput(r, [n, c + 1, h, w], -2, 2);
        const res = gradcheck((x) => segLoss(x, c, target, dist, [0.5, 1, 2], 0.7, dw).loss, [out]);
        expect(res.ok).toBe(true);
      }),
      { numRuns: 15 },
    );
  });

  it('the distance term is the BCE of the extra channel only, weighted by distanceWeight', () => {
    const out = new Tensor(Float64Array.from([0.3, -0.2, 0.1, 2, 0.5, -1, 0.4, -3]), [1, 4, 1, 2]);
    const target = Int32Array.from([0, 1]);
    const dist = new Tensor(Float64Array.from([1, 0]), [1, 1, 1, 2]);
    const a = segLoss(out, 3, target, dist, [1, 1, 1], 1, 0);
    const b = segLoss(out, 3, target, dist, [1, 1, 1], 1, 2);
    // BCE(x, y) = max(x, 0) - x y + log(1 + exp(-|x|)) for the logits 0.4 (y = 1) and -3 (y = 0).
    const bce = (x: number, y: number) => Math.max(x, 0) - x * y + Math.log1p(Math.exp(-Math.abs(x)));
    const expected = (bce(0.4, 1) + bce(-3, 0)) / 2;
    expect(a.dist!.item()).toBeCloseTo(expected, 10);
    expect(b.loss.item() - a.loss.item()).toBeCloseTo(2 * expected, 10);
    // The class terms ignore the extra channel: they equal those of the 3-channel logits alone.
    const three = new Tensor(Float64Array.from([0.3, -0.2, 0.1, 2, 0.5, -1]), [1, 3, 1, 2]);
    expect(a.ce.item()).toBeCloseTo(segLoss(three, 3, target, null, [1, 1, 1], 1, 1).ce.item(), 12);
  });
});

describe('training and inference with the distance head', () => {
  const tiny = { depth: 2, base: 4 } as const;

  it("the default target adds one output channel; predict returns its plane and seeds from it; 'none' keeps three", () => {
    const data = discSet('d', 6, 16, 2);
    const { model, checkpoint } = trainUNet(data, tiny, { epochs: 1, batch: 2, crop: 16, seed: 1, stepsPerEpoch: 2 });
    expect(model.config.distanceHead).toBe(true);
    expect(checkpoint.train.instanceTarget).toBe('distance');
    expect(checkpoint.history[0].dist).toBeGreaterThan(0);
    const seg = segmentImage(model, data[0].image, 16, 16, { tile: 16, minArea: 1 });
    expect(seg.probabilities.length).toBe(4 * 256);
    for (let i = 3 * 256; i < 4 * 256; i++) expect(seg.probabilities[i]).toBeGreaterThanOrEqual(0), expect(seg.probabilities[i]).toBeLessThanOrEqual(1);
    // The class planes still sum to 1 (softmax over the classes only).
    for (let i = 0; i < 256; i++) expect(seg.probabilities[i] + seg.probabilities[256 + i] + seg.probabilities[512 + i]).toBeCloseTo(1, 5);
    const none = trainUNet(data, tiny, { epochs: 1, batch: 2, crop: 16, seed: 1, stepsPerEpoch: 2, instanceTarget: 'none' });
    expect(none.model.config.distanceHead).toBe(false);
    expect(segmentImage(none.model, data[0].image, 16, 16, { tile: 16 }).probabilities.length).toBe(3 * 256);
    expect(() => segmentImage(none.model, data[0].image, 16, 16, { tile: 16, instances: 'distance' })).toThrow(/needs a model trained with a distance head/);
  });

  it("without instance maps the class masks' instances stand in; a resumed run keeps the head its model has", () => {
    const data = discSet('e', 4, 16, 3);
    const bare = data.map(({ instances: _drop, ...s }) => s);
    const cfg = { epochs: 1, batch: 2, crop: 16, stepsPerEpoch: 1 };
    const fromMasks = bare.map((s) => ({ ...s, instances: instancesFromClassMap(s.classes, s.width, s.height, { minArea: 1 }).labels }));
    const withMaps = trainUNet(fromMasks, tiny, cfg).model.stateDict();
    const without = trainUNet(bare, tiny, cfg).model.stateDict();
    for (const k of Object.keys(withMaps)) expect(Array.from(without[k].data), k).toEqual(Array.from(withMaps[k].data));
    // A model without the head (instanceTarget 'none', like checkpoints from before the head)
    // resumes without it, although the default is 'distance'.
    const dir = mkdtempSync(join(tmpdir(), 'unet-dist-'));
    try {
      trainUNet(data, tiny, { epochs: 1, batch: 2, crop: 16, stepsPerEpoch: 1, instanceTarget: 'none' }, { checkpoint: (c) => saveCheckpoint(dir, c) });
      const ck = loadCheckpoint(dir);
      const resumed = trainUNet(bare, tiny, { ...ck.train, instanceTarget: 'distance', epochs: 2 }, {}, ck);
      expect(resumed.model.config.distanceHead).toBe(false);
      expect(resumed.checkpoint.train.instanceTarget).toBe('none');
      expect(loadModel(dir).model.config.distanceHead).toBeFalsy();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the head is one more 1x1 output channel', () => {
    const a = new UNet({ ...tiny, distanceHead: true }, new Rng(0));
    const b = new UNet({ ...tiny }, new Rng(0));
    expect(a.parameterCount() - b.parameterCount()).toBe(4 + 1);
    expect(a.forward(new Tensor(new Float32Array(64), [1, 1, 8, 8])).shape).toEqual([1, 4, 8, 8]);
    expect(() => new UNet({ ...tiny, distanceHead: 'yes' as unknown as boolean }, new Rng(0))).toThrow(/distanceHead must be true or false/);
  });
});

describe('extractCrop with an extra plane', () => {
  it('crops the extra plane through the same symmetry as the image', async () => {
    const { extractCrop } = await import('../../src/seg/augment.js');
    const w = 7, h = 5, size = 4;
    const image = Float32Array.from({ length: w * h }, (_, i) => i);
    const classes = new Uint8Array(w * h);
    const plane = Float32Array.from({ length: w * h }, (_, i) => 1000 + i);
    for (let sym = 0; sym < 8; sym++) {
      const img = new Float32Array(size * size);
      const mask = new Uint8Array(size * size);
      const to = new Float32Array(size * size);
      extractCrop({ width: w, height: h, image, classes }, 2, 1, size, sym, img, mask, { from: plane, to });
      for (let i = 0; i < to.length; i++) expect(to[i]).toBe(img[i] + 1000);
    }
  });
});
