import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRayCount, mirroredRayIndex, polygonInstances, rasterStarPolygon, starNms, starRays } from '../../src/seg/stardist.js';
import { instanceDistanceTarget } from '../../src/seg/targets.js';
import { segLoss, trainUNet } from '../../src/seg/train.js';
import { predictWithFlips, segmentImage } from '../../src/seg/infer.js';
import { RAY_SCALE, UNet, type UNetConfig } from '../../src/seg/unet.js';
import { Rng, Tensor, weightedSmoothL1 } from '../../src/autodiff/index.js';
import { gradcheck, randomInput } from '../../src/autodiff/gradcheck.js';
import { loadModel, saveCheckpoint } from '../../src/node/seg-checkpoint.js';
import { discSet } from './unet-helpers.js';
import { probsOf } from './helpers.js';

/** Discs (cx, cy, r) painted in order (later ones over earlier ones): labels 1..k. */
function discs(w: number, h: number, list: [number, number, number][]): Int32Array {
  const labels = new Int32Array(w * h);
  list.forEach(([cx, cy, r], k) => {
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (Math.hypot(x - cx, y - cy) <= r) labels[y * w + x] = k + 1;
  });
  return labels;
}

function mirror(a: ArrayLike<number>, w: number, h: number, fx: boolean, fy: boolean): Float32Array {
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = a[(fy ? h - 1 - y : y) * w + (fx ? w - 1 - x : x)];
  return out;
}

function iou(a: ArrayLike<number>, la: number, b: ArrayLike<number>, lb: number): number {
  let inter = 0, union = 0;
  for (let i = 0; i < a.length; i++) {
    const p = a[i] === la, q = b[i] === lb;
    if (p && q) inter++;
    if (p || q) union++;
  }
  return inter / union;
}

describe('starRays', () => {
  it('a disc centre sees its radius along every ray; a one-pixel particle 0.5 / 0.71 px; background 0', () => {
    const w = 31, h = 31;
    const labels = discs(w, h, [[15, 15, 10]]);
    const r = starRays(labels, w, h, 16);
    const n = w * h;
    for (let k = 0; k < 16; k++) {
      expect(Math.abs(r[k * n + 15 * w + 15] - 10.5)).toBeLessThan(0.75);
      expect(r[k * n]).toBe(0);
    }
    const dot = new Int32Array(9);
    dot[4] = 7;
    const d = starRays(dot, 3, 3, 8);
    expect(d[0 * 9 + 4]).toBeCloseTo(0.5, 6);
    expect(d[1 * 9 + 4]).toBeCloseTo(Math.SQRT1_2, 6);
    // A ray of the left disc ends where the right disc begins: the contact, not the union, bounds it.
    const two = discs(40, 20, [[10, 10, 7], [23, 10, 7]]);
    const rr = starRays(two, 40, 20, 4);
    const at = 10 * 40 + 10;
    expect(two[10 * 40 + 16]).toBe(2);
    expect(rr[at]).toBeCloseTo(5.5, 6);
    expect(rr[2 * 800 + at]).toBeCloseTo(7.5, 6);
  });

  it('mirroring the instance map permutes the rays as mirroredRayIndex says (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10000 }), fc.boolean(), fc.boolean(), fc.constantFrom(4, 8, 16), (seed, fx, fy, R) => {
        const rng = new Rng(seed);
        const w = 24, h = 20;
        const list: [number, number, number][] = Array.from({ length: 4 }, () => [rng.range(2, 22), rng.range(2, 18), rng.range(1, 7)]);
        const labels = discs(w, h, list);
        const n = w * h;
        const rays = starRays(labels, w, h, R);
        const mr = starRays(mirror(labels, w, h, fx, fy), w, h, R);
        const perm = mirroredRayIndex(R, fx, fy);
        for (let k = 0; k < R; k++) {
          const back = mirror(mr.subarray(k * n, (k + 1) * n), w, h, fx, fy);
          const want = rays.subarray(perm[k] * n, (perm[k] + 1) * n);
          for (let i = 0; i < n; i++) if (Math.abs(back[i] - want[i]) > 1e-5) return false;
        }
        return true;
      }),
      { numRuns: 40 },
    );
  });

  it('checks the ray count', () => {
    expect(() => checkRayCount(6)).toThrow(/multiple of 4/);
    expect(() => starRays(new Int32Array(4), 2, 2, 10)).toThrow(/multiple of 4/);
    expect(() => new UNet({ depth: 1, base: 2, rays: 8 }, new Rng(0))).toThrow(/rays need the distance head/);
  });
});

/** No two particles are 4-neighbours. */
function expectSeparated(labels: ArrayLike<number>, w: number, h: number): void {
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const p = labels[y * w + x];
    if (!p) continue;
    if (x + 1 < w && labels[y * w + x + 1]) expect(labels[y * w + x + 1]).toBe(p);
    if (y + 1 < h && labels[(y + 1) * w + x]) expect(labels[(y + 1) * w + x]).toBe(p);
  }
}

describe('star polygons', () => {
  it("the exact rays of a disc rebuild it: the polygon's pixels cover the disc within its rim", () => {
    const w = 41, h = 41;
    const labels = discs(w, h, [[20, 20, 12]]);
    const rays = starRays(labels, w, h, 32);
    const n = w * h;
    const r = Array.from({ length: 32 }, (_, k) => rays[k * n + 20 * w + 20]);
    const p = rasterStarPolygon(20, 20, r, w, h);
    const painted = new Int32Array(n);
    for (let y = 0; y < p.h; y++) for (let x = 0; x < p.w; x++) if (p.mask[y * p.w + x]) painted[(y + p.y0) * w + x + p.x0] = 1;
    expect(p.area).toBe(painted.reduce((s, v) => s + v, 0));
    expect(iou(painted, 1, labels, 1)).toBeGreaterThan(0.93);
  });

  it('NMS keeps one of two identical proposals (the more probable) and both of two apart', () => {
    const w = 30, h = 12, n = w * h;
    const rays = new Float32Array(8 * n).fill(3);
    const prob = new Float32Array(n);
    const a = 6 * w + 5, b = 6 * w + 6, c = 6 * w + 20;
    prob[a] = 0.6;
    prob[b] = 0.9;
    prob[c] = 0.5;
    const kept = starNms(prob, rays, [a, b, c], w, h, 8, 0.3).map((k) => k.centre);
    expect(kept).toEqual([b, c]);
    expect(starNms(prob, rays, [a, b, c], w, h, 8, 0.99).map((k) => k.centre)).toEqual([b, a, c]);
  });

  it('touching particles that the union alone cannot split come apart, with one-pixel lines between them', () => {
    const w = 60, h = 30;
    const labels = discs(w, h, [[18, 15, 9], [33, 15, 9], [46, 15, 5]]);
    const n = w * h;
    const rays = starRays(labels, w, h, 16);
    const prob = instanceDistanceTarget(labels, w, h);
    const out = polygonInstances(probsOf(labels), prob, rays, w, h, { prob: 0.5, nms: 0.3, minArea: 10 });
    expect(out.count).toBe(3);
    for (const l of [1, 2, 3]) {
      let best = 0;
      for (let m = 1; m <= out.count; m++) best = Math.max(best, iou(labels, l, out.labels, m));
      expect(best, `particle ${l}`).toBeGreaterThan(0.75);
    }
    expectSeparated(out.labels, w, h);
    // Rays 2 px too long: the polygons overlap; the most probable owns the shared pixels, and a line still separates them.
    const fat = rays.map((v) => (v > 0 ? v + 2 : 0));
    const over = polygonInstances(probsOf(labels), prob, fat, w, h, { prob: 0.5, nms: 0.5, minArea: 10 });
    expect(over.count).toBe(3);
    expectSeparated(over.labels, w, h);
    // Without lines and without the flood, they still come apart, inside the foreground only.
    const bare = polygonInstances(probsOf(labels), prob, rays, w, h, { prob: 0.5, lines: false, fill: false, minArea: 10 });
    expect(bare.count).toBe(3);
    for (let i = 0; i < n; i++) if (bare.labels[i]) expect(labels[i]).not.toBe(0);
    // A probability level above every pixel proposes nothing.
    expect(polygonInstances(probsOf(labels), prob, rays, w, h, { prob: 1 }).count).toBe(0);
    // A relative level follows the image's typical centre value: the same particles from half the probability.
    const half = prob.map((v) => v / 2);
    expect(polygonInstances(probsOf(labels), half, rays, w, h, { relative: 0.5, minArea: 10 }).count).toBe(3);
    expect(polygonInstances(probsOf(labels), half, rays, w, h, { prob: 0.5, minArea: 10 }).count).toBe(0);
  });
});

describe('the ray loss', () => {
  it('weightedSmoothL1 is the weighted mean Huber over channels and pixels', () => {
    const x = new Tensor(Float64Array.from([0, 2, 1, -1]), [1, 2, 2]);
    const t = new Tensor(Float64Array.from([0.5, 0, 1, 1]), [1, 2, 2]);
    // Pixel 0 (w 1): errors 0.5 (channel 0) and 0 (channel 1); pixel 1 (w 3): errors 2 and 2.
    const beta = 1;
    const h = (e: number) => (e < beta ? (0.5 * e * e) / beta : e - 0.5 * beta);
    const want = (1 * (h(0.5) + h(0)) + 3 * (h(2) + h(2))) / (2 * 4);
    expect(weightedSmoothL1(x, t, [1, 3], beta).item()).toBeCloseTo(want, 12);
    expect(weightedSmoothL1(x, t, [0, 0], beta).item()).toBe(0);
    expect(() => weightedSmoothL1(x, t, [1], beta)).toThrow(/weight has 1 entries/);
    expect(() => weightedSmoothL1(x, t, [1, -1], beta)).toThrow(/>= 0/);
  });

  it('float64 gradients of segLoss with rays match finite differences (property)', () => {
    const [n, c, R, h, w] = [2, 3, 4, 2, 3];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.double({ min: 0, max: 3, noNaN: true }), (seed, rw) => {
        const r = new Rng(seed);
        const target = Int32Array.from({ length: n * h * w }, () => r.int(c));
        const dist = new Tensor(Float64Array.from({ length: n * h * w }, () => r.uniform()), [n, 1, h, w]);
        const rays = randomInput(r, [n, R, h, w], 0, 2);
        const out = randomInput(r, [n, c + 1 + R, h, w], -2, 2);
        return gradcheck((x) => segLoss(x, c, target, dist, [0.5, 1, 2], 0.7, 1, null, { target: rays, weight: rw }).loss, [out]).ok;
      }),
      { numRuns: 15 },
    );
  });
});

describe('training and inference with rays', () => {
  const tiny = { depth: 2, base: 4 } as const;

  it("'stardist' adds R ray channels after the distance one; predict returns them in px and finds polygons; a saved model keeps them", () => {
    const data = discSet('s', 6, 16, 4);
    const dir = mkdtempSync(join(tmpdir(), 'unet-star-'));
    try {
      const { model, checkpoint } = trainUNet(data, tiny, { epochs: 1, batch: 2, crop: 16, seed: 1, stepsPerEpoch: 2, instanceTarget: 'stardist', rays: 8 }, { checkpoint: (ck) => saveCheckpoint(dir, ck) });
      expect(model.config.rays).toBe(8);
      expect(model.config.distanceHead).toBe(true);
      expect(checkpoint.train.instanceTarget).toBe('stardist');
      expect(checkpoint.history[0].ray).toBeGreaterThan(0);
      expect(model.forward(new Tensor(new Float32Array(256), [1, 1, 16, 16])).shape).toEqual([1, 3 + 1 + 8, 16, 16]);
      const seg = segmentImage(model, data[0].image, 16, 16, { tile: 16, minArea: 1, instances: 'stardist', stardist: { prob: 0 } });
      expect(seg.probabilities.length).toBe(12 * 256);
      // The ray planes are the raw channels times RAY_SCALE (without flips: one pass).
      const one = segmentImage(model, data[0].image, 16, 16, { tile: 16, minArea: 1, instances: 'stardist', flips: false });
      model.eval();
      const raw = model.forward(new Tensor(Float32Array.from(data[0].image, (v) => (v - 0.5) / 0.25), [1, 1, 16, 16]));
      expect(one.probabilities[4 * 256 + 37]).toBeCloseTo(raw.data[4 * 256 + 37] * RAY_SCALE, 3);
      expect(loadModel(dir).model.config.rays).toBe(8);
      const dist = trainUNet(data, tiny, { epochs: 1, batch: 2, crop: 16, seed: 1, stepsPerEpoch: 1 }).model;
      expect(() => segmentImage(dist, data[0].image, 16, 16, { tile: 16, instances: 'stardist' })).toThrow(/needs a model trained with rays/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('test-time flips with rays', () => {
  it('the mirrored passes put each ray back in its own plane: an exactly equivariant model gives the same rays with and without flips', () => {
    // A stand-in for a U-Net whose rays are the exact rays of its input's particles (x > 0).
    const R = 8;
    const config: UNetConfig = { inChannels: 1, classes: 3, depth: 1, base: 1, norm: 'batch', distanceHead: true, rays: R };
    const fake = {
      config,
      forward(x: Tensor): Tensor {
        const [n, , h, w] = x.shape;
        const hw = h * w;
        const c = 4 + R;
        const out = new Float32Array(n * c * hw);
        for (let b = 0; b < n; b++) {
          const labels = Int32Array.from(x.data.subarray(b * hw, (b + 1) * hw), (v) => (v > 0 ? 1 + Math.round(v) : 0));
          const rays = starRays(labels, w, h, R);
          for (let k = 0; k < R; k++) for (let i = 0; i < hw; i++) out[(b * c + 4 + k) * hw + i] = rays[k * hw + i] / RAY_SCALE;
        }
        return new Tensor(out, [n, c, h, w]);
      },
    } as unknown as UNet;
    const w = 24, h = 20, n = w * h;
    const labels = discs(w, h, [[7, 8, 5], [15, 11, 6], [20, 4, 3]]);
    const x = Float32Array.from(labels);
    const one = predictWithFlips(fake, x, w, h, { tile: 32, flips: false });
    const four = predictWithFlips(fake, x, w, h, { tile: 32, flips: true });
    for (let i = 4 * n; i < (4 + R) * n; i++) expect(four[i]).toBeCloseTo(one[i], 4);
    expect(one[4 * n + 8 * w + 7]).toBeCloseTo(2.5, 4);
  });
});
