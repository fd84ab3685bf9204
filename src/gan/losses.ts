/** LSGAN (least-squares GAN) losses, Mao et al. 2017, as the reference uses them. */
import { mean, square, sub, add, mul } from '../autodiff/ops/index.js';
import type { Tensor } from '../autodiff/tensor.js';

/** Generator: make the discriminator output 1 on fakes. */
export function lsganGeneratorLoss(dFake: Tensor): Tensor {
  return mean(square(sub(dFake, 1)));
}

/** Discriminator: 0.5 (E[(D(real) - 1)^2] + E[D(fake)^2]). */
export function lsganDiscriminatorLoss(dReal: Tensor, dFake: Tensor): Tensor {
  return mul(add(mean(square(sub(dReal, 1))), mean(square(dFake))), 0.5);
}
