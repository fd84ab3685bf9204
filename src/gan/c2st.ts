/**
 * Classifier two-sample test (C2ST; Lopez-Paz & Oquab, "Revisiting classifier two-sample tests",
 * ICLR 2017) of real against synthetic micrograph patches, on this project's own engine: no
 * downloaded weights (FID needs Inception's). A small CNN learns to tell the two sets apart on one
 * part of the data and is scored on the rest; its test accuracy is the realism score:
 * 0.5 = the classifier cannot tell them apart, 1.0 = it always can.
 *
 * What keeps the test honest:
 *  - Split by source image: all patches of one micrograph (or one synthetic image) are on the
 *    same side of the train / test split, so the classifier cannot recognise a test patch by
 *    the image it was cut from.
 *  - Balanced classes on both sides (the larger class is subsampled), so 0.5 is chance.
 *  - Each patch is normalised to zero mean and unit standard deviation before the CNN sees it:
 *    global brightness and contrast alone cannot decide (the histogram score sees those).
 *  - Training patches are augmented by the 8 symmetries of the square.
 *  - Several seeds (each a new split, subsample, initialisation and batch order); the result is
 *    the mean test accuracy with a 95 % interval that holds both the binomial error of one test
 *    set and the spread between seeds (see `c2stInterval`).
 *
 * The CNN: four 3 x 3 convolutions with stride 2 (8, 16, 32, 32 filters, LeakyReLU 0.2), the mean
 * over all positions, one linear unit (the logit of "real"); binary cross-entropy, Adam 1e-3.
 * It is small on purpose (about 16 k weights): a test that runs in a pipeline in seconds to a
 * minute or two on 2 CPU cores, not a state-of-the-art detector. A larger network could only
 * tell the sets apart better, so the score is an upper bound on realism, not a proof of it.
 *
 * Pure: runs in a browser (uses whichever compute backend is selected).
 */
import { Rng } from '../autodiff/rng.js';
import { Tensor, allocData } from '../autodiff/tensor.js';
import { noGrad } from '../autodiff/tape.js';
import { Module, Sequential, Conv2d, Linear, LeakyReLU } from '../autodiff/nn/index.js';
import { Adam } from '../autodiff/optim/index.js';
import { bceWithLogits, mean } from '../autodiff/ops/index.js';
import { dihedral, type Dihedral } from './patches.js';
import { UserError } from '../errors.js';

/** The patches of one source image (a micrograph or one synthetic image), patch x patch each. */
export interface C2stSource {
  name: string;
  /** Non-overlapping patches: what the source contributes when it is on the test side. */
  patches: Float32Array[];
  /**
   * Optional denser (overlapping) patches of the same image, used instead of `patches` when the
   * source is on the training side: more training data from few micrographs, while test patches
   * stay disjoint.
   */
  trainPatches?: Float32Array[];
}

export interface C2stOptions {
  /** Side of the square patches (every patch must have patch^2 values). */
  patch: number;
  /** Repetitions with a new split, subsample and initialisation (default 3). */
  seeds?: number;
  /** Passes over the training patches per seed (default 20). */
  epochs?: number;
  /** Share of each class's patches (by source) on the training side (default 0.5). */
  trainFraction?: number;
  /** Patches per class at most, on each side of the split (default 240: bounds the run time). */
  maxPerClass?: number;
  /** Minibatch size (default 16). */
  batch?: number;
  /** Adam learning rate (default 1e-3). */
  lr?: number;
  /** Seed of the first repetition (default 0). */
  seed?: number;
  /** Called after each seed (progress). */
  onSeed?: (r: C2stSeedResult, index: number) => void;
}

export interface C2stSeedResult {
  seed: number;
  /** Test accuracy of this seed (balanced test set). */
  accuracy: number;
  /** Test patches per class. */
  testPerClass: number;
  /** Training patches per class. */
  trainPerClass: number;
  /** Mean training loss over the last epoch. */
  finalLoss: number;
}

export interface C2stResult {
  /** Mean test accuracy over the seeds (0.5 = indistinguishable). */
  accuracy: number;
  /** 95 % interval of the accuracy (c2stInterval). */
  ci: [number, number];
  seeds: C2stSeedResult[];
  patch: number;
  real: { sources: number; patches: number };
  synthetic: { sources: number; patches: number };
}

/** The classifier: see the module comment. */
export class C2stNet extends Module {
  readonly net: Sequential;
  readonly head: Linear;
  constructor(rng: Rng) {
    super();
    const widths = [1, 8, 16, 32, 32];
    const mods: Module[] = [];
    for (let i = 1; i < widths.length; i++) mods.push(new Conv2d(widths[i - 1], widths[i], 3, rng, { stride: 2, padding: 1 }), new LeakyReLU(0.2));
    this.net = this.registerModule('net', new Sequential(...mods));
    this.head = this.registerModule('head', new Linear(widths[widths.length - 1], 1, rng));
  }

  /** x [B, 1, H, W] (normalised patches) -> logits [B, 1]. */
  forward(x: Tensor): Tensor {
    const f = this.net.forward(x);
    return this.head.forward(mean(f, [2, 3]));
  }
}

/** The patch shifted to zero mean and scaled to unit standard deviation (a flat patch stays 0). */
export function normalisePatch(data: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < data.length; i++) s += data[i];
  const m = s / data.length;
  let v = 0;
  for (let i = 0; i < data.length; i++) v += (data[i] - m) ** 2;
  const std = Math.sqrt(v / data.length);
  const inv = std > 1e-6 ? 1 / std : 0;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = (data[i] - m) * inv;
  return out;
}

/**
 * Square tiles of `patch` px cut from a size x size image (non-overlapping, the last row and
 * column aligned to the edge, as in patches.ts); the image itself when patch = size.
 */
export function tileSquare(data: Float32Array, size: number, patch: number): Float32Array[] {
  if (patch > size) throw new UserError(`c2st: a ${size} px image is smaller than the ${patch} px patch`);
  if (patch === size) return [data];
  const origins: number[] = [];
  for (let o = 0; o + patch <= size; o += patch) origins.push(o);
  if (origins[origins.length - 1] + patch < size) origins.push(size - patch);
  const out: Float32Array[] = [];
  for (const y of origins)
    for (const x of origins) {
      const t = new Float32Array(patch * patch);
      for (let r = 0; r < patch; r++) t.set(data.subarray((y + r) * size + x, (y + r) * size + x + patch), r * patch);
      out.push(t);
    }
  return out;
}

/**
 * 95 % interval of the mean accuracy over k seeds: mean +- 1.96 sqrt(p (1 - p) / n + s^2 / k),
 * with n the test patches (both classes) of one seed and s the standard deviation of the seeds'
 * accuracies. The first term is the binomial error of one test set (not divided by k: the seeds
 * re-use the same images, so their test sets are not independent samples); the second is the
 * variation from split and training. Clipped to [0, 1].
 */
export function c2stInterval(accuracies: readonly number[], testCount: number): [number, number] {
  const k = accuracies.length;
  const p = accuracies.reduce((a, b) => a + b, 0) / k;
  const s2 = k > 1 ? accuracies.reduce((a, b) => a + (b - p) ** 2, 0) / (k - 1) : 0;
  const half = 1.96 * Math.sqrt((p * (1 - p)) / Math.max(1, testCount) + s2 / k);
  return [Math.max(0, p - half), Math.min(1, p + half)];
}

function shuffle<T>(xs: T[], rng: Rng): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/**
 * Splits one class's sources into a training and a test side by source, aiming at
 * `trainFraction` of the patches on the training side; both sides get at least one source.
 */
export function splitBySource(sources: readonly C2stSource[], trainFraction: number, rng: Rng): { train: Float32Array[]; test: Float32Array[]; trainNames: string[]; testNames: string[] } {
  const order = shuffle(sources.filter((s) => s.patches.length > 0).slice(), rng);
  const total = order.reduce((a, s) => a + s.patches.length, 0);
  const train: Float32Array[] = [];
  const test: Float32Array[] = [];
  const trainNames: string[] = [];
  const testNames: string[] = [];
  let taken = 0;
  order.forEach((s, i) => {
    const last = i === order.length - 1;
    const toTrain = i === 0 || (!last && taken + s.patches.length / 2 <= trainFraction * total);
    if (toTrain) {
      train.push(...(s.trainPatches ?? s.patches));
      trainNames.push(s.name);
      taken += s.patches.length;
    } else {
      test.push(...s.patches);
      testNames.push(s.name);
    }
  });
  return { train, test, trainNames, testNames };
}

function take(xs: Float32Array[], n: number, rng: Rng): Float32Array[] {
  return shuffle(xs.slice(), rng).slice(0, n);
}

function checkSources(sources: readonly C2stSource[], patch: number, what: string): number {
  let n = 0;
  for (const s of sources) {
    for (const p of [...s.patches, ...(s.trainPatches ?? [])]) {
      if (p.length !== patch * patch) throw new UserError(`c2st: a ${what} patch of ${s.name} has ${p.length} values, expected ${patch} x ${patch}`);
    }
    n += s.patches.length;
  }
  const used = sources.filter((s) => s.patches.length > 0).length;
  if (used < 2) throw new UserError(`c2st: the ${what} side needs patches from at least 2 source images (to split train / test by image), got ${used}`);
  return n;
}

/** Runs the test; see the module comment. */
export function classifierTwoSampleTest(real: readonly C2stSource[], synthetic: readonly C2stSource[], options: C2stOptions): C2stResult {
  const jobs = c2stSeedJobs(real, synthetic, options);
  const results = jobs.map((job, k) => {
    const r = runC2stSeed(job);
    options.onSeed?.(r, k);
    return r;
  });
  return c2stSummary(jobs, results);
}

/**
 * One seed of the test (runC2stSeed): plain data, so it may run on any thread; a seed's result
 * depends on nothing else (its own split, subsample, initialisation and batch order).
 */
export interface C2stSeedJob {
  real: readonly C2stSource[];
  synthetic: readonly C2stSource[];
  settings: C2stSeedSettings;
}

/** The seeds' jobs of classifierTwoSampleTest(real, synthetic, options), options checked. */
export function c2stSeedJobs(real: readonly C2stSource[], synthetic: readonly C2stSource[], options: Omit<C2stOptions, 'onSeed'>): C2stSeedJob[] {
  const P = options.patch;
  if (!Number.isInteger(P) || P < 16) throw new UserError(`c2st: patch must be an integer >= 16 (got ${P})`);
  const seeds = options.seeds ?? 3;
  const epochs = options.epochs ?? 20;
  const trainFraction = options.trainFraction ?? 0.5;
  const maxPerClass = options.maxPerClass ?? 240;
  const batch = options.batch ?? 16;
  const lr = options.lr ?? 1e-3;
  for (const [v, name] of [[seeds, 'seeds'], [epochs, 'epochs'], [maxPerClass, 'maxPerClass'], [batch, 'batch']] as const) {
    if (!Number.isInteger(v) || v < 1) throw new UserError(`c2st: ${name} must be an integer >= 1 (got ${v})`);
  }
  if (!(trainFraction > 0 && trainFraction < 1)) throw new UserError(`c2st: trainFraction must lie in (0, 1) (got ${trainFraction})`);
  checkSources(real, P, 'real');
  checkSources(synthetic, P, 'synthetic');
  const base = options.seed ?? 0;
  return Array.from({ length: seeds }, (_, k) => ({ real, synthetic, settings: { P, seed: base + k, epochs, trainFraction, maxPerClass, batch, lr } }));
}

/** Trains and scores one seed's classifier. */
export function runC2stSeed(job: C2stSeedJob): C2stSeedResult {
  return runSeed(job.real, job.synthetic, job.settings);
}

/** The test's result from its jobs and their results (in the jobs' order). */
export function c2stSummary(jobs: readonly C2stSeedJob[], results: readonly C2stSeedResult[]): C2stResult {
  if (jobs.length === 0 || results.length !== jobs.length) throw new Error(`c2st: ${results.length} results for ${jobs.length} seeds`);
  const { real, synthetic, settings } = jobs[0];
  const count = (sources: readonly C2stSource[]) => sources.reduce((a, s) => a + s.patches.length, 0);
  const acc = results.map((r) => r.accuracy);
  const testCount = (2 * results.reduce((a, r) => a + r.testPerClass, 0)) / results.length;
  return {
    accuracy: acc.reduce((a, b) => a + b, 0) / acc.length,
    ci: c2stInterval(acc, testCount),
    seeds: [...results],
    patch: settings.P,
    real: { sources: real.filter((s) => s.patches.length > 0).length, patches: count(real) },
    synthetic: { sources: synthetic.filter((s) => s.patches.length > 0).length, patches: count(synthetic) },
  };
}

export interface C2stSeedSettings {
  P: number;
  seed: number;
  epochs: number;
  trainFraction: number;
  maxPerClass: number;
  batch: number;
  lr: number;
}

function runSeed(real: readonly C2stSource[], synthetic: readonly C2stSource[], s: C2stSeedSettings): C2stSeedResult {
  const rng = new Rng(0xc2 + 7919 * s.seed);
  const r = splitBySource(real, s.trainFraction, rng);
  const f = splitBySource(synthetic, s.trainFraction, rng);
  const nTrain = Math.min(r.train.length, f.train.length, s.maxPerClass);
  const nTest = Math.min(r.test.length, f.test.length, s.maxPerClass);
  if (nTrain === 0 || nTest === 0) throw new UserError('c2st: a side of the split has no patches (too few source images)');
  type Item = { x: Float32Array; y: number };
  const train: Item[] = [...take(r.train, nTrain, rng).map((x) => ({ x: normalisePatch(x), y: 1 })), ...take(f.train, nTrain, rng).map((x) => ({ x: normalisePatch(x), y: 0 }))];
  const test: Item[] = [...take(r.test, nTest, rng).map((x) => ({ x: normalisePatch(x), y: 1 })), ...take(f.test, nTest, rng).map((x) => ({ x: normalisePatch(x), y: 0 }))];
  const net = new C2stNet(rng.fork());
  const opt = new Adam(net.parameters(), { lr: s.lr });
  const P2 = s.P * s.P;
  const batchTensor = (items: Item[], augmentRng: Rng | null): { x: Tensor; y: Tensor } => {
    const xd = allocData('float32', items.length * P2);
    const yd = allocData('float32', items.length);
    items.forEach((it, i) => {
      xd.set(augmentRng ? dihedral(it.x, s.P, augmentRng.int(8) as Dihedral) : it.x, i * P2);
      yd[i] = it.y;
    });
    return { x: new Tensor(xd, [items.length, 1, s.P, s.P]), y: new Tensor(yd, [items.length, 1]) };
  };
  let finalLoss = NaN;
  for (let e = 0; e < s.epochs; e++) {
    shuffle(train, rng);
    let lossSum = 0;
    let batches = 0;
    for (let i = 0; i < train.length; i += s.batch) {
      const { x, y } = batchTensor(train.slice(i, i + s.batch), rng);
      opt.zeroGrad();
      const loss = bceWithLogits(net.forward(x), y);
      loss.backward();
      opt.step();
      lossSum += loss.item();
      batches++;
    }
    finalLoss = lossSum / batches;
  }
  let correct = 0;
  noGrad(() => {
    for (let i = 0; i < test.length; i += 32) {
      const items = test.slice(i, i + 32);
      const logits = net.forward(batchTensor(items, null).x).data;
      items.forEach((it, j) => {
        if ((logits[j] > 0 ? 1 : 0) === it.y) correct++;
      });
    }
  });
  return { seed: s.seed, accuracy: correct / test.length, testPerClass: nTest, trainPerClass: nTrain, finalLoss };
}

/** One line for logs and reports: 'C2ST accuracy 0.874 (95 % interval 0.81-0.94; 3 seeds, 128 px)'. */
export function formatC2st(r: C2stResult): string {
  return `C2ST accuracy ${r.accuracy.toFixed(3)} (95 % interval ${r.ci[0].toFixed(2)}-${r.ci[1].toFixed(2)}; ${r.seeds.length} seed(s), ${r.patch} px patches, ` +
    `${r.seeds[0]?.testPerClass ?? 0} test + ${r.seeds[0]?.trainPerClass ?? 0} training patches per class; 0.5 = indistinguishable)`;
}
