/**
 * `diffrendergan segment train | predict | eval`: the segmentation U-Net on the command line.
 *
 * One top-level command with three subcommands, each with its own strict flags and --help. The
 * CLI entry parses the flags of the spec it is given before calling segmentMain, so the spec
 * exported here is the one of the subcommand named on this process's command line
 * (`diffrendergan segment train ...` -> the train flags); segmentMain parses again with the
 * subcommand's spec, which is what tests call. This file turns the flags into the options of
 * the runners in src/node/segment.ts and prints; the runners do the work.
 */
import { ExitCode, UserError } from '../errors.js';
import { helpText, parseFlags, polarityFlag, type CommandSpec, type FlagSpec, type ParsedFlags } from './args.js';
import { backendFlag, commandRelaxedSimd } from './backend-flag.js';
import { BOUNDARY_SIGMA, DEFAULT_TRAIN, INSTANCE_TARGETS, type InstanceTarget, type TrainConfig } from '../seg/train.js';
import { MAX_WORKING_SCALE } from '../seg/working-scale.js';
import { STAR_DEFAULTS } from '../seg/stardist.js';
import { INSTANCE_METHODS, OUTLINE_PLACEMENTS, type InstanceMethod, type OutlinePlacement } from '../seg/infer.js';
import { DEFAULT_UNET, type NormKind } from '../seg/unet.js';
import { noIntensityAugment, type Normalisation } from '../seg/augment.js';
import type { LowConfidence } from '../particles/instances.js';
import type { PolaritySetting } from '../particles/polarity.js';
import type { SizingResult } from '../seg/sizing.js';
import { BOUNDARY_WEIGHT_MAX, SEG_TRAIN_RANGES as R, segmentEval, segmentPredict, segmentTrain, type SegmentConsole, type SegmenterOptions, type SegmentEvalReport, type SegmentTrainOptions } from '../node/segment.js';

export const SUBCOMMANDS = ['train', 'predict', 'eval'] as const;
export type Subcommand = (typeof SUBCOMMANDS)[number];

// the U-Net runs on the CPU backends
const cpuBackendFlag: FlagSpec = backendFlag({ gpu: false, help: 'compute backend (auto: the fastest available, wasm SIMD on CPUs)' });
const cropBottomFlag: FlagSpec = { name: 'crop-bottom', type: 'int', meta: 'PX', default: 0, min: 0, help: 'rows removed from the bottom of images and masks (the microscope data bar; 64 for TiO2-SEM)' };
const idsFlag: FlagSpec = { name: 'ids', type: 'strings', meta: 'ID,ID...', help: 'only these image names (comma or space separated)' };
const modelFlag: FlagSpec = { name: 'model', type: 'string', meta: 'MODEL_DIR[,MODEL_DIR...]', help: "a directory written by segment train (not needed with --method otsu); several, separated by commas: an ensemble that averages their probabilities and distance maps (each after its own flips) before the particles are found, ~1x the time per member (the same architecture, --instance-target, normalisation, polarity and crop; not with --adapt-bn)" };
const methodFlag: FlagSpec = { name: 'method', type: 'string', default: 'unet', choices: ['unet', 'otsu'], help: 'segmenter: the trained U-Net, or the classical Otsu + watershed baseline (needs no model)' };
const tileFlag: FlagSpec = { name: 'tile', type: 'int', meta: 'PX', min: 16, max: 4096, help: 'inference tile side (default: twice the training crop)' };
const minAreaFlag: FlagSpec = { name: 'min-area', type: 'int', meta: 'PX', default: 50, min: 0, help: 'particles smaller than this are removed' };
const flipsFlag: FlagSpec = { name: 'flips', type: 'boolean', default: true, help: 'test-time augmentation: average the image and its three mirror images (on by default; --flips=false: one pass, ~3.6x faster)' };
const otsuPolarityFlag: FlagSpec = polarityFlag('detected from the images; --method otsu only: a U-Net uses the polarity it was trained with');
const instancesFlag: FlagSpec = { name: 'instances', type: 'string', default: 'auto', choices: ['auto', ...INSTANCE_METHODS], help: "particles from the U-Net's outputs: distance (watershed seeded from the predicted distance map; needs a model trained with --instance-target distance), stardist (star-convex polygons from the predicted rays, greedy NMS by polygon IoU; needs a model trained with --instance-target stardist), watershed (distance watershed of the foreground cut by contours), or seeds (class-1 seeds grown over the contour); auto: distance when the model has a distance head, else watershed" };

const stardistProbFlag: FlagSpec = { name: 'stardist-prob', type: 'number', meta: 'P', default: STAR_DEFAULTS.prob, min: 0, max: 1, help: '--instances stardist: a foreground pixel proposes its polygon when its predicted object probability (the distance head) exceeds P' };
const stardistRelativeFlag: FlagSpec = { name: 'stardist-relative', type: 'number', meta: 'F', min: 0, max: 2, help: "--instances stardist: instead of --stardist-prob, the level is F x the image's typical predicted centre value (the median of the probability's maxima in the foreground)" };
const stardistNmsFlag: FlagSpec = { name: 'stardist-nms', type: 'number', meta: 'IOU', default: STAR_DEFAULTS.nms, min: 0, max: 1, help: '--instances stardist: a proposed polygon is dropped when its IoU with a more probable kept one exceeds IOU' };

const adaptBnFlag: FlagSpec = { name: 'adapt-bn', type: 'strings', meta: 'DIR|FILES...', help: "test-time batch norm adaptation (AdaBN): replace the U-Net's batch norm statistics, learned on the training pairs, by those of these unannotated images (cropped by --crop-bottom; NAME_m.* masks skipped): the images being segmented themselves, or a pool of the same microscope's images; no masks are read, nothing is trained" };

const outlinesFlag: FlagSpec = { name: 'outlines', type: 'string', default: 'half-level', choices: [...OUTLINE_PLACEMENTS], help: "where the U-Net's particle outlines go: half-level (grown, at most 2 px, over the neighbouring pixels brighter than half way between the image's background and particle levels: where annotators draw the edge) or network (as the network drew them)" };

const SPECS: Record<Subcommand, CommandSpec> = {
  train: {
    name: 'segment',
    summary: 'train the segmentation U-Net (3 classes: background, particle, contour)',
    usage: 'diffrendergan segment train (--data DIR | --images DIR --masks DIR [--crop-bottom 64] [--ids ...]) --out MODEL_DIR [--epochs N --batch B --crop 128 --base 16 --depth 4 --seed S --resume]',
    positionals: 'train',
    flags: [
      { name: 'data', type: 'string', meta: 'DIR', help: 'class-mask dataset: DIR/images + DIR/masks (0/1/2 PNGs), or nnU-Net imagesTr + labelsTr' },
      { name: 'images', type: 'string', meta: 'DIR', help: 'real annotated images (NAME.tif), with --masks' },
      { name: 'masks', type: 'string', meta: 'DIR', help: 'their binary masks (NAME_m.tif, {0,255}, 1-px separation lines)' },
      cropBottomFlag,
      idsFlag,
      { name: 'out', type: 'string', meta: 'MODEL_DIR', help: 'where the model and its checkpoints go (required)' },
      { name: 'epochs', type: 'int', meta: 'N', default: DEFAULT_TRAIN.epochs, min: R.epochs.min, help: 'epochs (with --resume: the total to reach)' },
      { name: 'steps-per-epoch', type: 'int', meta: 'N', default: 0, min: R.stepsPerEpoch.min, help: 'optimiser steps per epoch (0: one crop per training image)' },
      { name: 'batch', type: 'int', meta: 'B', default: DEFAULT_TRAIN.batch, min: R.batch.min, max: R.batch.max, help: 'crops per step' },
      { name: 'crop', type: 'int', meta: 'PX', default: DEFAULT_TRAIN.crop, min: R.crop.min, max: R.crop.max, help: 'training crop side (px at the working scale, --scale)' },
      { name: 'scale', type: 'number', meta: 'S', default: 1, min: 1, max: MAX_WORKING_SCALE, help: "the U-Net's working scale: training pairs are resampled by S (images bilinear, masks and instance maps nearest) and the model records it, so predict / eval resample each image by S and the probabilities back; particles, sizes and --min-area stay in the images' own px; 1: as they are" },
      { name: 'base', type: 'int', meta: 'C', default: DEFAULT_UNET.base, min: R.base.min, max: R.base.max, help: 'channels of the first U-Net level (doubled per level)' },
      { name: 'depth', type: 'int', meta: 'D', default: DEFAULT_UNET.depth, min: R.depth.min, max: R.depth.max, help: 'number of 2x downsamplings' },
      { name: 'norm', type: 'string', default: DEFAULT_UNET.norm, choices: ['batch', 'instance'], help: 'normalisation layers' },
      { name: 'lr', type: 'number', meta: 'LR', default: DEFAULT_TRAIN.lr, min: 1e-7, max: 1, help: 'Adam learning rate (poly decay to 0)' },
      { name: 'class-weight-power', type: 'number', meta: 'P', default: DEFAULT_TRAIN.classWeightPower, min: 0, max: 1, help: 'cross-entropy class weights = (inverse class frequency)^P (1: fully balanced, 0: none)' },
      { name: 'val', type: 'number', meta: 'FRACTION', default: 0, min: 0, max: 0.9, help: 'fraction of images held out for validation' },
      { name: 'seed', type: 'int', meta: 'S', default: 0, min: R.seed.min, help: 'seed of initialisation, split, crops and augmentation' },
      { name: 'no-augment', type: 'boolean', help: 'switch augmentation off' },
      { name: 'interior-augment', type: 'number', meta: 'P', default: DEFAULT_TRAIN.augment.interior, min: 0, max: 1, help: "probability per crop of re-shading every particle's interior by a random profile (a bright band inside the outline of random strength and width, a lighter or darker top, a gradient in a random direction), from the instance maps; changes pixels only; 0: off" },
      { name: 'touch-band', type: 'number', meta: 'PX', default: 0, min: 0, max: 16, help: "particle pixels within PX of another particle become contour in the training masks (from the exact instance maps of generated data, or the annotations' instances), so touching particles come apart; 0: off" },
      { name: 'instance-target', type: 'string', default: DEFAULT_TRAIN.instanceTarget, choices: [...INSTANCE_TARGETS], help: "distance: one more output channel learns each particle pixel's normalised distance to its outline, from the instance maps (generated data's exact ones, or the annotations' components), and predict / eval seed the watershed from it; none: the three classes only" },
      { name: 'rays', type: 'int', meta: 'R', default: DEFAULT_TRAIN.rays, min: 4, max: 64, help: '--instance-target stardist: radial distances per pixel (a multiple of 4)' },
      { name: 'boundary-weight', type: 'number', meta: 'W0', default: DEFAULT_TRAIN.boundaryWeight, min: 0, max: BOUNDARY_WEIGHT_MAX, help: `the U-Net paper's separation weight map: background and contour pixels weigh W0 exp(-(d1 + d2)^2 / (2 * ${BOUNDARY_SIGMA}^2)) more in cross-entropy, d1 / d2 = distances to the nearest and second-nearest particle (from the instance maps, as --instance-target); 0: off` },
      { name: 'ema-steps', type: 'int', meta: 'N', default: DEFAULT_TRAIN.emaSteps, min: R.emaSteps.min, max: R.emaSteps.max, help: "predict / eval use an exponential moving average of the weights over the steps (horizon N steps: decay 1 - 1/N), with batch norm statistics re-estimated for it on one epoch of training crops; the raw weights train as without it; 0: off" },
      { name: 'warmup-steps', type: 'int', meta: 'N', default: DEFAULT_TRAIN.warmupSteps, min: R.warmupSteps.min, max: R.warmupSteps.max, help: 'linear learning-rate warm-up: step s trains at min(1, (s+1)/N) times the scheduled rate; 0: off' },
      { name: 'grow-masks', type: 'string', meta: 'auto|PX', default: 'auto', help: "grow the training masks' particles by PX to the images' visible edges; auto: the edge offset measured on the training pairs (0 for real annotations)" },
      { name: 'normalisation', type: 'string', default: DEFAULT_TRAIN.normalisation, choices: ['fixed', 'image-zscore'], help: "input normalisation: fixed (x - 0.5) / 0.25, or each image's z-score" },
      polarityFlag('read off the training masks; dark-particle images are inverted before training, and the model remembers it'),
      { name: 'resume', type: 'boolean', help: 'continue from the checkpoint in --out' },
      { name: 'init', type: 'string', meta: 'MODEL_DIR', help: "start from the weights and batch norm statistics of this trained model (same --depth, --base, --norm, --instance-target, --normalisation and polarity) instead of random ones; the optimiser starts fresh, and --seed still sets the crops and augmentation; ignored with --resume. Default: random weights" },
      { name: 'profile', type: 'boolean', help: 'print a table of the training steps: time per op kind (forward, backward), kernels, optimizer, and the allocations and copies per step' },
      cpuBackendFlag,
    ],
  },
  predict: {
    name: 'segment',
    summary: 'segment micrographs and measure their particles',
    usage: 'diffrendergan segment predict --model MODEL_DIR --in IMAGES... --out DIR [--pixel-size auto|2.1nm] [--crop-bottom 64] [--method unet|otsu]',
    positionals: 'predict',
    flags: [
      modelFlag,
      { name: 'in', type: 'strings', meta: 'IMAGES...', help: 'images or directories of images (.png/.tif)' },
      { name: 'out', type: 'string', meta: 'DIR', help: 'output directory (required)' },
      { name: 'columns', type: 'string', default: 'ours', choices: ['ours', 'fiji'], help: "particles.csv columns: ours (area, ecd, feret_max, ...; units in a comment line) or fiji (Fiji Analyze Particles: Area, Perim., Feret, MinFeret, Circ., AR, Round, Solidity, X, Y; units as summary.json's)" },
      { name: 'pixel-size', type: 'string', default: 'auto', meta: 'auto|SIZE', help: "physical size of a pixel, e.g. 2.1nm or 0.5um; auto reads it from the image's metadata (FEI/Thermo, Zeiss, ImageJ, OME-TIFF, JEOL/Hitachi .txt), px when there is none" },
      cropBottomFlag,
      methodFlag,
      tileFlag,
      minAreaFlag,
      flipsFlag,
      instancesFlag,
      stardistProbFlag,
      stardistRelativeFlag,
      stardistNmsFlag,
      outlinesFlag,
      adaptBnFlag,
      otsuPolarityFlag,
      cpuBackendFlag,
    ],
  },
  eval: {
    name: 'segment',
    summary: 'score a segmenter against annotated images: foreground DSC, AP50, PQ / SQ / RQ',
    usage: 'diffrendergan segment eval (--model MODEL_DIR | --method otsu) --images DIR --masks DIR [--crop-bottom 64] [--ids ID,ID...] [--json]',
    positionals: 'eval',
    flags: [
      modelFlag,
      { name: 'images', type: 'string', meta: 'DIR', help: 'annotated images (NAME.tif)' },
      { name: 'masks', type: 'string', meta: 'DIR', help: 'their masks (NAME_m.tif)' },
      cropBottomFlag,
      idsFlag,
      methodFlag,
      tileFlag,
      minAreaFlag,
      flipsFlag,
      instancesFlag,
      stardistProbFlag,
      stardistRelativeFlag,
      stardistNmsFlag,
      outlinesFlag,
      adaptBnFlag,
      otsuPolarityFlag,
      { name: 'json', type: 'boolean', help: 'print one JSON object instead of a table' },
      cpuBackendFlag,
    ],
  },
};

const OVERVIEW: CommandSpec = {
  name: 'segment',
  summary: 'segment micrographs with a U-Net: train | predict | eval (each has --help)',
  usage: 'diffrendergan segment <train|predict|eval> [flags]   (diffrendergan segment <sub> --help)',
  positionals: 'train|predict|eval',
  flags: [],
};

/** The spec of one subcommand (or the overview for none). */
export function segmentSpec(sub?: string): CommandSpec {
  return sub && (SUBCOMMANDS as readonly string[]).includes(sub) ? SPECS[sub as Subcommand] : OVERVIEW;
}

/** The subcommand named right after `segment` on a command line, if any. */
export function subcommandOf(argv: readonly string[]): string | undefined {
  const i = argv.indexOf('segment');
  return i >= 0 ? argv[i + 1] : undefined;
}

/** For the CLI entry: the spec of the subcommand on this process's command line. */
export const segmentCommand: CommandSpec = segmentSpec(typeof process !== 'undefined' ? subcommandOf(process.argv.slice(2)) : undefined);

/** Where output lines go (tests capture them). */
export type Console = SegmentConsole;

function checkSub(sub: string | undefined): Subcommand {
  if (!sub) throw new UserError(`segment: name a subcommand: ${SUBCOMMANDS.join(', ')} (see 'diffrendergan segment --help')`, ExitCode.usage);
  if (!(SUBCOMMANDS as readonly string[]).includes(sub)) {
    throw new UserError(`segment: unknown subcommand '${sub}'; use one of ${SUBCOMMANDS.join(', ')}`, ExitCode.usage);
  }
  return sub as Subcommand;
}

function dispatch(sub: Subcommand, flags: ParsedFlags, out: Console): Promise<number> {
  if (flags._.length > 1) throw new UserError(`segment ${sub}: unexpected argument '${flags._[1]}'. See 'diffrendergan segment ${sub} --help'.`, ExitCode.usage);
  switch (sub) {
    case 'train':
      return trainMain(flags, out);
    case 'predict':
      return predictMain(flags, out);
    case 'eval':
      return evalMain(flags, out);
  }
}

/** Runs `segment` with the arguments after the word `segment` (parses them itself; for tests and scripts). */
export async function runSegment(argv: string[], out: Console = console): Promise<number> {
  const sub = argv[0] && !argv[0].startsWith('-') ? argv[0] : undefined;
  if (!sub && (argv.includes('--help') || argv.includes('-h'))) {
    out.log(helpText(OVERVIEW));
    return ExitCode.ok;
  }
  const spec = SPECS[checkSub(sub)];
  const flags = parseFlags(spec, argv);
  if (flags.help) {
    out.log(helpText(spec));
    return ExitCode.ok;
  }
  return dispatch(checkSub(sub), flags, out);
}

/** The entry called by src/cli.ts with flags already parsed by `segmentCommand`. */
export async function segmentMain(flags: ParsedFlags): Promise<number> {
  return dispatch(checkSub(flags._[0]), flags, console);
}

// ---------------------------------------------------------------------------------------------

function req(flags: ParsedFlags, name: string, sub: string): string {
  const v = flags[name];
  if (typeof v !== 'string' || v === '') throw new UserError(`segment ${sub}: --${name} is required (see 'diffrendergan segment ${sub} --help')`, ExitCode.usage);
  return v;
}

function idList(flags: ParsedFlags): string[] | undefined {
  const v = flags.ids;
  if (!Array.isArray(v)) return undefined;
  const ids = v.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  return ids.length ? ids : undefined;
}

/** The flags of the backend (the command turns relaxed SIMD on unless DIFFRENDERGAN_RELAXED_SIMD=0). */
function backendOf(flags: ParsedFlags): { backend: string; relaxedSimd: boolean } {
  return { backend: String(flags.backend), relaxedSimd: commandRelaxedSimd() };
}

async function trainMain(flags: ParsedFlags, out: Console): Promise<number> {
  const dir = req(flags, 'out', 'train');
  let source: SegmentTrainOptions['source'];
  if (typeof flags.data === 'string') {
    if (flags.images || flags.masks) throw new UserError('segment train: give --data, or --images with --masks, not both', ExitCode.usage);
    source = { data: flags.data };
  } else if (typeof flags.images === 'string' || typeof flags.masks === 'string') {
    source = { images: req(flags, 'images', 'train'), masks: req(flags, 'masks', 'train') };
  } else {
    throw new UserError("segment train: give --data DIR, or --images DIR --masks DIR (see 'diffrendergan segment train --help')", ExitCode.usage);
  }
  if (Number(flags.rays) % 4 !== 0) throw new UserError(`--rays must be a multiple of 4 (the 8 symmetries of the training crops map the rays onto each other), got ${String(flags.rays)}`, ExitCode.usage);
  const train: Partial<TrainConfig> = {
    epochs: Number(flags.epochs),
    batch: Number(flags.batch),
    crop: Number(flags.crop),
    lr: Number(flags.lr),
    seed: Number(flags.seed),
    stepsPerEpoch: Number(flags['steps-per-epoch']),
    valFraction: Number(flags.val),
    classWeightPower: Number(flags['class-weight-power']),
    normalisation: flags.normalisation as Normalisation,
    polarity: flags.polarity as PolaritySetting,
    growMasks: parseGrowMasks(String(flags['grow-masks'])),
    touchBand: Number(flags['touch-band']),
    instanceTarget: flags['instance-target'] as InstanceTarget,
    rays: Number(flags.rays),
    boundaryWeight: Number(flags['boundary-weight']),
    emaSteps: Number(flags['ema-steps']),
    warmupSteps: Number(flags['warmup-steps']),
    // Only a scale other than 1 is recorded: a scale-1 model's files are those of a run without the flag.
    ...(Number(flags.scale) !== 1 ? { scale: Number(flags.scale) } : {}),
    augment: flags['no-augment'] ? noIntensityAugment(false) : { ...DEFAULT_TRAIN.augment, interior: Number(flags['interior-augment']) },
  };
  await segmentTrain(
    {
      out: dir, source, cropBottom: Number(flags['crop-bottom']), ids: idList(flags),
      unet: { depth: Number(flags.depth), base: Number(flags.base), norm: flags.norm as NormKind },
      train, resume: Boolean(flags.resume), profile: Boolean(flags.profile), ...backendOf(flags),
      ...(flags.init !== undefined ? { init: String(flags.init) } : {}),
    },
    out,
  );
  return ExitCode.ok;
}

/** --grow-masks: 'auto' or a whole number of px. */
export function parseGrowMasks(s: string): number | 'auto' {
  if (s === 'auto') return 'auto';
  const v = Number(s);
  if (!/^\d+$/.test(s.trim()) || !Number.isInteger(v) || v > 64) throw new UserError(`--grow-masks must be 'auto' or a whole number of px (0-64), got '${s}'`, ExitCode.usage);
  return v;
}

/** --model: one folder, or an ensemble's folders separated by commas. */
function modelOf(flag: unknown): string | string[] | undefined {
  if (typeof flag !== 'string') return undefined;
  return flag.includes(',') ? flag.split(',') : flag;
}

/** The flags predict and eval share: which segmenter, and how it finds particles. */
function segmenterOf(flags: ParsedFlags): SegmenterOptions {
  return {
    method: flags.method === 'otsu' ? 'otsu' : 'unet',
    model: modelOf(flags.model),
    tile: typeof flags.tile === 'number' ? flags.tile : undefined,
    minArea: Number(flags['min-area']),
    flips: Boolean(flags.flips),
    instances: flags.instances === 'auto' ? undefined : (flags.instances as InstanceMethod),
    stardist: { prob: Number(flags['stardist-prob']), nms: Number(flags['stardist-nms']), ...(typeof flags['stardist-relative'] === 'number' ? { relative: flags['stardist-relative'] } : {}) },
    outlines: flags.outlines as OutlinePlacement,
    polarity: flags.polarity as PolaritySetting,
    cropBottom: Number(flags['crop-bottom']),
    adaptBn: Array.isArray(flags['adapt-bn']) ? (flags['adapt-bn'] as string[]) : undefined,
    ...backendOf(flags),
  };
}

async function predictMain(flags: ParsedFlags, out: Console): Promise<number> {
  const outDir = req(flags, 'out', 'predict');
  const inputs = flags.in;
  if (!Array.isArray(inputs) || inputs.length === 0) throw new UserError("segment predict: --in IMAGES... is required (see 'diffrendergan segment predict --help')", ExitCode.usage);
  await segmentPredict({ ...segmenterOf(flags), inputs, out: outDir, columns: flags.columns === 'fiji' ? 'fiji' : 'ours', pixelSize: String(flags['pixel-size']) }, out);
  return ExitCode.ok;
}

async function evalMain(flags: ParsedFlags, out: Console): Promise<number> {
  const images = req(flags, 'images', 'eval');
  const masks = req(flags, 'masks', 'eval');
  // With --json stdout holds the one JSON object: the runner's lines go to stderr.
  const runnerOut: Console = flags.json ? { log: (l) => out.error(l), error: (l) => out.error(l) } : out;
  const r = await segmentEval({ ...segmenterOf(flags), images, masks, ids: idList(flags) }, runnerOut);
  if (flags.json) out.log(JSON.stringify(r, null, 2));
  else for (const line of evalTable(r)) out.log(line);
  return ExitCode.ok;
}

/** The table of `segment eval`: scores per image and their mean, then the sizing table and its rules. */
function evalTable(r: SegmentEvalReport): string[] {
  const { images: rows, mean } = r;
  const f = (v: number) => v.toFixed(3);
  return [
    `${'image'.padEnd(12)} ${'DSC'.padStart(6)} ${'AP50'.padStart(6)} ${'PQ'.padStart(6)} ${'SQ'.padStart(6)} ${'RQ'.padStart(6)} ${'TP'.padStart(5)} ${'FP'.padStart(5)} ${'FN'.padStart(5)}`,
    ...rows.map((r) => `${r.image.padEnd(12)} ${f(r.dsc).padStart(6)} ${f(r.ap50).padStart(6)} ${f(r.pq).padStart(6)} ${f(r.sq).padStart(6)} ${f(r.rq).padStart(6)} ${String(r.tp).padStart(5)} ${String(r.fp).padStart(5)} ${String(r.fn).padStart(5)}`),
    `${'mean'.padEnd(12)} ${f(mean.dsc).padStart(6)} ${f(mean.ap50).padStart(6)} ${f(mean.pq).padStart(6)} ${f(mean.sq).padStart(6)} ${f(mean.rq).padStart(6)} ${mean.tp.toFixed(1).padStart(5)} ${mean.fp.toFixed(1).padStart(5)} ${mean.fn.toFixed(1).padStart(5)}`,
    '',
    ...sizingTable(rows.map((r) => ({ name: r.image, sizing: r.sizing, lowConfidence: r.lowConfidence })), r.sizing),
    r.sizingRules,
  ];
}

const pct = (v: number): string => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}%` : 'n/a');
const ci = (c: [number, number]): string => (Number.isFinite(c[0]) ? `[${pct(c[0])}, ${pct(c[1])}]` : '');

/** The sizing table of `segment eval`: one row per image and the pooled row, then the pooled intervals. */
export function sizingTable(images: readonly { name: string; sizing: SizingResult; lowConfidence?: LowConfidence | null }[], pooled: SizingResult): string[] {
  const head = `${'image'.padEnd(12)} ${'pred'.padStart(5)} ${'manual'.padStart(6)} ${'count'.padStart(7)} ${'ECD D10'.padStart(8)} ${'D50'.padStart(7)} ${'D90'.padStart(7)} ${'KS'.padStart(6)} ${'Feret D10'.padStart(9)} ${'D50'.padStart(7)} ${'D90'.padStart(7)} ${'bias px'.padStart(7)} ${'merges'.padStart(6)} ${'splits'.padStart(6)} ${'unsure split/merge'.padStart(18)}`;
  const row = (name: string, s: SizingResult, lc?: LowConfidence | null): string =>
    `${name.padEnd(12)} ${String(s.count.pred).padStart(5)} ${String(s.count.truth).padStart(6)} ${pct(s.count.relError).padStart(7)} ${pct(s.ecd.relError.d10).padStart(8)} ${pct(s.ecd.relError.d50).padStart(7)} ${pct(s.ecd.relError.d90).padStart(7)} ${(Number.isFinite(s.ecd.ks) ? s.ecd.ks.toFixed(3) : 'n/a').padStart(6)} ${pct(s.feretMax.relError.d10).padStart(9)} ${pct(s.feretMax.relError.d50).padStart(7)} ${pct(s.feretMax.relError.d90).padStart(7)} ${(Number.isFinite(s.outlineBias) ? s.outlineBias.toFixed(2) : 'n/a').padStart(7)} ${String(s.merges).padStart(6)} ${String(s.splits).padStart(6)} ${(lc ? `${lc.splits} / ${lc.merges}` : '').padStart(18)}`;
  const e = pooled.ecd;
  const fm = pooled.feretMax;
  return [
    head,
    ...images.map((i) => row(i.name, i.sizing, i.lowConfidence)),
    row('pooled', pooled),
    `pooled 95 % intervals: ECD D10 ${ci(e.relErrorCI.d10)} D50 ${ci(e.relErrorCI.d50)} D90 ${ci(e.relErrorCI.d90)} KS ${Number.isFinite(e.ksCI[0]) ? `[${e.ksCI[0].toFixed(3)}, ${e.ksCI[1].toFixed(3)}]` : ''}; Feret max D10 ${ci(fm.relErrorCI.d10)} D50 ${ci(fm.relErrorCI.d50)} D90 ${ci(fm.relErrorCI.d90)}`,
  ];
}
