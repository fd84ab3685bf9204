/**
 * What the GAN's discriminator sees with --d-input raw+normalised (src/gan/patch-normalise.ts):
 * channel 0 the raw patch, channel 1 the same patch at zero mean and unit std per patch (as the
 * C2ST sees it), with gradients through the normalisation back to the renderer.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import '../../src/autodiff/index.js';
import { Tensor } from '../../src/autodiff/tensor.js';
import { Rng } from '../../src/autodiff/rng.js';
import { sum } from '../../src/autodiff/ops/index.js';
import { gradcheck, randomInput } from '../../src/autodiff/gradcheck.js';
import { discInput, normaliseBatch } from '../../src/gan/patch-normalise.js';
import { GanTrainer, type GanConfig } from '../../src/gan/trainer.js';
import { demoSetup } from '../../src/gan/demo.js';
import { demoGanConfig } from './helpers.js';

/** Two 8 x 8 patches with different levels and contrasts: batch-wide statistics would not normalise both. */
function twoPatches(seed: number): Tensor {
  const rng = new Rng(seed);
  const d = new Float32Array(2 * 64);
  for (let i = 0; i < 64; i++) d[i] = 0.2 + 0.05 * rng.uniform();
  for (let i = 0; i < 64; i++) d[64 + i] = 0.3 + 0.6 * rng.uniform();
  return new Tensor(d, [2, 1, 8, 8]);
}

function stats(v: ArrayLike<number>): { mean: number; std: number } {
  const a = Array.from(v);
  const m = a.reduce((s, x) => s + x, 0) / a.length;
  return { mean: m, std: Math.sqrt(a.reduce((s, x) => s + (x - m) ** 2, 0) / a.length) };
}

describe('discriminator input raw+normalised', () => {
  it('is [raw, per-patch normalised]: channel 1 has zero mean and unit std in each patch', () => {
    const x = twoPatches(3);
    const y = discInput(x, 'raw+normalised');
    expect(y.shape).toEqual([2, 2, 8, 8]);
    for (const b of [0, 1]) {
      expect(Array.from(y.data.subarray(b * 128, b * 128 + 64))).toEqual(Array.from(x.data.subarray(b * 64, (b + 1) * 64)));
      const s = stats(y.data.subarray(b * 128 + 64, (b + 1) * 128));
      expect(s.mean).toBeCloseTo(0, 5);
      expect(s.std).toBeCloseTo(1, 2); // eps 1e-6 against a variance of ~2e-4 in patch 0
    }
    expect(discInput(x, 'raw')).toBe(x);
  });

  it('normaliseBatch: gradient matches central finite differences in float64 (random patches)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), (seed) => {
        const rng = new Rng(seed);
        const x = randomInput(rng, [2, 1, 4, 5], 0, 1);
        const r = gradcheck((t) => normaliseBatch(t), [x], { seed });
        expect(r.ok, JSON.stringify(r.failure)).toBe(true);
        // The composite as the discriminator gets it (a detached channel 1 fails here).
        const r2 = gradcheck((t) => discInput(t, 'raw+normalised'), [x], { seed: seed + 1 });
        expect(r2.ok, JSON.stringify(r2.failure)).toBe(true);
      }),
      { numRuns: 8 },
    );
  });

  it('in the trainer, D reads the normalised channel: with its raw-channel weights zeroed it ignores per-patch level and contrast, and still passes gradient to the patch', () => {
    const d = demoSetup({ size: 32, count: 4, seed: 2 });
    const config = demoGanConfig(d, { lrD: 1e-3, norm: 'none', seed: 5, numConfigs: 4, dInput: 'raw+normalised' });
    const t = new GanTrainer(config, d.reals);
    const [, w] = t.disc.namedParameters()[0]; // first conv weight [ndf, 2, 4, 4]
    expect(w.shape[1]).toBe(2);
    for (let o = 0; o < w.shape[0]; o++) w.data.fill(0, o * 32, o * 32 + 16); // channel 0 (raw) off
    const rng = new Rng(4);
    const px = Float32Array.from({ length: 2 * 32 * 32 }, () => rng.uniform());
    const x = new Tensor(px, [2, 1, 32, 32], true);
    // Each patch with its own level and contrast.
    const shifted = new Tensor(px.map((v, i) => (i < 1024 ? 0.1 + 0.5 * v : 0.4 + 0.3 * v)), [2, 1, 32, 32]);
    const a = t.discriminate(x);
    const b = t.discriminate(shifted);
    for (let i = 0; i < a.size; i++) expect(b.data[i]).toBeCloseTo(a.data[i], 3);
    sum(a).backward();
    const g = x.grad!.data;
    expect(g.some((v) => Math.abs(v) > 1e-6)).toBe(true);
  });
});
