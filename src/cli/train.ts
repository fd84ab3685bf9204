/** `diffrendergan train`: DiffRenderGAN against real micrographs, or the built-in demo. */
import { onOffAuto, parseWindowMargin, polarityFlag, windowMarginFlag, windowCalibratedFlag, radiusLastFlag, windowCountsFlag, parseWindowCounts, windowFieldFlag, parseWindowField, learnSizeFlag, sizeSpreadFlag, parseSizeSpread, recalibrateAgglomeratesFlag, parseRecalibrateAgglomerates, type CommandSpec, type ParsedFlags } from './args.js';
import type { PolaritySetting } from '../particles/polarity.js';
import { PRESET_NAMES } from '../render/presets/index.js';
import { RADIUS_CALIBRATION_METHODS, type RadiusCalibrationMethod } from '../gan/calibrate.js';
import { runTraining, savedBackend, type TrainOptions } from '../node/train.js';
import { backendFlag, selectBackend } from './backend-flag.js';
import { ExitCode, UserError } from '../errors.js';
import { GAN_LIMITS, ganSizeProblem } from '../gan/limits.js';

const limit = (name: keyof typeof GAN_LIMITS) => ({ min: GAN_LIMITS[name][0], max: GAN_LIMITS[name][1] });

export const trainCommand: CommandSpec = {
  name: 'train',
  summary: 'learn rendering parameters adversarially against real micrographs (no --real: a built-in demo)',
  usage: 'diffrendergan train [--real DIR|FILES...] [--preset tio2-sem] [--out RUN_DIR] [flags]   |   diffrendergan train --resume RUN_DIR',
  flags: [
    { name: 'real', type: 'strings', meta: 'DIR|FILES', help: 'real unannotated micrographs (PNG / TIFF files or folders); without it the demo runs' },
    { name: 'preset', type: 'string', default: 'tio2-sem', choices: PRESET_NAMES, help: 'scene and image-formation preset' },
    { name: 'config', type: 'string', meta: 'FILE', help: 'JSON scene config whose fields override the preset' },
    { name: 'config-first', type: 'boolean', help: 'apply --config before the calibrations (they start from its fields, e.g. particle shapes, and calibrate radius, counts, agglomerates and levels over it) instead of after them (docs/realism.md)' },
    { name: 'learn', type: 'string', meta: 'A,B,...', help: "parameters to learn (default: the preset's list; see docs/parameters.md)" },
    { name: 'out', type: 'string', meta: 'RUN_DIR', help: 'run folder to create (default runs/demo or runs/train-<time>)' },
    { name: 'resume', type: 'string', meta: 'RUN_DIR', help: 'continue a run where it stopped (all other settings come from its config.json)' },
    polarityFlag('detected from the real images'),
    { name: 'crop-bottom', type: 'int', min: 0, max: 65535, default: 0, meta: 'PX', help: "rows cut from the bottom of every image (the microscope's data bar)" },
    { name: 'particle-radius', type: 'string', default: 'auto', meta: 'auto|PX', help: 'particle base radius in px; auto estimates it from the real images without annotations' },
    { name: 'radius-calibration', type: 'string', default: 'auto', choices: ['auto', ...RADIUS_CALIBRATION_METHODS], help: "how --particle-radius auto is estimated: auto (the preset's choice), the real patches' upper quartile of particle sizes matched again at the calibrated image formation, or the full images' median (docs/realism.md)" },
    recalibrateAgglomeratesFlag('train'),
    windowMarginFlag('train'),
    windowCalibratedFlag('train'),
    radiusLastFlag('train'),
    windowCountsFlag('train'),
    windowFieldFlag('train'),
    learnSizeFlag('train'),
    sizeSpreadFlag('train'),
    { name: 'patch', type: 'int', ...limit('patch'), meta: 'PX', help: 'patch size (default 256; demo 64)' },
    { name: 'epochs', type: 'int', ...limit('epochs'), meta: 'N', help: 'epochs (default 50; demo 8)' },
    { name: 'steps-per-epoch', type: 'int', ...limit('steps-per-epoch'), meta: 'N', help: 'steps per epoch (default: real patches / batch; demo 40)' },
    { name: 'configs', type: 'int', ...limit('configs'), meta: 'N', help: 'scene configurations drawn before training (default: one per real patch)' },
    { name: 'batch', type: 'int', ...limit('batch'), default: 1, meta: 'N', help: 'batch size' },
    { name: 'lr-g', type: 'number', min: 0, max: 10, meta: 'LR', help: 'generator (ParamNet) learning rate (default 2e-4; demo 1e-3)' },
    { name: 'lr-d', type: 'number', min: 0, max: 10, default: 1e-4, meta: 'LR', help: 'discriminator learning rate' },
    { name: 'base-filters', type: 'int', ...limit('base-filters'), meta: 'N', help: 'discriminator base filters (default 64; demo 16)' },
    { name: 'norm', type: 'string', default: 'batch', choices: ['batch', 'instance', 'none'], help: 'discriminator normalisation' },
    { name: 'd-input', type: 'string', default: 'raw', choices: ['raw', 'raw+normalised'], help: "what the discriminator sees: raw patches, or raw+normalised (a second channel with each patch at zero mean and unit std, as the realism C2ST sees it; docs/realism.md)" },
    { name: 'eval-samples', type: 'int', ...limit('eval-samples'), default: 16, meta: 'N', help: 'images rendered per epoch for the realism score and samples' },
    { name: 'seed', type: 'int', min: 0, default: 0, meta: 'N', help: 'random seed (runs are reproducible)' },
    { name: 'c2st-seeds', type: 'int', min: 0, max: 100, default: 3, meta: 'N', help: 'seeds of the classifier two-sample test at the chosen epoch (0: skip it; real images only)' },
    { name: 'refiner-steps', type: 'int', min: 0, max: 100000, meta: 'N', help: 'train a learned refiner (x + R(x), 3x3 convolutions, SimGAN) for N steps after the GAN on the chosen epoch; generate applies it to every image, never to masks (default 0: none; docs/realism.md)' },
    { name: 'refiner-lambda', type: 'number', min: 0, max: 1e6, meta: 'W', help: 'weight of the refiner\'s self-regularisation mean |R(x) - x| (default 0.1)' },
    backendFlag({ help: 'compute backend' }),
    { name: 'raster-threads', type: 'int', min: 1, max: 64, meta: 'N', help: 'soft-rasterizer threads incl. the main one (default: the cores, at most 4; 1 = no worker threads; rendered values do not depend on it)' },
    { name: 'quiet', type: 'boolean', help: 'no progress output' },
    { name: 'profile', type: 'boolean', help: 'print a table of the training steps: time per op kind (forward, backward), kernels, optimizer, and the allocations and copies per step' },
  ],
};

function parseRadius(v: string): number | 'auto' {
  if (v === 'auto') return 'auto';
  const r = Number(v);
  if (!Number.isFinite(r) || r < 0.5 || r > 1000) throw new UserError(`--particle-radius must be auto or a number of pixels in [0.5, 1000], got '${v}'`, ExitCode.usage);
  return r;
}

export async function trainMain(flags: ParsedFlags): Promise<number> {
  // Sizes checked together before anything is created (the defaults stand in for flags not given).
  const demo = !flags.real;
  const sizeProblem = ganSizeProblem({
    patch: (flags.patch as number | undefined) ?? (demo ? 64 : 256),
    batch: Number(flags.batch),
    'base-filters': (flags['base-filters'] as number | undefined) ?? (demo ? 16 : 64),
    'eval-samples': Number(flags['eval-samples']),
  });
  if (!flags.resume && sizeProblem) throw new UserError(sizeProblem, ExitCode.usage);
  // A resumed run continues on the backend it started on unless told otherwise.
  const backend = flags.resume && flags.backend === 'auto' ? (savedBackend(String(flags.resume)) ?? 'auto') : String(flags.backend);
  await selectBackend(backend, !flags.quiet);
  const opts: TrainOptions = {
    real: flags.real as string[] | undefined,
    preset: flags.preset as TrainOptions['preset'],
    configFile: flags.config as string | undefined,
    configFirst: !!flags['config-first'],
    learn: flags.learn ? String(flags.learn).split(',').map((s) => s.trim()).filter(Boolean) : undefined,
    out: flags.out as string | undefined,
    resume: flags.resume as string | undefined,
    cropBottom: Number(flags['crop-bottom']),
    patch: flags.patch as number | undefined,
    epochs: flags.epochs as number | undefined,
    stepsPerEpoch: flags['steps-per-epoch'] as number | undefined,
    configs: flags.configs as number | undefined,
    batch: Number(flags.batch),
    lrG: flags['lr-g'] as number | undefined,
    lrD: Number(flags['lr-d']),
    baseFilters: flags['base-filters'] as number | undefined,
    norm: flags.norm as TrainOptions['norm'],
    dInput: flags['d-input'] as TrainOptions['dInput'],
    evalSamples: Number(flags['eval-samples']),
    seed: Number(flags.seed),
    c2stSeeds: Number(flags['c2st-seeds']),
    quiet: !!flags.quiet,
    particleRadius: parseRadius(String(flags['particle-radius'])),
    radiusCalibration: flags['radius-calibration'] === 'auto' ? undefined : (flags['radius-calibration'] as RadiusCalibrationMethod),
    recalibrateAgglomerates: parseRecalibrateAgglomerates(flags['recalibrate-agglomerates']),
    windowMargin: parseWindowMargin(flags['window-margin']),
    windowCalibrated: onOffAuto(flags['window-calibrated']),
    radiusLast: onOffAuto(flags['radius-last']),
    windowCounts: parseWindowCounts(flags['window-counts']),
    windowField: parseWindowField(flags['window-field']),
    learnSize: flags['learn-size'] === 'on',
    sizeSpread: parseSizeSpread(flags['size-spread']),
    polarity: flags.polarity as PolaritySetting,
    rasterThreads: flags['raster-threads'] as number | undefined,
    profile: !!flags.profile,
    refinerSteps: flags['refiner-steps'] as number | undefined,
    refinerLambda: flags['refiner-lambda'] as number | undefined,
  };
  await runTraining(opts);
  return 0;
}
