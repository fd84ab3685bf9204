/**
 * The two networks of DiffRenderGAN (METHOD.md, "Generator" and "Discriminator"):
 * - ParamNet (f_fcn): phi -> rendering parameters in (0, 1); 4 x 128 hidden units with weight
 *   normalisation, ReLU and dropout 0.2, sigmoid output.
 * - PatchDiscriminator: the 70 x 70 "basic" PatchGAN of pix2pix (conv 4x4 stride 2 with 64, 128,
 *   256 filters, then 512 stride 1, then 1 output channel; LeakyReLU 0.2; a norm after every
 *   conv but the first and the last).
 * Both are initialised with Xavier-normal weights and zero biases, as in the reference.
 */
import { Module, Sequential, WeightNormLinear, Conv2d, BatchNorm2d, InstanceNorm2d, ReLU, LeakyReLU, Sigmoid, Dropout, xavierNormal } from '../autodiff/nn/index.js';
import type { Rng } from '../autodiff/rng.js';
import type { Tensor } from '../autodiff/tensor.js';
import { noGrad } from '../autodiff/tape.js';

export interface ParamNetOptions {
  hidden?: number;
  layers?: number;
  dropout?: number;
  /**
   * Where the outputs start, one value in (0, 1) per output: the last layer's bias is set to its
   * logit, so that the untrained net maps every configuration near it (default: 0.5 each, the
   * middle of each parameter's range).
   */
  initialOutput?: readonly number[];
}

export class ParamNet extends Module {
  readonly net: Sequential;
  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Rng, dropoutRng: Rng, opts: ParamNetOptions = {}) {
    super();
    const hidden = opts.hidden ?? 128;
    const layers = opts.layers ?? 4;
    const p = opts.dropout ?? 0.2;
    const mods: Module[] = [];
    let width = inFeatures;
    for (let i = 0; i < layers; i++) {
      mods.push(new WeightNormLinear(width, hidden, rng), new ReLU());
      if (p > 0) mods.push(new Dropout(p, dropoutRng));
      width = hidden;
    }
    mods.push(new WeightNormLinear(width, outFeatures, rng), new Sigmoid());
    this.net = this.registerModule('net', new Sequential(...mods));
    initXavier(this, rng);
    if (opts.initialOutput) {
      const s0 = opts.initialOutput;
      if (s0.length !== outFeatures) throw new Error(`ParamNet: ${s0.length} initial outputs for ${outFeatures} outputs`);
      const last = mods[mods.length - 2] as WeightNormLinear;
      for (let o = 0; o < outFeatures; o++) {
        if (!(s0[o] > 0 && s0[o] < 1)) throw new Error(`ParamNet: initial output ${s0[o]} is not in (0, 1)`);
        last.bias!.data[o] = Math.log(s0[o] / (1 - s0[o]));
      }
    }
  }

  /** phi [B, inFeatures] -> s [B, outFeatures] in (0, 1). */
  forward(phi: Tensor): Tensor {
    return this.net.forward(phi);
  }
}

export type NormKind = 'batch' | 'instance' | 'none';

export interface DiscriminatorOptions {
  /** Filters of the first conv (64 in the reference). */
  baseFilters?: number;
  /** Stride-2 convs after the first (3 in the reference: 64 -> 128 -> 256 -> 512). */
  layers?: number;
  norm?: NormKind;
  inChannels?: number;
}

export class PatchDiscriminator extends Module {
  readonly net: Sequential;
  constructor(rng: Rng, opts: DiscriminatorOptions = {}) {
    super();
    const ndf = opts.baseFilters ?? 64;
    const nLayers = opts.layers ?? 3;
    const norm = opts.norm ?? 'batch';
    const makeNorm = (c: number): Module[] =>
      norm === 'batch' ? [new BatchNorm2d(c)] : norm === 'instance' ? [new InstanceNorm2d(c, { affine: true })] : [];
    const useBias = norm !== 'batch';
    const mods: Module[] = [new Conv2d(opts.inChannels ?? 1, ndf, 4, rng, { stride: 2, padding: 1 }), new LeakyReLU(0.2)];
    let mult = 1;
    for (let n = 1; n <= nLayers; n++) {
      const prev = mult;
      mult = Math.min(2 ** n, 8);
      // The last of these runs at stride 1 (pix2pix: "n_layers" stride-2 convs then one stride-1).
      const stride = n < nLayers ? 2 : 1;
      mods.push(new Conv2d(ndf * prev, ndf * mult, 4, rng, { stride, padding: 1, bias: useBias }), ...makeNorm(ndf * mult), new LeakyReLU(0.2));
    }
    mods.push(new Conv2d(ndf * mult, 1, 4, rng, { stride: 1, padding: 1 }));
    this.net = this.registerModule('net', new Sequential(...mods));
    initXavier(this, rng);
  }

  /** x [B, 1, H, W] in [0, 1] -> patch scores [B, 1, h, w] (no sigmoid: LSGAN). */
  forward(x: Tensor): Tensor {
    return this.net.forward(x);
  }
}

/** Xavier-normal weights (and weight-norm directions), zero biases; norm layers keep 1 / 0. */
function initXavier(m: Module, rng: Rng): void {
  noGrad(() => {
    for (const [name, p] of m.namedParameters()) {
      const leaf = name.split('.').pop()!;
      if ((leaf === 'weight' && p.ndim >= 2) || leaf === 'weight_v') xavierNormal(p, rng);
      else if (leaf === 'bias') p.data.fill(0);
    }
    // Weight norm: start with g = ||v|| per row so the effective weight equals v.
    for (const [name, g] of m.namedParameters()) {
      if (!name.endsWith('weight_g')) continue;
      const v = m.namedParameters().find(([n]) => n === name.replace(/weight_g$/, 'weight_v'))![1];
      const cols = v.size / v.shape[0];
      for (let r = 0; r < v.shape[0]; r++) {
        let s = 0;
        for (let c = 0; c < cols; c++) s += v.data[r * cols + c] ** 2;
        g.data[r] = Math.sqrt(s);
      }
    }
  });
}
