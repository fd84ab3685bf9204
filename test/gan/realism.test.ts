import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/autodiff/rng.js';
import { UserError } from '../../src/errors.js';
import {
  chooseBestEpoch,
  histogramDistance,
  laplacianPyramid,
  parameterSpread,
  realismScores,
  RealismReference,
  slicedWasserstein,
  spectrumDistance,
  type EpochScore,
  type Grey,
} from '../../src/gan/realism.js';
import { gaussianBlur } from '../../src/particles/otsu.js';

const S = 64;
const clamp = (v: number) => Math.min(1, Math.max(0, v));

/** Particle-like texture: bright soft discs on a darker, slightly noisy stage. */
function texture(seed: number): Grey {
  const rng = new Rng(seed);
  const data = new Float32Array(S * S).fill(0.3);
  for (let k = 0; k < 6; k++) {
    const cx = rng.range(0, S);
    const cy = rng.range(0, S);
    const r = rng.range(4, 10);
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++) {
        const d = Math.hypot(x - cx, y - cy) / r;
        if (d < 1) data[y * S + x] = 0.55 + 0.15 * d; // brighter rim
      }
  }
  const b = gaussianBlur(data, S, S, 0.7);
  for (let i = 0; i < b.length; i++) b[i] = clamp(b[i] + 0.02 * rng.normal());
  return { width: S, height: S, data: b };
}

const setA = Array.from({ length: 10 }, (_, i) => texture(100 + i));
const setB = Array.from({ length: 10 }, (_, i) => texture(200 + i));
const opts = { descriptors: 512, projections: 64, seed: 3 };

function mapSet(set: Grey[], f: (d: Float32Array, i: number) => Float32Array): Grey[] {
  return set.map((g, i) => ({ width: g.width, height: g.height, data: f(g.data, i) }));
}
function noisy(set: Grey[], std: number): Grey[] {
  const rng = new Rng(9);
  return mapSet(set, (d) => d.map((v) => clamp(v + std * rng.normal())));
}
const blurred = (set: Grey[], sigma: number) => mapSet(set, (d) => gaussianBlur(d, S, S, sigma));
const shifted = (set: Grey[], by: number) => mapSet(set, (d) => d.map((v) => clamp(v + by)));

function expectIncreasing(values: number[]): void {
  for (let i = 1; i < values.length; i++) expect(values[i], `values ${values.map((v) => v.toPrecision(3)).join(' < ')}`).toBeGreaterThan(values[i - 1]);
}

describe('Laplacian pyramid', () => {
  it('has the right level sizes; a constant image has zero band-pass levels', () => {
    const img = setA[0];
    const pyr = laplacianPyramid(img, 3);
    expect(pyr.map((p) => [p.width, p.height])).toEqual([[64, 64], [32, 32], [16, 16]]);
    // A constant image has zero band-pass levels.
    const flat = laplacianPyramid({ width: 20, height: 13, data: new Float32Array(260).fill(0.4) }, 3);
    expect(flat.map((p) => [p.width, p.height])).toEqual([[20, 13], [10, 7], [5, 4]]);
    for (const v of flat[0].data) expect(Math.abs(v)).toBeLessThan(1e-12);
    for (const v of flat[2].data) expect(v).toBeCloseTo(0.4, 6);
  });
});

describe('realism scores', () => {
  it('are exactly 0 for identical sets', () => {
    const s = realismScores(setA, setA, opts);
    expect(s.swd.mean).toBe(0);
    expect(s.swd.levels.map((l) => l.resolution)).toEqual([64, 32, 16]);
    expect(s.histogram).toBe(0);
    expect(s.spectrum).toBe(0);
    expect(s.combined).toBe(0);
  });

  it('a second sample of the same process scores far below a degraded one', () => {
    const same = realismScores(setB, setA, opts).combined;
    const bad = realismScores(noisy(setB, 0.1), setA, opts).combined;
    expect(same).toBeGreaterThan(0);
    expect(bad).toBeGreaterThan(2 * same);
  });

  it('grow monotonically with added noise', () => {
    const levels = [0, 0.02, 0.05, 0.1, 0.2];
    const scores = levels.map((s) => realismScores(noisy(setA, s), setA, opts));
    expectIncreasing(scores.map((s) => s.swd.mean));
    expectIncreasing(scores.map((s) => s.histogram));
    expectIncreasing(scores.map((s) => s.spectrum));
    expectIncreasing(scores.map((s) => s.combined));
  });

  it('grow monotonically with blur (SWD, spectrum, combined)', () => {
    const scores = [0, 0.7, 1.5, 3].map((s) => realismScores(blurred(setA, s), setA, opts));
    expectIncreasing(scores.map((s) => s.swd.mean));
    expectIncreasing(scores.map((s) => s.spectrum));
    expectIncreasing(scores.map((s) => s.combined));
  });

  it('the histogram distance equals a brightness shift; SWD and spectrum ignore it', () => {
    const shifts = [0, 0.02, 0.05, 0.1];
    const h = shifts.map((d) => histogramDistance(shifted(setA, d), setA));
    expectIncreasing(h);
    // Values stay below 0.85 + 0.1 * ... (rare noisy pixels clip), so W1 is the shift to 1/256.
    for (let i = 0; i < shifts.length; i++) expect(Math.abs(h[i] - shifts[i])).toBeLessThan(2 / 256);
    const combined = shifts.map((d) => realismScores(shifted(setA, d), setA, opts).combined);
    expectIncreasing(combined);
    expect(spectrumDistance(shifted(setA, 0.1), setA)).toBeLessThan(1e-3);
  });

  it('SWD is invariant to an affine change of contrast (per-set normalisation)', () => {
    const c = mapSet(setA, (d) => d.map((v) => 0.5 * v + 0.2));
    expect(slicedWasserstein(c, setA, opts).mean).toBeLessThan(1e-3); // float32 rounding only
    expect(histogramDistance(c, setA)).toBeGreaterThan(0.05);
  });

  it('RealismReference gives the same scores as realismScores, and checks sizes', () => {
    const ref = new RealismReference(setA, opts);
    const gen = noisy(setB, 0.05);
    expect(ref.score(gen)).toEqual(realismScores(gen, setA, opts));
    expect(() => ref.score([{ width: 32, height: 64, data: new Float32Array(32 * 64) }])).toThrow(UserError);
    expect(() => realismScores([], setA)).toThrow(UserError);
    expect(() => slicedWasserstein([{ width: 5, height: 5, data: new Float32Array(25) }], [{ width: 5, height: 5, data: new Float32Array(25) }])).toThrow(/neighbourhood/);
  });

  it('supports sizes that are not powers of two', () => {
    const odd = (seed: number): Grey => {
      const rng = new Rng(seed);
      return { width: 40, height: 30, data: Float32Array.from({ length: 1200 }, () => rng.uniform()) };
    };
    const s = realismScores([odd(1), odd(2)], [odd(3)], opts);
    expect(s.swd.levels.map((l) => l.resolution)).toEqual([40]);
    expect(Number.isFinite(s.spectrum)).toBe(true);
    const smooth = [odd(1), odd(2)].map((g) => ({ ...g, data: gaussianBlur(g.data, 40, 30, 1.5) }));
    expect(spectrumDistance(smooth, [odd(3)])).toBeGreaterThan(3 * s.spectrum);
  });
});

describe('chooseBestEpoch', () => {
  const e = (epoch: number, score: number, meanStd: number): EpochScore => ({ epoch, score, paramStd: [meanStd * 0.5, meanStd * 1.5] });

  it('picks, among late epochs within 10 % of the lowest score, the broadest one', () => {
    const epochs = [
      e(1, 1.0, 0.2), // early and best: ignored
      e(2, 3.0, 0.2),
      e(3, 2.5, 0.2),
      e(4, 2.05, 0.05),
      e(5, 2.2, 0.09), // within 10 % of 2.0, broadest
      e(6, 2.0, 0.03), // lowest late score
      e(7, 1.5, 0.001), // collapsed
      e(8, 2.3, 0.2), // too high
    ];
    const best = chooseBestEpoch(epochs);
    expect(best.epoch).toBe(5);
    expect(best.candidates.sort()).toEqual([5, 6]);
    expect(best.reason).toMatch(/epoch 5/);
    expect(best.reason).toMatch(/within 10 %/);
    expect(best.reason).toMatch(/collapsed/);
    expect(chooseBestEpoch(epochs, { tolerance: 0 }).epoch).toBe(6);
    expect(chooseBestEpoch(epochs, { collapseStd: 0 }).epoch).toBe(7);
    // Physical stds with ranges of 10: epoch 6 (0.03 -> 0.003) now collapses too.
    const phys = epochs.map((x) => ({ ...x, paramStd: x.paramStd.map((v) => 10 * v) }));
    expect(chooseBestEpoch(phys, { paramRanges: [10, 10] }).epoch).toBe(5);
    expect(chooseBestEpoch(phys, { paramRanges: [10, 10], collapseStd: 0.04 })).toMatchObject({ epoch: 8, candidates: [5, 8] });
  });

  it('does not depend on the order of the list; ties go to the later epoch', () => {
    const epochs = [e(4, 1, 0.1), e(3, 1, 0.1), e(2, 5, 0.1), e(1, 5, 0.1)];
    expect(chooseBestEpoch(epochs).epoch).toBe(4);
  });

  it('falls back to all epochs, then to the lowest late score, saying so', () => {
    const a = chooseBestEpoch([e(1, 2, 0.1), e(2, 1, 0.1), e(3, 0.5, 0), e(4, 0.7, 0)]);
    expect(a.epoch).toBe(2);
    expect(a.reason).toMatch(/all epochs/);
    const b = chooseBestEpoch([e(1, 2, 0), e(2, 1, 0), e(3, 0.5, 0), e(4, 0.7, 0)]);
    expect(b.epoch).toBe(3);
    expect(b.reason).toMatch(/every epoch collapsed/);
    expect(chooseBestEpoch([e(1, NaN, 0.2)]).epoch).toBe(1);
    expect(chooseBestEpoch([{ epoch: 1, score: 1, paramStd: [] }]).epoch).toBe(1);
    expect(() => chooseBestEpoch([])).toThrow(UserError);
  });

  it('parameterSpread gives per-parameter mean and std', () => {
    const s = parameterSpread([
      [0, 0.5],
      [1, 0.5],
    ]);
    expect(s.mean).toEqual([0.5, 0.5]);
    expect(s.std).toEqual([0.5, 0]);
    expect(s.meanStd).toBe(0.25);
  });
});
