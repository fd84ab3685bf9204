import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { boundaryWeightMap } from '../../src/seg/targets.js';
import { BOUNDARY_SIGMA, segLoss, trainUNet } from '../../src/seg/train.js';
import { Rng, Tensor, crossEntropy } from '../../src/autodiff/index.js';
import { gradcheck, randomInput } from '../../src/autodiff/gradcheck.js';
import { extractCrop } from '../../src/seg/augment.js';
import { segmentTrain } from '../../src/node/segment.js';
import { discSet } from './unet-helpers.js';

/** Axis-aligned rectangles (x0, y0, w, h) as instances 1, 2, ... on a w x h map; class 1 inside, 2 on their outline. */
function rects(w: number, h: number, boxes: [number, number, number, number][]): { labels: Int32Array; classes: Uint8Array } {
  const labels = new Int32Array(w * h);
  boxes.forEach(([x0, y0, bw, bh], k) => {
    for (let y = y0; y < y0 + bh; y++) for (let x = x0; x < x0 + bw; x++) if (x >= 0 && y >= 0 && x < w && y < h) labels[y * w + x] = k + 1;
  });
  const classes = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const l = labels[i];
      if (!l) continue;
      const edge = (x > 0 && labels[i - 1] !== l) || (x < w - 1 && labels[i + 1] !== l) || (y > 0 && labels[i - w] !== l) || (y < h - 1 && labels[i + w] !== l);
      classes[i] = edge ? 2 : 1;
    }
  }
  return { labels, classes };
}

/** Brute-force reference: d1 / d2 over every instance pixel, the term where d1 + d2 <= 3 sigma. */
function reference(labels: Int32Array, classes: Uint8Array, w: number, h: number, w0: number, sigma: number): Float64Array {
  const ids = [...new Set(labels)].filter((l) => l > 0);
  const out = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (classes[i] === 1) continue;
      const ds = ids.map((l) => {
        let best = Infinity;
        for (let j = 0; j < w * h; j++) if (labels[j] === l) best = Math.min(best, Math.hypot((j % w) - x, Math.floor(j / w) - y));
        return best;
      }).sort((a, b) => a - b);
      const s = (ds[0] ?? Infinity) + (ds[1] ?? Infinity);
      if (s <= 3 * sigma) out[i] = w0 * Math.exp(-(s * s) / (2 * sigma * sigma));
    }
  }
  return out;
}

const boxArb = (w: number, h: number) => fc.tuple(fc.integer({ min: 0, max: w - 2 }), fc.integer({ min: 0, max: h - 2 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }));

describe('boundaryWeightMap', () => {
  it('matches the brute-force d1 / d2 definition on random rectangles (overlaps: the later one wins)', () => {
    const w = 18, h = 14;
    fc.assert(
      fc.property(fc.array(boxArb(w, h), { maxLength: 4 }), fc.double({ min: 0.5, max: 4, noNaN: true }), (boxes, sigma) => {
        const { labels, classes } = rects(w, h, boxes);
        const got = boundaryWeightMap(labels, classes, w, h, 10, sigma);
        const want = reference(labels, classes, w, h, 10, sigma);
        for (let i = 0; i < w * h; i++) expect(got[i]).toBeCloseTo(want[i], 4);
      }),
      { numRuns: 40 },
    );
  });

  it('is raised only next to two close instances: zero on particle interiors, with fewer than two instances, and for far-apart ones', () => {
    const w = 40, h = 20;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 2, max: 8 }), (gap, side) => {
        const { labels, classes } = rects(w, h, [[2, 5, side, side], [2 + side + gap, 5, side, side]]);
        const m = boundaryWeightMap(labels, classes, w, h, 10, BOUNDARY_SIGMA);
        for (let i = 0; i < m.length; i++) {
          if (classes[i] === 1) expect(m[i]).toBe(0);
          expect(m[i]).toBeGreaterThanOrEqual(0);
          expect(m[i]).toBeLessThanOrEqual(10);
        }
        // Between the two: d1 + d2 = gap + 1 on the row through both.
        const mid = 5 * w + 2 + side + Math.floor(gap / 2);
        const s = gap + 1;
        if (gap > 1) expect(m[mid]).toBeCloseTo(s <= 3 * BOUNDARY_SIGMA ? 10 * Math.exp(-(s * s) / (2 * BOUNDARY_SIGMA ** 2)) : 0, 4);
        if (gap + 1 > 3 * BOUNDARY_SIGMA) expect(Math.max(...m)).toBe(0);
        const one = rects(w, h, [[2, 5, side, side]]);
        expect(Math.max(...boundaryWeightMap(one.labels, one.classes, w, h, 10, BOUNDARY_SIGMA))).toBe(0);
      }),
      { numRuns: 40 },
    );
  });

  it('is symmetric under a flip of the maps and shrinks as the gap widens', () => {
    const w = 16, h = 12;
    fc.assert(
      fc.property(fc.array(boxArb(w, h), { minLength: 2, maxLength: 4 }), (boxes) => {
        const { labels, classes } = rects(w, h, boxes);
        const flipX = <T extends Int32Array | Uint8Array | Float32Array>(a: T): T => {
          const b = a.slice() as T;
          for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) b[y * w + x] = a[y * w + w - 1 - x];
          return b;
        };
        const m = boundaryWeightMap(labels, classes, w, h, 7, BOUNDARY_SIGMA);
        const f = boundaryWeightMap(flipX(labels), flipX(classes), w, h, 7, BOUNDARY_SIGMA);
        const back = flipX(f);
        for (let i = 0; i < m.length; i++) expect(back[i]).toBeCloseTo(m[i], 5);
      }),
      { numRuns: 30 },
    );
    const at = (gap: number) => {
      const { labels, classes } = rects(30, 10, [[2, 2, 5, 5], [7 + gap, 2, 5, 5]]);
      return boundaryWeightMap(labels, classes, 30, 10, 10, BOUNDARY_SIGMA)[4 * 30 + 7];
    };
    // A contact line (gap 0: the outline pixel next to the other particle) weighs ~w0.
    expect(at(0)).toBeCloseTo(10 * Math.exp(-1 / (2 * BOUNDARY_SIGMA ** 2)), 4);
    expect(at(0)).toBeGreaterThan(at(2));
    expect(at(2)).toBeGreaterThan(at(5));
  });

  it('w0 0 gives zeros; checks its inputs', () => {
    const { labels, classes } = rects(8, 8, [[0, 0, 3, 3], [4, 0, 3, 3]]);
    expect(Math.max(...boundaryWeightMap(labels, classes, 8, 8, 0, 3))).toBe(0);
    expect(() => boundaryWeightMap(labels, classes, 8, 8, -1, 3)).toThrow(/w0 must be >= 0/);
    expect(() => boundaryWeightMap(labels, classes, 8, 8, 1, 0)).toThrow(/sigma > 0/);
    expect(() => boundaryWeightMap(labels, classes.subarray(1), 8, 8, 1, 3)).toThrow(/class mask/);
  });
});

describe('segLoss with boundary weights', () => {
  it('float64 gradients of the per-pixel weighted CE + Dice + distance BCE match finite differences', () => {
    const rng = new Rng(11);
    const [n, c, h, w] = [2, 3, 3, 4];
    const target = Int32Array.from({ length: n * h * w }, () => rng.int(c));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), (seed) => {
        const r = new Rng(seed);
        const boundary = Float64Array.from({ length: n * h * w }, () => (r.uniform() < 0.5 ? 0 : 10 * r.uniform()));
        const dist = new Tensor(Float64Array.from({ length: n * h * w }, () => r.uniform()), [n, 1, h, w]);
        const out = randomInput(r, [n, c + 1, h, w], -2, 2);
        const res = gradcheck((x) => segLoss(x, c, target, dist, [0.6, 1.9, 4.1], 0.7, 1, boundary).loss, [out]);
        expect(res.ok).toBe(true);
      }),
      { numRuns: 15 },
    );
  });

  it('the CE is the mean of -log p weighted by class weight + boundary weight', () => {
    const out = new Tensor(Float64Array.from([0.3, -0.2, 0.1, 2, 0.5, -1]), [1, 3, 1, 2]);
    const target = Int32Array.from([0, 2]);
    const cw = [0.6, 1.9, 4.1];
    const boundary = [5, 0];
    const got = segLoss(out, 3, target, null, cw, 1, 1, boundary).ce.item();
    const logp = (i: number, t: number) => {
      const z = [out.data[i], out.data[2 + i], out.data[4 + i]];
      return z[t] - Math.log(z.reduce((s, v) => s + Math.exp(v), 0));
    };
    const w0 = cw[0] + 5, w1 = cw[2];
    expect(got).toBeCloseTo(-(w0 * logp(0, 0) + w1 * logp(1, 2)) / (w0 + w1), 10);
    // Zero boundary weights give the class-weighted CE.
    expect(segLoss(out, 3, target, null, cw, 1, 1, [0, 0]).ce.item()).toBeCloseTo(crossEntropy(out, target, { weight: cw }).item(), 12);
    expect(() => segLoss(out, 3, target, null, cw, 1, 1, [1])).toThrow(/boundary weights have 1 entries/);
  });
});

describe('training with --boundary-weight', () => {
  const tiny = { depth: 2, base: 4 } as const;

  it('changes the training only when on, and crops the weight plane with the image', () => {
    const data = discSet('b', 4, 24, 4);
    const cfg = { epochs: 1, batch: 2, crop: 16, seed: 2, stepsPerEpoch: 2 };
    const off = trainUNet(data, tiny, cfg).checkpoint;
    const zero = trainUNet(data, tiny, { ...cfg, boundaryWeight: 0 }).checkpoint;
    const on = trainUNet(data, tiny, { ...cfg, boundaryWeight: 10 }).checkpoint;
    expect(zero.history[0].loss).toBe(off.history[0].loss);
    expect(on.history[0].ce).not.toBe(off.history[0].ce);
    expect(on.train.boundaryWeight).toBe(10);
    expect(() => trainUNet(data, tiny, { ...cfg, boundaryWeight: -1 })).toThrow(/boundaryWeight must be >= 0/);
    // Two planes through the same symmetry.
    const W = 7, H = 5, size = 4;
    const image = Float32Array.from({ length: W * H }, (_, i) => i);
    const a = Float32Array.from({ length: W * H }, (_, i) => 1000 + i);
    const b = Float32Array.from({ length: W * H }, (_, i) => 2000 + i);
    for (let sym = 0; sym < 8; sym++) {
      const img = new Float32Array(size * size), mask = new Uint8Array(size * size);
      const ta = new Float32Array(size * size), tb = new Float32Array(size * size);
      extractCrop({ width: W, height: H, image, classes: new Uint8Array(W * H) }, 2, 1, size, sym, img, mask, { from: a, to: ta }, { from: b, to: tb });
      for (let i = 0; i < img.length; i++) expect([ta[i], tb[i]]).toEqual([img[i] + 1000, img[i] + 2000]);
    }
  });

  it('segmentTrain names the flag when the weight is out of range', async () => {
    for (const v of [-1, 101, Number.NaN]) {
      await expect(segmentTrain({ out: '/nonexistent/x', source: { data: '/nonexistent' }, train: { boundaryWeight: v } })).rejects.toThrow(/--boundary-weight must be a number in \[0, 100\]/);
    }
  });
});
