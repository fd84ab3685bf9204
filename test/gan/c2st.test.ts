import { describe, expect, it } from 'vitest';
import '../../src/autodiff/index.js';
import { Rng } from '../../src/autodiff/rng.js';
import { c2stInterval, c2stSeedJobs, c2stSummary, classifierTwoSampleTest, normalisePatch, runC2stSeed, splitBySource, tileSquare, type C2stSource } from '../../src/gan/c2st.js';
import { UserError } from '../../src/errors.js';

const P = 16;

/** Smooth blobs: a sum of a few wide Gaussians (a "particle" texture). */
function blobs(rng: Rng, gain = 1, offset = 0): Float32Array {
  const d = new Float32Array(P * P);
  for (let k = 0; k < 3; k++) {
    const cx = rng.range(0, P), cy = rng.range(0, P), s = rng.range(2, 4);
    for (let y = 0; y < P; y++) for (let x = 0; x < P; x++) d[y * P + x] += Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s));
  }
  for (let i = 0; i < d.length; i++) d[i] = offset + gain * (0.2 * d[i] + 0.02 * rng.normal());
  return d;
}

/** White noise around a constant (same mean and std after normalisation, different structure). */
function noise(rng: Rng): Float32Array {
  return Float32Array.from({ length: P * P }, () => 0.3 + 0.1 * rng.normal());
}

function sources(prefix: string, n: number, perSource: number, make: () => Float32Array): C2stSource[] {
  return Array.from({ length: n }, (_, i) => ({ name: `${prefix}${i}`, patches: Array.from({ length: perSource }, make) }));
}

const opts = { patch: P, seeds: 2, epochs: 10, maxPerClass: 40 };

describe('classifier two-sample test', () => {
  it('tells smooth blobs from white noise (accuracy near 1)', () => {
    const rng = new Rng(1);
    const r = classifierTwoSampleTest(sources('r', 8, 10, () => blobs(rng)), sources('s', 8, 10, () => noise(rng)), opts);
    expect(r.accuracy).toBeGreaterThan(0.9);
    expect(r.ci[0]).toBeGreaterThan(0.75);
    expect(r.seeds).toHaveLength(2);
    expect(r.real).toEqual({ sources: 8, patches: 80 });
  });

  it('two samples of one distribution: chance (0.5 inside the interval)', () => {
    const rng = new Rng(2);
    const r = classifierTwoSampleTest(sources('r', 8, 10, () => blobs(rng)), sources('s', 8, 10, () => blobs(rng)), opts);
    expect(r.ci[0]).toBeLessThan(0.5);
    expect(r.ci[1]).toBeGreaterThan(0.5);
    expect(r.accuracy).toBeLessThan(0.7);
  });

  it('the seeds are independent jobs: run in any order on cloned data, they give the same result', () => {
    const rng = new Rng(4);
    const real = sources('r', 4, 6, () => blobs(rng));
    const synth = sources('s', 4, 6, () => blobs(rng, 1.5));
    const o = { patch: P, seeds: 3, epochs: 2, maxPerClass: 20, seed: 7 };
    const whole = classifierTwoSampleTest(real, synth, o);
    const jobs = c2stSeedJobs(real, synth, o);
    expect(jobs.map((j) => j.settings.seed)).toEqual([7, 8, 9]);
    const backwards = [2, 1, 0].map((k) => runC2stSeed(structuredClone(jobs[k]))).reverse();
    expect(c2stSummary(jobs, backwards)).toEqual(whole);
    // each seed its own classifier: the seeds' results differ, so the order above mattered
    expect(new Set(backwards.map((r) => r.finalLoss)).size).toBe(3);
  });

  it('brightness and contrast alone do not decide (each patch is normalised)', () => {
    const rng = new Rng(3);
    const r = classifierTwoSampleTest(sources('r', 8, 10, () => blobs(rng)), sources('s', 8, 10, () => blobs(rng, 2.5, 0.4)), opts);
    expect(r.accuracy).toBeLessThan(0.7);
    expect(r.ci[0]).toBeLessThan(0.5);
  });

  it('splits by source: no image has patches on both sides; training takes the dense patches', () => {
    const rng = new Rng(4);
    const src: C2stSource[] = Array.from({ length: 7 }, (_, i) => ({
      name: `img${i}`,
      patches: Array.from({ length: 1 + i }, () => new Float32Array([i])),
      trainPatches: Array.from({ length: 3 * (1 + i) }, () => new Float32Array([100 + i])),
    }));
    for (let k = 0; k < 20; k++) {
      const s = splitBySource(src, 0.5, rng);
      expect(s.trainNames.length).toBeGreaterThan(0);
      expect(s.testNames.length).toBeGreaterThan(0);
      expect(s.trainNames.filter((n) => s.testNames.includes(n))).toEqual([]);
      expect(s.trainNames.length + s.testNames.length).toBe(7);
      const trainIds = new Set(s.train.map((p) => p[0] - 100));
      const testIds = new Set(s.test.map((p) => p[0]));
      expect([...trainIds].sort()).toEqual(s.trainNames.map((n) => Number(n.slice(3))).sort());
      expect([...testIds].sort()).toEqual(s.testNames.map((n) => Number(n.slice(3))).sort());
    }
  });

  it('refuses a side with one source image, and patches of the wrong size', () => {
    const rng = new Rng(5);
    expect(() => classifierTwoSampleTest(sources('r', 1, 10, () => blobs(rng)), sources('s', 4, 2, () => blobs(rng)), opts)).toThrow(/at least 2 source images/);
    const bad = sources('s', 3, 2, () => blobs(rng));
    bad[1].patches[0] = new Float32Array(10);
    expect(() => classifierTwoSampleTest(sources('r', 3, 2, () => blobs(rng)), bad, opts)).toThrow(UserError);
  });

  it('normalisePatch: zero mean, unit std; a flat patch gives zeros', () => {
    const n = normalisePatch(Float32Array.from([1, 2, 3, 4]));
    expect(n.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 6);
    expect(Math.sqrt(n.reduce((a, b) => a + b * b, 0) / 4)).toBeCloseTo(1, 5);
    expect([...normalisePatch(new Float32Array(4).fill(0.7))]).toEqual([0, 0, 0, 0]);
  });

  it('tileSquare: non-overlapping tiles, the last aligned to the edge', () => {
    const img = Float32Array.from({ length: 25 }, (_, i) => i);
    const t = tileSquare(img, 5, 2);
    expect(t).toHaveLength(9);
    expect([...t[8]]).toEqual([18, 19, 23, 24]);
    expect(tileSquare(img, 5, 5)[0]).toBe(img);
  });

  it('c2stInterval: the binomial error of one test set plus the spread of the seeds', () => {
    const [lo, hi] = c2stInterval([0.8, 0.8, 0.8], 100);
    expect(hi - lo).toBeCloseTo(2 * 1.96 * Math.sqrt(0.16 / 100), 9);
    const [lo2, hi2] = c2stInterval([0.7, 0.8, 0.9], 100);
    expect(hi2 - lo2).toBeCloseTo(2 * 1.96 * Math.sqrt(0.16 / 100 + 0.01 / 3), 9);
    expect(c2stInterval([1, 1], 50)).toEqual([1, 1]);
  });
});
