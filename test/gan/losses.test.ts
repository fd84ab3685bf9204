/**
 * The LSGAN losses (Mao et al. 2017; gan/losses.ts) on values computed by hand, with their
 * gradients: targets 1 for real and for the generator's fakes, 0 for the discriminator's fakes,
 * and the discriminator's factor 0.5.
 */
import { describe, expect, it } from 'vitest';
import { parameter, tensor } from '../../src/autodiff/index.js';
import { lsganDiscriminatorLoss, lsganGeneratorLoss } from '../../src/gan/losses.js';

describe('LSGAN losses, hand-computed', () => {
  it('generator: mean (D(fake) - 1)^2 and its gradient 2 (D - 1) / n', () => {
    // D(fake) = [0, 0.5, 2, -1]: (0-1)^2 + (0.5-1)^2 + (2-1)^2 + (-1-1)^2 = 1 + 0.25 + 1 + 4 = 6.25; / 4
    const d = parameter(tensor([0, 0.5, 2, -1], [4], 'float64'));
    const loss = lsganGeneratorLoss(d);
    expect(loss.item()).toBeCloseTo(1.5625, 12);
    loss.backward();
    expect(Array.from(d.grad!.data)).toEqual([-0.5, -0.25, 0.5, -1]);
  });

  it('discriminator: 0.5 (mean (D(real) - 1)^2 + mean D(fake)^2) and its gradients', () => {
    // real [1, 0, 3]: 0 + 1 + 4 = 5, / 3 = 5/3; fake [0.5, -0.5]: 0.25 + 0.25 = 0.5, / 2 = 0.25
    // loss = 0.5 (5/3 + 1/4) = 23/24
    const real = parameter(tensor([1, 0, 3], [3], 'float64'));
    const fake = parameter(tensor([0.5, -0.5], [2], 'float64'));
    const loss = lsganDiscriminatorLoss(real, fake);
    expect(loss.item()).toBeCloseTo(23 / 24, 12);
    loss.backward();
    // d/dr 0.5 mean (r - 1)^2 = (r - 1) / n_real; d/df 0.5 mean f^2 = f / n_fake
    const r = Array.from(real.grad!.data), f = Array.from(fake.grad!.data);
    [0, -1 / 3, 2 / 3].forEach((v, i) => expect(r[i]).toBeCloseTo(v, 12));
    [0.25, -0.25].forEach((v, i) => expect(f[i]).toBeCloseTo(v, 12));
  });

  it('zero exactly at the targets: D(real) = 1, D(fake) = 0 for D; D(fake) = 1 for G', () => {
    expect(lsganDiscriminatorLoss(tensor([1, 1], [2], 'float64'), tensor([0, 0, 0], [3], 'float64')).item()).toBe(0);
    expect(lsganGeneratorLoss(tensor([1, 1, 1], [3], 'float64')).item()).toBe(0);
    // and not at the other side's target
    expect(lsganGeneratorLoss(tensor([0], [1], 'float64')).item()).toBe(1);
    expect(lsganDiscriminatorLoss(tensor([0], [1], 'float64'), tensor([1], [1], 'float64')).item()).toBe(1);
  });
});
