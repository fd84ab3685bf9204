/**
 * `diffrendergan segment train | predict | eval`: the segmentation U-Net on the command line.
 *
 * One top-level command with three subcommands, each with its own strict flags and --help. The
 * CLI entry parses the flags of the spec it is given before calling segmentMain, so the spec
 * exported here is the one of the subcommand named on this process's command line
 * (`diffrendergan segment train ...` -> the train flags); segmentMain parses again with the
 * subcommand's spec, which is what tests call.
 */
import { rmSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { ExitCode, InputError, UserError } from '../errors.js';
import { helpText, parseFlags, polarityFlag, type CommandSpec, type FlagSpec, type ParsedFlags } from './args.js';
import { backendFlag, selectBackend } from './backend-flag.js';
import { formatProfile, startProfile, stopProfile } from '../autodiff/index.js';
import { listImageFiles, makeOutputDir, removeIfEmpty, writeFileAtomic, writePngGrey16, writePngGrey8, writePngRgb8 } from '../node/files.js';
import type { GreyImage } from '../io/grey-image.js';
import { trainUNet, DEFAULT_TRAIN, type SegSample, type TrainProgress, type TrainConfig } from '../seg/train.js';
import { DEFAULT_UNET, type NormKind } from '../seg/unet.js';
import { segmentImage } from '../seg/infer.js';
import { noIntensityAugment, type Normalisation } from '../seg/augment.js';
import { otsuInstances, type LowConfidence } from '../particles/instances.js';
import { detectPolarity, type Polarity, type PolaritySetting } from '../particles/polarity.js';
import { evaluate, meanOf, type EvalResult } from '../seg/metrics.js';
import { measureParticles, type Particle } from '../particles/measure.js';
import { bootstrapQuantiles, sizingFromParts, sizingParts, type SizingParts, type SizingResult } from '../seg/sizing.js';
import { summarizeSizes } from '../seg/summary.js';
import { particlesCsv } from '../seg/csv.js';
import { sizeDistributionSvg } from '../seg/svg.js';
import type { Labelled } from '../particles/labels.js';
import { readAnnotatedSet, readCroppedImage, readSegDataset, readSegInstances, type SegSampleWithInstances } from '../node/seg-dataset.js';
import { addTouchingBand } from '../seg/classmask.js';
import { hasCheckpoint, loadCheckpoint, loadModel, saveCheckpoint } from '../node/seg-checkpoint.js';
import type { UNet } from '../seg/unet.js';
import { parsePixelSize, resolvePixelSizes, type RunPixelSizes } from '../node/pixel-size.js';
import { writeFijiOutputs } from '../node/fiji-outputs.js';
import { fijiCsv } from '../seg/fiji.js';

export const SUBCOMMANDS = ['train', 'predict', 'eval'] as const;
export type Subcommand = (typeof SUBCOMMANDS)[number];

// the U-Net runs on the CPU backends
const cpuBackendFlag: FlagSpec = backendFlag({ gpu: false, help: 'compute backend (auto: the fastest available, wasm SIMD on CPUs)' });
const cropBottomFlag: FlagSpec = { name: 'crop-bottom', type: 'int', meta: 'PX', default: 0, min: 0, help: 'rows removed from the bottom of images and masks (the microscope data bar; 64 for TiO2-SEM)' };
const idsFlag: FlagSpec = { name: 'ids', type: 'strings', meta: 'ID,ID...', help: 'only these image names (comma or space separated)' };
const methodFlag: FlagSpec = { name: 'method', type: 'string', default: 'unet', choices: ['unet', 'otsu'], help: 'segmenter: the trained U-Net, or the classical Otsu + watershed baseline (needs no model)' };
const tileFlag: FlagSpec = { name: 'tile', type: 'int', meta: 'PX', min: 16, max: 4096, help: 'inference tile side (default: twice the training crop)' };
const minAreaFlag: FlagSpec = { name: 'min-area', type: 'int', meta: 'PX', default: 50, min: 0, help: 'particles smaller than this are removed' };
const flipsFlag: FlagSpec = { name: 'flips', type: 'boolean', help: 'test-time augmentation: average the image and its three mirror images (4x slower)' };
const otsuPolarityFlag: FlagSpec = polarityFlag('detected from the images; --method otsu only: a U-Net uses the polarity it was trained with');
const instancesFlag: FlagSpec = { name: 'instances', type: 'string', default: 'watershed', choices: ['watershed', 'seeds'], help: "particles from the U-Net's probabilities: distance watershed of the foreground cut by contours, or class-1 seeds grown over the contour" };

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
      { name: 'epochs', type: 'int', meta: 'N', default: DEFAULT_TRAIN.epochs, min: 1, help: 'epochs (with --resume: the total to reach)' },
      { name: 'steps-per-epoch', type: 'int', meta: 'N', default: 0, min: 0, help: 'optimiser steps per epoch (0: one crop per training image)' },
      { name: 'batch', type: 'int', meta: 'B', default: DEFAULT_TRAIN.batch, min: 1, max: 256, help: 'crops per step' },
      { name: 'crop', type: 'int', meta: 'PX', default: DEFAULT_TRAIN.crop, min: 16, max: 1024, help: 'training crop side' },
      { name: 'base', type: 'int', meta: 'C', default: DEFAULT_UNET.base, min: 1, max: 256, help: 'channels of the first U-Net level (doubled per level)' },
      { name: 'depth', type: 'int', meta: 'D', default: DEFAULT_UNET.depth, min: 1, max: 7, help: 'number of 2x downsamplings' },
      { name: 'norm', type: 'string', default: DEFAULT_UNET.norm, choices: ['batch', 'instance'], help: 'normalisation layers' },
      { name: 'lr', type: 'number', meta: 'LR', default: DEFAULT_TRAIN.lr, min: 1e-7, max: 1, help: 'Adam learning rate (poly decay to 0)' },
      { name: 'class-weight-power', type: 'number', meta: 'P', default: DEFAULT_TRAIN.classWeightPower, min: 0, max: 1, help: 'cross-entropy class weights = (inverse class frequency)^P (1: fully balanced, 0: none)' },
      { name: 'val', type: 'number', meta: 'FRACTION', default: 0, min: 0, max: 0.9, help: 'fraction of images held out for validation' },
      { name: 'seed', type: 'int', meta: 'S', default: 0, min: 0, help: 'seed of initialisation, split, crops and augmentation' },
      { name: 'no-augment', type: 'boolean', help: 'switch augmentation off' },
      { name: 'touch-band', type: 'number', meta: 'PX', default: 0, min: 0, max: 16, help: "particle pixels within PX of another particle become contour in the training masks (from the exact instance maps of generated data, or the annotations' instances), so touching particles come apart; 0: off" },
      { name: 'grow-masks', type: 'string', meta: 'auto|PX', default: 'auto', help: "grow the training masks' particles by PX to the images' visible edges; auto: the edge offset measured on the training pairs (0 for real annotations)" },
      { name: 'normalisation', type: 'string', default: DEFAULT_TRAIN.normalisation, choices: ['fixed', 'image-zscore'], help: "input normalisation: fixed (x - 0.5) / 0.25, or each image's z-score" },
      polarityFlag('read off the training masks; dark-particle images are inverted before training, and the model remembers it'),
      { name: 'resume', type: 'boolean', help: 'continue from the checkpoint in --out' },
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
      { name: 'model', type: 'string', meta: 'MODEL_DIR', help: 'a directory written by segment train (not needed with --method otsu)' },
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
      { name: 'model', type: 'string', meta: 'MODEL_DIR', help: 'a directory written by segment train (not needed with --method otsu)' },
      { name: 'images', type: 'string', meta: 'DIR', help: 'annotated images (NAME.tif)' },
      { name: 'masks', type: 'string', meta: 'DIR', help: 'their masks (NAME_m.tif)' },
      cropBottomFlag,
      idsFlag,
      methodFlag,
      tileFlag,
      minAreaFlag,
      flipsFlag,
      instancesFlag,
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
export interface Console {
  log(line: string): void;
  error(line: string): void;
}

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

/** The flag's backend, CPU only (the one path from --backend to a backend, src/cli/backend-flag.ts). */
function useBackend(name: string): Promise<string> {
  return selectBackend(name, false, { gpu: false });
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/** One progress line per event (the format the CLI prints). */
export function progressLine(p: TrainProgress): string {
  switch (p.kind) {
    case 'start':
      return `training on ${p.trainImages} images (${p.valImages} for validation), ${p.stepsPerEpoch} steps/epoch, ${p.totalSteps} steps, ${p.parameters} parameters, class weights ${p.classWeights.map((w) => w.toFixed(2)).join('/')}, masks grown by ${p.grownBy} px${p.edgeOffset !== null ? ` (measured edge offset ${p.edgeOffset.toFixed(2)} px)` : ''}${p.resumedAt ? `, resumed at step ${p.resumedAt}` : ''}`;
    case 'step':
      return `epoch ${p.epoch} step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(4)} (ce ${p.ce.toFixed(4)} dice ${p.dice.toFixed(4)}) lr ${p.lr.toExponential(2)} ${p.stepsPerSecond.toFixed(3)} steps/s ETA ${fmtTime(p.etaSeconds)}`;
    case 'epoch': {
      const r = p.record;
      const val = r.valLoss !== undefined ? ` val loss ${r.valLoss.toFixed(4)} val DSC ${r.valDsc!.toFixed(4)}` : '';
      return `epoch ${r.epoch} done: mean loss ${r.loss.toFixed(4)} (ce ${r.ce.toFixed(4)} dice ${r.dice.toFixed(4)})${val} in ${fmtTime(r.seconds)}; checkpoint saved; ETA ${fmtTime(p.etaSeconds)}`;
    }
  }
}

async function trainMain(flags: ParsedFlags, out: Console): Promise<number> {
  const dir = req(flags, 'out', 'train');
  const cropBottom = Number(flags['crop-bottom']);
  const ids = idList(flags);
  const band = Number(flags['touch-band']);
  let samples: SegSample[];
  if (typeof flags.data === 'string') {
    if (flags.images || flags.masks) throw new UserError('segment train: give --data, or --images with --masks, not both', ExitCode.usage);
    samples = readSegDataset(flags.data, { cropBottom, ids });
    if (band > 0) samples = readSegInstances(flags.data, samples, cropBottom);
  } else if (typeof flags.images === 'string' || typeof flags.masks === 'string') {
    samples = readAnnotatedSet(req(flags, 'images', 'train'), req(flags, 'masks', 'train'), { cropBottom, ids });
  } else {
    throw new UserError("segment train: give --data DIR, or --images DIR --masks DIR (see 'diffrendergan segment train --help')", ExitCode.usage);
  }
  if (band > 0) for (const s of samples as SegSampleWithInstances[]) addTouchingBand(s.classes, s.instances, s.width, s.height, band);
  const resume = flags.resume ? loadCheckpoint(dir) : undefined;
  // The band changes the masks: a resumed run must keep the one it started with.
  if (resume && (resume.train.touchBand ?? 0) !== band) throw new UserError(`segment train: ${dir} was trained with --touch-band ${resume.train.touchBand ?? 0}; resume it with the same value (got ${band})`, ExitCode.usage);
  if (!resume && hasCheckpoint(dir)) throw new UserError(`${dir}: already holds a model; pass --resume to continue it, or choose another --out`, ExitCode.badOutput);
  // Fail on an unusable --out before hours of training, not at the first checkpoint.
  const made = makeOutputDir(dir);
  try {
    return await trainInto(dir, samples, resume, flags, out);
  } catch (e) {
    removeIfEmpty(made, dir); // created by this run and nothing saved in it
    throw e;
  }
}

async function trainInto(dir: string, samples: SegSample[], resume: ReturnType<typeof loadCheckpoint> | undefined, flags: ParsedFlags, out: Console): Promise<number> {
  const backend = await useBackend(String(flags.backend));
  const trainCfg: Partial<TrainConfig> = {
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
    augment: flags['no-augment'] ? noIntensityAugment(false) : DEFAULT_TRAIN.augment,
  };
  if (resume) {
    // The resumed run keeps its data-dependent settings; only the length may change.
    Object.assign(trainCfg, { ...resume.train, epochs: Number(flags.epochs) });
    if (resume.epoch >= Number(flags.epochs)) {
      out.log(`${dir}: already trained for ${resume.epoch} epochs (--epochs ${flags.epochs}); nothing to do`);
      return ExitCode.ok;
    }
  }
  out.log(`backend ${backend}; U-Net depth ${resume?.model.unet.depth ?? flags.depth} base ${resume?.model.unet.base ?? flags.base} norm ${resume?.model.unet.norm ?? flags.norm}; crop ${trainCfg.crop} batch ${trainCfg.batch}`);
  const t0 = performance.now();
  if (flags.profile) startProfile();
  try {
    trainUNet(
      samples,
      { depth: Number(flags.depth), base: Number(flags.base), norm: flags.norm as NormKind },
      trainCfg,
      { progress: (p) => out.log(progressLine(p)), checkpoint: (c) => saveCheckpoint(dir, c) },
      resume,
    );
  } finally {
    const r = stopProfile();
    if (r) out.log(formatProfile(r));
  }
  out.log(`model written to ${dir} (${fmtTime((performance.now() - t0) / 1000)})`);
  return ExitCode.ok;
}

/** --grow-masks: 'auto' or a whole number of px. */
export function parseGrowMasks(s: string): number | 'auto' {
  if (s === 'auto') return 'auto';
  const v = Number(s);
  if (!/^\d+$/.test(s.trim()) || !Number.isInteger(v) || v > 64) throw new UserError(`--grow-masks must be 'auto' or a whole number of px (0-64), got '${s}'`, ExitCode.usage);
  return v;
}

interface SegmentFlags {
  normalisation: Normalisation;
  /** The model's polarity, or for Otsu the given / detected one. */
  polarity: Polarity;
  flips: boolean;
  instances: 'watershed' | 'seeds';
}

function segmentFlags(flags: ParsedFlags, seg: Segmenter): SegmentFlags {
  return { normalisation: seg.normalisation, polarity: seg.polarity, flips: Boolean(flags.flips), instances: flags.instances === 'seeds' ? 'seeds' : 'watershed' };
}

function segmentWith(method: string, model: UNet | null, img: GreyImage, tile: number, minArea: number, sf: SegmentFlags): { instances: Labelled; classes: Uint8Array; lowConfidence?: LowConfidence } {
  if (method === 'otsu') {
    const r = otsuInstances(img.data, img.width, img.height, { minArea, invert: sf.polarity === 'dark' });
    const classes = new Uint8Array(r.labels.length);
    for (let i = 0; i < classes.length; i++) classes[i] = r.labels[i] ? 1 : 0;
    return { instances: { labels: r.labels, count: r.count }, classes };
  }
  const s = segmentImage(model!, img.data, img.width, img.height, { tile, minArea, normalisation: sf.normalisation, polarity: sf.polarity, flips: sf.flips, instances: sf.instances });
  return { instances: s.instances, classes: s.classes, lowConfidence: s.lowConfidence };
}

/** A visible RGB overlay: the micrograph in grey, each particle's outline in a colour of its id. */
export function overlayRgb(img: GreyImage, labels: Int32Array): Uint8Array {
  const { width: w, height: h } = img;
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    const g = Math.round(Math.min(1, Math.max(0, img.data[i])) * 255);
    rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = g;
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const l = labels[i];
      if (!l) continue;
      const edge = x === 0 || y === 0 || x === w - 1 || y === h - 1 || labels[i - 1] !== l || labels[i + 1] !== l || labels[i - w] !== l || labels[i + w] !== l;
      if (!edge) continue;
      // Golden-angle hues: neighbours get clearly different colours.
      const hue = (l * 137.508) % 360;
      const [r, g, b] = hsvToRgb(hue, 0.9, 1);
      rgb[3 * i] = r;
      rgb[3 * i + 1] = g;
      rgb[3 * i + 2] = b;
    }
  }
  return rgb;
}

function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const f = (n: number) => {
    const k = (n + h / 60) % 6;
    return Math.round(255 * (v - v * s * Math.max(0, Math.min(k, 4 - k, 1))));
  };
  return [f(5), f(3), f(1)];
}

interface Segmenter {
  model: UNet | null;
  tile: number;
  normalisation: Normalisation;
  polarity: Polarity;
}

/**
 * The U-Net of --model (with the normalisation and polarity it was trained with), or for
 * --method otsu the classical baseline with --polarity, 'auto' detected from `images` (all of
 * them together; particles/polarity.ts).
 */
function loadSegmenter(flags: ParsedFlags, sub: string, images: () => readonly { data: ArrayLike<number> }[], out: Console): Segmenter {
  if (flags.method === 'otsu') {
    const setting = flags.polarity as PolaritySetting;
    if (setting !== 'auto') return { model: null, tile: 0, normalisation: 'fixed', polarity: setting };
    const d = detectPolarity(images());
    out.log(`contrast polarity: ${d.polarity} particles, detected (${(100 * d.brightFraction).toFixed(1)} % of the pixels above their Otsu threshold; override with --polarity)`);
    return { model: null, tile: 0, normalisation: 'fixed', polarity: d.polarity };
  }
  const dir = req(flags, 'model', sub);
  const { model, info } = loadModel(dir);
  return { model, tile: typeof flags.tile === 'number' ? flags.tile : 2 * info.crop, normalisation: info.normalisation, polarity: info.polarity };
}

async function predictMain(flags: ParsedFlags, out: Console): Promise<number> {
  const outDir = req(flags, 'out', 'predict');
  const inputs = flags.in;
  if (!Array.isArray(inputs) || inputs.length === 0) throw new UserError("segment predict: --in IMAGES... is required (see 'diffrendergan segment predict --help')", ExitCode.usage);
  const pxFlag = String(flags['pixel-size']);
  if (pxFlag !== 'auto') parsePixelSize(pxFlag); // a bad flag is a usage error before any file is read
  const cropBottom = Number(flags['crop-bottom']);
  const minArea = Number(flags['min-area']);
  // Read and check everything before writing anything.
  const files = listImageFiles(inputs);
  const px = resolvePixelSizes(files, pxFlag);
  for (const m of px.messages) out.error(m);
  const names = files.map((f) => basename(f, extname(f)));
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new InputError(files[names.lastIndexOf(dup)], `two inputs are named '${dup}'; their outputs would overwrite each other`);
  const images = files.map((f) => readCroppedImage(f, cropBottom));
  const segmenter = loadSegmenter(flags, 'predict', () => images, out);
  // An unusable --out fails now, before minutes of segmentation (the folder stays empty until the end).
  const made = makeOutputDir(outDir);
  const written: string[] = [];
  try {
    return await predictInto(outDir, written, flags, out, { segmenter, px, minArea, files, names, images });
  } catch (e) {
    // No half-written result set: remove what this run wrote (each file was written whole, but
    // without particles.csv and the rest they look like a finished run), and the folder if this
    // run created it.
    for (const p of written) rmSync(p, { force: true });
    removeIfEmpty(made, outDir);
    throw e;
  }
}

interface PredictInputs {
  segmenter: Segmenter;
  px: RunPixelSizes;
  minArea: number;
  files: string[];
  names: string[];
  images: GreyImage[];
}

async function predictInto(outDir: string, written: string[], flags: ParsedFlags, out: Console, inp: PredictInputs): Promise<number> {
  const { segmenter, px, minArea, files, names, images } = inp;
  const { model, tile } = segmenter;
  const put = (name: string, write: (path: string) => void): void => {
    const path = join(outDir, name);
    write(path);
    written.push(path);
  };
  if (model) out.log(`backend ${await useBackend(String(flags.backend))}`);
  const results: { name: string; img: GreyImage; instances: Labelled; classes: Uint8Array; particles: Particle[]; lowConfidence?: LowConfidence }[] = [];
  for (let k = 0; k < images.length; k++) {
    const img = images[k];
    const t0 = performance.now();
    const { instances, classes, lowConfidence } = segmentWith(String(flags.method), model, img, tile, minArea, segmentFlags(flags, segmenter));
    if (instances.count > 65535) throw new UserError(`${files[k]}: ${instances.count} particles do not fit a 16-bit instance PNG`, ExitCode.badOutput);
    const particles = measureParticles(instances.labels, img.width, img.height, { pixelSize: px.sizes[k] });
    results.push({ name: names[k], img, instances, classes, particles, lowConfidence });
    const unsure = lowConfidence ? `; at low confidence ${lowConfidence.splits} split, ${lowConfidence.merges} merged` : '';
    out.log(`${files[k]}: ${instances.count} particles${unsure} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  for (const r of results) {
    const { width: w, height: h } = r.img;
    put(`${r.name}_instances.png`, (p) => writePngGrey16(p, w, h, Uint16Array.from(r.instances.labels)));
    put(`${r.name}_classes.png`, (p) => writePngGrey8(p, w, h, r.classes));
    put(`${r.name}_overlay.png`, (p) => writePngRgb8(p, w, h, overlayRgb(r.img, r.instances.labels)));
  }
  const fiji = results.map((r, k) => ({ image: r.name, rows: writeFijiOutputs(put, { name: r.name, width: r.img.width, height: r.img.height, labels: r.instances.labels, particles: r.particles }, { size: px.sizes[k], unit: px.unit }) }));
  const all = results.flatMap((r) => r.particles);
  const csv = flags.columns === 'fiji' ? fijiCsv(fiji) : particlesCsv(results.map((r) => ({ image: r.name, particles: r.particles })), { unit: px.unit });
  put('particles.csv', (p) => writeFileAtomic(p, csv));
  const summary = { ...summarizeSizes(all), ...sizeIntervals(all) };
  const perImage = Object.fromEntries(results.map((r) => [r.name, { particles: r.instances.count, ...(r.lowConfidence ? { lowConfidence: r.lowConfidence } : {}), ...summarizeSizes(r.particles), ...sizeIntervals(r.particles) }]));
  put('summary.json', (p) => writeFileAtomic(p, JSON.stringify({ method: flags.method, model: flags.model ?? null, pixelSize: px.sizes.every((v) => v === px.sizes[0]) ? px.sizes[0] : null, unit: px.unit, pixelSizes: Object.fromEntries(names.map((n, i) => [n, { size: px.sizes[i], source: px.sources[i] }])), images: results.length, overall: summary, perImage }, null, 2) + '\n'));
  const kept = all.filter((p) => !p.touchesBorder).map((p) => p.ecd);
  put('size-distribution.svg', (p) => writeFileAtomic(p, sizeDistributionSvg(kept, summary.lognormal, px.unit)));
  out.log(`${all.length} particles in ${results.length} images; ECD median ${summary.median.toFixed(2)} ${px.unit} (${summary.count} not touching the border); outputs in ${outDir}`);
  return ExitCode.ok;
}

async function evalMain(flags: ParsedFlags, out: Console): Promise<number> {
  const imagesDir = req(flags, 'images', 'eval');
  const masksDir = req(flags, 'masks', 'eval');
  const minArea = Number(flags['min-area']);
  const set = readAnnotatedSet(imagesDir, masksDir, { cropBottom: Number(flags['crop-bottom']), ids: idList(flags) });
  // The images only: the baseline's polarity is detected as on unannotated images, masks unread.
  const segmenter = loadSegmenter(flags, 'eval', () => set.map((a) => ({ data: a.image })), flags.json ? { log: (l) => out.error(l), error: (l) => out.error(l) } : out);
  const { model, tile } = segmenter;
  const backend = model ? await useBackend(String(flags.backend)) : null;
  const rows: (EvalResult & { image: string; predicted: number; truth: number; sizing: SizingResult; lowConfidence: LowConfidence | null })[] = [];
  const parts: SizingParts[] = [];
  const sizingOpts = { minArea, bootstrap: 200, seed: 0 };
  for (const a of set) {
    const { instances, lowConfidence } = segmentWith(String(flags.method), model, { width: a.width, height: a.height, data: a.image, bitDepth: 8, warnings: [] }, tile, minArea, segmentFlags(flags, segmenter));
    const part = sizingParts(instances.labels, a.instances, a.width, a.height, minArea);
    parts.push(part);
    rows.push({ image: a.name, predicted: instances.count, truth: a.instanceCount, ...evaluate(instances.labels, a.instances, a.width, a.height), sizing: sizingFromParts([part], sizingOpts), lowConfidence: lowConfidence ?? null });
  }
  const mean = meanOf(rows);
  const sizing = sizingFromParts(parts, sizingOpts);
  if (flags.json) {
    out.log(JSON.stringify({ method: flags.method, model: flags.model ?? null, backend, polarity: segmenter.polarity, images: rows, mean, sizing, sizingRules: sizingRules(minArea) }, null, 2));
    return ExitCode.ok;
  }
  const f = (v: number) => v.toFixed(3);
  out.log(`${'image'.padEnd(12)} ${'DSC'.padStart(6)} ${'AP50'.padStart(6)} ${'PQ'.padStart(6)} ${'SQ'.padStart(6)} ${'RQ'.padStart(6)} ${'TP'.padStart(5)} ${'FP'.padStart(5)} ${'FN'.padStart(5)}`);
  for (const r of rows) {
    out.log(`${r.image.padEnd(12)} ${f(r.dsc).padStart(6)} ${f(r.ap50).padStart(6)} ${f(r.pq).padStart(6)} ${f(r.sq).padStart(6)} ${f(r.rq).padStart(6)} ${String(r.tp).padStart(5)} ${String(r.fp).padStart(5)} ${String(r.fn).padStart(5)}`);
  }
  out.log(`${'mean'.padEnd(12)} ${f(mean.dsc).padStart(6)} ${f(mean.ap50).padStart(6)} ${f(mean.pq).padStart(6)} ${f(mean.sq).padStart(6)} ${f(mean.rq).padStart(6)} ${mean.tp.toFixed(1).padStart(5)} ${mean.fp.toFixed(1).padStart(5)} ${mean.fn.toFixed(1).padStart(5)}`);
  out.log('');
  for (const line of sizingTable(rows.map((r) => ({ name: r.image, sizing: r.sizing, lowConfidence: r.lowConfidence })), sizing)) out.log(line);
  out.log(sizingRules(minArea));
  return ExitCode.ok;
}

/** 95 % bootstrap intervals over particles of D10 / D50 / D90 of the ECD (interior particles, as summarizeSizes). */
function sizeIntervals(particles: readonly Particle[]): { d10CI: [number, number]; d50CI: [number, number]; d90CI: [number, number] } {
  const ecd = particles.filter((p) => !p.touchesBorder).map((p) => p.ecd);
  const b = bootstrapQuantiles(ecd, { bootstrap: 200, seed: 0 });
  return { d10CI: b.d10, d50CI: b.d50, d90CI: b.d90 };
}

/** How the sizing figures were made (printed under the table and carried in --json). */
export function sizingRules(minArea: number): string {
  return `sizing: interior particles (not touching the border) of >= ${minArea} px on both sides; errors = predicted / manual - 1; KS of the ECDs; [95 % bootstrap over particles]; outline bias = mean signed distance of matched predicted outlines to the manual ones (+ = outside); merges / splits against the manual particles; unsure split / merge = particles split or merged at low confidence (marker prominence within a factor 2 of the threshold; no masks needed, also in predict's summary.json)`;
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
