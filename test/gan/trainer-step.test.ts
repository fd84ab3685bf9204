/**
 * The training step shares one discriminator forward pass between the G and the D update and
 * backpropagates two losses through it (src/gan/trainer.ts). This checks it against the plain
 * formulation it replaces: D run twice on real + fake (once for G with D's weights frozen, once
 * for D with the fake detached), each pass with its own backward: GanTrainer.trainStepTwoPass.
 * On the reference backend the two agree bit for bit; the tolerance leaves room for backends
 * whose threaded reductions may differ in order.
 */
import { describe, it, expect } from 'vitest';
import '../../src/autodiff/index.js';
import { GanTrainer, type GanConfig } from '../../src/gan/trainer.js';
import { demoSetup } from '../../src/gan/demo.js';
import type { NormKind } from '../../src/gan/models.js';
import type { DiscInput } from '../../src/gan/patch-normalise.js';

function pair(batch: number, norm: NormKind, dInput: DiscInput = 'raw'): [GanTrainer, GanTrainer] {
  const d = demoSetup({ size: 32, count: 6, seed: 2 });
  const config: GanConfig = {
    preset: 'tio2-sem', scene: d.scene, learned: d.learned, patch: 32, epochs: 1, stepsPerEpoch: 3, batch, lrG: 1e-3, lrD: 1e-3,
    betas: [0.5, 0.999], baseFilters: 4, discLayers: 3, norm, seed: 7, numConfigs: 6, evalSamples: 1, dInput,
  };
  return [new GanTrainer(config, d.reals), new GanTrainer(config, d.reals)];
}

/** Largest |a - b| / (1 + |b|) over every parameter of both networks. */
function maxParamDiff(a: GanTrainer, b: GanTrainer): number {
  let worst = 0;
  const named = (t: GanTrainer) => [...t.fcn.namedParameters().map(([n, p]) => [`fcn.${n}`, p] as const), ...t.disc.namedParameters().map(([n, p]) => [`disc.${n}`, p] as const)];
  const pb = new Map(named(b));
  expect(pb.size).toBe(named(a).length);
  for (const [name, p] of named(a)) {
    const q = pb.get(name)!.data;
    for (let i = 0; i < p.size; i++) worst = Math.max(worst, Math.abs(p.data[i] - q[i]) / (1 + Math.abs(q[i])));
  }
  return worst;
}

describe('GAN training step with one shared discriminator forward pass', () => {
  for (const [batch, norm, dInput] of [[1, 'batch', 'raw'], [2, 'batch', 'raw'], [1, 'instance', 'raw'], [1, 'batch', 'raw+normalised']] as const) {
    it(`gives the same parameters and losses as two separate passes (batch ${batch}, ${norm} norm, D input ${dInput})`, () => {
      const [fast, naive] = pair(batch, norm, dInput);
      for (let k = 0; k < 3; k++) {
        const r = fast.trainStep();
        const q = naive.trainStepTwoPass();
        for (const key of ['lossG', 'lossD', 'dReal', 'dFake'] as const) expect(r[key], `${key} at step ${k}`).toBeCloseTo(q[key], 6);
        expect(maxParamDiff(fast, naive), `parameters after step ${k}`).toBeLessThan(1e-6);
      }
      // Every parameter moved (the comparison is not between two untouched networks), and the
      // step left no gradient and no tape entry behind.
      const [, fresh] = pair(batch, norm, dInput);
      expect(maxParamDiff(fast, fresh)).toBeGreaterThan(1e-5);
      for (const [name, p] of [...fast.fcn.namedParameters(), ...fast.disc.namedParameters()]) {
        expect(p.grad, name).toBeNull();
        expect(p.node, name).toBeNull();
        expect(p.requiresGrad, name).toBe(true);
      }
    });
  }

  it('updates BatchNorm running statistics once per step with the joint real + fake batch', () => {
    const [fast, naive] = pair(1, 'batch');
    fast.trainStep();
    naive.trainStepTwoPass();
    // From running mean 0 / var 1 and momentum m = 0.1, one update with batch statistics
    // (mu, v) gives m mu and (1 - m) + m v; the naive step applies it twice with the same
    // batch: (1 - (1 - m)^2) mu and (1 - m)^2 + (1 - (1 - m)^2) v.
    const m = 0.1;
    const twice = 1 - (1 - m) ** 2;
    const buffers = (t: GanTrainer) => new Map(Object.entries(t.disc.stateDict()));
    const bf = buffers(fast);
    const bn = buffers(naive);
    let checked = 0;
    for (const [name, tf] of bf) {
      const tn = bn.get(name)!;
      if (name.endsWith('running_mean')) {
        for (let i = 0; i < tf.size; i++) expect(tf.data[i]).toBeCloseTo((tn.data[i] / twice) * m, 5);
        checked++;
      } else if (name.endsWith('running_var')) {
        for (let i = 0; i < tf.size; i++) expect(tf.data[i]).toBeCloseTo(1 - m + ((tn.data[i] - (1 - m) ** 2) / twice) * m, 5);
      } else if (name.endsWith('num_batches_tracked')) {
        expect(tf.data[0]).toBe(1);
        expect(tn.data[0]).toBe(2);
      }
    }
    expect(checked).toBe(3);
  });
});
