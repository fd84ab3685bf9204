/**
 * Training the segmentation U-Net on whole images with 3-class masks (0 background, 1 particle,
 * 2 contour). Pure (no Node modules): the caller supplies the samples, a progress sink and a
 * checkpoint sink; src/node/seg-checkpoint.ts stores checkpoints on disk.
 *
 * One step: `batch` random crops (augment.ts) -> U-Net logits -> loss
 *   L = CE_w(logits, mask) + diceWeight * softDice(logits, mask) [+ distanceWeight * BCE(d, t)]
 * where, with `instanceTarget: 'distance'` (the default), the U-Net has one more output channel d
 * whose sigmoid learns the normalised distance to the particle's outline t (seg/targets.ts; the
 * samples' instance maps give it), binary cross-entropy over every pixel;
 * with the class weights w of cross-entropy balanced over the whole training set
 * (w_c = (total / (3 count_c))^classWeightPower, classBalancedWeights tempered), -> Adam. The learning rate follows
 * nnU-Net's poly schedule lr0 (1 - step / totalSteps)^0.9, optionally after a linear warm-up
 * (`warmupSteps`; learningRate below: a function of the step count only, so resuming needs no
 * extra state). Images are normalised as inference does (`normalisation`:
 * fixed by default; or by the whole image's mean and standard deviation, before augmentation).
 * Before training, the masks' particles are grown to the images' visible edges when the
 * training pairs show them outside their masks (`growMasks`, align.ts).
 *
 * Reproducibility: weights are initialised from Rng(seed).fork(); the split from the next fork;
 * crops and augmentation from the third. A checkpoint is taken at the end of every epoch and
 * holds the weights (with batch-norm statistics), Adam's moments, the data Rng's state and the
 * history, so a resumed run continues exactly as the uninterrupted run would have.
 *
 * With `emaSteps` > 0 the weights are also averaged over the steps (weight-average.ts) without
 * changing the training itself (the raw weights, Adam and the data Rng follow exactly the run
 * without it); after the last epoch the average's batch norm statistics are estimated on one
 * epoch of training crops drawn from their own Rng ("precise BN"), and the checkpoint carries
 * the result as `average`, which inference uses.
 */
import { Adam, Rng, Tensor, add, mul, slice, weightedSmoothL1, segmentationLoss, noGrad, phase, profileStepEnd, profileStepStart, type OptimizerState, type RngState, type StateDict } from '../autodiff/index.js';
import { UNet, type UNetConfig, DEFAULT_UNET, RAY_SCALE } from './unet.js';
import { starRays } from './stardist.js';
import { boundaryWeightMap, instanceDistanceTarget, instanceOutlineDistance } from './targets.js';
import { instancesFromClassMap } from '../particles/instances.js';
import { edgeOffset, edgeProfile, growClassMask } from './align.js';
import { brightParticleView, polarityFromMasks, type Polarity, type PolaritySetting } from '../particles/polarity.js';
import { WeightAverage } from './weight-average.js';
import { applyBatchNormStats, poolBatchNormStats } from './adapt-bn.js';
import { checkWorkingScale, resampleBilinear, resampleNearest, workingSize } from './working-scale.js';
import { DEFAULT_AUGMENT, augmentIntensity, cropOrigin, extractCrop, normalisationStats, type AugmentOptions, type Normalisation } from './augment.js';

/** One training image with its 3-class mask. */
export interface SegSample {
  name: string;
  width: number;
  height: number;
  /** Row-major grey values in [0, 1]. */
  image: Float32Array;
  /** Row-major classes 0 / 1 / 2. */
  classes: Uint8Array;
  /**
   * Row-major instance ids (0 = background) for `instanceTarget: 'distance'`; when absent, the
   * class mask's instances (class-1 pieces grown over the contour) stand in.
   */
  instances?: Int32Array;
}

/**
 * What the U-Net learns besides the classes: 'distance' (seg/targets.ts), 'stardist' (the distance
 * as StarDist's object probability plus `rays` radial distances per pixel, seg/stardist.ts) or
 * nothing ('none').
 */
export type InstanceTarget = 'distance' | 'stardist' | 'none';
export const INSTANCE_TARGETS: readonly InstanceTarget[] = ['distance', 'stardist', 'none'];

export interface TrainConfig {
  epochs: number;
  /** Crops per step. */
  batch: number;
  /** Side of the square training crops, px. */
  crop: number;
  /** Adam learning rate at step 0. */
  lr: number;
  /** Poly learning-rate decay to 0 at the last step (default true). */
  poly: boolean;
  seed: number;
  /** Steps per epoch; 0 = ceil(training images / batch) (one crop per image per epoch). */
  stepsPerEpoch: number;
  /** Fraction of the images held out for validation (0 = none). */
  valFraction: number;
  /** Probability that a crop is centred on a particle pixel. */
  foreground: number;
  /** Weight of the soft Dice term. */
  diceWeight: number;
  /**
   * Cross-entropy class weights are (total / (C count_c))^power: 1 = fully class-balanced, 0 =
   * unweighted. Default 0.5: on the TiO2-SEM dev pool contours are ~2 % of the pixels and weigh
   * 17x a background pixel at power 1, which makes the network paint contour (hence foreground)
   * over the substrate texture; Model-Real, 180 steps: foreground DSC 0.94 at power 0.5 vs 0.82
   * at power 1 (class-1 seed instances). The fainter contours of power 0.5 no longer cost AP50
   * since instances come from the distance watershed (instancesFromProbabilities): 0.364 vs 0.379.
   */
  classWeightPower: number;
  augment: AugmentOptions;
  /** Input normalisation (augment.ts, `Normalisation`; default 'fixed'). */
  normalisation: Normalisation;
  /**
   * Contrast polarity of the training images (particles/polarity.ts); 'auto' (default) reads it off the
   * training pairs' masks. Dark-particle images are inverted before anything else (augmentation,
   * mask growth, normalisation), so the network always sees bright particles.
   */
  polarity: PolaritySetting;
  /**
   * Particles of the training masks are grown by this many px before training, to follow the
   * images' visible edges (align.ts); 'auto' (default) = the edge offset measured on the training
   * images themselves, rounded (0 for masks that already follow the edges, as real annotations do).
   */
  growMasks: number | 'auto';
  /**
   * The touching band the caller marked in the masks (classmask.ts addTouchingBand, px; 0 = none).
   * trainUNet does not apply it; it is recorded so that a resumed run can refuse another band.
   */
  touchBand: number;
  /**
   * 'distance' (default): the U-Net gets a distance channel trained on the samples' instance maps
   * (SegSample.instances), and inference seeds its watershed from it; 'none': the
   * three classes only. A resumed run keeps what its model has.
   */
  instanceTarget: InstanceTarget;
  /** Weight of the distance term (instanceTarget 'distance' or 'stardist'). */
  distanceWeight: number;
  /** instanceTarget 'stardist': rays per pixel (a multiple of 4; default 16). */
  rays: number;
  /**
   * instanceTarget 'stardist': weight of the ray term, the smooth L1 (beta 0.1, i.e. 1 px) of the
   * predicted rays in units of RAY_SCALE px, each pixel weighted by its object probability target
   * (StarDist's loss; default 2: StarDist's lambda 0.2 on its px-unit L1, at our scale).
   */
  rayWeight: number;
  /**
   * w0 of the U-Net paper's separation weight map (targets.ts boundaryWeightMap, sigma
   * BOUNDARY_SIGMA): each pixel's cross-entropy weight becomes its class weight + w0 exp(-(d1 +
   * d2)^2 / (2 sigma^2)) outside the particles, from the samples' instance maps. 0 (default) = off.
   */
  boundaryWeight: number;
  /**
   * Horizon in steps of an exponential moving average of the weights (weight-average.ts: decay
   * 1 - 1 / emaSteps), which inference then uses with batch norm statistics re-estimated for it
   * on training crops; 0 (default) = off, the last step's weights. Measured on TiO2-SEM
   * (docs/segmentation.md, "Averaging the U-Net's weights").
   */
  emaSteps: number;
  /**
   * Steps of a linear learning-rate warm-up (Goyal et al. 2017): step s (0-based) trains at
   * min(1, (s + 1) / warmupSteps) times the scheduled rate, so the first Adam updates, whose
   * second-moment estimates rest on a few gradients, are small. 0 (default) = off. Measured on
   * TiO2-SEM (docs/segmentation.md, "A learning-rate warm-up").
   */
  warmupSteps: number;
  /**
   * Where the initial weights came from when they were not random (`segment train --init
   * MODEL_DIR`: the model directory); recorded in the checkpoint only, trainUNet reads the
   * weights from its `init` argument. Absent (the default) = random initial weights from the seed.
   */
  init?: string;
  /**
   * The working scale S >= 1 (working-scale.ts): every training pair is resampled by S after its
   * masks were grown (images bilinear, class masks and instance maps nearest, so the one-pixel
   * contour ring keeps its width on the original grid); the distance target, the re-shading
   * planes and the separation weights (sigma S x BOUNDARY_SIGMA) are computed at the working scale
   * from the resampled instance map, and crops are `crop` px there (so they cover crop / S px of
   * the pairs). The model records it and inference resamples by it. Absent (the default) = 1:
   * the pairs as they are, and nothing recorded.
   */
  scale?: number;
}

/**
 * sigma of the separation weight, px. The paper's 5 px is for cells several tens of px across;
 * our particles are ~20 px and touch or nearly touch, so the weight should mark gaps of a few px
 * and fade before a particle radius: at 3 px a 1-px contact line (d1 + d2 = 1) gets 0.95 w0, a
 * 3-px gap (d1 + d2 ~ 4) 0.41 w0, a 9-px gap 0.004 w0.
 */
export const BOUNDARY_SIGMA = 3;

/** Smooth L1's beta of the ray term, in RAY_SCALE units: 0.1 = 1 px (quadratic within 1 px of the target ray). */
export const RAY_BETA = 0.1;

/**
 * Defaults, measured on TiO2-SEM dev-test (docs/segmentation.md): lr 2e-3 with poly decay and
 * class-weight power 0.5 (every run there); 6 epochs of one crop per image, which for 1,000
 * synthetic pairs is 1,500 steps of batch 4 at 128 px, ~40-55 min at 1.4-2.2 s per step on 2
 * shared cores (bench/segment.ts). 128 px crops of 256 px pairs: a 256 px crop costs 4x per
 * step and the U-Net's receptive field (~180 px at depth 4) does not need it.
 */
export const DEFAULT_TRAIN: TrainConfig = {
  epochs: 6,
  batch: 4,
  crop: 128,
  lr: 2e-3,
  poly: true,
  seed: 0,
  stepsPerEpoch: 0,
  valFraction: 0,
  foreground: 0.33,
  diceWeight: 1,
  classWeightPower: 0.5,
  augment: DEFAULT_AUGMENT,
  normalisation: 'fixed',
  polarity: 'auto',
  growMasks: 'auto',
  touchBand: 0,
  instanceTarget: 'distance',
  distanceWeight: 1,
  rays: 16,
  rayWeight: 2,
  boundaryWeight: 0,
  emaSteps: 0,
  warmupSteps: 0,
};

/**
 * The learning rate of 0-based step `step`: lr0, times nnU-Net's poly decay (1 - step /
 * totalSteps)^0.9 with `poly`, times the linear warm-up min(1, (step + 1) / warmupSteps) when
 * warmupSteps > 0. A function of the step count only, so a resumed run needs no extra state.
 */
export function learningRate(cfg: Pick<TrainConfig, 'lr' | 'poly'> & { warmupSteps?: number }, step: number, totalSteps: number): number {
  const decay = cfg.poly ? Math.pow(Math.max(0, 1 - step / totalSteps), 0.9) : 1;
  const warm = cfg.warmupSteps && cfg.warmupSteps > 0 ? Math.min(1, (step + 1) / cfg.warmupSteps) : 1;
  return cfg.lr * decay * warm;
}

/** What the model needs at inference besides its weights. */
export interface ModelInfo {
  unet: UNetConfig;
  /** Input normalisation (augment.ts, `Normalisation`). */
  normalisation: Normalisation;
  /** Contrast polarity of the images it was trained on: inference inverts dark-particle images as training did. */
  polarity: Polarity;
  /** The crop size it was trained on, px at the working scale (a sensible inference tile is twice this). */
  crop: number;
  /**
   * The working scale (TrainConfig.scale): inference resamples each image by it and the
   * probabilities back (infer.ts). Absent (models trained without it, and scale 1) = 1.
   */
  scale?: number;
}

export interface EpochRecord {
  epoch: number;
  step: number;
  loss: number;
  ce: number;
  dice: number;
  /** The distance term (models with a distance head). */
  dist?: number;
  /** The ray term (models with rays). */
  ray?: number;
  seconds: number;
  valLoss?: number;
  valDsc?: number;
}

export interface Checkpoint {
  model: ModelInfo;
  train: TrainConfig;
  /** Completed epochs. */
  epoch: number;
  /** Completed optimiser steps. */
  step: number;
  weights: StateDict;
  optimizer: OptimizerState;
  rng: RngState;
  classWeights: number[];
  split: { train: string[]; val: string[] };
  history: EpochRecord[];
  /**
   * TrainConfig.emaSteps > 0: the averaged weights (every parameter; batch norm statistics
   * re-estimated for them once the run finished, the raw network's before) and how many steps
   * they average. Inference uses these instead of `weights`.
   */
  average?: { weights: StateDict; updates: number };
}

export type TrainProgress =
  | { kind: 'start'; trainImages: number; valImages: number; stepsPerEpoch: number; totalSteps: number; parameters: number; classWeights: number[]; resumedAt: number; edgeOffset: number | null; grownBy: number; polarity: Polarity }
  | { kind: 'step'; epoch: number; step: number; totalSteps: number; loss: number; ce: number; dice: number; dist?: number; ray?: number; lr: number; stepsPerSecond: number; etaSeconds: number }
  | { kind: 'epoch'; record: EpochRecord; etaSeconds: number };

export interface TrainHooks {
  /** Progress lines (the CLI prints them). */
  progress?: (p: TrainProgress) => void;
  /** Called at the end of every epoch with a checkpoint (tensors share the live data: write or copy now). */
  checkpoint?: (c: Checkpoint) => void;
  /** Steps between 'step' progress events (default 10). */
  every?: number;
  /** Clock in ms (injectable for tests; default performance.now). */
  now?: () => number;
}

export interface TrainResult {
  model: UNet;
  checkpoint: Checkpoint;
}

/** Splits names into train / val by a seeded shuffle; at least one training image stays. */
export function splitNames(names: readonly string[], valFraction: number, rng: Rng): { train: string[]; val: string[] } {
  const sorted = [...names].sort();
  if (!(valFraction > 0)) return { train: sorted, val: [] };
  const shuffled = rng.shuffle([...sorted]);
  const nVal = Math.min(names.length - 1, Math.max(1, Math.round(valFraction * names.length)));
  const val = shuffled.slice(0, nVal).sort();
  const valSet = new Set(val);
  return { train: sorted.filter((n) => !valSet.has(n)), val };
}

interface Prepared extends SegSample {
  mean: number;
  std: number;
  /** The distance target (models with a distance head). */
  distance?: Float32Array;
  /** The instance map the targets come from (its own or the class mask's); only when a target needs it. */
  labels?: ArrayLike<number>;
  /** The separation weight map (TrainConfig.boundaryWeight > 0). */
  boundary?: Float32Array;
  /** Instance ids and outline distances for the interior re-shading (augment.interior > 0), as planes the crop copies. */
  ids?: Float32Array;
  outline?: Float32Array;
}

function prepare(s: SegSample, normalisation: Normalisation, polarity: Polarity, withDistance: boolean, withBoundary: boolean, withInterior: boolean, withRays = false): Prepared {
  if (s.image.length !== s.width * s.height || s.classes.length !== s.width * s.height) {
    throw new Error(`sample ${s.name}: image / mask sizes do not match ${s.width} x ${s.height}`);
  }
  const image = brightParticleView(s.image, polarity);
  // Without an instance map, the class mask's own instances stand in (as readSegInstances does).
  const labels = withDistance || withBoundary || withInterior ? (s.instances ?? instancesFromClassMap(s.classes, s.width, s.height, { minArea: 1 }).labels) : undefined;
  const distance = withDistance && labels ? instanceDistanceTarget(labels, s.width, s.height) : undefined;
  // Ids as float planes: exact below 2^24 instances.
  const interior = withInterior && labels ? { ids: Float32Array.from(labels), outline: instanceOutlineDistance(labels, s.width, s.height) } : withRays && labels ? { ids: Float32Array.from(labels) } : {};
  return { ...s, image, distance, labels, ...interior, ...normalisationStats(image, normalisation) };
}

/**
 * A prepared pair (its image already in the bright-particle view, its masks grown) resampled to
 * the working scale (working-scale.ts): the image bilinear, the class mask and the instance map
 * nearest. prepare() then computes the targets from the resampled instance map.
 */
function atWorkingScale(s: Prepared, scale: number): SegSample {
  const [w, h] = workingSize(s.width, s.height, scale);
  const labels = s.labels ? (s.labels instanceof Int32Array ? s.labels : Int32Array.from(s.labels)) : undefined;
  return {
    name: s.name,
    width: w,
    height: h,
    image: resampleBilinear(s.image, 1, s.width, s.height, w, h),
    classes: resampleNearest(s.classes, s.width, s.height, w, h),
    ...(labels ? { instances: resampleNearest(labels, s.width, s.height, w, h) } : {}),
  };
}

/** One epoch's sample order: whole seeded shuffles of the `n` samples, concatenated until `count` picks. */
function epochOrder(rng: Rng, n: number, count: number): number[] {
  const order: number[] = [];
  while (order.length < count) order.push(...rng.shuffle(Array.from({ length: n }, (_, i) => i)));
  return order;
}

/** Fills x / target with `count` crops drawn from `pick()`, augmented when `augment` is set. */
function makeBatch(samples: Prepared[], pickIndex: () => number, count: number, size: number, cfg: TrainConfig, rng: Rng, augment: boolean, withDistance: boolean, rays = 0): { x: Tensor; target: Int32Array; distance: Tensor | null; boundary: Float32Array | null; rays: Tensor | null } {
  const n = size * size;
  const rd = rays > 0 ? new Float32Array(count * rays * n) : null;
  const cropIds = rays > 0 ? new Float32Array(n) : null;
  const xd = new Float32Array(count * n);
  const target = new Int32Array(count * n);
  const dd = withDistance ? new Float32Array(count * n) : null;
  const bd = cfg.boundaryWeight > 0 ? new Float32Array(count * n) : null;
  const img = new Float32Array(n);
  const mask = new Uint8Array(n);
  for (let b = 0; b < count; b++) {
    const s = samples[pickIndex()];
    const [x0, y0] = cropOrigin(s, size, cfg.foreground, rng);
    const sym = augment && cfg.augment.geometric ? rng.int(8) : 0;
    const extras: { from: Float32Array; to: Float32Array }[] = [];
    if (dd && s.distance) extras.push({ from: s.distance, to: dd.subarray(b * n, (b + 1) * n) });
    if (bd && s.boundary) extras.push({ from: s.boundary, to: bd.subarray(b * n, (b + 1) * n) });
    const particles = augment && s.ids && s.outline ? { ids: new Float32Array(n), outline: new Float32Array(n) } : undefined;
    if (particles) extras.push({ from: s.ids!, to: particles.ids }, { from: s.outline!, to: particles.outline });
    if (cropIds) extras.push({ from: s.ids!, to: cropIds });
    extractCrop(s, x0, y0, size, sym, img, mask, ...extras);
    // Rays from the crop's own instance map (as StarDist's training does): the crop's symmetry
    // turns the particles, and the crop's edge ends a ray as the image edge does.
    if (rd && cropIds) {
      const r = starRays(cropIds, size, size, rays);
      for (let i = 0; i < r.length; i++) rd[b * rays * n + i] = r[i] / RAY_SCALE;
    }
    if (augment) augmentIntensity(img, size, cfg.augment, rng, mask, particles);
    const inv = 1 / s.std;
    for (let i = 0; i < n; i++) {
      xd[b * n + i] = (img[i] - s.mean) * inv;
      target[b * n + i] = mask[i];
    }
  }
  return { x: new Tensor(xd, [count, 1, size, size]), target, distance: dd ? new Tensor(dd, [count, 1, size, size]) : null, boundary: bd, rays: rd ? new Tensor(rd, [count, rays, size, size]) : null };
}

/**
 * The training loss of U-Net outputs [N, classes (+1), H, W]: class-weighted CE + diceWeight *
 * soft Dice on the class logits, + distanceWeight * BCE of the distance channel against its
 * target when `distance` is given (the channel after the classes). With `boundary` (per pixel,
 * boundaryWeightMap), a pixel's CE weight is its class weight + its boundary weight (U-Net eq. 2).
 */
export function segLoss(out: Tensor, classes: number, target: Int32Array, distance: Tensor | null, classWeights: number[], diceWeight: number, distanceWeight: number, boundary: ArrayLike<number> | null = null, rays: { target: Tensor; weight: number } | null = null): { loss: Tensor; ce: Tensor; dice: Tensor; dist: Tensor | null; ray: Tensor | null } {
  // One fused op (max / exp / sum once per pixel, channels read in place); it equals
  // crossEntropy + softDiceLoss + bceWithLogits on slices of out up to float rounding.
  const r = segmentationLoss(out, {
    classes: distance ? classes : out.shape[1],
    target,
    ...(boundary ? { positionWeight: pixelWeights(target, classWeights, boundary) } : { weight: classWeights }),
    diceWeight,
    distance,
    distanceWeight,
  });
  const scalar = (v: number) => new Tensor(Float64Array.of(v), []);
  let loss = r.loss;
  let ray: Tensor | null = null;
  if (rays) {
    // StarDist's ray loss: the rays' channels after the distance one, each pixel weighted by its object probability target.
    if (!distance) throw new Error('segLoss: rays need the distance target (their pixel weights)');
    const first = classes + 1;
    const nRays = rays.target.shape[1];
    if (out.shape[1] !== first + nRays) throw new Error(`segLoss: ${nRays} ray targets do not fit the ${out.shape[1]} channels after ${classes} classes and the distance`);
    ray = weightedSmoothL1(slice(out, [null, [first, first + nRays]]), rays.target, distance.data, RAY_BETA);
    loss = add(loss, mul(ray, rays.weight));
  }
  return { loss, ce: scalar(r.ce), dice: scalar(r.dice), dist: r.dist === null ? null : scalar(r.dist), ray };
}

/** w(x) = w_c(x) + boundary(x) per target pixel. */
function pixelWeights(target: Int32Array, classWeights: number[], boundary: ArrayLike<number>): Float64Array {
  if (boundary.length !== target.length) throw new Error(`segLoss: the boundary weights have ${boundary.length} entries but the target ${target.length}`);
  const w = new Float64Array(target.length);
  for (let i = 0; i < w.length; i++) w[i] = (classWeights[target[i]] ?? 0) + boundary[i];
  return w;
}

/** Foreground Dice of argmax(logits) != 0 against target != 0. */
function foregroundDice(logits: Tensor, c: number, target: Int32Array): { inter: number; sum: number } {
  const [n, cOut, h, w] = logits.shape;
  const hw = h * w;
  let inter = 0;
  let sum = 0;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < hw; i++) {
      let best = 0;
      let bv = logits.data[b * cOut * hw + i];
      for (let k = 1; k < c; k++) {
        const v = logits.data[(b * cOut + k) * hw + i];
        if (v > bv) {
          bv = v;
          best = k;
        }
      }
      const p = best !== 0 ? 1 : 0;
      const t = target[b * hw + i] !== 0 ? 1 : 0;
      inter += p & t;
      sum += p + t;
    }
  }
  return { inter, sum };
}

/**
 * Trains a U-Net. With `resume`, continues from that checkpoint (its model, split and the given
 * config; `train.epochs` may be raised to train longer). With `init` (and no `resume`), the
 * network starts from these weights and batch norm statistics (a trained model of the same
 * architecture: the caller checks that it fits) instead of random ones; Adam starts fresh, and the
 * Rng draws are those of the run without it (the random weights are drawn, then replaced), so the
 * split and the data stream of a seed are the same. Throws if the loss becomes NaN / Inf.
 */
export function trainUNet(samples: readonly SegSample[], unetConfig: Partial<UNetConfig>, trainConfig: Partial<TrainConfig>, hooks: TrainHooks = {}, resume?: Checkpoint, init?: StateDict): TrainResult {
  const cfg: TrainConfig = { ...DEFAULT_TRAIN, ...trainConfig, augment: { ...DEFAULT_AUGMENT, ...trainConfig.augment } };
  if (samples.length === 0) throw new Error('trainUNet: no training samples');
  const names = samples.map((s) => s.name);
  if (new Set(names).size !== names.length) throw new Error('trainUNet: sample names must be unique');
  const now = hooks.now ?? (() => performance.now());
  const root = new Rng(cfg.seed);
  const initRng = root.fork();
  const splitRng = root.fork();
  let dataRng = root.fork();
  // The precise-BN crops' own stream: the training crops are the same with or without it.
  const bnRng = root.fork();
  if (!(cfg.augment.interior >= 0 && cfg.augment.interior <= 1)) throw new Error(`trainUNet: augment.interior is a probability in [0, 1], got ${cfg.augment.interior}`);
  if (!INSTANCE_TARGETS.includes(cfg.instanceTarget)) throw new Error(`trainUNet: instanceTarget must be ${INSTANCE_TARGETS.join(' or ')}, got ${String(cfg.instanceTarget)}`);
  const stardist = cfg.instanceTarget === 'stardist';
  const model = new UNet(resume ? resume.model.unet : { ...DEFAULT_UNET, ...unetConfig, distanceHead: cfg.instanceTarget !== 'none', ...(stardist ? { rays: cfg.rays } : {}) }, initRng);
  if (init && !resume) model.loadStateDict(init);
  // A resumed run trains what its model has (checkpoints from before the distance head have none).
  const withDistance = Boolean(model.config.distanceHead);
  const nRays = model.config.rays ?? 0;
  cfg.instanceTarget = nRays > 0 ? 'stardist' : withDistance ? 'distance' : 'none';
  if (nRays > 0) cfg.rays = nRays;
  if (!(cfg.rayWeight >= 0)) throw new Error(`trainUNet: rayWeight must be >= 0, got ${cfg.rayWeight}`);
  const classes = model.config.classes;
  const split = resume ? resume.split : splitNames(names, cfg.valFraction, splitRng);
  const byName = new Map(samples.map((s) => [s.name, s]));
  const take = (list: string[]) =>
    list.map((n) => {
      const s = byName.get(n);
      if (!s) throw new Error(`trainUNet: the checkpoint's split names image '${n}', which is not in the data`);
      return prepare(s, normalisation, polarity, withDistance, cfg.boundaryWeight > 0, cfg.augment.interior > 0, nRays > 0);
    });
  const normalisation: Normalisation = resume ? resume.model.normalisation : cfg.normalisation;
  const polarity: Polarity = resume ? resume.model.polarity : cfg.polarity === 'auto' ? polarityFromMasks(samples) : cfg.polarity;
  let train = take(split.train);
  let val = take(split.val);
  // Masks grown to the visible edges (align.ts); the offset is measured on the training images
  // only, and a resumed run reuses the growth its checkpoint recorded.
  let edge: number | null = null;
  let grownBy = 0;
  if (resume) grownBy = typeof resume.train.growMasks === 'number' ? resume.train.growMasks : 0;
  else if (cfg.growMasks === 'auto') {
    edge = edgeOffset(edgeProfile(train));
    grownBy = Math.max(0, Math.round(edge));
  } else grownBy = Math.max(0, Math.round(cfg.growMasks));
  cfg.growMasks = grownBy;
  if (grownBy > 0) {
    const grow = (list: Prepared[]) => list.map((s) => ({ ...s, classes: growClassMask(s.classes, s.width, s.height, grownBy) }));
    train = grow(train);
    val = grow(val);
  }
  // The working scale: after the growth, so the masks are grown (and the edge offset measured) on
  // the original grid exactly as at scale 1.
  const scale = resume ? resume.model.scale ?? 1 : cfg.scale ?? 1;
  checkWorkingScale(scale, 'trainUNet: scale');
  if (scale !== 1) {
    const rescale = (list: Prepared[]) => list.map((s) => prepare(atWorkingScale(s, scale), normalisation, 'bright', withDistance, cfg.boundaryWeight > 0, cfg.augment.interior > 0, nRays > 0));
    train = rescale(train);
    val = rescale(val);
  }
  if (!(cfg.boundaryWeight >= 0)) throw new Error(`trainUNet: boundaryWeight must be >= 0, got ${cfg.boundaryWeight}`);
  if (cfg.boundaryWeight > 0) {
    // After the growth: the weights follow the masks the network is trained on; sigma in original px.
    const weigh = (list: Prepared[]) => list.map((s) => ({ ...s, boundary: boundaryWeightMap(s.labels!, s.classes, s.width, s.height, cfg.boundaryWeight, BOUNDARY_SIGMA * scale) }));
    train = weigh(train);
    val = weigh(val);
  }
  const crop = resume ? resume.model.crop : cfg.crop;
  let classWeights: number[];
  if (resume) classWeights = resume.classWeights;
  else {
    const counts = new Float64Array(model.config.classes);
    let total = 0;
    for (const s of train) for (let i = 0; i < s.classes.length; i++) counts[s.classes[i]]++, total++;
    // classBalancedWeights (autodiff/ops/loss.ts) over the whole set: w_c = total / (C count_c).
    classWeights = Array.from(counts, (n) => (n > 0 ? Math.pow(total / (model.config.classes * n), cfg.classWeightPower) : 0));
  }
  cfg.emaSteps = cfg.emaSteps ?? 0;
  cfg.warmupSteps = cfg.warmupSteps ?? 0;
  if (!(Number.isInteger(cfg.warmupSteps) && cfg.warmupSteps >= 0)) throw new Error(`trainUNet: warmupSteps must be an integer >= 0, got ${cfg.warmupSteps}`);
  if (!(Number.isInteger(cfg.emaSteps) && cfg.emaSteps >= 0)) throw new Error(`trainUNet: emaSteps must be an integer >= 0, got ${cfg.emaSteps}`);
  if (resume && cfg.emaSteps > 0 && !resume.average) throw new Error('trainUNet: the checkpoint has no weight average to continue (it was trained without emaSteps)');
  const opt = new Adam(model.parameters(), { lr: cfg.lr });
  let epoch = 0;
  let step = 0;
  const history: EpochRecord[] = [];
  if (resume) {
    model.loadStateDict(resume.weights);
    opt.loadState(resume.optimizer);
    dataRng = Rng.fromState(resume.rng);
    epoch = resume.epoch;
    step = resume.step;
    history.push(...resume.history);
  }
  const average = cfg.emaSteps > 0 ? new WeightAverage(model, cfg.emaSteps, resume?.average ? { state: resume.average.weights, updates: resume.average.updates } : undefined) : null;
  const stepsPerEpoch = cfg.stepsPerEpoch > 0 ? cfg.stepsPerEpoch : Math.ceil(train.length / cfg.batch);
  const totalSteps = cfg.epochs * stepsPerEpoch;
  const modelInfo: ModelInfo = { unet: model.config, normalisation, polarity, crop, ...(scale !== 1 ? { scale } : {}) };
  hooks.progress?.({ kind: 'start', trainImages: train.length, valImages: val.length, stepsPerEpoch, totalSteps, parameters: model.parameterCount(), classWeights, resumedAt: step, edgeOffset: edge, grownBy, polarity });

  // Fixed validation crops (their own Rng, the same every epoch).
  const valBatch = val.length ? makeBatch(val, ((k) => () => k++ % val.length)(0), Math.min(32, val.length * 4), crop, cfg, new Rng(cfg.seed + 7919), false, withDistance, nRays) : null;
  const rayTerm = (t: Tensor | null) => (t ? { target: t, weight: cfg.rayWeight } : null);

  const every = hooks.every ?? 10;
  const t0 = now();
  const startStep = step;
  let checkpoint: Checkpoint | null = null;
  const snapshot = (): Checkpoint => ({
    model: modelInfo,
    train: cfg,
    epoch,
    step,
    weights: model.stateDict(),
    optimizer: opt.state(),
    rng: dataRng.state(),
    classWeights,
    split,
    history: [...history],
    ...(average ? { average: { weights: averagedWeights(), updates: average.updates } } : {}),
  });
  // The average's weights; once the run is finished, with batch norm statistics pooled over one
  // epoch of augmented training crops seen by the averaged network (adapt-bn.ts).
  const averagedWeights = (): StateDict => {
    const weights = average!.stateDict(model);
    if (epoch < cfg.epochs) return weights;
    const averaged = new UNet(model.config, new Rng(0));
    averaged.loadStateDict(weights);
    const crops = function* (): Generator<Tensor> {
      const order = epochOrder(bnRng, train.length, stepsPerEpoch * cfg.batch);
      let k = 0;
      for (let s = 0; s < stepsPerEpoch; s++) yield makeBatch(train, () => order[k++], cfg.batch, crop, cfg, bnRng, true, withDistance, nRays).x;
    };
    applyBatchNormStats(averaged, { ...poolBatchNormStats(averaged, crops()), images: train.length, tiles: stepsPerEpoch * cfg.batch });
    return averaged.stateDict();
  };
  while (epoch < cfg.epochs) {
    // A fresh generator from the saved state drops Box-Muller's cached spare, so an epoch starts
    // identically whether or not the run was resumed here.
    dataRng = Rng.fromState(dataRng.state());
    const te = now();
    const order = epochOrder(dataRng, train.length, stepsPerEpoch * cfg.batch);
    let k = 0;
    let sumLoss = 0, sumCe = 0, sumDice = 0, sumDist = 0, sumRay = 0;
    model.train();
    for (let s = 0; s < stepsPerEpoch; s++) {
      profileStepStart();
      const { x, target, distance, boundary, rays } = phase('data', () => makeBatch(train, () => order[k++], cfg.batch, crop, cfg, dataRng, true, withDistance, nRays));
      const lr = learningRate(cfg, step, totalSteps);
      opt.lr = lr;
      const out = model.forward(x);
      const { loss, ce, dice, dist, ray } = segLoss(out, classes, target, distance, classWeights, cfg.diceWeight, cfg.distanceWeight, boundary, rayTerm(rays));
      const lv = loss.item();
      if (!Number.isFinite(lv)) throw new Error(`trainUNet: the loss became ${lv} at step ${step + 1} (epoch ${epoch + 1}); lower --lr`);
      loss.backward();
      phase('optimizer', () => {
        opt.step();
        opt.zeroGrad();
        average?.update();
      });
      profileStepEnd();
      step++;
      sumLoss += lv;
      sumCe += ce.item();
      sumDice += dice.item();
      if (dist) sumDist += dist.item();
      if (ray) sumRay += ray.item();
      if (hooks.progress && (step % every === 0 || s === stepsPerEpoch - 1)) {
        const rate = (step - startStep) / Math.max(1e-9, (now() - t0) / 1000);
        hooks.progress({ kind: 'step', epoch: epoch + 1, step, totalSteps, loss: lv, ce: ce.item(), dice: dice.item(), ...(dist ? { dist: dist.item() } : {}), ...(ray ? { ray: ray.item() } : {}), lr, stepsPerSecond: rate, etaSeconds: (totalSteps - step) / rate });
      }
    }
    epoch++;
    const rec: EpochRecord = { epoch, step, loss: sumLoss / stepsPerEpoch, ce: sumCe / stepsPerEpoch, dice: sumDice / stepsPerEpoch, ...(withDistance ? { dist: sumDist / stepsPerEpoch } : {}), ...(nRays > 0 ? { ray: sumRay / stepsPerEpoch } : {}), seconds: (now() - te) / 1000 };
    if (valBatch) {
      model.eval();
      noGrad(() => {
        const out = model.forward(valBatch.x);
        rec.valLoss = segLoss(out, classes, valBatch.target, valBatch.distance, classWeights, cfg.diceWeight, cfg.distanceWeight, valBatch.boundary, rayTerm(valBatch.rays)).loss.item();
        const d = foregroundDice(out, classes, valBatch.target);
        rec.valDsc = d.sum === 0 ? 1 : (2 * d.inter) / d.sum;
      });
      model.train();
    }
    history.push(rec);
    checkpoint = snapshot();
    const rate = (step - startStep) / Math.max(1e-9, (now() - t0) / 1000);
    // Save first: the epoch line says "checkpoint saved", which must not print when the save fails.
    hooks.checkpoint?.(checkpoint);
    hooks.progress?.({ kind: 'epoch', record: rec, etaSeconds: (totalSteps - step) / rate });
  }
  model.eval();
  return { model, checkpoint: checkpoint ?? snapshot() };
}
