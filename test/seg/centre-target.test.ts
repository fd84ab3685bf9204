import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CENTRE_SIGMA_MAX, CENTRE_SIGMA_MIN, centreSigma, instanceCentres, instanceCentreTarget, instanceDistanceTarget } from '../../src/seg/targets.js';
import { centreMarkers, instancesFromCentres } from '../../src/particles/instances.js';
import { centreFocalLoss, segLoss, trainUNet } from '../../src/seg/train.js';
import { segmentImage } from '../../src/seg/infer.js';
import { UNet, centreChannel, outputChannels } from '../../src/seg/unet.js';
import { Rng, Tensor } from '../../src/autodiff/index.js';
import { gradcheck, randomInput } from '../../src/autodiff/gradcheck.js';
import { discSet } from './unet-helpers.js';

/** A filled axis-aligned rectangle [x0, x1) x [y0, y1) of label `l`. */
function rect(labels: Int32Array, w: number, x0: number, y0: number, x1: number, y1: number, l: number): void {
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) labels[y * w + x] = l;
}

/** Probabilities [3, H, W]: P(background) 0 on `fg`, 1 elsewhere; P(contour) 0. */
function probsOf(fg: ArrayLike<number>): Float32Array {
  const n = fg.length;
  const p = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    p[i] = fg[i] ? 0 : 1;
    p[n + i] = fg[i] ? 1 : 0;
  }
  return p;
}

describe('instanceCentreTarget', () => {
  it('puts a peak of 1 at the pixel farthest from the outline, with sigma = equivalent radius / 2 within its bounds', () => {
    const w = 60, h = 30;
    const labels = new Int32Array(w * h);
    rect(labels, w, 2, 2, 9, 9, 1); // 7 x 7 = 49 px: radius 3.9 px -> sigma 2 (the minimum)
    rect(labels, w, 12, 2, 24, 14, 2); // 12 x 12 = 144 px: radius 6.8 px -> sigma 3.4
    rect(labels, w, 30, 2, 58, 28, 3); // 28 x 26 px: radius 15.2 px, sigma capped at 5
    const t = instanceCentreTarget(labels, w, h);
    const c = instanceCentres(labels, w, h);
    expect(c.get(1)).toEqual({ x: 5, y: 5, area: 49 });
    // Even sides: the four tied pixels around the middle; the tie goes to the one nearest the centroid (17.5, 7.5), the first in raster order.
    expect(c.get(2)).toMatchObject({ area: 144 });
    expect([17, 18]).toContain(c.get(2)!.x);
    expect([7, 8]).toContain(c.get(2)!.y);
    for (const l of [1, 2, 3]) expect(t[c.get(l)!.y * w + c.get(l)!.x]).toBe(1);
    const sigma = (area: number) => Math.min(CENTRE_SIGMA_MAX, Math.max(CENTRE_SIGMA_MIN, Math.sqrt(area / Math.PI) / 2));
    expect(centreSigma(49)).toBe(CENTRE_SIGMA_MIN);
    expect(centreSigma(144)).toBeCloseTo(Math.sqrt(144 / Math.PI) / 2, 12);
    expect(centreSigma(28 * 26)).toBe(CENTRE_SIGMA_MAX);
    for (const l of [1, 2, 3]) {
      const { x, y, area } = c.get(l)!;
      const s = sigma(area);
      expect(t[y * w + x + 2]).toBeCloseTo(Math.exp(-4 / (2 * s * s)), 6);
      expect(t[(y + 1) * w + x + 1]).toBeCloseTo(Math.exp(-2 / (2 * s * s)), 6);
    }
    // Nothing beyond 3 sigma of every centre.
    expect(t[28 * w + 1]).toBe(0);
    expect(t[12 * w + 4]).toBe(0);
  });

  it("an L-shaped particle's peak lies inside it, not at its centroid", () => {
    const w = 30, h = 30;
    const labels = new Int32Array(w * h);
    rect(labels, w, 2, 2, 8, 28, 4);
    rect(labels, w, 2, 22, 28, 28, 4);
    const c = instanceCentres(labels, w, h).get(4)!;
    expect(labels[c.y * w + c.x]).toBe(4);
    // It is a pixel farthest from the outline (where the normalised distance is 1), not merely the instance pixel nearest the centroid.
    expect(instanceDistanceTarget(labels, w, h)[c.y * w + c.x]).toBe(1);
    const t = instanceCentreTarget(labels, w, h);
    let best = 0;
    for (let i = 1; i < t.length; i++) if (t[i] > t[best]) best = i;
    expect(labels[best]).toBe(4);
    // The centroid (~(9.6, 20.4)) is background.
    expect(labels[20 * w + 10]).toBe(0);
  });

  it('a small particle touching a large one keeps its own peak (the normalised distance gives both 1, the centre map a separate maximum)', () => {
    const w = 40, h = 24;
    const labels = new Int32Array(w * h);
    rect(labels, w, 2, 2, 22, 22, 1);
    rect(labels, w, 22, 8, 29, 15, 2);
    const t = instanceCentreTarget(labels, w, h);
    const markers = centreMarkers(t, Uint8Array.from(labels, (l) => (l ? 1 : 0)), w, h, 0.1, 0.2);
    const found = new Set<number>();
    for (let i = 0; i < markers.length; i++) if (markers[i]) found.add(labels[i]);
    expect([...found].sort()).toEqual([1, 2]);
  });

  it('properties: in [0, 1], exactly one pixel of value 1 per instance, 0 farther than 3 * CENTRE_SIGMA_MAX + 1 px from every instance', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10000 }), (seed) => {
        const rng = new Rng(seed);
        const w = 24, h = 20;
        const labels = new Int32Array(w * h);
        const k = 1 + rng.int(4);
        for (let l = 1; l <= k; l++) {
          const x0 = rng.int(w - 2), y0 = rng.int(h - 2);
          rect(labels, w, x0, y0, Math.min(w, x0 + 1 + rng.int(10)), Math.min(h, y0 + 1 + rng.int(10)), l);
        }
        const t = instanceCentreTarget(labels, w, h);
        const present = new Set(Array.from(labels).filter((l) => l));
        let ones = 0;
        for (const v of t) {
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
          if (v === 1) ones++;
        }
        expect(ones).toBe(present.size);
        const reach = 3 * CENTRE_SIGMA_MAX + 1;
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            let near = false;
            for (let j = 0; j < labels.length && !near; j++) if (labels[j] && Math.hypot((j % w) - x, Math.floor(j / w) - y) <= reach) near = true;
            if (!near) expect(t[y * w + x]).toBe(0);
          }
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('instancesFromCentres', () => {
  const w = 40, h = 20;
  /** One foreground blob (two touching squares) and a centre map with Gaussian peaks `a` at (8, 10) and `b` at (28, 10), exp(-d^2 / spread). */
  function blob(a: number, b: number, spread = 8): { probs: Float32Array; distance: Float32Array; centre: Float32Array; fg: Uint8Array } {
    const labels = new Int32Array(w * h);
    rect(labels, w, 2, 4, 16, 16, 1);
    rect(labels, w, 16, 2, 38, 18, 2);
    const fg = Uint8Array.from(labels, (l) => (l ? 1 : 0));
    const centre = new Float32Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) centre[y * w + x] = Math.max(a * Math.exp(-((x - 8) ** 2 + (y - 10) ** 2) / spread), b * Math.exp(-((x - 28) ** 2 + (y - 10) ** 2) / spread));
    }
    return { probs: probsOf(fg), distance: instanceDistanceTarget(labels, w, h), centre, fg };
  }

  it('one particle per centre peak, split where the distance dips; lines between them', () => {
    // Wide peaks: the centre map's own divide between them lies at x = 20 (0.9 e^(-12^2/200) = 0.6 e^(-8^2/200)).
    const { probs, distance, centre, fg } = blob(0.9, 0.6, 200);
    const r = instancesFromCentres(probs, distance, centre, w, h, { minArea: 5 });
    expect(r.count).toBe(2);
    // The split follows the contact (x = 15 | 16), where the distance dips, not the centre map's divide.
    expect(r.labels[10 * w + 14]).not.toBe(r.labels[10 * w + 18]);
    expect(r.labels[10 * w + 17]).toBe(r.labels[10 * w + 30]);
    let fgPixels = 0, covered = 0;
    for (let i = 0; i < fg.length; i++) fgPixels += fg[i], covered += r.labels[i] ? 1 : 0;
    expect(covered).toBeLessThan(fgPixels);
    expect(instancesFromCentres(probs, distance, centre, w, h, { minArea: 5, lines: false }).labels.filter((l) => l).length).toBe(fgPixels);
  });

  it('a peak below the threshold is no marker; a foreground piece with no marker still gets one', () => {
    const { probs, distance, centre, fg } = blob(0.9, 0.15);
    expect(instancesFromCentres(probs, distance, centre, w, h, { minArea: 5 }).count).toBe(1);
    expect(instancesFromCentres(probs, distance, centre, w, h, { minArea: 5, threshold: 0.1 }).count).toBe(2);
    // Both peaks below the threshold: the blob is one particle, not lost.
    const m = centreMarkers(centre, fg, w, h, 0.1, 0.95);
    expect(m.filter((v) => v).length).toBe(1);
    expect(m[10 * w + 8]).toBe(1);
    expect(instancesFromCentres(probs, distance, centre, w, h, { minArea: 5, threshold: 0.95 }).count).toBe(1);
  });

  it('two peaks whose dip between them is shallower than h are one marker', () => {
    const { probs, distance, fg } = blob(1, 1);
    // A ridge between the peaks: the map dips from 1 to 0.95 only.
    const centre = new Float32Array(w * h);
    for (let i = 0; i < centre.length; i++) if (fg[i]) centre[i] = 0.95;
    centre[10 * w + 8] = 1;
    centre[10 * w + 28] = 1;
    expect(instancesFromCentres(probs, distance, centre, w, h, { minArea: 5, h: 0.1 }).count).toBe(1);
    expect(instancesFromCentres(probs, distance, centre, w, h, { minArea: 5, h: 0.01 }).count).toBe(2);
  });

  it('checks its inputs', () => {
    const { probs, distance, centre } = blob(1, 1);
    expect(() => instancesFromCentres(probs, distance, centre.subarray(1), w, h)).toThrow(/centre map/);
  });
});

describe('segLoss with a centre channel', () => {
  it('float64 gradients of CE + Dice + distance + centre BCE match finite differences', () => {
    const rng = new Rng(6);
    const [n, c, h, w] = [2, 3, 3, 4];
    const target = Int32Array.from({ length: n * h * w }, () => rng.int(c));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.double({ min: 0, max: 3, noNaN: true }), (seed, cw) => {
        const r = new Rng(seed);
        const dist = new Tensor(Float64Array.from({ length: n * h * w }, () => r.uniform()), [n, 1, h, w]);
        // Some centre pixels (t = 1) among the shoulders, so both focal terms are checked.
        const cent = new Tensor(Float64Array.from({ length: n * h * w }, (_, i) => (i % 5 === 0 ? 1 : r.uniform())), [n, 1, h, w]);
        const out = randomInput(r, [n, c + 2, h, w], -2, 2);
        expect(gradcheck((x) => segLoss(x, c, target, dist, [0.5, 1, 2], 0.7, 1, null, cent, cw).loss, [out]).ok).toBe(true);
      }),
      { numRuns: 10 },
    );
  });

  it("the centre term is CenterNet's focal loss of the last channel, weighted by centreWeight", () => {
    const out = new Tensor(Float64Array.from([0.3, -0.2, 0.1, 2, 0.5, -1, 0.4, -3, 1.5, -0.5]), [1, 5, 1, 2]);
    const target = Int32Array.from([0, 1]);
    const dist = new Tensor(Float64Array.from([1, 0]), [1, 1, 1, 2]);
    const cent = new Tensor(Float64Array.from([1, 0.5]), [1, 1, 1, 2]);
    const bce = (x: number, y: number) => Math.max(x, 0) - x * y + Math.log1p(Math.exp(-Math.abs(x)));
    const sig = (x: number) => 1 / (1 + Math.exp(-x));
    // One centre pixel (t = 1, logit 1.5) and one shoulder pixel (t = 0.5, logit -0.5), normalised by one centre.
    const expected = (1 - sig(1.5)) ** 2 * -Math.log(sig(1.5)) + (1 - 0.5) ** 4 * sig(-0.5) ** 2 * -Math.log(1 - sig(-0.5));
    const a = segLoss(out, 3, target, dist, [1, 1, 1], 1, 1, null, cent, 0);
    const b = segLoss(out, 3, target, dist, [1, 1, 1], 1, 1, null, cent, 3);
    expect(b.cent!.item()).toBeCloseTo(expected, 10);
    expect(b.loss.item() - a.loss.item()).toBeCloseTo(3 * expected, 10);
    // The distance term still reads the channel after the classes.
    expect(b.dist!.item()).toBeCloseTo((bce(0.4, 1) + bce(-3, 0)) / 2, 10);
    expect(() => segLoss(out, 3, target, null, [1, 1, 1], 1, 1, null, cent)).toThrow(/needs the distance target/);
  });

  it('the focal loss is normalised by the number of centre pixels, and a crop without centres divides by 1', () => {
    const x = new Tensor(Float64Array.from([2, 2, -1, 0.3]), [1, 1, 2, 2]);
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const posTerm = (1 - sig(2)) ** 2 * -Math.log(sig(2));
    const negTerm = (v: number, t: number) => (1 - t) ** 4 * sig(v) ** 2 * -Math.log(1 - sig(v));
    const two = centreFocalLoss(x, new Tensor(Float64Array.from([1, 1, 0, 0.2]), [1, 1, 2, 2])).item();
    expect(two).toBeCloseTo((2 * posTerm + negTerm(-1, 0) + negTerm(0.3, 0.2)) / 2, 10);
    const none = centreFocalLoss(x, new Tensor(Float64Array.from([0, 0.5, 0, 0]), [1, 1, 2, 2])).item();
    expect(none).toBeCloseTo(negTerm(2, 0) + negTerm(2, 0.5) + negTerm(-1, 0) + negTerm(0.3, 0), 10);
  });
});

describe('training and inference with the centre head', () => {
  const tiny = { depth: 2, base: 4 } as const;

  it("'centre' adds the distance and the centre channels; predict returns both planes and seeds from the centre map on request", () => {
    const data = discSet('c', 6, 16, 4);
    const { model, checkpoint } = trainUNet(data, tiny, { epochs: 1, batch: 2, crop: 16, seed: 1, stepsPerEpoch: 2, instanceTarget: 'centre' });
    expect(model.config.distanceHead).toBe(true);
    expect(model.config.centreHead).toBe(true);
    expect(outputChannels(model.config)).toBe(5);
    expect(centreChannel(model.config)).toBe(4);
    expect(checkpoint.train.instanceTarget).toBe('centre');
    const seg = segmentImage(model, data[0].image, 16, 16, { tile: 16, minArea: 1, instances: 'centre' });
    expect(seg.probabilities.length).toBe(5 * 256);
    for (let i = 3 * 256; i < 5 * 256; i++) expect(seg.probabilities[i]).toBeGreaterThanOrEqual(0), expect(seg.probabilities[i]).toBeLessThanOrEqual(1);
    // A distance-only model has no centre plane to seed from.
    const dist = trainUNet(data, tiny, { epochs: 1, batch: 2, crop: 16, seed: 1, stepsPerEpoch: 1 });
    expect(dist.model.config.centreHead).toBeUndefined();
    expect(() => segmentImage(dist.model, data[0].image, 16, 16, { tile: 16, instances: 'centre' })).toThrow(/needs a model trained with a centre head/);
  });

  it('the centre head is one more 1x1 output channel and needs the distance head', () => {
    const a = new UNet({ ...tiny, distanceHead: true, centreHead: true }, new Rng(0));
    const b = new UNet({ ...tiny, distanceHead: true }, new Rng(0));
    expect(a.parameterCount() - b.parameterCount()).toBe(4 + 1);
    expect(a.forward(new Tensor(new Float32Array(64), [1, 1, 8, 8])).shape).toEqual([1, 5, 8, 8]);
    expect(() => new UNet({ ...tiny, centreHead: true }, new Rng(0))).toThrow(/centreHead needs distanceHead/);
  });
});
