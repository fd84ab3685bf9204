/**
 * The `train` command's run: real patches (or the demo's), a GanTrainer, and the run folder
 * (METHOD.md / issue: config.json, a checkpoint per epoch, metrics.jsonl, samples/, report.html).
 * Resuming reloads the last complete checkpoint; the steps of an epoch that was interrupted are
 * redone from it with the saved random states, so a resumed run ends with the same weights as an
 * uninterrupted one.
 */
import { existsSync, mkdirSync, readdirSync, statSync, accessSync, constants } from 'node:fs';
import { join, resolve } from 'node:path';
import { GanTrainer, NumericalError, type GanConfig } from '../gan/trainer.js';
import { demoSetup } from '../gan/demo.js';
import { scaleSceneConfig } from '../gan/demo.js';
import { learnedRange, validateLearned } from '../gan/generator.js';
import { extractPatchesFromImages, cropBottom, type Grey } from '../gan/patches.js';
import { calibrateImaging, calibratedRanges } from '../gan/imaging-calibration.js';
import { sceneStatistics } from '../gan/scene-stats.js';
import { asWindowIntoField, windowFieldArea } from '../render/scene-window.js';
import { calibrateBaseRadius, calibrateCoverage, calibrateAgglomerates, calibrateCountSpread, presetRadiusCalibration, presetRecalibrateAgglomerates, type AgglomerateRecalibration, presetRadiusLast, presetWindowMargin, presetWindowCalibrated, presetWindowCounts, presetWindowField, calibrateWindowCounts, MAX_CALIBRATED_COUNT, RADIUS_QUANTILES, RADIUS_RENDERS, type RadiusCalibrationMethod, type RadiusEstimate, type WindowCountsMethod, type WindowField } from '../gan/calibrate.js';
import { calibrateSizeSpread, presetSizeSpread, sizeSpreadProblem, SIZE_SPREAD_GRID, SIZE_SPREAD_RENDERS, SIZE_SPREAD_STATISTIC, type SizeSpreadMethod, type SizeSpreadSearch } from '../gan/calibrate-size-spread.js';
import { detectPolarity, type Polarity, type PolaritySetting } from '../particles/polarity.js';
import { modelPolarity } from '../render/polarity.js';
import { RealismReference, chooseBestEpoch, type EpochScore } from '../gan/realism.js';
import { c2stSeedJobs, c2stSummary, formatC2st, tileSquare, type C2stResult } from '../gan/c2st.js';
import * as ckpt from './gan-checkpoint.js';
import { checkTrainerState } from './trainer-state-check.js';
import { buildReport } from '../gan/report.js';
import { ProgressBar } from '../gan/progress.js';
import { mergeSceneConfig, type SceneConfig } from '../render/config.js';
import { presetConfig, LEARNED_BY_PRESET, type PresetName } from '../render/presets/index.js';
import { PARAMETER_TABLE, isParamName, paramIndex } from '../render/params.js';
import { listImageFiles, makeDirs, readImageFile, readInputFile, readInputJson, removeIfEmpty, removeStaleTempFiles, writeFileAtomic } from './files.js';
import { ganSizeProblem } from '../gan/limits.js';
import { formatLearnedSize, learnSizeProblem } from '../gan/learned-size.js';
import { encodePngGrey8 } from '../io/png.js';
import { ConfigError, ExitCode, InputError, UserError } from '../errors.js';
import { getBackend } from '../autodiff/backend.js';
import { formatProfile, startProfile, stopProfile } from '../autodiff/profile.js';
import { applySceneConfigFile } from './scene-config.js';
import type { NormKind } from '../gan/models.js';
import { DISC_INPUTS, type DiscInput } from '../gan/patch-normalise.js';
import { defaultRasterThreads, withRasterPool } from './raster-pool.js';
import { DEFAULT_REFINER, refineImage, refinerSettingsProblem, type Refiner, type RefinerSettings } from '../gan/refiner.js';
import { loadRefiner, refinerUpToDate, trainRunRefiner } from './refiner.js';
import { RunLog, RUN_LOG_FILE } from './run-log.js';
import { agglomerateRunner, estimateParticleRadiusOnWorkers, imagingRunner, runC2stSeeds, taskThreads } from './task-workers.js';

export interface TrainOptions {
  real?: string[];
  preset: PresetName;
  configFile?: string;
  /**
   * Apply configFile before the calibrations instead of after them: they then start from its
   * fields (e.g. particle shapes), and the fields they calibrate (radius, counts, agglomerates,
   * image formation) are calibrated over its values. Real data only; needs configFile.
   */
  configFirst?: boolean;
  learn?: string[];
  out?: string;
  resume?: string;
  cropBottom: number;
  patch?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  configs?: number;
  batch: number;
  lrG?: number;
  lrD: number;
  baseFilters?: number;
  norm: NormKind;
  /** What the discriminator sees (GanConfig.dInput; default raw). */
  dInput?: DiscInput;
  evalSamples: number;
  seed: number;
  quiet: boolean;
  /** Base radius of the particles in px, or 'auto' to estimate it from the real images (default). */
  particleRadius?: number | 'auto';
  /** How an 'auto' particle radius is estimated (calibrate.ts; default: the preset's choice). */
  radiusCalibration?: RadiusCalibrationMethod;
  /**
   * Whether the agglomerate calibration runs again: 'on', after the image formation calibration,
   * on renders with the calibrated image formation and radius; 'trained', as 'on' and once more
   * after the epochs, on the run's scene (the window applied) at the chosen epoch's mean image
   * formation, its counts and agglomerates written into config.json (what generate renders; the
   * GAN's weights stay). Real images and packed placement only. Default: the preset's choice. On
   * --resume: 'trained' adds the pass after the epochs to the run, 'on' / 'off' remove it.
   */
  recalibrateAgglomerates?: AgglomerateRecalibration;
  /**
   * Whether the upper-quartile radius step runs last, after the second agglomerate pass (on the
   * scene the pairs are rendered from, before the window), instead of between the image formation
   * calibration and that pass (default: the preset's choice; ignored where the window comes first).
   */
  radiusLast?: boolean;
  /**
   * The calibrated scene rendered as a window into a larger field with this margin (0: off;
   * default: the preset's; src/render/scene-window.ts). Real images only.
   */
  windowMargin?: number;
  /**
   * Whether the window is applied before the second agglomerate pass, which then calibrates
   * counts and agglomerates on frame-cut renders (default: the preset's choice; needs the
   * window and the second pass, else ignored).
   */
  windowCalibrated?: boolean;
  /**
   * How the window's counts are set when it is applied after every calibration: 'area' (the
   * field's area), 'coverage' (a factor calibrated on windowed renders' coverage;
   * calibrateWindowCounts). Default: the preset's choice; ignored where windowCalibrated applies.
   */
  windowCounts?: WindowCountsMethod;
  /**
   * The field the window looks into: 'bounded' or 'periodic' (a torus, the same everywhere;
   * docs/realism.md "A stationary field for the window"). Default: the preset's choice.
   */
  windowField?: WindowField;
  /**
   * 'calibrated': once the epochs are done, the upper spread of the lognormal sizes is matched to
   * the real patches' median local thickness on windowed renders at the chosen epoch's mean image
   * formation, the 75th percentile radius kept (src/gan/calibrate-size-spread.ts; the scene
   * generate renders changes, the GAN's weights do not). 'coverage': the same step, but the median
   * size and the counts are kept and the real patches' Otsu coverage is matched. Real images and
   * lognormal sizes only. Default: the preset's choice (tio2-sem: 'coverage'; the others: 'off'),
   * which yields where it cannot apply (the demo, --learn-size, sizes that are not lognormal). On
   * --resume: given, it replaces the run's setting (not once a step has changed the sizes to the
   * other method's).
   */
  sizeSpread?: SizeSpreadMethod;
  /** Contrast polarity of the real images, or 'auto' to detect it from them (default; particles/polarity.ts). */
  polarity?: PolaritySetting;
  /**
   * Seeds of the classifier two-sample test at the chosen epoch (default 3; 0: skip it). Runs
   * with real images only (the demo's "real" patches are renders).
   */
  c2stSeeds?: number;
  /** Test hook: stop (as if killed) after this many steps of this process. */
  stopAfterSteps?: number;
  /**
   * Soft-rasterizer lanes (threads including this one, src/node/raster-pool.ts; 1: no worker
   * threads). Default defaultRasterThreads(). Rendered values do not depend on it.
   */
  rasterThreads?: number;
  /** Print a per-step profile (src/autodiff/profile.ts) of this process's steps when training ends. */
  profile?: boolean;
  /**
   * Steps of the learned refiner trained after the GAN on the chosen epoch (src/gan/refiner.ts;
   * 0: none, the default). On --resume: given, it replaces the run's setting.
   */
  refinerSteps?: number;
  /** Weight of the refiner's self-regularisation (default DEFAULT_REFINER.lambda). */
  refinerLambda?: number;
  /**
   * Whether the GAN also fits the particle size distribution's median and spread through the
   * rasterizer's gradients (GanConfig.learnSize, src/gan/learned-size.ts; default off).
   */
  learnSize?: boolean;
}

/**
 * Wall seconds of a finished train call by part: setup (reading the images, the calibrations,
 * building the models), the epochs (steps + evaluations, epoch 0 included) and the chosen
 * epoch's classifier two-sample test (0 when it did not run).
 */
export interface TrainSeconds {
  setup: number;
  epochs: number;
  c2st: number;
  /** Training the refiner (0 when there is none or it was already trained). */
  refiner: number;
}

/** What config.json holds: the trainer's config plus where the real patches came from. */
export interface RunConfig {
  version: 1;
  gan: GanConfig;
  /**
   * Real data: the files, the crop and the contrast polarity the patches were selected with (runs
   * written before polarity existed lack it: they were bright-particle SEM / HIM runs).
   */
  data: { kind: 'demo'; hidden: Record<string, number>; count: number } | { kind: 'real'; files: string[]; cropBottom: number; polarity?: Polarity };
  /** The compute backend the run started on; --resume uses it again (results are bit-identical only on the same backend). */
  backend?: string;
  /** The learned refiner trained after the GAN (src/gan/refiner.ts); absent: none. */
  refiner?: RefinerSettings;
  /** 'calibrated' / 'coverage': the upper size spread is calibrated after the epochs (TrainOptions.sizeSpread); absent: off. */
  sizeSpread?: SizeSpreadSearch;
  /** 'trained': the agglomerates are calibrated again after the epochs (TrainOptions.recalibrateAgglomerates); absent: not. */
  recalibrateAgglomerates?: 'trained';
}

/** The backend a run was started on (for --resume), or undefined when unknown. */
export function savedBackend(runDir: string): string | undefined {
  try {
    const backend = (readInputJson(join(resolve(runDir), 'config.json')) as Partial<RunConfig> | null)?.backend;
    return typeof backend === 'string' ? backend : undefined;
  } catch {
    return undefined; // resumeRun reports the problem
  }
}

/** Why a GanConfig's sizes are out of bounds (naming the setting and its limit), or null. */
function ganConfigProblem(gan: GanConfig): string | null {
  return ganSizeProblem({
    patch: gan.patch,
    epochs: gan.epochs,
    'steps-per-epoch': gan.stepsPerEpoch,
    configs: gan.numConfigs,
    batch: gan.batch,
    'base-filters': gan.baseFilters,
    'eval-samples': gan.evalSamples,
  });
}

/**
 * A run's config.json, checked field by field before use (sizes within GAN_LIMITS, a valid scene,
 * known learned parameters, the data source): a damaged or hand-edited file is an InputError
 * naming it and the field (exit 3), never a crash.
 */
export function readRunConfig(file: string): RunConfig {
  const config = readInputJson(file) as RunConfig;
  const fail = (problem: string): never => {
    throw new InputError(file, problem);
  };
  if (!config || typeof config !== 'object' || config.version !== 1 || !config.gan || typeof config.gan !== 'object' || !config.data || typeof config.data !== 'object') {
    fail('not a diffrendergan run config (version 1)');
  }
  const gan = config.gan;
  const problem = ganConfigProblem(gan);
  if (problem) fail(`field 'gan': ${problem.replace(/--([a-z-]+)/g, (_m, f: string) => f.replace(/-([a-z])/g, (_n, c: string) => c.toUpperCase()))}`);
  if (!Array.isArray(gan.learned) || !gan.learned.every((n) => typeof n === 'string')) fail("field 'gan.learned' must be a list of parameter names");
  for (const k of ['lrG', 'lrD', 'seed'] as const) {
    if (typeof gan[k] !== 'number' || !Number.isFinite(gan[k]) || gan[k] < 0) fail(`field 'gan.${k}' must be a finite number >= 0`);
  }
  if (!Number.isSafeInteger(gan.seed)) fail("field 'gan.seed' must be an integer");
  if (!Array.isArray(gan.betas) || gan.betas.length !== 2 || !gan.betas.every((b) => typeof b === 'number' && b >= 0 && b < 1)) fail("field 'gan.betas' must be two numbers in [0, 1)");
  if (gan.discLayers !== 3) fail("field 'gan.discLayers' must be 3");
  if (!['batch', 'instance', 'none'].includes(gan.norm)) fail("field 'gan.norm' must be batch, instance or none");
  if (gan.dInput !== undefined && !DISC_INPUTS.includes(gan.dInput)) fail(`field 'gan.dInput' must be ${DISC_INPUTS.join(' or ')}`);
  if (gan.learnSize !== undefined && typeof gan.learnSize !== 'boolean') fail("field 'gan.learnSize' must be true or false");
  if (typeof gan.preset !== 'string') fail("field 'gan.preset' must be a string");
  if (gan.start !== undefined && gan.start !== 'scene' && gan.start !== 'midpoint') fail("field 'gan.start' must be scene or midpoint");
  if (gan.ranges !== undefined) {
    if (!gan.ranges || typeof gan.ranges !== 'object') fail("field 'gan.ranges' must map parameter names to [min, max]");
    for (const [n, r] of Object.entries(gan.ranges)) {
      const p = isParamName(n) ? PARAMETER_TABLE[paramIndex(n)] : null;
      if (!p) fail(`field 'gan.ranges': unknown parameter '${n}'`);
      if (!Array.isArray(r) || r.length !== 2 || !r.every((v) => typeof v === 'number' && Number.isFinite(v)) || r[0] > r[1] || r[0] < p!.min || r[1] > p!.max) {
        fail(`field 'gan.ranges.${n}' must be [min, max] inside [${p!.min}, ${p!.max}]`);
      }
    }
  }
  try {
    validateLearned(gan.learned);
    gan.scene = mergeSceneConfig(presetConfig('tio2-sem'), gan.scene);
  } catch (e) {
    fail(`field 'gan': ${(e as Error).message}`);
  }
  if (gan.scene.width !== gan.patch || gan.scene.height !== gan.patch) fail(`field 'gan.scene': the scene must be ${gan.patch} x ${gan.patch} (the patch size)`);
  if (config.sizeSpread !== undefined && config.sizeSpread !== 'calibrated' && config.sizeSpread !== 'coverage') fail("field 'sizeSpread' must be calibrated or coverage (or absent)");
  if (config.recalibrateAgglomerates !== undefined && config.recalibrateAgglomerates !== 'trained') fail("field 'recalibrateAgglomerates' must be trained (or absent)");
  if (config.refiner !== undefined) {
    const r = config.refiner;
    const problem = r && typeof r === 'object' ? refinerSettingsProblem(r) : 'must be an object';
    if (problem) fail(`field 'refiner': ${problem}`);
  }
  const data = config.data;
  if (data.kind === 'demo') {
    if (!Number.isInteger(data.count) || data.count < 1 || data.count > 4096) fail("field 'data.count' must be an integer in [1, 4096]");
    if (!data.hidden || typeof data.hidden !== 'object' || !Object.values(data.hidden).every((v) => typeof v === 'number' && Number.isFinite(v))) fail("field 'data.hidden' must map parameter names to numbers");
  } else if (data.kind === 'real') {
    if (!Array.isArray(data.files) || data.files.length === 0 || !data.files.every((f) => typeof f === 'string')) fail("field 'data.files' must be a non-empty list of paths");
    if (!Number.isInteger(data.cropBottom) || data.cropBottom < 0 || data.cropBottom > 65535) fail("field 'data.cropBottom' must be an integer in [0, 65535]");
  } else fail("field 'data.kind' must be demo or real");
  return config;
}

/** Fails early (before any long work, without creating anything) when the run folder is taken. */
function checkRunDir(dir: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new UserError(`--out ${dir}: exists and is not a folder`, ExitCode.badOutput);
    if (readdirSync(dir).length > 0) throw new UserError(`--out ${dir}: folder exists and is not empty; use --resume ${dir} to continue that run, or choose another folder`, ExitCode.badOutput);
  }
}

/** Creates the run folder once every setting is validated; fails when it cannot be created or written. */
function prepareRunDir(dir: string): void {
  checkRunDir(dir);
  let made: string | undefined;
  try {
    made = makeDirs(dir); // not mkdirSync(recursive): that never returns for a path under /proc
    accessSync(dir, constants.W_OK);
  } catch (e) {
    removeIfEmpty(made, dir);
    throw new UserError(`--out ${dir}: cannot create or write the folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, ExitCode.badOutput);
  }
}

/** The real images' polarity: the one given, or detected from the (cropped) images. */
function resolvePolarity(setting: PolaritySetting, images: Grey[], log: (s: string) => void): Polarity {
  if (setting !== 'auto') {
    log(`contrast polarity: ${setting} particles (--polarity)`);
    return setting;
  }
  const d = detectPolarity(images);
  log(`contrast polarity: ${d.polarity} particles, detected (${(100 * d.brightFraction).toFixed(1)} % of the pixels of ${d.images} images lie above their Otsu threshold; override with --polarity)`);
  return d.polarity;
}

/**
 * Training against images of the other polarity than the scene renders cannot work (the
 * discriminator tells them apart by the sign of the contrast alone): a mismatch stops the run.
 */
function checkPolarity(polarity: Polarity, scene: SceneConfig, preset: string): void {
  const rendered = modelPolarity(scene.shading.model);
  if (rendered === polarity) return;
  throw new UserError(
    `the real images show ${polarity} particles but preset '${preset}' (shading model '${scene.shading.model}') renders ${rendered} ones; ` +
      `use a preset of the other contrast (docs/presets.md), or --polarity ${rendered} if the detection is wrong`,
    ExitCode.badConfig,
  );
}

function readReal(files: string[], log: (s: string) => void): { name: string; image: Grey }[] {
  return files.map((f) => {
    const img = readImageFile(f);
    for (const w of img.warnings) log(`warning: ${f}: ${w}`);
    return { name: f, image: img };
  });
}

function loadReal(images: { name: string; image: Grey }[], patch: number, cropRows: number, polarity: Polarity, log: (s: string) => void): { patches: Float32Array[]; sources: string[]; particleFractions: number[] } {
  const files = images.map((i) => i.name);
  const set = extractPatchesFromImages(images, { patch, cropBottom: cropRows, polarity });
  log(`real data: ${files.length} images -> ${set.kept.length} patches of ${patch} px (${set.skipped.length} empty tiles skipped)`);
  if (set.kept.length === 0) throw new UserError(`no usable ${patch} px patches in the given images (all ${set.skipped.length} tiles were judged empty); try a smaller --patch or check --crop-bottom`, ExitCode.badInput);
  return { patches: set.kept.map((p) => p.data), sources: set.kept.map((p) => p.source), particleFractions: set.kept.map((p) => p.particleFraction) };
}

/** The real images' size estimate for the radius calibration (see calibrate.ts). */
async function realRadiusEstimate(images: Grey[], patches: Grey[], polarity: Polarity, method: RadiusCalibrationMethod): Promise<RadiusEstimate | null> {
  // 'median' reads the full micrographs; 'upper-quartile' the real patches, the renders' field of view.
  return estimateParticleRadiusOnWorkers(method === 'median' ? images : patches, polarity, RADIUS_QUANTILES[method]);
}

/**
 * The scene's particle base radius matched to `real` on renders of `scene` at its own parameters
 * (see calibrate.ts), or null (logged) when the renders show no particle. `stage` names the pass
 * in the log.
 */
function calibratedRadius(scene: SceneConfig, real: RadiusEstimate, method: RadiusCalibrationMethod, stage: string, log: (s: string) => void): number | null {
  const cal = calibrateBaseRadius(scene, real, RADIUS_RENDERS[method], 0, RADIUS_QUANTILES[method]);
  if (!cal) {
    log(`particle radius (${stage}): the classical baseline found no particles on the renders; keeping ${scene.particles.baseRadius.toFixed(1)} px`);
    return null;
  }
  const what = method === 'median' ? 'median' : '75th percentile of the';
  log(
    `particle radius (${stage}): base radius ${cal.baseRadius.toFixed(1)} px, estimated without annotations (${what} equivalent radius ${cal.real.radius.toFixed(1)} px over ${cal.real.count} real particles vs ` +
      `${cal.synthetic.radius.toFixed(1)} px over ${cal.synthetic.count} on ${RADIUS_RENDERS[method]} renders at ${scene.particles.baseRadius.toFixed(1)} px); override with --particle-radius`,
  );
  return cal.baseRadius;
}

/** The scene at base radius `radius`, its particle counts and minimum mask area scaled so that the covered area stays. */
function withBaseRadius(scene: SceneConfig, radius: number): SceneConfig {
  const ratio = scene.particles.baseRadius / radius;
  const count = (c: number) => Math.max(1, Math.round(c * ratio * ratio));
  return mergeSceneConfig(scene, {
    particles: { baseRadius: radius, count: { min: count(scene.particles.count.min), max: count(scene.particles.count.max) } },
    masks: { minArea: Math.max(4, Math.round(scene.masks.minArea / (ratio * ratio))) },
  });
}

/** A run's real patches, and the image each came from (null for the demo's renders). */
interface RealSet {
  runDir: string;
  config: RunConfig;
  reals: Float32Array[];
  sources: string[] | null;
}

async function newRun(opts: TrainOptions, log: (s: string) => void): Promise<RealSet> {
  const demo = !opts.real || opts.real.length === 0;
  const patch = opts.patch ?? (demo ? 64 : 256);
  let scene = scaleSceneConfig(presetConfig(opts.preset), patch, { keepParticleSize: !demo });
  if (opts.configFirst && !opts.configFile) throw new UserError('train: --config-first needs --config FILE', ExitCode.usage);
  if (opts.configFirst && demo) throw new UserError('train: --config-first needs --real (the demo has no calibrations)', ExitCode.usage);
  // Before the calibrations, so that they are judged on the user's scene (docs/realism.md, "Shapes the calibrations see").
  if (opts.configFirst) scene = applySceneConfigFile(scene, opts.configFile!);
  if (scene.width !== patch || scene.height !== patch) throw new ConfigError('width', `the scene must be ${patch} x ${patch} (the patch size), got ${scene.width} x ${scene.height}`);
  // Before the calibrations (the trainer checks the final scene again).
  const sizeProblem = opts.learnSize ? learnSizeProblem(scene) : null;
  if (sizeProblem) throw new UserError(sizeProblem, ExitCode.usage);
  // The preset's step yields where it cannot apply (the demo, --learn-size, sizes that are not
  // lognormal: checked again on the final scene); asked for by the flag, it is refused there.
  const sizeSpreadGiven = opts.sizeSpread !== undefined;
  let sizeSpread = opts.sizeSpread ?? (demo || opts.learnSize ? 'off' : presetSizeSpread(opts.preset));
  // Refused before any long work where it cannot apply (the scene's sizes are checked again on the final scene).
  if (sizeSpreadGiven && sizeSpread !== 'off') checkSizeSpread(scene, demo, sizeSpread);
  if (sizeSpreadGiven && sizeSpread !== 'off' && opts.learnSize) throw new UserError(`--size-spread ${sizeSpread} and --learn-size on both set the size distribution; give one of them`, ExitCode.usage);
  const recalibration = opts.recalibrateAgglomerates ?? presetRecalibrateAgglomerates(opts.preset);
  if (recalibration === 'trained') checkTrainedAgglomerates(scene, demo, !!opts.learnSize);
  let reals: Float32Array[];
  let sources: string[] | null = null;
  let data: RunConfig['data'];
  let learned: string[];
  let ranges: Record<string, [number, number]> | undefined;
  if (demo) {
    const d = demoSetup({ preset: opts.preset, size: patch, count: 32, seed: opts.seed });
    scene = d.scene;
    reals = d.reals;
    learned = opts.learn ?? d.learned;
    data = { kind: 'demo', hidden: d.hidden, count: d.reals.length };
    log(`demo: "real" patches are ${reals.length} renders with hidden parameters ${JSON.stringify(d.hidden)}`);
  } else {
    const files = listImageFiles(opts.real!).map((f) => resolve(f));
    const raw = readReal(files, log);
    const cropped = raw.map((i) => cropBottom(i.image, opts.cropBottom, i.name));
    const polarity = resolvePolarity(opts.polarity ?? 'auto', cropped, log);
    checkPolarity(polarity, scene, opts.preset);
    const loaded = loadReal(raw, patch, opts.cropBottom, polarity, log);
    reals = loaded.patches;
    sources = loaded.sources;
    // The real patches as images, for the calibrations below.
    const patchImages = loaded.patches.map((data) => ({ width: patch, height: patch, data }));
    const radiusMethod = opts.radiusCalibration ?? presetRadiusCalibration(opts.preset);
    const realRadius = (opts.particleRadius ?? 'auto') === 'auto' ? await realRadiusEstimate(cropped, patchImages, polarity, radiusMethod) : null;
    if (typeof opts.particleRadius === 'number') scene = withBaseRadius(scene, opts.particleRadius);
    else if (!realRadius) log(`particle radius: the classical baseline found no particles to measure; keeping the preset's ${scene.particles.baseRadius} px`);
    else {
      const radius = calibratedRadius(scene, realRadius, radiusMethod, 'preset image formation', log);
      if (radius !== null) scene = withBaseRadius(scene, radius);
    }
    // Agglomerate density, each setting judged at its own coverage-matched counts (denser packing
    // hides particles behind others, which changes the covered area), on renders with the scene's
    // current image formation (the preset's, or `again` the calibrated one).
    // Its ~50 settings x 32-128 noiseless renders + Otsu statistics are independent single-threaded
    // jobs: worker threads run them side by side where the CLI allows (task-workers.ts).
    let agglomeratesCalibrated = false;
    const agglomerates = async (again: boolean) => {
      const at = (again ? ' again, at the calibrated image formation and radius' : '') + ((scene.particles.placement.outside ?? 0) > 0 ? `, on the window (margin ${scene.particles.placement.outside})` : '');
      const t0 = performance.now();
      const agg = await calibrateAgglomerates(scene, patchImages, polarity, undefined, undefined, agglomerateRunner());
      if (!agg) return;
      agglomeratesCalibrated = true;
      const threads = taskThreads(agg.candidates.length);
      log(`agglomerate calibration${at}: ${agg.candidates.length} settings in ${((performance.now() - t0) / 1000).toFixed(1)} s${threads ? ` on ${threads} worker threads` : ''}`);
      scene = mergeSceneConfig(scene, { particles: { count: agg.count, placement: { maxAgglomerates: agg.maxAgglomerates, contact: agg.contact, attach: agg.attach } } });
      log(
        `agglomerates${at}: up to ${agg.maxAgglomerates} per patch, contact ${agg.contact}, growth ${agg.attach === 'size' ? 'in proportion to size' : 'even'}, ${agg.count.min}-${agg.count.max} particles per patch (${agg.count.dist === 'logUniform' ? 'log-uniform' : 'uniform'}), so renders agglomerate like the real particles ` +
          `(particles per Otsu component ${agg.real.particlesPerComponent.toFixed(2)} real vs ${agg.synthetic.particlesPerComponent.toFixed(2)} rendered; ` +
          `area in components > 12 median particles ${agg.real.largeComponentAreaFraction.toFixed(3)} vs ${agg.synthetic.largeComponentAreaFraction.toFixed(3)}; ` +
          `coverage ${agg.real.coverage.toFixed(3)} vs ${agg.synthetic.coverage.toFixed(3)})`,
      );
    };
    if ((opts.particleRadius ?? 'auto') === 'auto') {
      const coverage = () => {
        const cov = calibrateCoverage(scene, loaded.particleFractions);
        if (!cov) return;
        const c = (v: number) => Math.max(1, Math.round(v * cov.countScale));
        scene = mergeSceneConfig(scene, { particles: { count: { min: c(scene.particles.count.min), max: c(scene.particles.count.max) } } });
        log(`particle count: x${cov.countScale.toFixed(2)} -> ${scene.particles.count.min}-${scene.particles.count.max} per patch, so renders cover as much as the real particles (particle fraction ${cov.real.toFixed(3)} real vs ${cov.synthetic.toFixed(3)} rendered)`);
      };
      coverage();
      const spread = calibrateCountSpread(scene, loaded.particleFractions);
      if (spread) {
        scene = mergeSceneConfig(scene, { particles: { count: { min: spread.min, max: spread.max } } });
        log(`particle count spread: ${spread.min}-${spread.max} per patch, so renders cover as unevenly as the real patches (particle fraction 5-95 % ${spread.real[0].toFixed(3)}-${spread.real[1].toFixed(3)}, ${spread.perParticle.toFixed(4)} per rendered particle)`);
      }
      // Agglomerate density last (after the counts it scales).
      await agglomerates(false);
    }
    if (scene.shading.model === 'sem') {
      // After the geometry: the levels are read at the calibrated coverage and agglomerates.
      // The halo and the creases are fitted when the GAN learns them (else they stay at the preset's values).
      const learn = opts.learn ?? LEARNED_BY_PRESET[opts.preset];
      const img = await calibrateImaging(scene, patchImages, undefined, undefined, imagingRunner(), { halo: learn.includes('haloStrength'), crease: learn.includes('creaseStrength') });
      if (img) {
        scene = mergeSceneConfig(scene, { params: img.params });
        ranges = calibratedRanges(img.params);
        const f = (v: number) => v.toFixed(3);
        const profile = (s: typeof img.real) => `${s.outside.map(f).reverse().join(' ')} | ${s.inside.map(f).join(' ')}`;
        const contactLine = (s: typeof img.real) => (s.contact ? s.contact.map(f).join(' ') : 'not measured');
        const bodyLine = (s: typeof img.real) => (s.bodyProfile ? `${s.bodyProfile.profile.map(f).join(' ')} (${s.bodyProfile.particles} particles)` : 'none');
        log(
          `image formation: ${Object.entries(img.params).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ')}, ` +
            `so renders show the real patches' levels (substrate ${f(img.real.substrate)} real vs ${f(img.synthetic.substrate)} rendered, particle bodies ${f(img.real.body)} vs ${f(img.synthetic.body)}, their 10-90 % spread ${f(img.real.bodySpread)} vs ${f(img.synthetic.bodySpread)} of the median, substrate residual ${img.real.residual.toFixed(4)} vs ${img.synthetic.residual.toFixed(4)}, contact profile (line, 1-5 px) ${contactLine(img.real)} vs ${contactLine(img.synthetic)}; ` +
            `edge profile, 30 px outside | 10 px inside: ${profile(img.real)} real vs ${profile(img.synthetic)} rendered; ` +
            `lone particles' body profile 1-8 px inside over their centre: ${bodyLine(img.real)} real vs ${bodyLine(img.synthetic)} rendered); the GAN starts there and stays within +-25 % (or 5 % of the range)`,
        );
      }
    }
    const secondRadius = (stage: string) => {
      if (!realRadius || radiusMethod !== 'upper-quartile') return;
      // Again at the calibrated agglomerates and image formation: the estimator's error on the
      // renders depends on both (docs/realism.md), and the pairs are rendered with them.
      const radius = calibratedRadius(scene, realRadius, radiusMethod, stage, log);
      if (radius !== null) {
        scene = withBaseRadius(scene, radius);
        log(`particle count: ${scene.particles.count.min}-${scene.particles.count.max} per patch at the new radius (the covered area kept)`);
      }
    };
    const recalibrate = agglomeratesCalibrated && recalibration !== 'off';
    const margin = opts.windowMargin ?? presetWindowMargin(opts.preset);
    const windowFirst = margin > 0 && recalibrate && (opts.windowCalibrated ?? presetWindowCalibrated(opts.preset));
    // radiusLast: on the final whole-object scene, after the second agglomerate pass changed its
    // counts and agglomerates (docs/realism.md, "The radius step on the final scene"). The radius
    // step measures whole objects, so it cannot follow a window applied before that pass.
    const radiusLast = (opts.radiusLast ?? presetRadiusLast(opts.preset)) && !windowFirst;
    if (!radiusLast) secondRadius('calibrated scene and image formation');
    const field = opts.windowField ?? presetWindowField(opts.preset);
    const toWindow = (byCoverage: boolean) => {
      const { min, max } = scene.particles.count;
      const area = windowFieldArea(margin);
      let countScale = area;
      let why = "the grown area's";
      if (byCoverage) {
        const t0 = performance.now();
        const realCoverage = sceneStatistics(patchImages, polarity).coverage;
        const cal = calibrateWindowCounts(scene, margin, realCoverage, undefined, undefined, field);
        if (cal) {
          countScale = cal.countScale;
          why = `x${cal.countScale.toFixed(2)} instead of the grown area's x${area.toFixed(2)}, so windowed renders cover as much as the real patches: coverage ${cal.real.toFixed(3)} real vs ${cal.synthetic.toFixed(3)} rendered, ${cal.byArea.toFixed(3)} at the area's counts; ${((performance.now() - t0) / 1000).toFixed(1)} s`;
        } else why = "the grown area's: the coverage calibration found no particles";
      }
      scene = asWindowIntoField(scene, margin, MAX_CALIBRATED_COUNT, countScale, field);
      const capped = Math.round(max * countScale) > MAX_CALIBRATED_COUNT ? `, at most ${MAX_CALIBRATED_COUNT}: the generator's particle slots` : '';
      log(`window: the scene is rendered as a window into a larger field, particle centres up to ${margin} x the image side beyond each edge, ${min}-${max} -> ${scene.particles.count.min}-${scene.particles.count.max} particles per patch (${why}${capped})${field === 'periodic' ? ', the field periodic (a torus, the same everywhere)' : ''}, so objects are cut by the frame as in a tile of a micrograph`);
    };
    // The radius steps above ran without the window (frame-cut renders bias the radius
    // estimator); the agglomerate statistics compare frame-cut real tiles with frame-cut renders.
    if (windowFirst) toWindow(false);
    if (recalibrate) {
      // The first pass judged its settings on renders with the preset's image formation. The Otsu
      // + watershed statistics depend on it (wide rims and no shadow split the renders' particles
      // into more pieces), and the pairs are rendered with the calibrated one: judge them again
      // on renders that look like the pairs (docs/realism.md, "Agglomerates calibrated on the
      // calibrated image formation"), on the window where windowFirst.
      await agglomerates(true);
    }
    if (radiusLast) secondRadius(recalibrate ? 'final scene, after the second agglomerate pass' : 'calibrated scene and image formation');
    // Else after every calibration: they measure sizes and agglomerates on whole objects.
    // The counts are then the whole-object calibration's scaled to the window: by the field's area,
    // or ('coverage') by a factor that makes windowed renders cover as much as the real patches.
    if (margin > 0 && !windowFirst) toWindow((opts.windowCounts ?? presetWindowCounts(opts.preset)) === 'coverage');
    learned = opts.learn ?? LEARNED_BY_PRESET[opts.preset];
    data = { kind: 'real', files, cropBottom: opts.cropBottom, polarity };
  }
  // The user's scene config is applied last (unless configFirst), so its fields win over presets and calibration.
  if (opts.configFile && !opts.configFirst) scene = applySceneConfigFile(scene, opts.configFile);
  if (data.kind === 'real') checkPolarity(data.polarity ?? 'bright', scene, opts.preset);
  const presetSpreadProblem = sizeSpread !== 'off' && !sizeSpreadGiven ? sizeSpreadProblem(scene) : null;
  if (presetSpreadProblem) {
    log(`size spread: the preset's step (${sizeSpread}) is skipped: ${presetSpreadProblem}`);
    sizeSpread = 'off';
  }
  if (sizeSpread !== 'off') checkSizeSpread(scene, demo, sizeSpread);
  if (recalibration === 'trained') checkTrainedAgglomerates(scene, demo, !!opts.learnSize);
  validateLearned(learned);
  const gan: GanConfig = {
    preset: opts.preset,
    scene,
    learned,
    patch,
    epochs: opts.epochs ?? (demo ? 8 : 50),
    stepsPerEpoch: opts.stepsPerEpoch ?? (demo ? 40 : Math.max(1, Math.floor(reals.length / opts.batch))),
    batch: opts.batch,
    lrG: opts.lrG ?? (demo ? 1e-3 : 2e-4),
    lrD: opts.lrD,
    betas: [0.5, 0.999],
    baseFilters: opts.baseFilters ?? (demo ? 16 : 64),
    discLayers: 3,
    norm: opts.norm,
    // Absent = raw, so that configs written before the option keep their meaning.
    ...(opts.dInput && opts.dInput !== 'raw' ? { dInput: opts.dInput } : {}),
    seed: opts.seed,
    numConfigs: opts.configs ?? reals.length,
    evalSamples: opts.evalSamples,
    // Real data: from the preset's values as calibrated above (the demo keeps the middle of the
    // ranges, so that its hidden parameters are not where it starts).
    ...(demo ? {} : { start: 'scene' as const }),
    ...(ranges ? { ranges: Object.fromEntries(Object.entries(ranges).filter(([n]) => learned.includes(n))) } : {}),
    // Absent = off, so that configs written before the option (and every default run) keep their bytes.
    ...(opts.learnSize ? { learnSize: true } : {}),
  };
  const runDir = resolve(opts.out ?? (demo ? 'runs/demo' : `runs/train-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}`));
  const problem = ganConfigProblem(gan);
  if (problem) throw new UserError(problem, ExitCode.usage);
  checkRunDir(runDir);
  const refiner = refinerOption(opts);
  const config: RunConfig = { version: 1, gan, data, backend: getBackend().name, ...(refiner && refiner.steps > 0 ? { refiner } : {}), ...(sizeSpread !== 'off' ? { sizeSpread } : {}), ...(recalibration === 'trained' ? { recalibrateAgglomerates: recalibration } : {}) };
  return { runDir, config, reals, sources };
}

/**
 * The refiner the flags ask for (undefined: --refiner-steps not given), checked: a bad value is a
 * usage error naming the flag.
 */
function refinerOption(opts: TrainOptions): RefinerSettings | undefined {
  if (opts.refinerSteps === undefined) {
    if (opts.refinerLambda !== undefined) throw new UserError('--refiner-lambda needs --refiner-steps N (N > 0)', ExitCode.usage);
    return undefined;
  }
  const settings: RefinerSettings = { ...DEFAULT_REFINER, steps: opts.refinerSteps, lambda: opts.refinerLambda ?? DEFAULT_REFINER.lambda, seed: opts.seed };
  const problem = refinerSettingsProblem(settings);
  if (problem) throw new UserError(`--refiner-${problem.startsWith('lambda') ? 'lambda' : 'steps'}: ${problem}`, ExitCode.usage);
  return settings;
}

function resumeRun(dir: string, log: (s: string) => void): RealSet {
  const runDir = resolve(dir);
  const file = join(runDir, 'config.json');
  if (!existsSync(file)) throw new UserError(`--resume ${dir}: no config.json there (not a run folder, or the run never started)`, ExitCode.badInput);
  const config = readRunConfig(file);
  if (config.data.kind === 'demo') {
    const reals = demoSetup({ preset: config.gan.preset as PresetName, size: config.gan.patch, count: config.data.count, seed: config.gan.seed, hidden: config.data.hidden }).reals;
    return { runDir, config, reals, sources: null };
  }
  const loaded = loadReal(readReal(config.data.files, log), config.gan.patch, config.data.cropBottom, config.data.polarity ?? 'bright', log);
  return { runDir, config, reals: loaded.patches, sources: loaded.sources };
}

/** Square greyscale patches as one PNG sheet, `cols` per row (default up to 4), 2 px white gaps. */
export function patchGridPng(patches: Float32Array[], size: number, cols = Math.min(4, patches.length)): Uint8Array {
  const rows = Math.ceil(patches.length / cols);
  const W = cols * size + (cols - 1) * 2;
  const H = rows * size + (rows - 1) * 2;
  const grid = new Float32Array(W * H).fill(1);
  patches.forEach((s, k) => {
    const ox = (k % cols) * (size + 2);
    const oy = Math.floor(k / cols) * (size + 2);
    for (let y = 0; y < size; y++) grid.set(s.subarray(y * size, (y + 1) * size), (oy + y) * W + ox);
  });
  return encodePngGrey8(W, H, grid);
}

export async function runTraining(opts: TrainOptions): Promise<{ runDir: string; trainer: GanTrainer; best: ReturnType<typeof chooseBestEpoch> | null; seconds?: TrainSeconds }> {
  return withRasterPool(opts.rasterThreads ?? defaultRasterThreads(), () => trainRun(opts));
}

async function trainRun(opts: TrainOptions): Promise<{ runDir: string; trainer: GanTrainer; best: ReturnType<typeof chooseBestEpoch> | null; seconds?: TrainSeconds }> {
  const runLog = new RunLog();
  const log = (s: string) => {
    if (!opts.quiet) process.stderr.write(s + '\n');
    runLog.write(s);
  };
  const t0 = performance.now();
  const since = (t: number) => Math.round((performance.now() - t) / 10) / 100;
  refinerOption(opts); // bad refiner flags fail before any long work
  const { runDir, config, reals, sources } = opts.resume ? resumeRun(opts.resume, log) : await newRun(opts, log);
  if (opts.resume) runLog.attach(join(runDir, RUN_LOG_FILE), `# resumed ${new Date().toISOString()}`);
  if (opts.resume) {
    // Temporary files of the interrupted process (killed mid-write) are not part of the run.
    const dirs = [runDir, join(runDir, 'samples'), ...readdirSync(runDir).filter((n) => /^epoch-\d{4,}$/.test(n)).map((n) => join(runDir, n))];
    const stale = dirs.reduce((n, d) => n + removeStaleTempFiles(d), 0);
    if (stale > 0) log(`removed ${stale} temporary file(s) left by the interrupted run`);
  }
  const latest = ckpt.latestCheckpoint(runDir);
  if (opts.resume && opts.epochs !== undefined && opts.epochs !== config.gan.epochs) {
    // --resume --epochs N: the run continues to N epochs in all (the schedule has no decay, so
    // more epochs only append steps); fewer than the checkpoints already hold cannot be undone.
    if (latest !== null && opts.epochs < latest) {
      throw new UserError(`--epochs ${opts.epochs}: ${runDir} already holds ${latest} epochs; give --epochs ${latest} or more to continue it`, ExitCode.usage);
    }
    log(`--epochs ${opts.epochs}: the run now goes to ${opts.epochs} epochs (was ${config.gan.epochs})`);
    config.gan.epochs = opts.epochs;
    writeRunConfig(runDir, config);
  }
  const refinerFlag = opts.resume ? refinerOption({ ...opts, seed: config.gan.seed }) : undefined;
  if (refinerFlag && (refinerFlag.steps > 0 ? JSON.stringify(refinerFlag) !== JSON.stringify(config.refiner) : config.refiner !== undefined)) {
    // --resume --refiner-steps N: the run's refiner setting changes (0 removes it from the config).
    if (refinerFlag.steps > 0) config.refiner = refinerFlag;
    else delete config.refiner;
    writeRunConfig(runDir, config);
  }
  if (opts.resume && opts.sizeSpread !== undefined && opts.sizeSpread !== (config.sizeSpread ?? 'off')) {
    // --resume --size-spread: the run's setting changes (off removes it from the config).
    if (opts.sizeSpread !== 'off') {
      checkSizeSpread(config.gan.scene, config.data.kind === 'demo', opts.sizeSpread);
      if (config.gan.learnSize) throw new UserError(`--size-spread ${opts.sizeSpread}: this run learns its sizes (--learn-size on); give one of them`, ExitCode.usage);
      // The step runs once per run, on the sizes it finds: after the other method's, they are not the scene's own.
      const done = ckpt.readMetrics(runDir).find((r) => r.type === 'size-spread');
      if (done) throw new UserError(`--size-spread ${opts.sizeSpread}: ${runDir} already ran --size-spread ${done.method ?? 'calibrated'} (it runs once per run); resume a copy of the run from before that step`, ExitCode.usage);
      config.sizeSpread = opts.sizeSpread;
    } else delete config.sizeSpread;
    writeRunConfig(runDir, config);
  }
  if (opts.resume && opts.recalibrateAgglomerates !== undefined && (opts.recalibrateAgglomerates === 'trained') !== (config.recalibrateAgglomerates === 'trained')) {
    // --resume --recalibrate-agglomerates: whether the pass after the epochs runs changes ('on' / 'off' remove it).
    if (opts.recalibrateAgglomerates === 'trained') {
      checkTrainedAgglomerates(config.gan.scene, config.data.kind === 'demo', !!config.gan.learnSize);
      config.recalibrateAgglomerates = 'trained';
    } else delete config.recalibrateAgglomerates;
    writeRunConfig(runDir, config);
  }
  const gan = config.gan;
  const trainer = new GanTrainer(gan, reals);
  if (!opts.resume) {
    // Created only now that every setting passed and the models were built.
    prepareRunDir(runDir);
    writeRunConfig(runDir, config);
    runLog.attach(join(runDir, RUN_LOG_FILE), `# started ${new Date().toISOString()}`);
  }
  if (latest !== null) {
    restoreCheckpoint(runDir, latest, trainer);
    ckpt.truncateMetrics(runDir, trainer.step);
    log(`resuming ${runDir} after epoch ${latest} (step ${trainer.step})`);
  } else if (opts.resume) {
    ckpt.truncateMetrics(runDir, 0);
    log(`resuming ${runDir}: no complete epoch yet, starting from the beginning`);
  }
  if (latest !== null && latest >= gan.epochs) {
    log(`${runDir}: all ${gan.epochs} epochs are done; nothing to train (pass --epochs N with N > ${gan.epochs} to train further)`);
  }
  mkdirSync(join(runDir, 'samples'), { recursive: true });
  const bar = new ProgressBar({ total: trainer.totalSteps, write: (s) => process.stderr.write(s), isTTY: !!process.stderr.isTTY, silent: opts.quiet });
  /** A line printed above the progress bar, kept in the run log too. */
  const logAboveBar = (s: string) => {
    bar.log(s);
    runLog.write(s);
  };
  const setupSeconds = since(t0);
  const epochsStart = performance.now();
  bar.start(trainer.step);
  const realGreys = reals.map((data) => ({ width: gan.patch, height: gan.patch, data }));
  // The real side of the realism scores is computed once per run.
  const realism = new RealismReference(realGreys, { seed: gan.seed });
  let stepsThisProcess = 0;
  if (trainer.step === 0 && !ckpt.readMetrics(runDir).some((r) => r.type === 'epoch')) {
    // Epoch 0: the untrained generator, the baseline every later realism score is compared with.
    const ev = trainer.evaluate();
    const scores = realism.score(ev.samples.map((data) => ({ width: gan.patch, height: gan.patch, data })));
    ckpt.appendMetrics(runDir, { type: 'epoch', epoch: 0, untrained: true, step: 0, realism: scores, paramMean: ev.paramMean, paramStd: ev.paramStd, params: ev.params, ...(gan.learnSize ? { size: trainer.size } : {}) });
    writeFileAtomic(join(runDir, 'samples', 'epoch-0000.png'), patchGridPng(ev.samples.slice(0, 16), gan.patch, 4));
    logAboveBar(`epoch 0 (untrained generator): realism combined ${scores.combined.toFixed(3)} (swd ${scores.swd.mean.toFixed(2)}, histogram ${scores.histogram.toFixed(4)}, spectrum ${scores.spectrum.toFixed(3)})`);
  }
  if (opts.profile) startProfile();
  const printProfile = () => {
    const r = stopProfile();
    if (r) process.stderr.write(formatProfile(r) + '\n');
  };
  while (trainer.epoch < gan.epochs) {
    const epoch = trainer.epoch + 1;
    // Wall time of this epoch's steps in this process (a resumed epoch counts the redone ones).
    const stepsStart = performance.now();
    let stepsDone = 0;
    for (let s = 0; s < gan.stepsPerEpoch; s++) {
      let r: ReturnType<GanTrainer['trainStep']>;
      try {
        r = trainer.trainStep();
      } catch (e) {
        if (e instanceof NumericalError) {
          bar.stop();
          const last = ckpt.latestCheckpoint(runDir);
          throw new NumericalError(`${e.message} (run stopped; ${last === null ? 'no epoch was complete yet' : `the last complete checkpoint, epoch ${last}, is kept in ${runDir}`})`);
        }
        throw e;
      }
      stepsThisProcess++;
      stepsDone++;
      ckpt.appendMetrics(runDir, { type: 'step', epoch, step: trainer.step, ...r });
      bar.update(trainer.step, { epoch: `${epoch}/${gan.epochs}`, lossG: r.lossG, lossD: r.lossD });
      if (opts.stopAfterSteps !== undefined && stepsThisProcess >= opts.stopAfterSteps) {
        bar.stop();
        printProfile();
        return { runDir, trainer, best: null };
      }
    }
    trainer.epoch = epoch;
    const stepSeconds = (performance.now() - stepsStart) / 1000 / stepsDone;
    const evalStart = performance.now();
    const ev = trainer.evaluate();
    const scores = realism.score(ev.samples.map((data) => ({ width: gan.patch, height: gan.patch, data })));
    const evalSeconds = (performance.now() - evalStart) / 1000;
    const row = { type: 'epoch', epoch, step: trainer.step, realism: scores, paramMean: ev.paramMean, paramStd: ev.paramStd, params: ev.params, ...(gan.learnSize ? { size: trainer.size } : {}), seconds: { step: stepSeconds, evaluation: evalSeconds } };
    writeFileAtomic(join(runDir, 'samples', `epoch-${String(epoch).padStart(4, '0')}.png`), patchGridPng(ev.samples.slice(0, 16), gan.patch, 4));
    ckpt.saveCheckpoint(runDir, epoch, { ...trainer.weights(), state: trainer.state() });
    ckpt.appendMetrics(runDir, row);
    writeReport(runDir, config, realGreys.slice(0, 8).map((g) => g.data));
    logAboveBar(`epoch ${epoch}: realism combined ${scores.combined.toFixed(3)} (swd ${scores.swd.mean.toFixed(2)}, histogram ${scores.histogram.toFixed(4)}, spectrum ${scores.spectrum.toFixed(3)}); ` +
      Object.entries(ev.paramMean).map(([k, v]) => `${k} ${v.toPrecision(3)}`).join(', ') + (gan.learnSize ? `; learned ${formatLearnedSize(trainer.size)}` : ''));
  }
  bar.stop();
  printProfile();
  const epochsSeconds = since(epochsStart);
  let c2stSeconds = 0;
  let refinerSeconds = 0;
  const best = pickBest(runDir, gan);
  if (best) {
    writeFileAtomic(join(runDir, 'best.json'), JSON.stringify(best, null, 2) + '\n');
    if (config.sizeSpread !== undefined && config.data.kind === 'real' && !ckpt.readMetrics(runDir).some((r) => r.type === 'size-spread')) {
      // Before the refiner and the test: both see what generate renders.
      calibrateRunSizeSpread(runDir, config, realGreys, best.epoch, log);
    }
    if (config.recalibrateAgglomerates === 'trained' && config.data.kind === 'real' && !ckpt.readMetrics(runDir).some((r) => r.type === TRAINED_AGGLOMERATES_ROW)) {
      // After the size spread (the counts it scales to keep the covered area are the pass's to
      // choose, at the sizes it set), before the refiner and the test (both see what generate renders).
      await calibrateRunAgglomerates(runDir, config, realGreys, best.epoch, log);
    }
    if (config.refiner && !refinerUpToDate(runDir, best.epoch, config.refiner)) {
      const r = trainRunRefiner(runDir, config, reals, best.epoch, config.refiner, (t) => restoreCheckpoint(runDir, best.epoch, t), log);
      refinerSeconds = r.seconds;
      log(`refiner: ${config.refiner.steps} steps on epoch ${best.epoch} in ${r.seconds.toFixed(1)} s (last quarter: mean |R(x)| ${r.last.l1.toFixed(4)}, adversarial ${r.last.adversarial.toFixed(3)}); generate applies it`);
    }
    const refiner = config.refiner ? loadRefiner(runDir, best.epoch, log) : null;
    const seeds = opts.c2stSeeds ?? 3;
    // The test scores what generate writes: refined renders when the run has a refiner.
    // A test from before the size spread or the agglomerate pass changed the scene does not count.
    const rows = ckpt.readMetrics(runDir);
    const sceneChangedAt = rows.map((r) => r.type === 'size-spread' || r.type === TRAINED_AGGLOMERATES_ROW).lastIndexOf(true);
    const done = rows.some((r, i) => i > sceneChangedAt && r.type === 'c2st' && r.epoch === best.epoch && (r.refined === true) === (refiner !== null));
    const images = new Set(sources ?? []).size;
    if (sources && seeds > 0 && !done && images < 2) log(`classifier two-sample test skipped: it splits by source image and needs at least 2 real images (got ${images})`);
    if (sources && seeds > 0 && !done && images >= 2) {
      const c2stStart = performance.now();
      const c2st = await chosenEpochC2st(gan, reals, sources, runDir, best.epoch, seeds, refiner);
      c2stSeconds = since(c2stStart);
      ckpt.appendMetrics(runDir, { type: 'c2st', epoch: best.epoch, step: trainer.step, ...c2st, ...(refiner ? { refined: true } : {}) });
      log(`chosen epoch ${best.epoch}${refiner ? ' (refined)' : ''}: ${formatC2st(c2st)}`);
    }
    writeReport(runDir, config, realGreys.slice(0, 8).map((g) => g.data));
    log(`best epoch: ${best.epoch} (${best.reason})`);
  }
  log(`run folder: ${runDir} (open report.html)`);
  return { runDir, trainer, best, seconds: { setup: setupSeconds, epochs: epochsSeconds, c2st: c2stSeconds, refiner: refinerSeconds } };
}

/** Writes the run's config.json (atomically): at the start, and when --resume or a calibration after the epochs changes it. */
function writeRunConfig(runDir: string, config: RunConfig): void {
  writeFileAtomic(join(runDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
}

/**
 * What the calibrations after the epochs render: `scene` at the mean learned parameters of the
 * chosen epoch's generator (its metrics.jsonl row), the image formation the pairs are drawn around.
 */
function sceneAtEpochMean(runDir: string, scene: SceneConfig, epoch: number): SceneConfig {
  const row = ckpt.readMetrics(runDir).find((r) => r.type === 'epoch' && r.epoch === epoch);
  return mergeSceneConfig(scene, { params: (row?.paramMean ?? {}) as Record<string, number> });
}

/** The contrast polarity of the run's real images (the demo's renders are bright). */
function runPolarity(config: RunConfig): Polarity {
  return config.data.kind === 'real' ? (config.data.polarity ?? 'bright') : 'bright';
}

/** Refuses --size-spread calibrated / coverage where it cannot apply: the demo, sizes that are not lognormal. */
function checkSizeSpread(scene: SceneConfig, demo: boolean, method: SizeSpreadSearch): void {
  if (demo) throw new UserError(`train: --size-spread ${method} needs --real (the demo has no calibrations)`, ExitCode.usage);
  const problem = sizeSpreadProblem(scene);
  if (problem) throw new UserError(`--size-spread ${method}: ${problem}`, ExitCode.badConfig);
}

/**
 * The upper size spread calibrated on the trained generator's image formation (calibrateSizeSpread
 * by the run's method): the renders are the run's scene (already the window the pairs are
 * rendered as) at the chosen epoch's mean learned parameters, because the image formation the GAN
 * learns reads thicker than the calibrated one it starts from (docs/realism.md: 29.7 against 26.1
 * px at tio2-sem's sigma 0.45, mostly detectorStrength 0.30 -> 0.09), where the real tiles read
 * 27.2. The new sizes and counts go into config.json (generate renders them; the weights stay),
 * the estimates into metrics.jsonl (a 'size-spread' row: it runs once per run; 'coverage' rows
 * name their method) and the log.
 */
function calibrateRunSizeSpread(runDir: string, config: RunConfig, realGreys: Grey[], epoch: number, log: (s: string) => void): void {
  const t0 = performance.now();
  const gan = config.gan;
  const method = config.sizeSpread ?? 'calibrated';
  const statistic = SIZE_SPREAD_STATISTIC[method];
  const realStats = sceneStatistics(realGreys, runPolarity(config), { thickness: statistic === 'thickness' });
  const real = (statistic === 'thickness' ? realStats.medianLocalThickness : realStats.coverage) ?? 0;
  const cal = calibrateSizeSpread(sceneAtEpochMean(runDir, gan.scene, epoch), real, SIZE_SPREAD_RENDERS, 0, SIZE_SPREAD_GRID, method);
  const before = { size: gan.scene.particles.size, count: { min: gan.scene.particles.count.min, max: gan.scene.particles.count.max } };
  // 'calibrated' rows as before the option had a second method (no method field, the grid's values named thickness).
  const named = method === 'calibrated' ? {} : { method };
  const what = statistic === 'thickness' ? 'median local thickness' : 'Otsu coverage';
  if (!cal) {
    log(`size spread: the renders' ${what} does not rise with the upper spread (or they show no particle); keeping the sizes`);
    ckpt.appendMetrics(runDir, { type: 'size-spread', ...named, epoch, changed: false, real });
    return;
  }
  const { size, count } = cal.scene.particles;
  gan.scene = mergeSceneConfig(gan.scene, { particles: { size, count: { min: count.min, max: count.max } } });
  writeRunConfig(runDir, config);
  const d = size as { mu: number; sigma: number; sigmaLow?: number };
  const seconds = (performance.now() - t0) / 1000;
  const grid = cal.grid.map((g) => ({ sigma: g.sigma, [statistic]: g.value }));
  ckpt.appendMetrics(runDir, { type: 'size-spread', ...named, epoch, changed: true, sigma: cal.sigma, before, after: { size, count: gan.scene.particles.count }, real: cal.real, synthetic: cal.synthetic, grid, line: cal.line, renders: SIZE_SPREAD_RENDERS, seconds });
  const onGrid = `on ${SIZE_SPREAD_RENDERS} renders per upper spread ${cal.grid.map((g) => `${g.sigma.toFixed(2)}: ${g.value.toFixed(statistic === 'thickness' ? 2 : 4)}`).join(', ')}`;
  if (method === 'calibrated') {
    log(
      `size spread: upper spread ${cal.sigma.toFixed(3)} (lower ${d.sigmaLow?.toFixed(3)}, mu ${d.mu.toFixed(4)}: the 75th percentile kept), ${before.count.min}-${before.count.max} -> ${count.min}-${count.max} particles per patch (the covered area kept), ` +
        `so renders at epoch ${epoch}'s mean image formation are as thick as the real particles (median local thickness ${cal.real.toFixed(2)} px real vs ${cal.synthetic.toFixed(2)} rendered; ` +
        `${onGrid}; line ${cal.line.intercept.toFixed(2)} + ${cal.line.slope.toFixed(2)} sigma; ${seconds.toFixed(1)} s)`,
    );
  } else {
    log(
      `size spread (coverage): upper spread ${cal.sigma.toFixed(3)} (lower ${d.sigmaLow?.toFixed(3)}, mu ${d.mu.toFixed(4)}: the median kept), ${count.min}-${count.max} particles per patch (the counts kept), ` +
        `so renders at epoch ${epoch}'s mean image formation cover as much as the real patches (Otsu coverage ${cal.real.toFixed(4)} real vs ${cal.synthetic.toFixed(4)} rendered; ` +
        `${onGrid}; line ${cal.line.intercept.toFixed(4)} + ${cal.line.slope.toFixed(4)} sigma; ${seconds.toFixed(1)} s)`,
    );
  }
}

/** metrics.jsonl's row of the agglomerate pass after the epochs (it runs once per run). */
const TRAINED_AGGLOMERATES_ROW = 'agglomerates-trained';

/**
 * Refuses --recalibrate-agglomerates trained where it cannot apply: the demo (no real patches to
 * match), placement other than packed (no agglomerates to calibrate), learned sizes (the pass
 * renders the config's sizes, the generator draws its own).
 */
function checkTrainedAgglomerates(scene: SceneConfig, demo: boolean, learnSize: boolean): void {
  if (demo) throw new UserError('train: --recalibrate-agglomerates trained needs --real (the demo has no calibrations)', ExitCode.usage);
  if (learnSize) throw new UserError('--recalibrate-agglomerates trained: the run learns its sizes (--learn-size on), and the pass would measure renders at the scene\'s; give one of them', ExitCode.usage);
  if (scene.particles.placement.type !== 'packed') throw new UserError(`--recalibrate-agglomerates trained: the scene's placement is '${scene.particles.placement.type}'; agglomerates are calibrated for packed placement only`, ExitCode.badConfig);
}

/**
 * The agglomerate calibration (calibrateAgglomerates: the second pass's grid and cost, counts
 * matched to the real coverage per setting, at most MAX_CALIBRATED_COUNT) once more after the
 * epochs, on what the pairs are: the run's scene with the window already applied (its field
 * included) at the chosen epoch's mean learned parameters. The passes before the GAN measure
 * whole objects at the calibrated image formation, which covers less than the trained one
 * (docs/realism.md: Otsu coverage 0.219 against 0.231 on base31-s0's scene), and the window's
 * counts are theirs times the grown area, so none of them sees the pairs. The chosen counts and
 * agglomerates go into config.json (generate renders them; the weights stay), the estimates into
 * metrics.jsonl (a TRAINED_AGGLOMERATES_ROW row: it runs once per run) and the log.
 */
async function calibrateRunAgglomerates(runDir: string, config: RunConfig, realGreys: Grey[], epoch: number, log: (s: string) => void): Promise<void> {
  const t0 = performance.now();
  const gan = config.gan;
  const agg = await calibrateAgglomerates(sceneAtEpochMean(runDir, gan.scene, epoch), realGreys, runPolarity(config), undefined, undefined, agglomerateRunner());
  const p = gan.scene.particles;
  const before = { count: { min: p.count.min, max: p.count.max, dist: p.count.dist }, maxAgglomerates: p.placement.maxAgglomerates, contact: p.placement.contact, attach: p.placement.attach };
  if (!agg) {
    log(`agglomerates after the epochs: the real patches show no particle; keeping the scene`);
    ckpt.appendMetrics(runDir, { type: TRAINED_AGGLOMERATES_ROW, epoch, changed: false });
    return;
  }
  gan.scene = mergeSceneConfig(gan.scene, { particles: { count: agg.count, placement: { maxAgglomerates: agg.maxAgglomerates, contact: agg.contact, attach: agg.attach } } });
  writeRunConfig(runDir, config);
  const seconds = (performance.now() - t0) / 1000;
  const after = { count: agg.count, maxAgglomerates: agg.maxAgglomerates, contact: agg.contact, attach: agg.attach };
  ckpt.appendMetrics(runDir, { type: TRAINED_AGGLOMERATES_ROW, epoch, changed: true, before, after, real: agg.real, synthetic: agg.synthetic, settings: agg.candidates.length, seconds });
  const margin = p.placement.outside ?? 0;
  const growth = (attach: string | undefined) => (attach === 'size' ? 'in proportion to size' : 'even');
  log(
    `agglomerates after the epochs, at epoch ${epoch}'s mean image formation${margin > 0 ? `, on the window (margin ${margin}${p.placement.field === 'periodic' ? ', periodic field' : ''})` : ''}: ` +
      `up to ${before.maxAgglomerates} -> ${agg.maxAgglomerates} per patch, contact ${before.contact} -> ${agg.contact}, growth ${growth(before.attach)} -> ${growth(agg.attach)}, ` +
      `${before.count.min}-${before.count.max} -> ${agg.count.min}-${agg.count.max} particles per patch (${agg.count.dist === 'logUniform' ? 'log-uniform' : 'uniform'}), so the pairs agglomerate like the real particles ` +
      `(particles per Otsu component ${agg.real.particlesPerComponent.toFixed(2)} real vs ${agg.synthetic.particlesPerComponent.toFixed(2)} rendered; ` +
      `area in components > 12 median particles ${agg.real.largeComponentAreaFraction.toFixed(3)} vs ${agg.synthetic.largeComponentAreaFraction.toFixed(3)}; ` +
      `coverage ${agg.real.coverage.toFixed(3)} vs ${agg.synthetic.coverage.toFixed(3)}; ${agg.candidates.length} settings in ${seconds.toFixed(1)} s)`,
  );
}

/**
 * Restores `trainer` from the run's checkpoint of `epoch`: every file verified against the done
 * marker, the weights against the trainer's modules, the optimiser and RNG state checked; any
 * fault is an InputError naming the file (exit 3). The checks run before the trainer is changed;
 * a failure inside load itself (an optimiser state that does not fit) is reported the same way.
 */
export function restoreCheckpoint(runDir: string, epoch: number, trainer: GanTrainer): void {
  const c = ckpt.loadCheckpoint(runDir, epoch, trainer.weights());
  const optimPath = join(ckpt.epochDir(runDir, epoch), 'optim.json');
  const state = checkTrainerState(c.state, optimPath);
  if (state.epoch !== epoch) throw new InputError(optimPath, `field 'epoch' is ${state.epoch}, but the checkpoint is epoch ${epoch}`);
  try {
    trainer.load(state, { fcn: c.fcn, disc: c.disc });
  } catch (e) {
    throw new InputError(optimPath, `does not fit this run's models: ${(e as Error).message}`);
  }
}

/**
 * The classifier two-sample test (gan/c2st.ts) of the chosen epoch: the run's real patches (split
 * by the image they came from) against fresh renders of that epoch's generator, in patches of
 * min(128, patch) px. As many renders as it takes to match the real patches (at most 240), refined
 * by the run's refiner when it has one (what generate writes).
 */
async function chosenEpochC2st(gan: GanConfig, reals: Float32Array[], sources: string[], runDir: string, epoch: number, seeds: number, refiner: Refiner | null): Promise<C2stResult> {
  const P = Math.min(128, gan.patch);
  const t = new GanTrainer(gan, reals);
  restoreCheckpoint(runDir, epoch, t);
  const bySource = new Map<string, Float32Array[]>();
  reals.forEach((r, i) => {
    const list = bySource.get(sources[i]) ?? [];
    list.push(...tileSquare(r, gan.patch, P));
    bySource.set(sources[i], list);
  });
  const realSources = [...bySource].map(([name, patches]) => ({ name, patches }));
  const nReal = realSources.reduce((a, s) => a + s.patches.length, 0);
  const perImage = tileSquare(new Float32Array(gan.patch * gan.patch), gan.patch, P).length;
  const n = Math.max(8, Math.min(240, Math.ceil(nReal / perImage)));
  const synth = t.renderFresh(n, gan.seed + 0xc2).map((img, i) => ({ name: `render ${i}`, patches: tileSquare(refiner ? refineImage(refiner, img, gan.patch) : img, gan.patch, P) }));
  // The seeds are independent (task-workers.ts runs them side by side in the CLI).
  const jobs = c2stSeedJobs(realSources, synth, { patch: P, seeds, seed: gan.seed });
  return c2stSummary(jobs, await runC2stSeeds(jobs));
}

/**
 * The best-epoch rule (realism.ts) applied to the epochs recorded in metrics.jsonl. The collapse
 * floor is a fraction of each learned parameter's range as the generator maps it (`gan.ranges`,
 * the calibrated bounds, else the parameter table's); `gan` defaults to the run's config.json.
 */
export function pickBest(runDir: string, gan: Pick<GanConfig, 'learned' | 'ranges'> = readRunConfig(join(runDir, 'config.json')).gan): ReturnType<typeof chooseBestEpoch> | null {
  // Epoch 0 (the untrained generator) has no checkpoint and is never chosen.
  const epochs = ckpt.readMetrics(runDir).filter((r) => r.type === 'epoch' && (r.epoch as number) > 0);
  if (epochs.length === 0) return null;
  const file = join(runDir, ckpt.METRICS_FILE);
  for (const r of epochs) {
    const bad = (what: string): never => {
      throw new InputError(file, `the row of epoch ${JSON.stringify(r.epoch)} ${what}`);
    };
    if (!Number.isInteger(r.epoch)) bad("has no integer 'epoch'");
    const realism = r.realism as { combined?: unknown } | null;
    if (!realism || typeof realism !== 'object' || typeof realism.combined !== 'number') bad("has no number 'realism.combined'");
    const std = r.paramStd as Record<string, unknown> | null;
    if (!std || typeof std !== 'object' || Array.isArray(std) || !gan.learned.every((n) => typeof std[n] === 'number')) bad(`has no 'paramStd' number for each learned parameter (${gan.learned.join(', ')})`);
  }
  const scores: EpochScore[] = epochs.map((r) => ({
    epoch: r.epoch as number,
    score: (r.realism as { combined: number }).combined,
    paramStd: gan.learned.map((n) => (r.paramStd as Record<string, number>)[n]),
  }));
  return chooseBestEpoch(scores, { paramRanges: gan.learned.map((n) => learnedRange(n, gan.ranges)).map(([lo, hi]) => hi - lo) });
}

function writeReport(runDir: string, config: RunConfig, realSamples: Float32Array[]): void {
  const rows = ckpt.readMetrics(runDir);
  const samples = ckpt
    .listCheckpoints(runDir)
    .map((epoch) => ({ epoch, file: join(runDir, 'samples', `epoch-${String(epoch).padStart(4, '0')}.png`) }))
    .filter((s) => existsSync(s.file))
    .map((s) => ({ epoch: s.epoch, png: readInputFile(s.file) }));
  const learned = config.gan.learned;
  const html = buildReport({
    config,
    rows,
    samples,
    realSamples,
    patch: config.gan.patch,
    best: pickBest(runDir, config.gan),
    hidden: config.data.kind === 'demo' ? config.data.hidden : undefined,
    paramRanges: Object.fromEntries(learned.map((n) => [n, learnedRange(n, config.gan.ranges)])),
    runDir,
  });
  writeFileAtomic(join(runDir, 'report.html'), html);
}
