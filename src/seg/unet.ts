/**
 * The segmentation U-Net (Ronneberger et al. 2015, in nnU-Net's plain form): an encoder of
 * `depth` 2x max-poolings, a decoder of learned 2x2 transposed convolutions with skip
 * concatenations, and a 1x1 head giving one logit per class (3: background, particle, contour),
 * plus, with `distanceHead`, one more channel: the logit of each pixel's normalised distance to
 * its particle's outline (seg/targets.ts), which seeds the instance watershed.
 *
 *   level l (0..depth) has base * 2^l channels; each level is a block
 *   conv3x3 -> norm -> ReLU -> conv3x3 -> norm -> ReLU   (convs without bias: the norm has one)
 *
 * Any input size works: pooling floors odd sizes, and the decoder pads each upsampled map
 * (bottom / right, zeros) to its skip's size before concatenating, so the output always has the
 * input's H x W. Parameter names follow the module tree ("enc0.conv1.weight", "up2.weight", ...),
 * which is what checkpoints store.
 */
import { Module, Conv2d, ConvTranspose2d, BatchNorm2d, InstanceNorm2d, Rng, Tensor, maxPool2d, concat, pad, relu } from '../autodiff/index.js';

export type NormKind = 'batch' | 'instance';

export interface UNetConfig {
  /** Input channels (1 for greyscale micrographs). */
  inChannels: number;
  /** Output classes (3: background, particle, contour). */
  classes: number;
  /** Number of 2x downsamplings; the network has depth + 1 resolution levels. */
  depth: number;
  /** Channels of the first level; doubled at each level below. */
  base: number;
  /** Normalisation after every 3x3 conv. */
  norm: NormKind;
  /**
   * One extra output channel after the class logits: the logit of the normalised distance to the
   * particle's outline (seg/targets.ts). Absent (checkpoints from before it) = false.
   */
  distanceHead?: boolean;
  /**
   * StarDist rays (seg/stardist.ts): this many more output channels after the distance channel,
   * each pixel's predicted distance to its particle's edge along ray k, in units of RAY_SCALE px.
   * Needs the distance head (StarDist's object probability). Absent or 0 = none.
   */
  rays?: number;
}

/**
 * Ray channels predict distance / RAY_SCALE: the network's outputs stay of order 1 for particles
 * of ~10-40 px radius, so that Adam's steps of ~lr per step reach them within a short training.
 */
export const RAY_SCALE = 10;

/**
 * Channels of the rays' own 3x3 convolution (with ReLU) between the last decoder block and their
 * 1x1 output (StarDist's conv after the U-Net, 128 there): R ray lengths are too much to read
 * linearly off the `base` (8) channels the class and distance logits share.
 */
export const RAY_FEATURES = 32;

/**
 * Defaults: depth 4 (5 levels, a 16x coarser bottleneck: 8 x 8 on a 128 px crop; the receptive
 * field, ~180 px, spans the largest TiO2 particles of ~150 px) and base 8 (8..128 channels,
 * 0.49 M parameters), batch norm. Measured with the wasm backend on 2 shared cores
 * (`node dist/bench.js segment --configs d4b8,d3b8,d4b16 --reps 3`, batch 4 of 128 px crops,
 * load average ~3): base 8 1.44 s per step, depth 3 / base 8 1.07 s (only 25 % less: most of the
 * work is at full resolution, and it sees ~90 px), depth 4 / base 16 2.46 s. So the default run
 * of train.ts (1,500 steps for 1,000 pairs) takes ~40-55 min with base 8, ~1.2 h with base 16.
 * Base 8 reached TiO2-SEM dev-test DSC 0.93 in 240 steps, trained on real masks and trained on
 * synthetic pairs only (docs/segmentation.md): capacity is not what limited it.
 */
export const DEFAULT_UNET: UNetConfig = { inChannels: 1, classes: 3, depth: 4, base: 8, norm: 'batch' };

/** Checks a config, throwing an Error that names the field. */
export function validateUNetConfig(c: UNetConfig): UNetConfig {
  const int = (k: keyof UNetConfig, lo: number, hi: number) => {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new Error(`U-Net config: ${k} must be an integer in [${lo}, ${hi}], got ${String(v)}`);
  };
  int('inChannels', 1, 16);
  int('classes', 2, 64);
  int('depth', 1, 7);
  int('base', 1, 256);
  if (c.norm !== 'batch' && c.norm !== 'instance') throw new Error(`U-Net config: norm must be 'batch' or 'instance', got ${String(c.norm)}`);
  if (c.distanceHead !== undefined && typeof c.distanceHead !== 'boolean') throw new Error(`U-Net config: distanceHead must be true or false, got ${String(c.distanceHead)}`);
  if (c.rays !== undefined && c.rays !== 0) {
    if (!Number.isInteger(c.rays) || c.rays < 4 || c.rays > 64 || c.rays % 4 !== 0) throw new Error(`U-Net config: rays must be 0 or a multiple of 4 in [4, 64], got ${String(c.rays)}`);
    if (!c.distanceHead) throw new Error('U-Net config: rays need the distance head (distanceHead: true), their object probability');
  }
  return c;
}

function makeNorm(kind: NormKind, channels: number): BatchNorm2d | InstanceNorm2d {
  // Instance norm with a learned affine transform, as nnU-Net uses it.
  return kind === 'batch' ? new BatchNorm2d(channels) : new InstanceNorm2d(channels, { affine: true });
}

/** conv3x3 -> norm -> ReLU, twice. */
export class ConvBlock extends Module {
  readonly conv1: Conv2d;
  readonly norm1: BatchNorm2d | InstanceNorm2d;
  readonly conv2: Conv2d;
  readonly norm2: BatchNorm2d | InstanceNorm2d;

  constructor(inCh: number, outCh: number, norm: NormKind, rng: Rng) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(inCh, outCh, 3, rng, { padding: 1, bias: false }));
    this.norm1 = this.registerModule('norm1', makeNorm(norm, outCh));
    this.conv2 = this.registerModule('conv2', new Conv2d(outCh, outCh, 3, rng, { padding: 1, bias: false }));
    this.norm2 = this.registerModule('norm2', makeNorm(norm, outCh));
  }

  forward(x: Tensor): Tensor {
    // norm -> ReLU as one fused op (the same values as relu(norm(.)); ops/norm.ts).
    const y = this.norm1.forwardAct(this.conv1.forward(x), 'relu');
    return this.norm2.forwardAct(this.conv2.forward(y), 'relu');
  }
}

export class UNet extends Module {
  readonly config: UNetConfig;
  private readonly enc: ConvBlock[] = [];
  private readonly ups: ConvTranspose2d[] = [];
  private readonly dec: ConvBlock[] = [];
  private readonly head: Conv2d;
  private readonly rayConv: Conv2d | null = null;
  private readonly rayHead: Conv2d | null = null;

  constructor(config: Partial<UNetConfig>, rng: Rng) {
    super();
    this.config = validateUNetConfig({ ...DEFAULT_UNET, ...config });
    const { inChannels, depth, base, norm } = this.config;
    let cin = inChannels;
    for (let l = 0; l <= depth; l++) {
      const c = base << l;
      this.enc.push(this.registerModule(`enc${l}`, new ConvBlock(cin, c, norm, rng)));
      cin = c;
    }
    for (let l = depth - 1; l >= 0; l--) {
      const c = base << l;
      this.ups[l] = this.registerModule(`up${l}`, new ConvTranspose2d(2 * c, c, 2, rng, { stride: 2 }));
      this.dec[l] = this.registerModule(`dec${l}`, new ConvBlock(2 * c, c, norm, rng));
    }
    const rays = this.config.rays ?? 0;
    this.head = this.registerModule('head', new Conv2d(base, outputChannels(this.config) - rays, 1, rng));
    if (rays > 0) {
      this.rayConv = this.registerModule('rayConv', new Conv2d(base, RAY_FEATURES, 3, rng, { padding: 1 }));
      this.rayHead = this.registerModule('rayHead', new Conv2d(RAY_FEATURES, rays, 1, rng));
    }
  }

  /** x [N, inChannels, H, W] -> logits [N, outputChannels(config), H, W] (the classes first). */
  forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== this.config.inChannels) {
      throw new Error(`UNet: input must be [N, ${this.config.inChannels}, H, W], got [${x.shape.join(', ')}]`);
    }
    const { depth } = this.config;
    if (x.shape[2] >> depth < 1 || x.shape[3] >> depth < 1) {
      throw new Error(`UNet: input ${x.shape[2]} x ${x.shape[3]} is too small for depth ${depth} (needs at least ${2 ** depth} px per side)`);
    }
    const skips: Tensor[] = [];
    let y = x;
    for (let l = 0; l <= depth; l++) {
      if (l > 0) y = maxPool2d(y, 2, 2);
      y = this.enc[l].forward(y);
      skips.push(y);
    }
    for (let l = depth - 1; l >= 0; l--) {
      const skip = skips[l];
      let up = this.ups[l].forward(y);
      const dh = skip.shape[2] - up.shape[2];
      const dw = skip.shape[3] - up.shape[3];
      if (dh || dw) up = pad(up, [[0, 0], [0, 0], [0, dh], [0, dw]]);
      y = this.dec[l].forward(concat([skip, up], 1));
    }
    const out = this.head.forward(y);
    if (!this.rayConv || !this.rayHead) return out;
    return concat([out, this.rayHead.forward(relu(this.rayConv.forward(y)))], 1);
  }

  /** Number of trainable values. */
  parameterCount(): number {
    return this.parameters().reduce((s, p) => s + p.size, 0);
  }
}

/** Channels of the U-Net's output: the class logits, then the distance logit when it has that head, then the rays. */
export function outputChannels(config: Pick<UNetConfig, 'classes' | 'distanceHead' | 'rays'>): number {
  return config.classes + (config.distanceHead ? 1 : 0) + (config.rays ?? 0);
}

/** Input sizes that keep every pooling exact (multiples of 2^depth) avoid padded seams. */
export function sizeMultiple(config: Pick<UNetConfig, 'depth'>): number {
  return 2 ** config.depth;
}
