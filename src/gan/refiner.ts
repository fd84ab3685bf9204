/**
 * A learned, mask-preserving refiner after the renderer (SimGAN: Shrivastava et al., "Learning
 * from Simulated and Unsupervised Images through Adversarial Training", CVPR 2017): a small fully
 * convolutional net R, applied as out = x + R(x), trained adversarially against the real patches
 * with the self-regularisation lambda * mean |R(x)| that keeps the refined image close to the
 * render. R has no downsampling and a receptive field of 2 * layers + 1 px, so it can change local
 * appearance (the particle bodies' grain and shading) but cannot move a particle or draw a new
 * one: the exact masks of the render stay valid. Its last layer starts at zero, so the untrained
 * refiner is the identity.
 *
 * Training runs after the GAN, with the renderer frozen at the chosen epoch: each step refines one
 * render from a fixed pool and scores it with a fresh PatchGAN of the run's shape (LSGAN) that
 * sees every patch normalised to zero mean and unit std, as the classifier two-sample test does:
 * the grey levels are the renderer's calibrated parameters' job, the refiner's is local structure.
 * (The chosen epoch's own discriminator on the raw images was tried first: the refiner then mostly
 * darkened the bodies and the substrate, and the C2ST got worse; docs/realism.md.) The
 * discriminator's fake side holds the current refined image and one from a history buffer of
 * earlier refined images (SimGAN), so that it does not forget what earlier refiners drew. What is
 * saved is a running average of the refiner's weights: adversarial weights oscillate.
 */
import { Tensor, allocData } from '../autodiff/tensor.js';
import { noGrad } from '../autodiff/tape.js';
import { Rng } from '../autodiff/rng.js';
import { Adam } from '../autodiff/optim/index.js';
import { Module, Sequential, Conv2d, ReLU } from '../autodiff/nn/index.js';
import { abs, add, clamp, concat, mean, mul, slice } from '../autodiff/ops/index.js';
import { normaliseBatch } from './patch-normalise.js';
import { lsganDiscriminatorLoss, lsganGeneratorLoss } from './losses.js';
import { augment } from './patches.js';
import type { PatchDiscriminator } from './models.js';
import { NumericalError, checkFiniteGradients, tracedBackward } from './trainer.js';

/** What a refiner is and how it is trained (stored with it: refiner.json). */
export interface RefinerSettings {
  /** Training steps (one refined render each). */
  steps: number;
  /** Weight of the self-regularisation mean |R(x) - x| against the LSGAN loss. */
  lambda: number;
  /** 3x3 convolutions (receptive field 2 * layers + 1 px). */
  layers: number;
  /** Channels of the hidden convolutions. */
  channels: number;
  /** Adam learning rate of the refiner (the discriminator keeps the run's lrD). */
  lr: number;
  seed: number;
}

export const DEFAULT_REFINER: Omit<RefinerSettings, 'steps' | 'seed'> = { lambda: 0.1, layers: 4, channels: 16, lr: 1e-3 };

/** Bounds of the settings, checked where they come in (flags, refiner.json). */
export function refinerSettingsProblem(s: RefinerSettings): string | null {
  if (!Number.isInteger(s.steps) || s.steps < 0 || s.steps > 100_000) return `steps must be an integer from 0 to 100000 (got ${s.steps})`;
  if (!(Number.isFinite(s.lambda) && s.lambda >= 0 && s.lambda <= 1e6)) return `lambda must be a number from 0 to 1e6 (got ${s.lambda})`;
  if (!Number.isInteger(s.layers) || s.layers < 2 || s.layers > 16) return `layers must be an integer from 2 to 16 (got ${s.layers})`;
  if (!Number.isInteger(s.channels) || s.channels < 1 || s.channels > 128) return `channels must be an integer from 1 to 128 (got ${s.channels})`;
  if (!(Number.isFinite(s.lr) && s.lr > 0 && s.lr <= 1)) return `lr must be a number in (0, 1] (got ${s.lr})`;
  if (!Number.isSafeInteger(s.seed)) return `seed must be an integer (got ${s.seed})`;
  return null;
}

export class Refiner extends Module {
  readonly net: Sequential;
  constructor(readonly layers: number, readonly channels: number, rng: Rng) {
    super();
    const mods: Module[] = [];
    for (let l = 0; l < layers; l++) {
      const cin = l === 0 ? 1 : channels;
      const cout = l === layers - 1 ? 1 : channels;
      mods.push(new Conv2d(cin, cout, 3, rng, { padding: 1 }));
      if (l < layers - 1) mods.push(new ReLU());
    }
    this.net = this.registerModule('net', new Sequential(...mods));
    // The last layer at zero: the untrained refiner is the identity.
    const last = mods[mods.length - 1] as Conv2d;
    last.weight.data.fill(0);
    last.bias!.data.fill(0);
  }

  /** The residual R(x) [B, 1, H, W]. */
  residual(x: Tensor): Tensor {
    return this.net.forward(x);
  }

  /** x + R(x). */
  forward(x: Tensor): Tensor {
    return add(x, this.residual(x));
  }
}

/** One image (size x size, in [0, 1]) refined and clamped to [0, 1], off the tape. */
export function refineImage(refiner: Refiner, image: Float32Array, size: number): Float32Array {
  return noGrad(() => Float32Array.from(clamp(refiner.forward(new Tensor(Float32Array.from(image), [1, 1, size, size])), 0, 1).data));
}

export interface RefinerStep {
  /** LSGAN loss of the refined image (towards "real"). */
  adversarial: number;
  /** mean |R(x)| of the refined image. */
  l1: number;
  lossD: number;
  dReal: number;
  dFake: number;
}

const HISTORY = 64;
/** Decay of the refiner's weight average (about the last 100 steps): GAN weights oscillate. */
const AVERAGE_DECAY = 0.99;

export class RefinerTrainer {
  readonly refiner: Refiner;
  /** The running average of the refiner's weights: what is saved and applied. */
  readonly averaged: Refiner;
  readonly optR: Adam;
  readonly optD: Adam;
  readonly rng: Rng;
  private readonly history: Float32Array[] = [];
  step = 0;

  /**
   * `disc`: the discriminator to train against (trained further here); `renders`: the frozen
   * generator's images, patch x patch each; `reals`: the real patches.
   */
  constructor(readonly settings: RefinerSettings, readonly disc: PatchDiscriminator, readonly reals: Float32Array[], readonly renders: Float32Array[], readonly patch: number, lrD: number, betas: [number, number]) {
    const problem = refinerSettingsProblem(settings);
    if (problem) throw new Error(`refiner: ${problem}`);
    if (reals.length === 0 || renders.length === 0) throw new Error('refiner: needs real patches and renders');
    this.rng = new Rng(settings.seed);
    this.refiner = new Refiner(settings.layers, settings.channels, this.rng.fork());
    this.averaged = new Refiner(settings.layers, settings.channels, new Rng(0));
    this.averaged.loadStateDict(this.refiner.stateDict());
    this.optR = new Adam(this.refiner.parameters(), { lr: settings.lr, betas });
    this.optD = new Adam(disc.parameters(), { lr: lrD, betas });
  }

  private pick(list: Float32Array[]): Float32Array {
    return augment({ data: list[this.rng.int(list.length)], size: this.patch }, this.rng).data;
  }

  private batch(images: Float32Array[]): Tensor {
    const P = this.patch;
    const data = allocData('float32', images.length * P * P);
    images.forEach((im, i) => data.set(im, i * P * P));
    return new Tensor(data, [images.length, 1, P, P]);
  }

  /**
   * One step: the refiner, then the discriminator, on one forward pass of D over
   * [real, real, refined, history] (as GanTrainer.trainStep: BatchNorm sees both sides together).
   */
  trainStep(): RefinerStep {
    const x = this.batch([this.pick(this.renders)]);
    const real = this.batch([this.pick(this.reals), this.pick(this.reals)]);
    this.disc.train();
    const r = this.refiner.residual(x);
    const refined = add(x, r);
    const old = this.history.length > 0 ? this.history[this.rng.int(this.history.length)] : Float32Array.from(refined.data);
    const inputs = concat([real, refined, this.batch([old])], 0);
    const both = this.disc.forward(normaliseBatch(inputs));
    const dReal = slice(both, [[0, 2]]);
    const dNew = slice(both, [[2, 3]]);
    const dFake = slice(both, [[2, 4]]);

    const adversarial = lsganGeneratorLoss(dNew);
    const l1 = mean(abs(r));
    const lossR = add(adversarial, mul(l1, this.settings.lambda));
    const lossRValue = lossR.item();
    if (!Number.isFinite(lossRValue)) throw new NumericalError(`refiner loss is ${lossRValue} at refiner step ${this.step}`);
    const faultR = tracedBackward(lossR, { inputs: this.refiner.parameters(), retainGraph: true });
    checkFiniteGradients('refiner', this.refiner.namedParameters(), `refiner step ${this.step}`, faultR);
    this.optR.step();
    this.optR.zeroGrad();
    noGrad(() => {
      const avg = this.averaged.parameters();
      this.refiner.parameters().forEach((p, k) => {
        const a = avg[k].data;
        for (let i = 0; i < a.length; i++) a[i] = AVERAGE_DECAY * a[i] + (1 - AVERAGE_DECAY) * p.data[i];
      });
    });

    const lossD = lsganDiscriminatorLoss(dReal, dFake);
    const lossDValue = lossD.item();
    if (!Number.isFinite(lossDValue)) throw new NumericalError(`discriminator loss is ${lossDValue} at refiner step ${this.step}`);
    const faultD = tracedBackward(lossD, { inputs: this.disc.parameters() });
    checkFiniteGradients('discriminator', this.disc.namedParameters(), `refiner step ${this.step}`, faultD);
    this.optD.step();
    this.optD.zeroGrad();

    // The history keeps refined images of earlier refiners (a random slot once it is full).
    const fresh = Float32Array.from(refined.data);
    if (this.history.length < HISTORY) this.history.push(fresh);
    else this.history[this.rng.int(HISTORY)] = fresh;
    this.step++;
    return { adversarial: adversarial.item(), l1: l1.item(), lossD: lossDValue, dReal: meanOf(dReal), dFake: meanOf(dNew) };
  }
}

function meanOf(t: Tensor): number {
  let s = 0;
  for (let i = 0; i < t.size; i++) s += t.data[i];
  return s / t.size;
}
