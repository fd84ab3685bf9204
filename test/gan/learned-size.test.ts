import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { existsSync, readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../src/autodiff/rng.js';
import { Tensor } from '../../src/autodiff/tensor.js';
import { mul, sum } from '../../src/autodiff/ops/index.js';
import { mergeSceneConfig, presetConfig, renderScene, sampleScene, paramsVector, type Scene, type SceneConfig } from '../../src/render/index.js';
import { DEFAULT_MIN_RELATIVE } from '../../src/render/layout.js';
import { scaleSceneConfig } from '../../src/gan/demo.js';
import { sizeGradient, vertexOwners, withLearnedSize, learnSizeProblem, clampLearnedSize, SIZE_SHIFT_RANGE, SIZE_SPREAD_RANGE, type LearnedSize } from '../../src/gan/learned-size.js';
import { runTraining, type TrainOptions } from '../../src/node/train.js';
import { loadRun } from '../../src/node/generate.js';
import { loadCheckpoint } from '../../src/node/gan-checkpoint.js';
import { checkTrainerState } from '../../src/node/trainer-state-check.js';
import { InputError } from '../../src/errors.js';

/**
 * A small tio2-sem scene (24 px, coarse polyhedra) whose sizes spread so widely that about a fifth
 * of the particles are clamped to the smallest relative size. For the finite differences: the
 * rim and shadow maps off (fixed-maps.ts: they are made from the detached alpha, so the
 * renderer's vertex gradient does not see them move; docs/realism.md "Learned size
 * distribution"), and the soft raster's cutoff at its floor (its jumps of up to `cutoff` in
 * coverage would swamp a difference quotient at eps 1e-5).
 */
function smallConfig(): SceneConfig {
  return mergeSceneConfig(scaleSceneConfig(presetConfig('tio2-sem'), 24), {
    particles: { count: { min: 3, max: 5 }, baseRadius: 40, size: { type: 'lognormal', mu: -2, sigma: 1.2 }, freq: 2, placement: { outside: 0 } },
    raster: { cutoff: 1e-12 },
    params: { edgeGain: 0, rimGain: 0, shadowStrength: 0 },
  });
}

/**
 * The scene with every unclamped particle rescaled about its (fixed) centre from the size it was
 * drawn at (learned size `at`) to the size at `to`, in float64: the meshes rebuilt with the
 * centres held, which is what the gradient differentiates.
 */
function rescaled(scene: Scene, at: LearnedSize, to: LearnedSize): Scene {
  const { baseRadius: R } = scene.config.particles;
  const mu = (scene.config.particles.size as { mu: number }).mu; // the drawn-at config's: mu + at.a
  const owner = vertexOwners(scene);
  const factor = scene.layout.particles.map((p) => {
    if (p.scale <= R * DEFAULT_MIN_RELATIVE * (1 + 1e-9)) return 1;
    const dev = Math.log(p.scale / R) - mu; // e^b sigma z at `at`
    return Math.exp(to.a - at.a + (Math.exp(to.b - at.b) - 1) * dev);
  });
  const src = scene.mesh.positions;
  const pos = new Float64Array(src.length);
  for (let v = 0; v < owner.length; v++) {
    const p = scene.layout.particles[owner[v]];
    const f = factor[owner[v]];
    pos[3 * v] = p.x + f * (src[3 * v] - p.x);
    pos[3 * v + 1] = p.y + f * (src[3 * v + 1] - p.y);
    pos[3 * v + 2] = p.z + f * (src[3 * v + 2] - p.z);
  }
  // float64 positions (the renderer reads them as ArrayLike); normals are unchanged by a uniform scale
  return { ...scene, mesh: { positions: pos as unknown as Float32Array, faces: scene.mesh.faces }, noise: scene.noise };
}
const NO_CHANGE: LearnedSize = { a: 0, b: 0 };

function weightedImage(scene: Scene, w: Tensor, vertsGrad = false): { loss: number; verts: Tensor } {
  const params = new Tensor(Float64Array.from(paramsVector(scene.config)), [paramsVector(scene.config).length]);
  const r = renderScene(scene, params, { masks: false, vertsRequireGrad: vertsGrad });
  const L = sum(mul(r.image, w));
  if (vertsGrad) L.backward();
  return { loss: L.item(), verts: r.verts };
}

describe('learned size: dL/da and dL/db through the renderer', () => {
  it('match float64 central differences of a random weighting of the image (clamped particles, a = b = 0 included)', () => {
    let clampedSeen = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1 << 30 }),
        fc.oneof(fc.constant(0), fc.double({ min: -0.3, max: 0.3, noNaN: true })),
        fc.oneof(fc.constant(0), fc.double({ min: -0.3, max: 0.3, noNaN: true })),
        (seed, a, b) => {
          const at = { a, b };
          const cfg = withLearnedSize(smallConfig(), at);
          const scene = sampleScene(cfg, new Rng(seed));
          const R = cfg.particles.baseRadius;
          clampedSeen += scene.layout.particles.filter((p) => p.scale <= R * DEFAULT_MIN_RELATIVE * (1 + 1e-9)).length;
          const wr = new Rng(seed ^ 0x9e37);
          const w = new Tensor(Float64Array.from({ length: cfg.width * cfg.height }, () => wr.normal()), [1, 1, cfg.height, cfg.width]);
          // the analytic gradient, from the vertices' gradient of the scene as drawn
          const { verts } = weightedImage(rescaled(scene, at, at), w, true);
          const g = sizeGradient(scene, verts.grad!.data);
          const eps = 1e-5;
          const fd = (d: LearnedSize) => (weightedImage(rescaled(scene, at, { a: a + d.a, b: b + d.b }), w).loss - weightedImage(rescaled(scene, at, { a: a - d.a, b: b - d.b }), w).loss) / (2 * eps);
          const da = fd({ a: eps, b: 0 });
          const db = fd({ a: 0, b: eps });
          const scale = Math.max(1e-6, Math.abs(da), Math.abs(db));
          expect(Math.abs(g.a - da) / scale, `dL/da ${g.a} vs ${da}`).toBeLessThan(2e-4);
          expect(Math.abs(g.b - db) / scale, `dL/db ${g.b} vs ${db}`).toBeLessThan(2e-4);
        },
      ),
      { numRuns: 8, seed: 14, examples: [[3, 0, 0]] },
    );
    expect(clampedSeen).toBeGreaterThan(0);
  }, 120_000);

  it('a clamped particle contributes nothing; the gradient is not all zero', () => {
    const cfg = smallConfig();
    for (let seed = 0; seed < 50; seed++) {
      const scene = sampleScene(cfg, new Rng(seed));
      const R = cfg.particles.baseRadius;
      const clamped = scene.layout.particles.findIndex((p) => p.scale <= R * DEFAULT_MIN_RELATIVE * (1 + 1e-9));
      if (clamped < 0) continue;
      // a vertex gradient on the clamped particle's vertices only
      const owner = vertexOwners(scene);
      const g = new Float64Array(scene.mesh.positions.length);
      owner.forEach((o, v) => {
        if (o === clamped) g.fill(1, 3 * v, 3 * v + 3);
      });
      expect(sizeGradient(scene, g)).toEqual({ a: 0, b: 0 });
      // and on every vertex: not zero (the unclamped ones move)
      g.fill(1);
      expect(sizeGradient(scene, g).a).not.toBe(0);
      return;
    }
    throw new Error('no scene with a clamped particle');
  });
});

describe('learned size: the scene config', () => {
  it('a = b = 0 is the config itself; otherwise mu + a and sigma, sigmaLow times e^b, the same deviates drawn', () => {
    const cfg = smallConfig();
    expect(withLearnedSize(cfg, NO_CHANGE)).toBe(cfg);
    const split = mergeSceneConfig(cfg, { particles: { size: { type: 'lognormal', mu: -2, sigma: 1.2, sigmaLow: 0.9 } } });
    const f = withLearnedSize(split, { a: 0.1, b: 0.2 }).particles.size;
    expect(f).toEqual({ type: 'lognormal', mu: -2 + 0.1, sigma: 1.2 * Math.exp(0.2), sigmaLow: 0.9 * Math.exp(0.2) });
    // the sizes of a uniform layout (no placement rejections): s0 exp(a + (e^b - 1) sigma z), clamped ones kept
    const uni = mergeSceneConfig(cfg, { particles: { placement: { type: 'uniform' } } });
    const s0 = sampleScene(uni, new Rng(5)).layout.particles;
    const s1 = sampleScene(withLearnedSize(uni, { a: 0.1, b: 0.2 }), new Rng(5)).layout.particles;
    const R = uni.particles.baseRadius;
    s0.forEach((p, i) => {
      const rel = p.scale / R;
      if (rel <= DEFAULT_MIN_RELATIVE * (1 + 1e-9)) return;
      const dev = Math.log(rel) + 2; // sigma z
      const want = Math.max(DEFAULT_MIN_RELATIVE, rel * Math.exp(0.1 + (Math.exp(0.2) - 1) * dev));
      expect(s1[i].scale / R).toBeCloseTo(want, 10);
    });
  });
  it('refuses scenes it cannot differentiate: not lognormal, wires, a perspective camera', () => {
    const cfg = smallConfig();
    expect(learnSizeProblem(cfg)).toBeNull();
    expect(learnSizeProblem(mergeSceneConfig(cfg, { particles: { size: { type: 'gaussian', mean: 1, std: 0.2 } } }))).toMatch(/lognormal/);
    expect(learnSizeProblem(mergeSceneConfig(cfg, { particles: { shape: 'wire' } }))).toMatch(/wire/);
    expect(learnSizeProblem(mergeSceneConfig(cfg, { camera: { kind: 'perspective' } }))).toMatch(/orthographic/);
  });
  it('clamps a and b to their ranges', () => {
    expect(clampLearnedSize({ a: 9, b: -9 })).toEqual({ a: SIZE_SHIFT_RANGE[1], b: SIZE_SPREAD_RANGE[0] });
    expect(clampLearnedSize({ a: 0.01, b: -0.02 })).toEqual({ a: 0.01, b: -0.02 });
  });
});

const tmp = () => mkdtempSync(join(tmpdir(), 'drg-size-'));
function trainOpts(over: Partial<TrainOptions>): TrainOptions {
  return {
    preset: 'tio2-sem', cropBottom: 0, batch: 1, lrD: 1e-4, norm: 'batch', evalSamples: 2, seed: 3, quiet: true,
    patch: 32, epochs: 2, stepsPerEpoch: 3, baseFilters: 4, configs: 4, ...over,
  };
}
const jsonLines = (f: string) => readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

describe('learned size in training runs', () => {
  it('default runs carry no trace of it (config, checkpoint state, metrics)', async () => {
    const d = tmp();
    try {
      const r = await runTraining(trainOpts({ out: join(d, 'run'), epochs: 1 }));
      expect(JSON.parse(readFileSync(join(r.runDir, 'config.json'), 'utf8')).gan).not.toHaveProperty('learnSize');
      expect(loadCheckpoint(r.runDir, 1).state).not.toHaveProperty('size');
      for (const row of jsonLines(join(r.runDir, 'metrics.jsonl'))) expect(row).not.toHaveProperty('size');
      expect(r.trainer.size).toEqual(NO_CHANGE);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  }, 300_000);

  it('learns a and b, logs them per epoch, and a run killed mid-epoch resumes to the same a, b and weights; generate draws at the chosen epoch\'s size', async () => {
    const a = tmp();
    const b = tmp();
    try {
      const full = await runTraining(trainOpts({ out: join(a, 'run'), learnSize: true }));
      const rows = jsonLines(join(a, 'run', 'metrics.jsonl')).filter((r) => r.type === 'epoch');
      expect(rows.map((r) => r.epoch)).toEqual([0, 1, 2]);
      expect(rows[0].size).toEqual(NO_CHANGE);
      const last = full.trainer.size;
      expect(rows[2].size).toEqual(last);
      expect(last.a).not.toBe(0);
      expect(last.b).not.toBe(0);
      expect(readFileSync(join(a, 'run', 'train.log'), 'utf8')).toContain('learned size shift a');
      // killed after 4 steps (epoch 2 interrupted), resumed
      await runTraining(trainOpts({ out: join(b, 'run'), learnSize: true, stopAfterSteps: 4 }));
      const resumed = await runTraining(trainOpts({ resume: join(b, 'run') }));
      expect(resumed.trainer.size).toEqual(last);
      const wa = loadCheckpoint(join(a, 'run'), 2);
      const wb = loadCheckpoint(join(b, 'run'), 2);
      for (const k of Object.keys(wa.fcn)) expect(Array.from(wb.fcn[k].data), k).toEqual(Array.from(wa.fcn[k].data));
      expect(wb.state).toEqual(wa.state);
      // generate: the epoch's a, b folded into the scene config
      const base = JSON.parse(readFileSync(join(a, 'run', 'config.json'), 'utf8')).gan.scene.particles.size;
      for (const epoch of [1, 2]) {
        const run = loadRun(join(a, 'run'), epoch);
        const at = rows[epoch].size as LearnedSize;
        expect(run.config.gan.scene.particles.size).toEqual({ type: 'lognormal', mu: base.mu + at.a, sigma: base.sigma * Math.exp(at.b) });
      }
      expect(existsSync(join(a, 'run', 'best.json'))).toBe(true);
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  }, 600_000);

  it('a checkpoint with a damaged size is an InputError naming the field', () => {
    const ok = { epoch: 1, step: 1, rng: { data: [1, 2, 3, 4], dropout: [1, 2, 3, 4], render: [1, 2, 3, 4] }, optG: { kind: 'adam', steps: [], buffers: {} }, optD: { kind: 'adam', steps: [], buffers: {} } };
    const opt = { kind: 'adam', steps: [1], buffers: { exp_avg: [[0.1, 0.2]], exp_avg_sq: [[0.01, 0.02]] } };
    expect(() => checkTrainerState({ ...ok, size: { a: 0.1, b: -0.1, opt } }, 'optim.json')).not.toThrow();
    expect(() => checkTrainerState({ ...ok, size: { a: 'x', b: 0, opt } }, 'optim.json')).toThrow(InputError);
    expect(() => checkTrainerState({ ...ok, size: { a: 0, b: 0, opt: { ...opt, buffers: { exp_avg: [[NaN, 0]] } } } }, 'optim.json')).toThrow(/size\.opt/);
  });
});
