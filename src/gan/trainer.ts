/**
 * One DiffRenderGAN training run, without any file or terminal access (those come in through
 * src/node/train.ts). Follows the reference (METHOD.md): configurations phi are drawn
 * once before training and kept fixed; each step draws a batch of them and a batch of real
 * patches (augmented by the 8 dihedral transforms), updates G with the LSGAN loss, then D.
 */
import { Tensor, allocData } from '../autodiff/tensor.js';
import { noGrad, setGradHook, backward, type BackwardOptions } from '../autodiff/tape.js';
import { phase, profileStepEnd, profileStepStart } from '../autodiff/profile.js';
import { Rng, type RngState } from '../autodiff/rng.js';
import { Adam, type OptimizerState } from '../autodiff/optim/index.js';
import type { StateDict } from '../autodiff/nn/index.js';
import { concat, slice as sliceOp } from '../autodiff/ops/index.js';
import { PatchDiscriminator, ParamNet, type NormKind } from './models.js';
import { discInput, discInputChannels, type DiscInput } from './patch-normalise.js';
import { ParamMapping, featureBatch, renderBatch, FEATURE_SIZE } from './generator.js';
import { lsganDiscriminatorLoss, lsganGeneratorLoss } from './losses.js';
import { augment } from './patches.js';
import { sampleScene, type Scene } from '../render/scene.js';
import type { SceneConfig } from '../render/config.js';
import { ExitCode, UserError } from '../errors.js';
import { NO_SIZE_CHANGE, SIZE_LR, clampLearnedSize, learnSizeProblem, sizeGradient, withLearnedSize, type LearnedSize } from './learned-size.js';

export interface GanConfig {
  /** Preset name the scene config started from (informational). */
  preset: string;
  /** The full scene config (preset merged with the user's overrides); width = height = patch. */
  scene: SceneConfig;
  learned: string[];
  patch: number;
  epochs: number;
  /** Generator / discriminator steps per epoch (reference: one per real patch). */
  stepsPerEpoch: number;
  batch: number;
  lrG: number;
  lrD: number;
  betas: [number, number];
  baseFilters: number;
  discLayers: number;
  norm: NormKind;
  seed: number;
  /** Configurations drawn before training (reference: one per real patch). */
  numConfigs: number;
  /** Configurations rendered after each epoch for the realism score and the samples. */
  evalSamples: number;
  /**
   * Where the learned parameters start: 'scene' at the scene config's values (the preset's,
   * after the calibration from the real images), 'midpoint' (the default, and what run configs
   * without this field get) in the middle of each parameter's range.
   */
  start?: 'scene' | 'midpoint';
  /**
   * Narrower [min, max] for some learned parameters (inside the parameter table's range): the
   * bounds around the values calibrated from the real images (imaging-calibration.ts). Absent:
   * the table's ranges.
   */
  ranges?: Record<string, [number, number]>;
  /**
   * What the discriminator sees: 'raw' patches (the reference, and what configs without this
   * field get) or 'raw+normalised', a second channel with each patch at zero mean and unit std
   * (as the classifier two-sample test sees it), gradients flowing through the normalisation.
   */
  dInput?: DiscInput;
  /**
   * Whether the GAN also fits the particle size distribution's median and spread (a log-size
   * shift and a log-spread factor, learned-size.ts) through the rasterizer's vertex gradients.
   * Absent: off (runs from before the option, and every default run).
   */
  learnSize?: boolean;
}

/**
 * The ParamNet outputs s in (0, 1) at which the learned parameters take the scene's values,
 * kept 2 % inside the range so that the sigmoid is not started saturated.
 */
export function sceneStartOutputs(mapping: ParamMapping, values: Record<string, number>): number[] {
  return mapping.learned.map((name) => {
    const [lo, hi] = mapping.range(name);
    const v = values[name] ?? 0.5 * (lo + hi);
    const s = hi > lo ? (v - lo) / (hi - lo) : 0.5;
    return Math.min(0.98, Math.max(0.02, s));
  });
}

export interface StepResult {
  lossG: number;
  lossD: number;
  /** Mean discriminator output on real and fake patches (LSGAN targets 1 and 0). */
  dReal: number;
  dFake: number;
}

export interface EpochEval {
  /** Learned parameters (physical units) for every stored configuration. */
  params: Record<string, number[]>;
  paramMean: Record<string, number>;
  paramStd: Record<string, number>;
  /** Rendered samples (eval mode, fresh noise), patch x patch each, in [0, 1]. */
  samples: Float32Array[];
}

export interface TrainerState {
  epoch: number;
  step: number;
  rng: { data: RngState; dropout: RngState; render: RngState };
  optG: OptimizerState;
  optD: OptimizerState;
  /** The learned size and its optimiser (runs with learnSize only). */
  size?: LearnedSize & { opt: OptimizerState };
}

/** A NaN / Inf in a loss or gradient: the run stops with this error (last checkpoint kept). */
export class NumericalError extends UserError {
  constructor(message: string) {
    super(message, ExitCode.numerical);
    this.name = 'NumericalError';
  }
}

/**
 * Throws a NumericalError naming the first parameter of `net` whose gradient is not finite; `at`
 * says when ("step 12"), `faultyOp` the op the first non-finite gradient came out of (tracedBackward).
 */
export function checkFiniteGradients(net: string, params: [string, Tensor][], at: string, faultyOp: string | null): void {
  for (const [name, p] of params) {
    const g = p.grad?.data;
    if (!g) continue;
    for (let i = 0; i < g.length; i++) {
      if (!Number.isFinite(g[i])) {
        const origin = faultyOp ? `; the first non-finite gradient came out of op '${faultyOp}'` : '';
        throw new NumericalError(`${net} gradient of '${name}' is ${g[i]} at ${at} (element ${i})${origin}`);
      }
    }
  }
}

export class GanTrainer {
  readonly fcn: ParamNet;
  readonly disc: PatchDiscriminator;
  readonly optG: Adam;
  readonly optD: Adam;
  readonly mapping: ParamMapping;
  readonly scenes: Scene[];
  /** Random streams kept apart so that each part stays reproducible on its own. */
  readonly dataRng: Rng;
  readonly dropoutRng: Rng;
  readonly renderRng: Rng;
  epoch = 0;
  step = 0;
  /** The op whose backward first produced a non-finite gradient in the last backward pass. */
  private faultyOp: string | null = null;
  /**
   * learnSize: (a, b) as a float64 leaf [2] with its own Adam, the random state each stored
   * configuration was drawn from (it is redrawn from it at the current sizes), and the size
   * version each stored scene was built at.
   */
  private readonly sizeParam: Tensor | null = null;
  private readonly optSize: Adam | null = null;
  private readonly sceneStates: RngState[] = [];
  private sizeVersion = 0;
  private readonly builtAt: number[] = [];

  constructor(readonly config: GanConfig, readonly reals: Float32Array[]) {
    if (reals.length === 0) throw new UserError('no real patches to train against', ExitCode.badInput);
    for (const r of reals) if (r.length !== config.patch * config.patch) throw new Error(`real patch has ${r.length} pixels, expected ${config.patch}^2`);
    const root = new Rng(config.seed);
    const initRng = root.fork();
    const sceneRng = root.fork();
    this.dataRng = root.fork();
    this.dropoutRng = root.fork();
    this.renderRng = root.fork();
    this.mapping = new ParamMapping(config.learned, config.scene.params, 'float32', config.ranges);
    const initialOutput = config.start === 'scene' ? sceneStartOutputs(this.mapping, config.scene.params) : undefined;
    this.fcn = new ParamNet(FEATURE_SIZE, config.learned.length, initRng, this.dropoutRng, { initialOutput });
    this.disc = new PatchDiscriminator(initRng, { baseFilters: config.baseFilters, layers: config.discLayers, norm: config.norm, inChannels: discInputChannels(config.dInput ?? 'raw') });
    this.optG = new Adam(this.fcn.parameters(), { lr: config.lrG, betas: config.betas });
    this.optD = new Adam(this.disc.parameters(), { lr: config.lrD, betas: config.betas });
    if (config.learnSize) {
      const problem = learnSizeProblem(config.scene);
      if (problem) throw new UserError(problem, ExitCode.badConfig);
      this.sizeParam = new Tensor(Float64Array.of(0, 0), [2], true);
      this.optSize = new Adam([this.sizeParam], { lr: SIZE_LR, betas: config.betas });
    }
    // Fixed configurations, drawn once (they are re-drawn identically from the seed on resume;
    // with learnSize, from their saved random states at the current sizes when those change).
    this.scenes = Array.from({ length: config.numConfigs }, () => {
      if (config.learnSize) this.sceneStates.push(sceneRng.state());
      this.builtAt.push(0);
      return sampleScene(config.scene, sceneRng);
    });
  }

  /** The learned size (a = b = 0 without learnSize). */
  get size(): LearnedSize {
    return this.sizeParam ? { a: this.sizeParam.data[0], b: this.sizeParam.data[1] } : NO_SIZE_CHANGE;
  }

  /** The scene config at the learned size: what fresh configurations are drawn from. */
  sceneConfig(): SceneConfig {
    return withLearnedSize(this.config.scene, this.size);
  }

  /** Stored configuration i, redrawn at the current learned size if it changed since it was built. */
  private sceneAt(i: number): Scene {
    if (this.sizeParam && this.builtAt[i] !== this.sizeVersion) {
      this.scenes[i] = sampleScene(this.sceneConfig(), Rng.fromState(this.sceneStates[i]));
      this.builtAt[i] = this.sizeVersion;
    }
    return this.scenes[i];
  }

  /** Every stored configuration at the current learned size. */
  private allScenes(): Scene[] {
    return this.scenes.map((_, i) => this.sceneAt(i));
  }

  /**
   * One Adam step of (a, b) from the generator loss's gradient at the rendered vertices, then the
   * clamp to their ranges; the next batches' configurations are redrawn at the new sizes.
   */
  private sizeStep(scenes: readonly Scene[], verts: readonly Tensor[]): void {
    const p = this.sizeParam!;
    const g = Float64Array.of(0, 0);
    scenes.forEach((scene, b) => {
      const vg = verts[b].grad;
      if (!vg) return;
      const d = sizeGradient(scene, vg.data);
      g[0] += d.a;
      g[1] += d.b;
    });
    if (!Number.isFinite(g[0]) || !Number.isFinite(g[1])) throw new NumericalError(`learned size gradient is (${g[0]}, ${g[1]}) at step ${this.step}`);
    p.grad = new Tensor(g, [2]);
    this.optSize!.step();
    this.optSize!.zeroGrad();
    const c = clampLearnedSize({ a: p.data[0], b: p.data[1] });
    p.data[0] = c.a;
    p.data[1] = c.b;
    this.sizeVersion++;
  }

  get totalSteps(): number {
    return this.config.epochs * this.config.stepsPerEpoch;
  }

  /** D's scores for patches [B, 1, P, P], shown as config.dInput says. */
  discriminate(x: Tensor): Tensor {
    return this.disc.forward(discInput(x, this.config.dInput ?? 'raw'));
  }

  /** A batch of augmented real patches [B, 1, P, P]. */
  private realBatch(): Tensor {
    const P = this.config.patch;
    const B = this.config.batch;
    const data = allocData('float32', B * P * P);
    for (let b = 0; b < B; b++) {
      const src = this.reals[this.dataRng.int(this.reals.length)];
      data.set(augment({ data: src, size: P }, this.dataRng).data, b * P * P);
    }
    return new Tensor(data, [B, 1, P, P]);
  }

  /**
   * One training step: G update, then D update (reference order).
   *
   * Real and fake go through D together in one batch, so BatchNorm normalises both with the same
   * statistics and G is scored by the same function that D is trained as (separate fake-only
   * passes would let BatchNorm at batch size 1 wash out the global brightness and contrast that
   * distinguish a fake). The G step and the D step see the same D (D is updated last) on the same
   * inputs, so that one forward pass serves both losses; two backward passes run through it:
   * - G: lossG's gradient reaches the FCN's parameters through the fake half and the renderer;
   *   D's weight gradients are not computed (they would be thrown away);
   * - D: lossD's gradient reaches D's parameters only; nothing flows into the fake (the
   *   reference's fake.detach()) and D's first layer computes no input gradient.
   * Parameters come out exactly as from two separate forward passes (test/gan/trainer-step.test.ts);
   * the one difference is that BatchNorm's running statistics (unused in training, which always
   * normalises by the batch) are updated once per step instead of twice with the same batch.
   */
  trainStep(): StepResult {
    profileStepStart();
    // Generator: render with parameters from the FCN; D scores real and fake in one pass.
    const { real, fake, B, scenes, verts } = this.stepInputs();
    const both = this.discriminate(concat([real, fake], 0));
    const dRealT = sliceBatch(both, 0, B);
    const dFakeT = sliceBatch(both, B, 2 * B);

    // G: push D(fake) towards 1 (with learnSize also through the rendered vertices to a and b).
    const lossG = lsganGeneratorLoss(dFakeT);
    const lossGValue = lossG.item();
    if (!Number.isFinite(lossGValue)) throw new NumericalError(`generator loss is ${lossGValue} at step ${this.step}`);
    this.faultyOp = tracedBackward(lossG, { inputs: verts ? [...this.fcn.parameters(), ...verts] : this.fcn.parameters(), retainGraph: true });
    phase('checks', () => this.checkGradients('generator', this.fcn.namedParameters()));
    phase('optimizer', () => {
      this.optG.step();
      this.optG.zeroGrad();
      if (verts) this.sizeStep(scenes, verts);
    });
    phase('checks', () => this.checkParameters('generator', this.fcn.namedParameters()));

    // D: real towards 1, the same fake towards 0 (computed before the G update, as in the reference).
    const lossD = lsganDiscriminatorLoss(dRealT, dFakeT);
    const lossDValue = lossD.item();
    if (!Number.isFinite(lossDValue)) throw new NumericalError(`discriminator loss is ${lossDValue} at step ${this.step}`);
    this.faultyOp = tracedBackward(lossD, { inputs: this.disc.parameters() });
    phase('checks', () => this.checkGradients('discriminator', this.disc.namedParameters()));
    phase('optimizer', () => {
      this.optD.step();
      this.optD.zeroGrad();
    });
    phase('checks', () => this.checkParameters('discriminator', this.disc.namedParameters()));
    this.step++;
    profileStepEnd();
    return { lossG: lossGValue, lossD: lossDValue, dReal: meanOf(dRealT), dFake: meanOf(dFakeT) };
  }

  /**
   * The same step written plainly, as it was before the shared forward pass: D runs twice on
   * real + fake (for G with D's weights frozen, for D with the fake detached), each pass with its
   * own backward. Kept as the reference that trainStep is tested against
   * (test/gan/trainer-step.test.ts) and as the benchmark's peer (bench/gan.ts); not used in
   * training. It also updates BatchNorm's running statistics twice per step.
   */
  trainStepTwoPass(): StepResult {
    const { real, fake, B } = this.stepInputs();
    const dParams = this.disc.parameters();
    for (const p of dParams) p.requiresGrad = false;
    let lossGValue: number;
    try {
      const lossG = lsganGeneratorLoss(sliceBatch(this.discriminate(concat([real, fake], 0)), B, 2 * B));
      lossGValue = lossG.item();
      lossG.backward();
    } finally {
      for (const p of dParams) p.requiresGrad = true;
    }
    this.optG.step();
    this.optG.zeroGrad();
    const both = this.discriminate(concat([real, fake.detach()], 0));
    const dRealT = sliceBatch(both, 0, B);
    const dFakeT = sliceBatch(both, B, 2 * B);
    const lossD = lsganDiscriminatorLoss(dRealT, dFakeT);
    const lossDValue = lossD.item();
    lossD.backward();
    this.optD.step();
    this.optD.zeroGrad();
    this.step++;
    return { lossG: lossGValue, lossD: lossDValue, dReal: meanOf(dRealT), dFake: meanOf(dFakeT) };
  }

  /**
   * What both step variants start from, in this order of random draws: a batch of the stored
   * scene configurations, a batch of real patches, and the scenes rendered with the FCN's
   * parameters (both networks in training mode).
   */
  private stepInputs(): { real: Tensor; fake: Tensor; B: number; scenes: Scene[]; verts: Tensor[] | null } {
    const scenes = Array.from({ length: this.config.batch }, () => this.sceneAt(this.dataRng.int(this.scenes.length)));
    this.fcn.train();
    this.disc.train();
    const real = this.realBatch();
    const s = this.fcn.forward(featureBatch(scenes));
    const verts = this.sizeParam ? [] : null;
    const fake = renderBatch(scenes, this.mapping.map(s), this.renderRng, verts ?? undefined);
    return { real, fake, B: real.shape[0], scenes, verts };
  }

  private checkGradients(net: string, params: [string, Tensor][]): void {
    checkFiniteGradients(net, params, `step ${this.step}`, this.faultyOp);
  }

  /**
   * A finite gradient can still push a weight to Inf (e.g. a far too high learning rate); caught
   * here, the error names the parameter and the update, not the NaN loss it causes a step later.
   */
  private checkParameters(net: string, params: [string, Tensor][]): void {
    for (const [name, p] of params) {
      const d = p.data;
      for (let i = 0; i < d.length; i++) {
        if (!Number.isFinite(d[i])) throw new NumericalError(`${net} parameter '${name}' is ${d[i]} after the optimiser update of step ${this.step} (element ${i}); is the learning rate too high?`);
      }
    }
  }

  /** Learned parameters for every configuration, and rendered samples (eval mode). */
  evaluate(): EpochEval {
    return noGrad(() => {
      this.fcn.eval();
      const scenes = this.allScenes();
      const s = this.fcn.forward(featureBatch(scenes));
      const L = this.config.learned.length;
      const params: Record<string, number[]> = Object.fromEntries(this.config.learned.map((n) => [n, []]));
      for (let b = 0; b < scenes.length; b++) {
        const phys = this.mapping.physical(s.data.subarray(b * L, (b + 1) * L));
        for (const n of this.config.learned) params[n].push(phys[n]);
      }
      const paramMean: Record<string, number> = {};
      const paramStd: Record<string, number> = {};
      for (const n of this.config.learned) {
        const v = params[n];
        const m = v.reduce((a, b) => a + b, 0) / v.length;
        paramMean[n] = m;
        paramStd[n] = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length);
      }
      // Samples: a fixed subset of configurations, with an evaluation stream of noise that does
      // not disturb the training streams.
      const evalRng = new Rng(this.config.seed ^ 0x5eed ^ this.epoch);
      const n = Math.min(this.config.evalSamples, scenes.length);
      const samples: Float32Array[] = [];
      for (let b = 0; b < n; b++) {
        const scene = scenes[b];
        const sb = this.fcn.forward(featureBatch([scene]));
        const img = renderBatch([scene], this.mapping.map(sb), evalRng);
        samples.push(Float32Array.from(img.data));
      }
      this.fcn.train();
      return { params, paramMean, paramStd, samples };
    });
  }

  /**
   * `n` images of fresh configurations (drawn from the scene config with a stream of their own,
   * not the stored training ones) at the current weights, eval mode: what `generate` renders.
   */
  renderFresh(n: number, seed: number): Float32Array[] {
    return noGrad(() => {
      this.fcn.eval();
      const rng = new Rng(seed);
      const config = this.sceneConfig();
      const out: Float32Array[] = [];
      for (let i = 0; i < n; i++) {
        const scene = sampleScene(config, rng);
        out.push(Float32Array.from(renderBatch([scene], this.mapping.map(this.fcn.forward(featureBatch([scene]))), rng).data));
      }
      this.fcn.train();
      return out;
    });
  }

  state(): TrainerState {
    return {
      epoch: this.epoch,
      step: this.step,
      rng: { data: this.dataRng.state(), dropout: this.dropoutRng.state(), render: this.renderRng.state() },
      optG: compactState(this.optG.state()),
      optD: compactState(this.optD.state()),
      ...(this.sizeParam ? { size: { ...this.size, opt: this.optSize!.state() } } : {}),
    };
  }

  weights(): { fcn: StateDict; disc: StateDict } {
    return { fcn: this.fcn.stateDict(), disc: this.disc.stateDict() };
  }

  /** Restores a checkpoint written from state() and weights(). */
  load(state: TrainerState, weights: { fcn: StateDict; disc: StateDict }): void {
    this.fcn.loadStateDict(weights.fcn);
    this.disc.loadStateDict(weights.disc);
    this.optG.loadState(state.optG);
    this.optD.loadState(state.optD);
    this.dataRng.setState(state.rng.data);
    this.dropoutRng.setState(state.rng.dropout);
    this.renderRng.setState(state.rng.render);
    this.epoch = state.epoch;
    this.step = state.step;
    if (this.sizeParam) {
      if (!state.size) throw new Error('the checkpoint holds no learned size, but this run learns it (learnSize)');
      this.optSize!.loadState(state.size.opt);
      this.sizeParam.data[0] = state.size.a;
      this.sizeParam.data[1] = state.size.b;
      this.sizeVersion++;
    } else if (state.size) throw new Error('the checkpoint holds a learned size, but this run does not learn it (learnSize)');
  }
}

/** Rows [from, to) of a batch (along axis 0). */
function sliceBatch(t: Tensor, from: number, to: number): Tensor {
  return sliceOp(t, [[from, to]]);
}

/**
 * Optimiser moments as Float32Arrays (exact: the parameters are float32), which the checkpoint
 * writer stores in optim.safetensors instead of as JSON number lists.
 */
function compactState(s: OptimizerState): OptimizerState {
  const buffers: Record<string, (number[] | null)[]> = {};
  for (const [k, list] of Object.entries(s.buffers)) buffers[k] = list.map((b) => (b ? (Float32Array.from(b) as unknown as number[]) : null));
  return { ...s, buffers };
}

/**
 * backward() that also finds the op whose vector-Jacobian product first turned a gradient
 * non-finite (ops run in reverse order, so the first one seen is where the fault entered).
 */
export function tracedBackward(loss: Tensor, opts: BackwardOptions = {}): string | null {
  let first: string | null = null;
  setGradHook((op, _input, grad) => {
    if (first) return;
    const g = grad.data;
    for (let i = 0; i < g.length; i++) {
      if (!Number.isFinite(g[i])) {
        first = op;
        return;
      }
    }
  });
  try {
    backward(loss, undefined, opts);
  } finally {
    setGradHook(null);
  }
  return first;
}

function meanOf(t: Tensor): number {
  let s = 0;
  for (let i = 0; i < t.size; i++) s += t.data[i];
  return s / t.size;
}
