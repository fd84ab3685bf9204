/**
 * `diffrendergan pipeline`: the paper's experiment end to end in one resumable run folder.
 *
 *   RUN/pipeline.json        the resolved options (a rerun must match them; it then continues)
 *   RUN/tiles/               tiles.json (patches kept / skipped per image), preview.png
 *   RUN/gan/                 the `train` run folder (checkpoints, metrics.jsonl, report.html, best.json)
 *   RUN/synth/               the `generate` dataset (png format) from the best epoch
 *   RUN/seg-model/           the U-Net trained on the synthetic pairs
 *   RUN/seg-model-K/         (--set seg.members=K) the ensemble's other members, K = 2, 3, ...
 *   RUN/predictions/         instances / classes / overlay PNGs, particles.csv, summary.json, size-distribution.svg
 *   RUN/eval/                unet.json, otsu.json (and model-real.json) against --eval-masks
 *   RUN/seg-model-real/      (--model-real) a U-Net trained on the real masks of the training images
 *   RUN/stages/NAME.done.json  written atomically when stage NAME completes (its time and facts)
 *   RUN/report.json, RUN/report.md
 *
 * Rerunning the same command skips every stage with a marker and continues a partial stage
 * through that stage's own resume logic (GAN checkpoints, generate's per-sample files, the
 * U-Net's epoch checkpoints).
 */
import { existsSync, mkdirSync, rmSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, relative, resolve } from 'node:path';
import { cpus, loadavg, totalmem, availableParallelism } from 'node:os';
import { ExitCode, InputError, UserError } from '../errors.js';
import { listImageFiles, makeOutputDir, readImageFile, readInputJson, writeFileAtomic } from './files.js';
import { cropBottom, extractPatchesFromImages } from '../gan/patches.js';
import { detectPolarity, type Polarity, type PolaritySetting } from '../particles/polarity.js';
import type { AgglomerateRecalibration, RadiusCalibrationMethod } from '../gan/calibrate.js';
import { runTraining, pickBest, patchGridPng, type TrainOptions } from './train.js';
import { readMetrics } from './gan-checkpoint.js';
import { runGenerate } from './generate.js';
import { PRESETS, PRESET_NAMES, type PresetName } from '../render/presets/index.js';
import { DEFAULT_AUGMENT } from '../seg/augment.js';
import { MAX_WORKING_SCALE } from '../seg/working-scale.js';
import { hasCheckpoint } from './seg-checkpoint.js';
import { getBackend } from '../autodiff/backend.js';
import { resultsPage, withResultsBlock, reportMarkdown, type PipelineReport, type EvalSummary } from './pipeline-report.js';
import { segmentEval, segmentPredict, segmentReuse, segmentTrain, type SegmentConsole, type SegmenterOptions, type SegmentEvalReport, type SegmentTrainOptions } from './segment.js';

export const BUDGET_NAMES = ['quick', 'standard', 'full'] as const;
export type BudgetName = (typeof BUDGET_NAMES)[number];

/** Everything a budget fixes. */
export interface Budget {
  /**
   * refinerSteps: the learned refiner after the GAN (train's --refiner-steps); absent (every
   * budget) = 0, none: opt-in by `--set gan.refinerSteps=N`, so that the settings of runs made
   * before it existed still match.
   */
  /**
   * dNormalised: 1 shows the discriminator each patch also normalised per patch (train's
   * --d-input raw+normalised); absent (every budget) = 0, raw patches only.
   */
  gan: { patch: number; baseFilters: number; epochs: number; stepsPerEpoch?: number; configs?: number; evalSamples: number; maxPatchesPerImage?: number; c2stSeeds: number; refinerSteps?: number; dNormalised?: number };
  synth: { n: number };
  seg: {
    epochs: number; batch: number; crop: number; base: number; depth: number; stepsPerEpoch: number;
    /**
     * Percent of the synthetic U-Net's training crops whose particle interiors are re-shaded
     * (augment.ts `interior`); absent (every budget): the preset's share (preset.ts segAugment,
     * 0 without one). `--set seg.interiorAugmentPercent=N` overrides it; absent from the budgets
     * so that the settings of runs made before it existed still match.
     */
    interiorAugmentPercent?: number;
    /**
     * The synthetic U-Net's weight average (train.ts `emaSteps`: horizon in steps, 0 = off);
     * absent (every budget) = 0. Opt-in by `--set seg.emaSteps=N` (docs/segmentation.md,
     * "Averaging the U-Net's weights").
     */
    emaSteps?: number;
    /**
     * The synthetic U-Net's learning-rate warm-up (train.ts `warmupSteps`, 0 = off); absent (every
     * budget) = 0. Opt-in by `--set seg.warmupSteps=N` (docs/segmentation.md, "A learning-rate warm-up").
     */
    warmupSteps?: number;
    /**
     * Both U-Nets' working scale (train.ts `scale`, seg/working-scale.ts: pairs and images
     * resampled by it); absent (every budget) = 1. Opt-in by `--set seg.scale=S` (a decimal
     * allowed, 1-4; docs/segmentation.md, "A working scale for the U-Net").
     */
    scale?: number;
    /**
     * An ensemble of synthetic U-Nets (seg/infer.ts predictEnsemble): K networks trained from seeds
     * seed, seed + 1000, ..., each with 1/K of the steps per epoch and the same epochs (so the same
     * total training steps and the same shape of the learning-rate schedule), in seg-model/,
     * seg-model-2/, ...; predict and eval average their probabilities. Absent (every budget) = 1,
     * one U-Net. Opt-in by `--set seg.members=K` (docs/segmentation.md, "Ensembles of U-Nets").
     */
    members?: number;
  };
}

/** `--set` fields that no budget sets (absent = their default). */
const OPTIONAL_SETS = ['seg.interiorAugmentPercent', 'seg.emaSteps', 'seg.warmupSteps', 'seg.scale', 'seg.members', 'gan.refinerSteps', 'gan.dNormalised'];

/** `--set` fields that take a decimal; every other one an integer. */
const DECIMAL_SETS = ['seg.scale'];

/**
 * quick: a smoke test of every stage; standard: a laptop run of minutes on 2 cores; full: the
 * reference's networks and dataset size (patch 256, 64 base filters, one step per real patch per
 * epoch, 1,000 pairs) with the project's default U-Net, but 5
 * GAN epochs instead of the reference's 50: 50 epochs are about 7 h on 2 cores, and on the dev-pool
 * the best epoch by the realism rule came early in every run so far (`--set gan.epochs=50` gives
 * the reference schedule). Measured times: docs/pipeline.md.
 */
export const BUDGETS: Record<BudgetName, Budget> = {
  quick: {
    gan: { patch: 64, baseFilters: 4, epochs: 1, stepsPerEpoch: 8, configs: 8, evalSamples: 4, c2stSeeds: 1 },
    synth: { n: 48 },
    seg: { epochs: 2, batch: 4, crop: 64, base: 4, depth: 3, stepsPerEpoch: 6 },
  },
  standard: {
    gan: { patch: 128, baseFilters: 32, epochs: 8, stepsPerEpoch: 60, configs: 120, evalSamples: 8, c2stSeeds: 3 },
    synth: { n: 400 },
    // 5 epochs (500 steps): as good as 6 on two seeds' dev-test scores (docs/segmentation.md,
    // "The standard budget's length"), 1/6 less U-Net time.
    seg: { epochs: 5, batch: 4, crop: 128, base: 8, depth: 4, stepsPerEpoch: 0 },
  },
  full: {
    gan: { patch: 256, baseFilters: 64, epochs: 5, evalSamples: 16, c2stSeeds: 3 },
    synth: { n: 1000 },
    seg: { epochs: 6, batch: 4, crop: 128, base: 8, depth: 4, stepsPerEpoch: 0 },
  },
};

export interface PipelineOptions {
  /** Folder (or files) of the real micrographs. */
  real: string[];
  preset: PresetName;
  out: string;
  /** Images (names without extension) the GAN trains against; default: all but the test ids. */
  trainIds?: string[];
  /** Images that are segmented (and evaluated); default: all images. */
  testIds?: string[];
  evalMasks?: string;
  /** Also train a segmenter on the real masks of the training images (Model-Real). */
  modelReal?: boolean;
  cropBottom: number;
  pixelSize?: string;
  budget: BudgetName;
  /** User scene config (JSON file) merged over the preset. */
  config?: string;
  /** Apply config before train's calibrations instead of after them (train's option). */
  configFirst?: boolean;
  seed: number;
  /** Processes for `generate` (1 = in this process; tests must use 1). */
  workers: number;
  quiet: boolean;
  /** Write docs/results.md-style markdown here at the end. */
  resultsMd?: string;
  /** Relaxed SIMD for the U-Net stages' backend (segment runners' option; default: DIFFRENDERGAN_RELAXED_SIMD, else off). */
  relaxedSimd?: boolean;
  /** Parameters the GAN learns (default: the preset record's `learned`). */
  learn?: string[];
  /** Particle base radius in px, or 'auto' (estimated from the real images by `train`). */
  particleRadius?: number | 'auto';
  /** How an 'auto' radius is estimated (train's option; default: the preset's choice). */
  radiusCalibration?: RadiusCalibrationMethod;
  /** Whether the agglomerate calibration runs again: off, on (at the calibrated image formation), trained (also after the epochs) (train's option; default: the preset's choice). */
  recalibrateAgglomerates?: AgglomerateRecalibration;
  /** The calibrated scene as a window into a larger field with this margin (train's option; default: the preset's). */
  windowMargin?: number;
  /** Whether the second agglomerate pass runs on the window (train's option; default: the preset's choice). */
  windowCalibrated?: boolean;
  /** Whether the second radius step runs after the second agglomerate pass (train's option; default: the preset's choice). */
  radiusLast?: boolean;
  /** How the window's counts are set (train's option; default: the preset's choice). */
  windowCounts?: 'area' | 'coverage';
  /** The field the window looks into (train's option; default: the preset's choice). */
  windowField?: 'bounded' | 'periodic';
  /** Whether the GAN fits the size distribution's median and spread (train's option; default off). */
  learnSize?: boolean;
  /** Whether the upper size spread is calibrated (train's option; default: the preset's choice). */
  sizeSpread?: 'off' | 'calibrated' | 'coverage';
  /** Contrast polarity of the images, or 'auto' (default): detected from the training images. */
  polarity?: PolaritySetting;
  /**
   * Test-time batch norm adaptation of the U-Nets (segment --adapt-bn, seg/adapt-bn.ts) to the
   * training images (the GAN's unannotated real images; never their masks) before predict and
   * eval; default ADAPT_BN_DEFAULT.
   */
  adaptBn?: boolean;
  /** Budget overrides 'gan.epochs=4' (recorded in the report). */
  set?: string[];
  /** Budget overrides (tests / experiments). */
  budgetOverride?: DeepPartial<Budget>;
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/**
 * Whether the pipeline adapts its U-Nets' batch norm to the training images by default
 * (docs/segmentation.md, "Test-time batch norm adaptation").
 */
export const ADAPT_BN_DEFAULT = false;

export const STAGES = ['tile', 'gan', 'best', 'synth', 'seg', 'predict', 'eval', 'model-real', 'report'] as const;
export type StageName = (typeof STAGES)[number];

export interface StageRecord {
  stage: StageName;
  seconds: number;
  /** True when this process continued a stage that an earlier (killed) process had started. */
  resumed: boolean;
  finishedAt: string;
  /** 1, 5 and 15 min load averages when the stage finished (the machine may be shared). */
  loadAverage?: number[];
  /**
   * CPU seconds (user + system) this process spent in the stage, all its threads together
   * (compute lanes, task workers); not the synthetic-pair generator's child processes.
   * cpuSeconds / seconds is how many cores the stage kept busy.
   */
  cpuSeconds?: number;
  info: Record<string, unknown>;
}

export interface PipelineResult {
  runDir: string;
  report: PipelineReport;
  /** Stages this process ran (the others were skipped as done). */
  ran: StageName[];
  skipped: StageName[];
}

/** The options that define a run (a rerun must give the same ones). */
interface RunSpec {
  version: 1;
  preset: PresetName;
  realFiles: string[];
  trainFiles: string[];
  testFiles: string[];
  testIds: string[];
  evalMasks: string | null;
  modelReal: boolean;
  cropBottom: number;
  pixelSize: string | null;
  budget: BudgetName;
  settings: Budget;
  config: string | null;
  /** Present only when on, so that the specs of runs from before the option still match. */
  configFirst?: true;
  particleRadius: number | 'auto';
  radiusCalibration: RadiusCalibrationMethod | 'auto';
  recalibrateAgglomerates: AgglomerateRecalibration | 'auto';
  /** Present only when given (not auto), so that the specs of runs from before the option still match. */
  windowMargin?: number;
  /** Present only when given (not auto), as windowMargin. */
  windowCalibrated?: 'on' | 'off';
  /** Present only when given (not auto), as windowMargin. */
  radiusLast?: 'on' | 'off';
  /** Present only when given (not auto), as windowMargin. */
  windowCounts?: 'area' | 'coverage';
  /** Present only when given (not auto), as windowMargin. */
  windowField?: 'bounded' | 'periodic';
  /** Present only when on, as windowMargin. */
  learnSize?: 'on';
  /** Present only when given (not auto), as windowMargin. */
  sizeSpread?: 'off' | 'calibrated' | 'coverage';
  polarity: PolaritySetting;
  learn: string[] | null;
  overrides: string[];
  seed: number;
  /** --adapt-bn given against its default (null: the default, ADAPT_BN_DEFAULT; runs from before the flag lack it). */
  adaptBn: boolean | null;
}

const stem = (f: string) => basename(f, extname(f));

function deepMerge<T>(base: T, over: unknown): T {
  if (over === undefined || over === null || typeof over !== 'object' || Array.isArray(over)) return (over === undefined ? base : over) as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) out[k] = deepMerge(out[k], v);
  return out as T;
}

export function budgetSettings(name: BudgetName, override?: DeepPartial<Budget>): Budget {
  if (!BUDGET_NAMES.includes(name)) throw new UserError(`--budget must be one of ${BUDGET_NAMES.join(', ')}, got '${name}'`, ExitCode.usage);
  return deepMerge(structuredClone(BUDGETS[name]), override);
}

/** The most members `--set seg.members` allows (each is a training and a full inference). */
const MAX_MEMBERS = 8;

/** Seeds of the ensemble's members are the run's seed plus multiples of this. */
export const MEMBER_SEED_STRIDE = 1000;

/**
 * The synthetic U-Nets' folders: RUN/seg-model for one, RUN/seg-model, RUN/seg-model-2, ... for
 * an ensemble of `members`.
 */
export function memberDirs(runDir: string, members: number): string[] {
  return Array.from({ length: members }, (_, k) => join(runDir, k === 0 ? 'seg-model' : `seg-model-${k + 1}`));
}

/**
 * Steps per epoch of each of `members` U-Nets that together take the budget's steps: the
 * budget's (0 = one pass over the pairs) divided by the members, rounded (at least 1). One
 * member: the budget's setting as it is.
 */
export function memberStepsPerEpoch(seg: Budget['seg'], pairs: number, members: number): number {
  if (members <= 1) return seg.stepsPerEpoch;
  const steps = seg.stepsPerEpoch > 0 ? seg.stepsPerEpoch : Math.ceil(pairs / seg.batch);
  return Math.max(1, Math.round(steps / members));
}

/** '--set gan.epochs=4 synth.n=200' -> a partial budget; only existing numeric fields (integers, DECIMAL_SETS decimals). */
export function parseSets(sets: string[]): DeepPartial<Budget> {
  const out: Record<string, Record<string, number>> = {};
  const base = BUDGETS.full as unknown as Record<string, Record<string, unknown>>;
  const allowed = [...Object.entries(BUDGETS.standard).flatMap(([g, o]) => Object.keys(o as object).map((k) => `${g}.${k}`)), ...OPTIONAL_SETS];
  for (const s of sets.flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean)) {
    const m = /^(gan|synth|seg)\.([A-Za-z]+)=([0-9]+(?:\.[0-9]+)?)$/.exec(s);
    const decimal = m !== null && DECIMAL_SETS.includes(`${m[1]}.${m[2]}`);
    if (!m || !allowed.includes(`${m[1]}.${m[2]}`) || !base[m[1]] || (!decimal && m[3].includes('.'))) throw new UserError(`--set ${s}: expected GROUP.FIELD=INTEGER (${DECIMAL_SETS.join(', ')}: a decimal) with one of ${allowed.join(', ')}`, ExitCode.usage);
    if (s.startsWith('seg.scale=') && !(Number(m[3]) >= 1 && Number(m[3]) <= MAX_WORKING_SCALE)) throw new UserError(`--set ${s}: the U-Net's working scale, 1-${MAX_WORKING_SCALE}`, ExitCode.usage);
    if (s.startsWith('seg.interiorAugmentPercent=') && Number(m[3]) > 100) throw new UserError(`--set ${s}: a percentage, 0-100`, ExitCode.usage);
    if (s.startsWith('gan.dNormalised=') && Number(m[3]) > 1) throw new UserError(`--set ${s}: 0 or 1`, ExitCode.usage);
    if (s.startsWith('seg.members=') && !(Number(m[3]) >= 1 && Number(m[3]) <= MAX_MEMBERS)) throw new UserError(`--set ${s}: 1-${MAX_MEMBERS} U-Nets`, ExitCode.usage);
    (out[m[1]] ??= {})[m[2]] = Number(m[3]);
  }
  return out as DeepPartial<Budget>;
}

function splitIds(list: string[] | undefined): string[] | undefined {
  if (!list) return undefined;
  const ids = list.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  return ids.length ? ids : undefined;
}

function pick(files: string[], ids: string[], flag: string): string[] {
  const byStem = new Map(files.map((f) => [stem(f), f]));
  return ids.map((id) => {
    const f = byStem.get(id) ?? byStem.get(stem(id));
    if (!f) throw new UserError(`${flag}: no image named '${id}' among the --real images (have ${files.length}: ${[...byStem.keys()].slice(0, 6).join(', ')}${files.length > 6 ? ', ...' : ''})`, ExitCode.badInput);
    return f;
  });
}

function resolveSpec(opts: PipelineOptions): RunSpec {
  if (!PRESET_NAMES.includes(opts.preset)) throw new UserError(`--preset must be one of ${PRESET_NAMES.join(', ')}`, ExitCode.usage);
  if (!opts.real || opts.real.length === 0) throw new UserError('pipeline: --real DIR is required (the real micrographs)', ExitCode.usage);
  // Masks named NAME_m.* next to the images are not images of their own.
  const realFiles = listImageFiles(opts.real).map((f) => resolve(f)).filter((f) => !/_m$/.test(stem(f)));
  if (realFiles.length === 0) throw new UserError(`--real ${opts.real.join(' ')}: no .png / .tif images there`, ExitCode.badInput);
  const testIdList = splitIds(opts.testIds);
  const trainIdList = splitIds(opts.trainIds);
  const testFiles = testIdList ? pick(realFiles, testIdList, '--test-ids') : realFiles;
  const testSet = new Set(testIdList ? testFiles : []);
  const trainFiles = trainIdList ? pick(realFiles, trainIdList, '--train-ids') : realFiles.filter((f) => !testSet.has(f));
  if (trainFiles.length === 0) throw new UserError('pipeline: no training images left (every --real image is a --test-ids image); give --train-ids', ExitCode.usage);
  const overlap = trainFiles.filter((f) => testSet.has(f));
  if (overlap.length && opts.evalMasks) throw new UserError(`pipeline: ${stem(overlap[0])} is both a training and a test image; evaluation images must not be trained on`, ExitCode.usage);
  if (opts.modelReal && !opts.evalMasks) throw new UserError('pipeline: --model-real needs --eval-masks DIR (the masks of the training images are read from there)', ExitCode.usage);
  if (opts.evalMasks && !existsSync(opts.evalMasks)) throw new InputError(opts.evalMasks, 'mask folder not found');
  const oneDir = (files: string[]) => new Set(files.map((f) => resolve(f, '..'))).size === 1;
  if (opts.evalMasks && !oneDir(testFiles)) throw new UserError('pipeline: with --eval-masks, the test images must lie in one folder', ExitCode.usage);
  if (opts.modelReal && !oneDir(trainFiles)) throw new UserError('pipeline: with --model-real, the training images must lie in one folder', ExitCode.usage);
  if (opts.config && !existsSync(opts.config)) throw new InputError(opts.config, 'scene config not found');
  if (opts.configFirst && !opts.config) throw new UserError('pipeline: --config-first needs --config FILE', ExitCode.usage);
  // Adapted batch norm statistics are one model's (segment.ts): refused before any stage runs.
  const settings = budgetSettings(opts.budget, deepMerge(parseSets(opts.set ?? []), opts.budgetOverride));
  if (opts.adaptBn && (settings.seg.members ?? 1) > 1) throw new UserError('pipeline: --adapt-bn adapts one U-Net; --set seg.members trains an ensemble', ExitCode.usage);
  return {
    version: 1,
    preset: opts.preset,
    realFiles,
    trainFiles,
    testFiles,
    testIds: testFiles.map(stem),
    evalMasks: opts.evalMasks ? resolve(opts.evalMasks) : null,
    modelReal: !!opts.modelReal,
    cropBottom: opts.cropBottom,
    pixelSize: opts.pixelSize ?? null,
    budget: opts.budget,
    settings,
    config: opts.config ? resolve(opts.config) : null,
    ...(opts.configFirst ? { configFirst: true as const } : {}),
    particleRadius: opts.particleRadius ?? 'auto',
    radiusCalibration: opts.radiusCalibration ?? 'auto',
    recalibrateAgglomerates: opts.recalibrateAgglomerates ?? 'auto',
    ...(opts.windowMargin !== undefined ? { windowMargin: opts.windowMargin } : {}),
    ...(opts.windowCalibrated !== undefined ? { windowCalibrated: opts.windowCalibrated ? ('on' as const) : ('off' as const) } : {}),
    ...(opts.radiusLast !== undefined ? { radiusLast: opts.radiusLast ? ('on' as const) : ('off' as const) } : {}),
    ...(opts.windowCounts !== undefined ? { windowCounts: opts.windowCounts } : {}),
    ...(opts.windowField !== undefined ? { windowField: opts.windowField } : {}),
    ...(opts.learnSize ? { learnSize: 'on' as const } : {}),
    ...(opts.sizeSpread !== undefined ? { sizeSpread: opts.sizeSpread } : {}),
    polarity: opts.polarity ?? 'auto',
    learn: opts.learn && opts.learn.length ? opts.learn : null,
    overrides: opts.set ?? [],
    seed: opts.seed,
    adaptBn: opts.adaptBn === undefined || opts.adaptBn === ADAPT_BN_DEFAULT ? null : opts.adaptBn,
  };
}

/** Loads RUN/pipeline.json or creates it; a rerun with different options is refused. */
function openRun(runDir: string, spec: RunSpec): void {
  const file = join(runDir, 'pipeline.json');
  if (existsSync(file)) {
    const old = readInputJson(file) as RunSpec;
    if (old === null || typeof old !== 'object' || Array.isArray(old)) throw new InputError(file, 'not a pipeline run record (a JSON object)');
    const a = JSON.stringify(old);
    const b = JSON.stringify(spec);
    if (a !== b) {
      // A field added by a later version counts as equal when the old run lacks it and the new value is its default.
      const isDefault = (v: unknown) => v === null || v === 'auto' || (Array.isArray(v) && v.length === 0);
      const diff = (Object.keys(spec) as (keyof RunSpec)[]).filter((k) => JSON.stringify(old[k]) !== JSON.stringify(spec[k]) && !(old[k] === undefined && isDefault(spec[k])) && k !== 'modelReal');
      // --model-real may be added to (or left off) a rerun: it only adds its own stage.
      if (diff.length === 0) {
        if (old.modelReal !== spec.modelReal) writeFileAtomic(file, JSON.stringify(spec, null, 2) + '\n');
        return;
      }
      throw new UserError(`--out ${runDir}: holds a pipeline run with other settings (${diff.join(', ')} differ); rerun with the same flags to continue it, or choose another --out`, ExitCode.badOutput);
    }
    return;
  }
  if (existsSync(runDir) && !statSync(runDir).isDirectory()) throw new UserError(`--out ${runDir}: exists and is not a folder`, ExitCode.badOutput);
  if (existsSync(runDir) && readdirSync(runDir).length > 0) throw new UserError(`--out ${runDir}: folder exists, is not empty and is not a pipeline run`, ExitCode.badOutput);
  makeOutputDir(runDir);
  writeFileAtomic(file, JSON.stringify(spec, null, 2) + '\n');
}

const markerPath = (runDir: string, s: StageName) => join(runDir, 'stages', `${s}.done.json`);
const startedPath = (runDir: string, s: StageName) => join(runDir, 'stages', `${s}.started`);

export function readStage(runDir: string, s: StageName): StageRecord | null {
  const f = markerPath(runDir, s);
  return existsSync(f) ? (readInputJson(f) as StageRecord) : null;
}

function machine(): PipelineReport['machine'] {
  const c = cpus();
  return {
    cpu: c[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverage: loadavg().map((v) => Math.round(v * 100) / 100),
  };
}

/** What the run keeps of an evaluation (eval/NAME.json). */
function evalSummary(j: SegmentEvalReport): EvalSummary {
  return {
    mean: { dsc: j.mean.dsc, ap50: j.mean.ap50, pq: j.mean.pq, sq: j.mean.sq, rq: j.mean.rq },
    images: j.images.map((r) => ({ image: r.image, dsc: r.dsc, ap50: r.ap50, pq: r.pq, predicted: r.predicted, truth: r.truth, sizing: r.sizing, lowConfidence: r.lowConfidence ?? null })),
    sizing: j.sizing,
  };
}

export async function runPipeline(opts: PipelineOptions): Promise<PipelineResult> {
  const log = (s: string) => {
    if (!opts.quiet) process.stderr.write(`[pipeline] ${s}\n`);
  };
  const segOut: SegmentConsole = { log: (s) => log(`  ${s}`), error: (s) => log(`  ${s}`) };
  const runDir = resolve(opts.out);
  const spec = resolveSpec(opts);
  openRun(runDir, spec);
  mkdirSync(join(runDir, 'stages'), { recursive: true });
  const b = spec.settings;
  const ran: StageName[] = [];
  const skipped: StageName[] = [];
  const realDir = (f: string) => resolve(f, '..');
  const imagesDir = realDir(spec.testFiles[0]);
  // The contrast polarity every stage analyses the images with: given, or detected once from the
  // training images (cheap: one Otsu threshold per image), so every stage agrees.
  let polarity: Polarity;
  if (spec.polarity === 'auto') {
    const d = detectPolarity(spec.trainFiles.map((f) => cropBottom(readImageFile(f), spec.cropBottom, f)));
    polarity = d.polarity;
    log(`contrast polarity: ${polarity} particles, detected on the ${d.images} training images (${(100 * d.brightFraction).toFixed(1)} % of the pixels above their Otsu threshold)`);
  } else polarity = spec.polarity;

  async function stage(s: StageName, body: () => Promise<Record<string, unknown>> | Record<string, unknown>): Promise<void> {
    if (readStage(runDir, s)) {
      skipped.push(s);
      log(`${s}: done already, skipped`);
      return;
    }
    const resumed = existsSync(startedPath(runDir, s));
    writeFileAtomic(startedPath(runDir, s), new Date().toISOString() + '\n');
    log(`${s}: ${resumed ? 'continuing' : 'starting'}`);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const info = await body();
    const cpu = process.cpuUsage(cpu0);
    const rec: StageRecord = {
      stage: s, seconds: Math.round((performance.now() - t0) / 10) / 100, resumed, finishedAt: new Date().toISOString(), loadAverage: loadavg().map((v) => Math.round(v * 100) / 100),
      cpuSeconds: Math.round((cpu.user + cpu.system) / 1e4) / 100, info,
    };
    writeFileAtomic(markerPath(runDir, s), JSON.stringify(rec, null, 2) + '\n');
    ran.push(s);
    log(`${s}: done in ${rec.seconds.toFixed(1)} s`);
  }

  // 1. tile: the real training patches (what the GAN's discriminator sees).
  await stage('tile', () => {
    const images = spec.trainFiles.map((f) => ({ name: stem(f), image: readImageFile(f) }));
    const set = extractPatchesFromImages(images, { patch: b.gan.patch, cropBottom: spec.cropBottom, polarity });
    if (set.kept.length === 0) throw new UserError(`no usable ${b.gan.patch} px patches in the training images (check --crop-bottom)`, ExitCode.badInput);
    const perImage: Record<string, { kept: number; skipped: number }> = {};
    for (const im of images) perImage[im.name] = { kept: 0, skipped: 0 };
    for (const p of set.kept) perImage[p.source].kept++;
    for (const p of set.skipped) perImage[p.patch.source].skipped++;
    mkdirSync(join(runDir, 'tiles'), { recursive: true });
    writeFileAtomic(join(runDir, 'tiles', 'tiles.json'), JSON.stringify({ patch: b.gan.patch, cropBottom: spec.cropBottom, kept: set.kept.length, skipped: set.skipped.length, perImage }, null, 2) + '\n');
    writeFileAtomic(join(runDir, 'tiles', 'preview.png'), patchGridPng(set.kept.slice(0, 16).map((p) => p.data), b.gan.patch));
    return { patch: b.gan.patch, kept: set.kept.length, skipped: set.skipped.length, images: images.length, polarity };
  });

  // 2. gan: DiffRenderGAN against the training images (resumes from its last epoch checkpoint).
  const ganDir = join(runDir, 'gan');
  await stage('gan', async () => {
    if (existsSync(ganDir) && !existsSync(join(ganDir, 'config.json'))) rmSync(ganDir, { recursive: true, force: true });
    const topts: TrainOptions = {
      real: spec.trainFiles,
      preset: spec.preset,
      configFile: spec.config ?? undefined,
      configFirst: !!spec.configFirst,
      particleRadius: spec.particleRadius,
      radiusCalibration: spec.radiusCalibration === 'auto' ? undefined : spec.radiusCalibration,
      recalibrateAgglomerates: spec.recalibrateAgglomerates === undefined || spec.recalibrateAgglomerates === 'auto' ? undefined : spec.recalibrateAgglomerates,
      windowMargin: spec.windowMargin,
      windowCalibrated: spec.windowCalibrated === undefined ? undefined : spec.windowCalibrated === 'on',
      radiusLast: spec.radiusLast === undefined ? undefined : spec.radiusLast === 'on',
      windowCounts: spec.windowCounts,
      windowField: spec.windowField,
      learnSize: spec.learnSize === 'on',
      sizeSpread: spec.sizeSpread,
      polarity,
      learn: spec.learn ?? undefined,
      out: ganDir,
      resume: existsSync(join(ganDir, 'config.json')) ? ganDir : undefined,
      cropBottom: spec.cropBottom,
      patch: b.gan.patch,
      epochs: b.gan.epochs,
      stepsPerEpoch: b.gan.stepsPerEpoch,
      configs: b.gan.configs,
      batch: 1,
      lrD: 1e-4,
      baseFilters: b.gan.baseFilters,
      norm: 'batch',
      ...(b.gan.dNormalised ? { dInput: 'raw+normalised' as const } : {}),
      evalSamples: b.gan.evalSamples,
      c2stSeeds: b.gan.c2stSeeds,
      ...((b.gan.refinerSteps ?? 0) > 0 ? { refinerSteps: b.gan.refinerSteps } : {}),
      seed: spec.seed,
      quiet: opts.quiet,
    };
    const r = await runTraining(topts);
    const steps = r.trainer.step;
    const c2st = readMetrics(ganDir).filter((row) => row.type === 'c2st' && row.epoch === r.best?.epoch).pop();
    return {
      epochs: r.trainer.epoch, steps, best: r.best?.epoch ?? null, backend: getBackend().name,
      // setup (images, calibrations), epochs (steps + evaluations), the chosen epoch's C2ST
      ...(r.seconds ? { seconds: r.seconds } : {}),
      ...(c2st ? { c2st: { epoch: c2st.epoch, accuracy: c2st.accuracy, ci: c2st.ci, patch: c2st.patch, seeds: (c2st.seeds as { accuracy: number }[]).map((x) => x.accuracy) } } : {}),
    };
  });

  // 3. best: the best-epoch rule over the recorded realism scores.
  await stage('best', () => {
    const best = pickBest(ganDir);
    if (!best) throw new UserError(`${ganDir}: no epoch recorded; the GAN stage did not finish an epoch`, ExitCode.internal);
    writeFileAtomic(join(runDir, 'best-epoch.json'), JSON.stringify(best, null, 2) + '\n');
    return { ...best };
  });
  const bestEpoch = (readStage(runDir, 'best')!.info as { epoch: number }).epoch;

  // 4. synth: annotated synthetic pairs from the best epoch (resumes per sample).
  const synthDir = join(runDir, 'synth');
  await stage('synth', async () => {
    const r = await runGenerate({ run: ganDir, epoch: bestEpoch, n: b.synth.n, out: synthDir, format: 'png', seed: spec.seed + 1, workers: opts.workers, quiet: opts.quiet });
    return { n: b.synth.n, epoch: r.epoch, format: 'png' };
  });

  // 5. seg: the U-Net trained on the synthetic pairs (resumes from its epoch checkpoint).
  const members = b.seg.members ?? 1;
  const segDirs = memberDirs(runDir, members);
  const segDir = segDirs[0];
  // What predict and eval name: the one U-Net, or the ensemble's folders.
  const segModel: SegmenterOptions['model'] = members > 1 ? segDirs : segDir;
  // Model-Real gets as many steps as the synthetic-trained U-Net (it has fewer, larger images).
  // The U-Net stages run on the fastest CPU backend.
  const segBackend = { backend: 'auto', relaxedSimd: opts.relaxedSimd };
  // Both U-Nets get the preset's augmentation overrides (preset.ts segAugment), if it has any.
  const segAugment = PRESETS[spec.preset].segAugment;
  const augment = { ...DEFAULT_AUGMENT, ...segAugment, interior: 0 };
  // The interior re-shading randomises the renders' particle bodies: the synthetic U-Net's only
  // (the preset's share, or the budget's when --set gives one).
  const interior = b.seg.interiorAugmentPercent !== undefined ? b.seg.interiorAugmentPercent / 100 : (segAugment?.interior ?? 0);
  const synthAugment = { ...augment, interior };
  // The eval stage scores the test images the predict stage segmented: it takes those results
  // (same model, pixels and settings) instead of segmenting them again (segment-cache.ts).
  const reuse = segmentReuse();
  // The U-Nets' batch norm adapted to the training images (their pixels only) before they segment.
  const adaptBn = spec.adaptBn ?? ADAPT_BN_DEFAULT;
  const adapt: Pick<SegmenterOptions, 'adaptBn'> = adaptBn ? { adaptBn: spec.trainFiles } : {};
  const segTrain = (source: SegmentTrainOptions['source'], dir: string, more: Partial<SegmentTrainOptions> = {}, stepsPerEpoch = b.seg.stepsPerEpoch, aug = augment, emaSteps = 0, warmupSteps = 0, seed = spec.seed) =>
    segmentTrain({
      source, out: dir, ...more, unet: { base: b.seg.base, depth: b.seg.depth },
      train: { epochs: b.seg.epochs, batch: b.seg.batch, crop: b.seg.crop, stepsPerEpoch, seed, augment: aug, ...(emaSteps > 0 ? { emaSteps } : {}), ...(warmupSteps > 0 ? { warmupSteps } : {}), ...(b.seg.scale !== undefined && b.seg.scale !== 1 ? { scale: b.seg.scale } : {}) }, resume: hasCheckpoint(dir), ...segBackend,
    }, segOut);
  await stage('seg', async () => {
    // The weight average, like the re-shading, is the synthetic U-Net's only (opt-in).
    // An ensemble's members share the budget's steps (memberStepsPerEpoch) and differ in their seeds.
    const stepsPerEpoch = memberStepsPerEpoch(b.seg, b.synth.n, members);
    for (let k = 0; k < members; k++) await segTrain({ data: synthDir }, segDirs[k], {}, stepsPerEpoch, synthAugment, b.seg.emaSteps ?? 0, b.seg.warmupSteps ?? 0, spec.seed + MEMBER_SEED_STRIDE * k);
    const { interior: _interior, ...overrides } = segAugment ?? {};
    return { ...b.seg, ...(members > 1 ? { memberStepsPerEpoch: stepsPerEpoch, memberSeeds: segDirs.map((_, k) => spec.seed + MEMBER_SEED_STRIDE * k) } : {}), trainImages: b.synth.n, ...(Object.keys(overrides).length ? { augmentOverrides: overrides } : {}), interiorAugmentPercent: Math.round(interior * 100) };
  });

  // 6. predict: segment and measure the test images.
  const predDir = join(runDir, 'predictions');
  await stage('predict', async () => {
    const summary = await segmentPredict({ model: segModel, inputs: spec.testFiles, out: predDir, cropBottom: spec.cropBottom, pixelSize: spec.pixelSize ?? 'auto', ...adapt, ...segBackend, reuse }, segOut);
    return { images: spec.testFiles.length, particlesNotTouchingBorder: summary.overall.count, medianEcd: summary.overall.median, unit: summary.unit, batchNormAdaptedTo: adaptBn ? spec.trainFiles.length : 0 };
  });

  // 7. eval: DSC / AP50 / PQ of the synthetic-trained U-Net, the Otsu baseline (and Model-Real).
  const evalDir = join(runDir, 'eval');
  /** Scores one segmenter on the test images against --eval-masks; writes eval/NAME.json. */
  const evalOne = async (name: string, segmenter: SegmenterOptions): Promise<EvalSummary> => {
    mkdirSync(evalDir, { recursive: true });
    const r = evalSummary(await segmentEval({ images: imagesDir, masks: spec.evalMasks!, ids: spec.testIds, cropBottom: spec.cropBottom, ...segmenter, ...segBackend, reuse }, segOut));
    writeFileAtomic(join(evalDir, `${name}.json`), JSON.stringify(r, null, 2) + '\n');
    log(`  ${name}: DSC ${r.mean.dsc.toFixed(3)} AP50 ${r.mean.ap50.toFixed(3)} PQ ${r.mean.pq.toFixed(3)}`);
    return r;
  };
  if (spec.evalMasks) {
    await stage('eval', async () => {
      mkdirSync(evalDir, { recursive: true });
      const results: Record<string, EvalSummary> = {};
      for (const [name, segmenter] of [['unet', { model: segModel, ...adapt }], ['otsu', { method: 'otsu', polarity }]] as [string, SegmenterOptions][]) results[name] = await evalOne(name, segmenter);
      return Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.mean]));
    });
  }

  // 8. model-real (optional; may be added to a finished run): the same U-Net, same budget, on the
  //    real masks of the training images, scored like the synthetic-trained one.
  const realSegDir = join(runDir, 'seg-model-real');
  if (spec.modelReal) {
    await stage('model-real', async () => {
      await segTrain({ images: realDir(spec.trainFiles[0]), masks: spec.evalMasks! }, realSegDir, { ids: spec.trainFiles.map(stem), cropBottom: spec.cropBottom }, b.seg.stepsPerEpoch || Math.ceil(b.synth.n / b.seg.batch));
      const r = await evalOne('model-real', { model: realSegDir, ...adapt });
      return { ...b.seg, trainImages: spec.trainFiles.length, note: 'trained on the real masks of the training images (Model-Real baseline)', ...r.mean };
    });
  }

  // 9. report: report.json + report.md (always rewritten, so it reflects every stage's marker).
  const report = buildReport(runDir, spec);
  writeFileAtomic(join(runDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  writeFileAtomic(join(runDir, 'report.md'), reportMarkdown(report));
  if (opts.resultsMd) {
    const file = resolve(opts.resultsMd);
    writeFileAtomic(file, withResultsBlock(existsSync(file) && statSync(file).isFile() ? readFileSync(file, 'utf8') : null, resultsPage(report)));
  }
  if (!readStage(runDir, 'report')) {
    writeFileAtomic(markerPath(runDir, 'report'), JSON.stringify({ stage: 'report', seconds: 0, resumed: false, finishedAt: new Date().toISOString(), info: {} }, null, 2) + '\n');
    ran.push('report');
  } else skipped.push('report');
  log(`report: ${join(runDir, 'report.md')}`);
  return { runDir, report, ran, skipped };
}

/** The command line that reproduces (or continues) this run, paths relative to the working folder. */
function commandLine(spec: RunSpec, runDir: string): string {
  const rel = (p: string) => {
    const r = relative(process.cwd(), p) || '.';
    return r.startsWith('../../') ? p : r;
  };
  const dirs = [...new Set(spec.realFiles.map((f) => resolve(f, '..')))];
  const allTest = spec.testFiles.length === spec.realFiles.length;
  const defaultTrain = spec.realFiles.filter((f) => allTest || !spec.testFiles.includes(f));
  const parts = ['node dist/cli.js pipeline', '--real', ...dirs.map(rel), '--preset', spec.preset];
  if (JSON.stringify(defaultTrain) !== JSON.stringify(spec.trainFiles)) parts.push('--train-ids', spec.trainFiles.map(stem).join(','));
  if (!allTest) parts.push('--test-ids', spec.testIds.join(','));
  if (spec.evalMasks) parts.push('--eval-masks', rel(spec.evalMasks));
  if (spec.modelReal) parts.push('--model-real');
  if (spec.cropBottom) parts.push('--crop-bottom', String(spec.cropBottom));
  if (spec.pixelSize) parts.push('--pixel-size', spec.pixelSize);
  parts.push('--budget', spec.budget);
  if (spec.overrides.length) parts.push('--set', ...spec.overrides);
  if (spec.learn) parts.push('--learn', spec.learn.join(','));
  if (spec.particleRadius !== 'auto') parts.push('--particle-radius', String(spec.particleRadius));
  if (spec.radiusCalibration !== 'auto') parts.push('--radius-calibration', spec.radiusCalibration);
  if (spec.recalibrateAgglomerates !== undefined && spec.recalibrateAgglomerates !== 'auto') parts.push('--recalibrate-agglomerates', spec.recalibrateAgglomerates);
  if (spec.windowMargin !== undefined) parts.push('--window-margin', String(spec.windowMargin));
  if (spec.windowCalibrated !== undefined) parts.push('--window-calibrated', spec.windowCalibrated);
  if (spec.radiusLast !== undefined) parts.push('--radius-last', spec.radiusLast);
  if (spec.windowCounts !== undefined) parts.push('--window-counts', spec.windowCounts);
  if (spec.windowField !== undefined) parts.push('--window-field', spec.windowField);
  if (spec.learnSize) parts.push('--learn-size', 'on');
  if (spec.sizeSpread !== undefined) parts.push('--size-spread', spec.sizeSpread);
  if (spec.polarity !== 'auto') parts.push('--polarity', spec.polarity);
  if (spec.config) parts.push('--config', rel(spec.config));
  if (spec.configFirst) parts.push('--config-first');
  if (spec.seed) parts.push('--seed', String(spec.seed));
  if (spec.adaptBn !== null) parts.push(`--adapt-bn=${spec.adaptBn}`);
  parts.push('--out', rel(runDir));
  return parts.join(' ');
}

function buildReport(runDir: string, spec: RunSpec): PipelineReport {
  const stages = STAGES.filter((s) => s !== 'report').map((s) => readStage(runDir, s)).filter((r): r is StageRecord => r !== null);
  const evals: Record<string, EvalSummary> = {};
  for (const name of ['unet', 'otsu', 'model-real']) {
    const f = join(runDir, 'eval', `${name}.json`);
    if (existsSync(f)) evals[name] = readInputJson(f) as EvalSummary;
  }
  const predSummary = join(runDir, 'predictions', 'summary.json');
  return {
    version: 1,
    runDir,
    preset: spec.preset,
    budget: spec.budget,
    overrides: spec.overrides,
    settings: spec.settings,
    seed: spec.seed,
    cropBottom: spec.cropBottom,
    trainImages: spec.trainFiles.map(stem),
    testImages: spec.testIds,
    modelReal: spec.modelReal,
    stages: stages.map((s) => ({ stage: s.stage, seconds: s.seconds, resumed: s.resumed, loadAverage: s.loadAverage, cpuSeconds: s.cpuSeconds, info: s.info })),
    totalSeconds: stages.reduce((a, s) => a + s.seconds, 0),
    evals,
    predictions: existsSync(predSummary) ? (readInputJson(predSummary) as PipelineReport['predictions']) : null,
    machine: machine(),
    backend: getBackend().name,
    command: commandLine(spec, runDir),
    generatedAt: new Date().toISOString(),
  };
}
