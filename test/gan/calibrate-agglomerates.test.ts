import { describe, expect, it } from 'vitest';
import '../../src/autodiff/index.js';
import { Rng } from '../../src/autodiff/rng.js';
import { calibrateAgglomerates, calibrateCountSpread, evaluateAgglomerateSetting, type AgglomerateRunner, noiselessRenders, AGGLOMERATE_GRID, MAX_CALIBRATED_COUNT } from '../../src/gan/calibrate.js';
import { scaleSceneConfig } from '../../src/gan/demo.js';
import { mergeSceneConfig, presetConfig } from '../../src/render/index.js';
import { paramsVector } from '../../src/render/params.js';

const base = mergeSceneConfig(scaleSceneConfig(presetConfig('tio2-sem'), 96, { keepParticleSize: true }), { particles: { baseRadius: 10, count: { min: 6, max: 10 } } });

function renders(cfg: typeof base, n: number, seed: number) {
  return noiselessRenders(cfg, paramsVector(cfg), n, new Rng(seed));
}

describe('agglomerate calibration', () => {
  it('recovers dense agglomerates from "real" patches rendered with them (from a sparse start)', async () => {
    const dense = mergeSceneConfig(base, { particles: { placement: { maxAgglomerates: 1, contact: 0.7 } } });
    const sparse = mergeSceneConfig(base, { particles: { placement: { maxAgglomerates: 5, contact: 1 } } });
    const r = (await calibrateAgglomerates(sparse, renders(dense, 16, 99), 'bright', 16))!;
    // every setting once; one agglomerate grows the same way with either attach rule
    const { maxAgglomerates: ks, contact: cs, attach: as, countDist: ds } = AGGLOMERATE_GRID;
    expect(r.candidates).toHaveLength((ks.length * as.length - ks.filter((k) => k === 1).length * (as.length - 1)) * cs.length * ds.length);
    const start = r.candidates.find((c) => c.maxAgglomerates === 5 && c.contact === 1 && c.attach === 'uniform' && c.count.dist === 'uniform')!;
    const chosen = r.candidates.find((c) => c.maxAgglomerates === r.maxAgglomerates && c.contact === r.contact && c.attach === r.attach && c.count.dist === r.count.dist)!;
    // the cheapest few are measured again on more renders; the chosen one is the cheapest of those
    const refined = r.candidates.filter((c) => c.refinedCost !== undefined);
    expect(refined.length).toBe(4);
    expect(chosen.refinedCost).toBe(Math.min(...refined.map((c) => c.refinedCost!)));
    expect(Math.max(...refined.map((c) => c.cost))).toBeLessThanOrEqual(Math.min(...r.candidates.filter((c) => c.refinedCost === undefined).map((c) => c.cost)));
    expect(chosen.cost).toBeLessThan(start.cost);
    expect(r.contact).toBeLessThan(1);
    expect(r.maxAgglomerates).toBeLessThan(5);
    expect(r.real.particlesPerComponent).toBeGreaterThan(start.particlesPerComponent);
    // each setting is judged at its own coverage-matched counts: the chosen one covers about as much as the "real" patches
    expect(Math.abs(Math.log(r.synthetic.coverage / r.real.coverage))).toBeLessThan(0.25);
  });

  it('counts are scaled per setting, at most MAX_CALIBRATED_COUNT', async () => {
    // "real" patches far denser than the scene's few particles: every setting needs more particles
    const dense = mergeSceneConfig(base, { particles: { count: { min: 14, max: 18 }, placement: { maxAgglomerates: 3, contact: 0.85 } } });
    const few = mergeSceneConfig(base, { particles: { count: { min: 2, max: 3 } } });
    const r = (await calibrateAgglomerates(few, renders(dense, 8, 5), 'bright', 8))!;
    for (const c of r.candidates) {
      expect(c.count.max).toBeGreaterThan(3);
      expect(c.count.max).toBeLessThanOrEqual(MAX_CALIBRATED_COUNT);
      expect(c.count.min).toBeLessThanOrEqual(c.count.max);
    }
  });

  it('the result does not depend on the order the jobs of a pass run in (jobs are plain data)', async () => {
    const dense = mergeSceneConfig(base, { particles: { placement: { maxAgglomerates: 2, contact: 0.7 } } });
    const real = renders(dense, 4, 7);
    // runs each pass's jobs in reverse order, after a structured clone (as a worker thread gets them)
    const reversed: AgglomerateRunner = async (jobs) => jobs.map((_, i) => jobs.length - 1 - i).map((i) => ({ i, e: evaluateAgglomerateSetting(structuredClone(jobs[i])) })).sort((a, b) => a.i - b.i).map((x) => x.e);
    const here = await calibrateAgglomerates(base, real, 'bright', 2, 3);
    const there = await calibrateAgglomerates(base, real, 'bright', 2, 3, reversed);
    expect(there).toEqual(here);
    // both passes go through the runner (the test can fail): every setting once, then the 4 cheapest on 4 x the renders
    const passes: number[][] = [];
    const counting: AgglomerateRunner = async (jobs) => (passes.push(jobs.map((j) => j.renders)), jobs.map(evaluateAgglomerateSetting));
    expect(await calibrateAgglomerates(base, real, 'bright', 2, 3, counting)).toEqual(here);
    expect(passes).toEqual([new Array(here!.candidates.length).fill(2), [8, 8, 8, 8]]);
  });

  it('uniform placement or no real particles: null', async () => {
    const uniform = mergeSceneConfig(base, { particles: { placement: { type: 'uniform' } } });
    expect(await calibrateAgglomerates(uniform, renders(base, 2, 1), 'bright', 2)).toBeNull();
    expect(await calibrateAgglomerates(base, [{ width: 96, height: 96, data: new Float32Array(96 * 96).fill(0.2) }], 'bright', 2)).toBeNull();
  });

  it('count spread: the ends of the count range cover the 5th / 95th percentile of the real particle fraction', () => {
    const fractions = Array.from({ length: 101 }, (_, i) => 0.01 + 0.004 * i); // 0.01 .. 0.41
    const r = calibrateCountSpread(base, fractions, 8)!;
    expect(r.real[0]).toBeCloseTo(0.03, 9);
    expect(r.real[1]).toBeCloseTo(0.39, 9);
    expect(r.min).toBe(Math.max(1, Math.round(0.03 / r.perParticle)));
    expect(r.max).toBe(Math.round(0.39 / r.perParticle));
    expect(r.max).toBeGreaterThan(3 * r.min);
    expect(calibrateCountSpread(base, [0.1], 4)).toBeNull();
  });
});
