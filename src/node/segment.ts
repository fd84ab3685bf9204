/**
 * The segmentation runners: train a U-Net into a folder, segment and measure a folder of images
 * with all its outputs, score a segmenter against annotated masks. Typed options in, results
 * out; `diffrendergan segment train | predict | eval` (src/cli/segment.ts) turns its flags into
 * these options, and the pipeline (node/pipeline.ts) calls them directly.
 *
 *   import { segmentPredict } from 'diffrendergan';
 *   await segmentPredict({ model: 'model/', inputs: ['images/'], out: 'predictions/' });
 *
 * Progress lines go to `out` (default: the console); messages name the command's flags, as the
 * command prints them.
 */
import { rmSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { ExitCode, InputError, UserError } from '../errors.js';
import { formatProfile, getBackend, startProfile, stopProfile, type StateDict } from '../autodiff/index.js';
import { activateBackend } from './backends.js';
import { relaxedSimdSetting } from './relaxed-simd.js';
import { listImageFiles, makeOutputDir, removeIfEmpty, writeFileAtomic, writePngGrey16, writePngGrey8, writePngRgb8 } from './files.js';
import type { GreyImage } from '../io/grey-image.js';
import { trainUNet, DEFAULT_TRAIN, type SegSample, type TrainProgress, type TrainConfig } from '../seg/train.js';
import { DEFAULT_UNET, type UNetConfig } from '../seg/unet.js';
import type { InstanceMethod, OutlinePlacement } from '../seg/infer.js';
import type { Normalisation } from '../seg/augment.js';
import { otsuInstances, type LowConfidence } from '../particles/instances.js';
import { detectPolarity, polarityFromMasks, type Polarity, type PolaritySetting } from '../particles/polarity.js';
import { evaluate, meanOf, type EvalResult } from '../seg/metrics.js';
import { measureParticles, type Particle } from '../particles/measure.js';
import { bootstrapQuantiles, sizingFromParts, sizingParts, type SizingParts, type SizingResult } from '../seg/sizing.js';
import { summarizeSizes } from '../seg/summary.js';
import { particlesCsv } from '../seg/csv.js';
import { sizeDistributionSvg } from '../seg/svg.js';
import type { Labelled } from '../particles/labels.js';
import { readAnnotatedSet, readCroppedImage, readSegDataset, readSegInstances, type SegSampleWithInstances } from './seg-dataset.js';
import { addTouchingBand } from '../seg/classmask.js';
import { hasCheckpoint, loadCheckpoint, loadEnsemble, loadModel, modelDifferences, saveCheckpoint } from './seg-checkpoint.js';
import type { UNet } from '../seg/unet.js';
import { parsePixelSize, resolvePixelSizes, type RunPixelSizes } from './pixel-size.js';
import { writeFijiOutputs } from './fiji-outputs.js';
import { fijiCsv } from '../seg/fiji.js';
import { SegmentationCache } from './segment-cache.js';
import { segmentWithModel, type ImageSegmentation, type SegmentFlags } from './segment-jobs.js';
import { applyBatchNormStats, batchNormLayers, estimateBatchNormStats, type BatchNormStats } from '../seg/adapt-bn.js';
import { segmentImagesOnWorkers, taskThreads, workerComputeBackend } from './task-workers.js';
import { checkWorkingScale, resampleBilinear, workingSize } from '../seg/working-scale.js';

/** Where output lines go (tests capture them). */
export interface SegmentConsole {
  log(line: string): void;
  error(line: string): void;
}

/** The compute backend of a runner that runs the U-Net (CPU backends only). */
export interface SegmentBackendOptions {
  /** 'auto', 'wasm', 'wasm-1t' or 'reference'; default: keep the active backend. */
  backend?: string;
  /**
   * Turn on V8's relaxed SIMD before the backend is made (a process-wide flag, as initBackend's
   * option); default: DIFFRENDERGAN_RELAXED_SIMD, else off. The command passes on unless 0.
   */
  relaxedSimd?: boolean;
}

/** How particles are found (predict and eval). */
export interface SegmenterOptions extends SegmentBackendOptions {
  /** The trained U-Net, or the classical Otsu + watershed baseline (needs no model); default 'unet'. */
  method?: 'unet' | 'otsu';
  /**
   * A folder written by segmentTrain (required for 'unet'), or several: an ensemble whose members'
   * probabilities are averaged (seg/infer.ts predictEnsemble; same architecture, instance target,
   * normalisation, polarity and training crop, node/seg-checkpoint.ts loadEnsemble).
   */
  model?: string | readonly string[];
  /** Inference tile side; default: twice the training crop. */
  tile?: number;
  /** Particles smaller than this (px) are removed; default 50. */
  minArea?: number;
  /** Test-time augmentation: average the image and its three mirror images (default true; false: one pass, ~3.6x faster). */
  flips?: boolean;
  /**
   * Particles from the U-Net's outputs; default: 'distance' for a model with a distance head
   * (markers from its predicted distance), else 'watershed'.
   */
  instances?: InstanceMethod;
  /** instances 'stardist': the object probability a polygon's centre needs, and the polygon IoU above which NMS suppresses (seg/stardist.ts defaults when absent). */
  stardist?: { prob?: number; nms?: number; relative?: number };
  /** Where the U-Net's outlines go; default 'half-level' (moved out to the image's edge half level, seg/edge-outline.ts), or 'network'. */
  outlines?: OutlinePlacement;
  /** Otsu only (a U-Net uses the polarity it was trained with); default 'auto': detected from the images. */
  polarity?: PolaritySetting;
  /** Rows removed from the bottom of every image (the microscope's data bar); default 0. */
  cropBottom?: number;
  /**
   * Test-time batch norm adaptation (AdaBN, seg/adapt-bn.ts): images or folders whose statistics
   * replace the U-Net's batch norm running statistics before segmenting (cropped by cropBottom as
   * the segmented images; files named NAME_m.* are masks and are skipped). Unannotated images of
   * the same microscope: the images being segmented themselves, or a larger pool. Default: none.
   */
  adaptBn?: string[];
  /**
   * Results shared between calls of one process (the pipeline's predict and eval stages): an
   * image segmented before with the same segmenter and settings is not segmented again.
   */
  reuse?: SegmentReuse;
}

/** What SegmenterOptions.reuse holds: segmentWith's results. */
export type SegmentReuse = SegmentationCache<ImageSegmentation>;

/** A cache for SegmenterOptions.reuse (see segment-cache.ts). */
export function segmentReuse(capacity?: number): SegmentReuse {
  return new SegmentationCache(capacity);
}

/** The model folders of o.model (one for a single U-Net). */
function modelDirs(o: SegmenterOptions): string[] {
  return o.model === undefined ? [] : typeof o.model === 'string' ? [o.model] : [...o.model];
}

/** o.model as the reports name it: the folder, or an ensemble's folders joined by commas (as --model takes them). */
function modelName(o: SegmenterOptions): string | null {
  return o.model === undefined ? null : modelDirs(o).join(',');
}

/** Makes the named CPU backend the active one (or keeps the active one); returns its name. */
async function useBackend(o: SegmentBackendOptions): Promise<string> {
  if (o.backend === undefined) return getBackend().name;
  const relaxedSimd = o.relaxedSimd ?? relaxedSimdSetting() ?? false;
  return (await activateBackend(o.backend, { noGpu: true, relaxedSimd })).backend;
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
      return `epoch ${p.epoch} step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(4)} (ce ${p.ce.toFixed(4)} dice ${p.dice.toFixed(4)}${p.dist !== undefined ? ` dist ${p.dist.toFixed(4)}` : ''}${p.ray !== undefined ? ` ray ${p.ray.toFixed(4)}` : ''}) lr ${p.lr.toExponential(2)} ${p.stepsPerSecond.toFixed(3)} steps/s ETA ${fmtTime(p.etaSeconds)}`;
    case 'epoch': {
      const r = p.record;
      const val = r.valLoss !== undefined ? ` val loss ${r.valLoss.toFixed(4)} val DSC ${r.valDsc!.toFixed(4)}` : '';
      return `epoch ${r.epoch} done: mean loss ${r.loss.toFixed(4)} (ce ${r.ce.toFixed(4)} dice ${r.dice.toFixed(4)}${r.dist !== undefined ? ` dist ${r.dist.toFixed(4)}` : ''}${r.ray !== undefined ? ` ray ${r.ray.toFixed(4)}` : ''})${val} in ${fmtTime(r.seconds)}; checkpoint saved; ETA ${fmtTime(p.etaSeconds)}`;
    }
  }
}

// --- train -----------------------------------------------------------------------------------

export interface SegmentTrainOptions extends SegmentBackendOptions {
  /** Where the model and its checkpoints go. */
  out: string;
  /**
   * The training pairs: a class-mask dataset (DIR/images + DIR/masks of 0/1/2 PNGs, or nnU-Net
   * imagesTr + labelsTr), or real annotated images (NAME.tif) with their binary masks (NAME_m.tif).
   */
  source: { data: string } | { images: string; masks: string };
  /** Rows removed from the bottom of images and masks; default 0. */
  cropBottom?: number;
  /** Only these image names. */
  ids?: string[];
  /** The network (default DEFAULT_UNET; ignored on resume, the checkpoint's is kept). */
  unet?: Partial<Pick<UNetConfig, 'depth' | 'base' | 'norm'>>;
  /** Training settings (default DEFAULT_TRAIN; on resume only `epochs`, the total to reach, is used). */
  train?: Partial<TrainConfig>;
  /** Continue from the checkpoint in `out`. */
  resume?: boolean;
  /**
   * A model directory written by `segment train` whose weights (and batch norm statistics: those
   * inference uses) the network starts from instead of random ones; it must have this run's
   * architecture, input normalisation and polarity. Adam starts fresh. Ignored on resume (the
   * checkpoint holds the weights and records where they started). Default: random weights.
   */
  init?: string;
  /** Print a table of the training steps' time per op kind, kernels and allocations. */
  profile?: boolean;
}

/** The largest whole-number setting, as the command's integer flags (cli/args.ts INT_FLAG_MAX). */
const INT_MAX = 2 ** 31 - 1;

/**
 * The ranges of segmentTrain's whole-number settings, named by their flags: the command's flags
 * declare them (cli/segment.ts), and segmentTrain checks them for callers that bypass the flags
 * (the library, the pipeline's --set), with the flag parser's message.
 */
export const SEG_TRAIN_RANGES = {
  epochs: { flag: 'epochs', min: 1, max: INT_MAX },
  batch: { flag: 'batch', min: 1, max: 256 },
  crop: { flag: 'crop', min: 16, max: 1024 },
  base: { flag: 'base', min: 1, max: 256 },
  depth: { flag: 'depth', min: 1, max: 7 },
  stepsPerEpoch: { flag: 'steps-per-epoch', min: 0, max: INT_MAX },
  seed: { flag: 'seed', min: 0, max: INT_MAX },
  emaSteps: { flag: 'ema-steps', min: 0, max: INT_MAX },
  warmupSteps: { flag: 'warmup-steps', min: 0, max: INT_MAX },
} as const;

/** The largest --boundary-weight (the paper's 10 is well inside it). */
export const BOUNDARY_WEIGHT_MAX = 100;

function checkRanges(o: SegmentTrainOptions): void {
  const given: [keyof typeof SEG_TRAIN_RANGES, number | undefined][] = [
    ['epochs', o.train?.epochs], ['batch', o.train?.batch], ['crop', o.train?.crop], ['base', o.unet?.base], ['depth', o.unet?.depth], ['stepsPerEpoch', o.train?.stepsPerEpoch], ['seed', o.train?.seed], ['emaSteps', o.train?.emaSteps], ['warmupSteps', o.train?.warmupSteps],
  ];
  for (const [key, v] of given) {
    const r = SEG_TRAIN_RANGES[key];
    if (v !== undefined && !(Number.isInteger(v) && v >= r.min && v <= r.max)) throw new UserError(`--${r.flag} must be an integer in [${r.min}, ${r.max}], got '${v}'`, ExitCode.usage);
  }
  if (o.train?.scale !== undefined) {
    try {
      checkWorkingScale(o.train.scale, '--scale');
    } catch (e) {
      throw new UserError((e as Error).message, ExitCode.usage);
    }
  }
  const bw = o.train?.boundaryWeight;
  if (bw !== undefined && !(bw >= 0 && bw <= BOUNDARY_WEIGHT_MAX)) throw new UserError(`--boundary-weight must be a number in [0, ${BOUNDARY_WEIGHT_MAX}], got '${bw}'`, ExitCode.usage);
}

/** Trains the U-Net into `out` (resumable from its epoch checkpoints). */
export async function segmentTrain(o: SegmentTrainOptions, out: SegmentConsole = console): Promise<void> {
  checkRanges(o);
  const dir = o.out;
  const cropBottom = o.cropBottom ?? 0;
  const ids = o.ids;
  const band = o.train?.touchBand ?? DEFAULT_TRAIN.touchBand;
  // The distance target comes from instance maps: a resumed run needs them if its model has the head.
  const wantsInstances = band > 0 || (o.train?.boundaryWeight ?? 0) > 0 || (o.train?.instanceTarget ?? DEFAULT_TRAIN.instanceTarget) === 'distance' || Boolean(o.resume && hasCheckpoint(o.out));
  let samples: SegSample[];
  if ('data' in o.source) {
    samples = readSegDataset(o.source.data, { cropBottom, ids });
    if (wantsInstances) samples = readSegInstances(o.source.data, samples, cropBottom);
  } else {
    samples = readAnnotatedSet(o.source.images, o.source.masks, { cropBottom, ids });
  }
  if (band > 0) for (const s of samples as SegSampleWithInstances[]) addTouchingBand(s.classes, s.instances, s.width, s.height, band);
  const resume = o.resume ? loadCheckpoint(dir) : undefined;
  // The band changes the masks: a resumed run must keep the one it started with.
  if (resume && (resume.train.touchBand ?? 0) !== band) throw new UserError(`segment train: ${dir} was trained with --touch-band ${resume.train.touchBand ?? 0}; resume it with the same value (got ${band})`, ExitCode.usage);
  if (!resume && hasCheckpoint(dir)) throw new UserError(`${dir}: already holds a model; pass --resume to continue it, or choose another --out`, ExitCode.badOutput);
  const init = o.init !== undefined && !resume ? initWeights(o.init, o, samples) : undefined;
  // Fail on an unusable --out before hours of training, not at the first checkpoint.
  const made = makeOutputDir(dir);
  try {
    await trainInto(dir, samples, resume, o, out, init);
  } catch (e) {
    removeIfEmpty(made, dir); // created by this run and nothing saved in it
    throw e;
  }
}

/**
 * The weights of `--init DIR` (those its inference uses), checked against the network this run
 * would train: the same architecture, distance head, input normalisation and polarity, else a
 * UserError naming --init, each difference and the flag that sets it (ExitCode.usage).
 */
function initWeights(initDir: string, o: SegmentTrainOptions, samples: SegSample[]): StateDict {
  const { model, info } = loadModel(initDir);
  const train = { ...DEFAULT_TRAIN, ...o.train };
  const want: UNetConfig = { ...DEFAULT_UNET, ...o.unet, distanceHead: train.instanceTarget !== 'none', ...(train.instanceTarget === 'stardist' ? { rays: train.rays } : {}) };
  const polarity: Polarity = train.polarity === 'auto' ? polarityFromMasks(samples) : train.polarity;
  const diffs = modelDifferences(info, { unet: want, normalisation: train.normalisation, polarity }).map((d) => `${d.what} ${String(d.a)}, this run ${String(d.b)} (${d.flag})`);
  if (diffs.length) throw new UserError(`--init ${initDir}: the model does not fit this run: its ${diffs.join('; ')}`, ExitCode.usage);
  return model.stateDict();
}

async function trainInto(dir: string, samples: SegSample[], resume: ReturnType<typeof loadCheckpoint> | undefined, o: SegmentTrainOptions, out: SegmentConsole, init?: StateDict): Promise<void> {
  const backend = await useBackend(o);
  const trainCfg: Partial<TrainConfig> = { ...o.train, ...(init && o.init !== undefined ? { init: resolve(o.init) } : {}) };
  const epochs = trainCfg.epochs ?? DEFAULT_TRAIN.epochs;
  const unet = { ...DEFAULT_UNET, ...o.unet };
  if (resume) {
    // The resumed run keeps its data-dependent settings; only the length may change.
    Object.assign(trainCfg, { ...resume.train, epochs });
    if (resume.epoch >= epochs) {
      out.log(`${dir}: already trained for ${resume.epoch} epochs (--epochs ${epochs}); nothing to do`);
      return;
    }
  }
  out.log(`backend ${backend}; U-Net depth ${resume?.model.unet.depth ?? unet.depth} base ${resume?.model.unet.base ?? unet.base} norm ${resume?.model.unet.norm ?? unet.norm}; crop ${trainCfg.crop ?? DEFAULT_TRAIN.crop} batch ${trainCfg.batch ?? DEFAULT_TRAIN.batch}${trainCfg.init !== undefined ? `; initial weights from ${trainCfg.init}` : ''}`);
  const t0 = performance.now();
  if (o.profile) startProfile();
  try {
    trainUNet(
      samples,
      { depth: unet.depth, base: unet.base, norm: unet.norm },
      trainCfg,
      { progress: (p) => out.log(progressLine(p)), checkpoint: (c) => saveCheckpoint(dir, c) },
      resume,
      init,
    );
  } finally {
    const r = stopProfile();
    if (r) out.log(formatProfile(r));
  }
  out.log(`model written to ${dir} (${fmtTime((performance.now() - t0) / 1000)})`);
}

// --- segmenting --------------------------------------------------------------------------------

function segmentFlags(o: SegmenterOptions, seg: Segmenter): SegmentFlags {
  return { normalisation: seg.normalisation, polarity: seg.polarity, flips: o.flips ?? true, instances: o.instances, outlines: o.outlines, ...(o.stardist && o.instances === 'stardist' ? { stardist: o.stardist } : {}), ...(seg.scale !== 1 ? { scale: seg.scale } : {}) };
}

/** What a cached segmentation depends on besides the pixels (segment-cache.ts). */
function reuseSettings(o: SegmenterOptions, method: string, tile: number, minArea: number, sf: SegmentFlags): unknown {
  const adaptBn = method === 'otsu' || !o.adaptBn ? null : o.adaptBn.map((p) => resolve(p));
  return { method, model: method === 'otsu' ? null : modelName(o), adaptBn, tile, minArea, sf, backend: o.backend ?? null, relaxedSimd: o.relaxedSimd ?? null };
}

/** segmentWith, answered from o.reuse when it holds this image segmented with the same settings. */
function segmentReused(o: SegmenterOptions, method: string, models: UNet[], img: GreyImage, tile: number, minArea: number, sf: SegmentFlags): ImageSegmentation {
  const compute = () => segmentWith(method, models, img, tile, minArea, sf);
  if (!o.reuse) return compute();
  return o.reuse.get(reuseSettings(o, method, tile, minArea, sf), img.width, img.height, img.data, compute);
}

/**
 * segmentReused for every image, with the seconds each took (0 for one taken from o.reuse). In
 * the CLI with a U-Net on the wasm or reference backend the images not in o.reuse are segmented
 * side by side, one per task worker (each on one compute lane; a value does not depend on the
 * lane count, so the results are the same as here), else here one after the other.
 */
async function segmentAll(o: SegmenterOptions, method: string, models: UNet[], batchNorm: BatchNormStats | undefined, images: GreyImage[], tile: number, minArea: number, sf: SegmentFlags, out: SegmentConsole): Promise<{ segmentation: ImageSegmentation; seconds: number }[]> {
  const backend = workerComputeBackend();
  const settings = reuseSettings(o, method, tile, minArea, sf);
  const found = images.map((img) => o.reuse?.find(settings, img.width, img.height, img.data));
  const todo = images.flatMap((_, k) => (found[k] === undefined ? [k] : []));
  const onWorkers = method === 'unet' && models.length > 0 && backend !== null && taskThreads(todo.length) > 0;
  let done: { segmentation: ImageSegmentation; seconds: number }[] = [];
  if (onWorkers) {
    out.log(`segmenting ${todo.length} images on ${taskThreads(todo.length)} worker threads, one lane each`);
    done = await segmentImagesOnWorkers(todo.map((k) => ({ models: modelDirs(o), batchNorm, image: images[k], tile, minArea, flags: sf })), backend!);
  }
  return images.map((img, k) => {
    const hit = found[k];
    if (hit) return { segmentation: hit, seconds: 0 };
    const t0 = performance.now();
    const r = onWorkers ? done[todo.indexOf(k)] : { segmentation: segmentWith(method, models, img, tile, minArea, sf), seconds: (performance.now() - t0) / 1000 };
    o.reuse?.put(settings, img.width, img.height, img.data, r.segmentation);
    return r;
  });
}

function segmentWith(method: string, models: UNet[], img: GreyImage, tile: number, minArea: number, sf: SegmentFlags): ImageSegmentation {
  if (method === 'otsu') {
    const r = otsuInstances(img.data, img.width, img.height, { minArea, invert: sf.polarity === 'dark' });
    const classes = new Uint8Array(r.labels.length);
    for (let i = 0; i < classes.length; i++) classes[i] = r.labels[i] ? 1 : 0;
    return { instances: { labels: r.labels, count: r.count }, classes };
  }
  return segmentWithModel(models, img, tile, minArea, sf);
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
  /** The U-Net, or an ensemble's members; none for Otsu. */
  models: UNet[];
  tile: number;
  normalisation: Normalisation;
  polarity: Polarity;
  /** The model's working scale (1 for Otsu and models without one). */
  scale: number;
  /** --adapt-bn's images, read and checked with the model (adapted by adaptSegmenter once the backend runs). */
  adaptImages?: GreyImage[];
  /** The statistics adaptSegmenter put into the model (sent to the worker threads with each image). */
  batchNorm?: BatchNormStats;
}

/**
 * The U-Net of `model`, or the ensemble of its folders (with the normalisation and polarity they
 * were trained with), or for
 * method 'otsu' the classical baseline with `polarity`, 'auto' detected from `images` (all of
 * them together; particles/polarity.ts).
 */
function loadSegmenter(o: SegmenterOptions, sub: string, images: () => readonly { data: ArrayLike<number> }[], out: SegmentConsole): Segmenter {
  if (o.method === 'otsu') {
    if (o.adaptBn !== undefined) throw new UserError(`segment ${sub}: --adapt-bn adapts a U-Net's batch norm; --method otsu has none`, ExitCode.usage);
    const setting = o.polarity ?? 'auto';
    if (setting !== 'auto') return { models: [], tile: 0, normalisation: 'fixed', polarity: setting, scale: 1 };
    const d = detectPolarity(images());
    out.log(`contrast polarity: ${d.polarity} particles, detected (${(100 * d.brightFraction).toFixed(1)} % of the pixels above their Otsu threshold; override with --polarity)`);
    return { models: [], tile: 0, normalisation: 'fixed', polarity: d.polarity, scale: 1 };
  }
  const dirs = modelDirs(o);
  if (dirs.length === 0 || dirs.some((d) => !d)) throw new UserError(`segment ${sub}: --model is required (see 'diffrendergan segment ${sub} --help')`, ExitCode.usage);
  // Batch norm statistics adapted to the images are one model's (sent to the workers with each image).
  if (dirs.length > 1 && o.adaptBn !== undefined) throw new UserError(`segment ${sub}: --adapt-bn adapts one model's batch norm; --model names an ensemble of ${dirs.length}`, ExitCode.usage);
  const { models, info } = loadEnsemble(dirs, '--model');
  return { models, tile: typeof o.tile === 'number' ? o.tile : 2 * info.crop, normalisation: info.normalisation, polarity: info.polarity, scale: info.scale ?? 1, adaptImages: readAdaptImages(o, sub, models[0]) };
}

/** --adapt-bn's images (masks NAME_m.* skipped), cropped as the segmented images; checked before anything is segmented or written. */
function readAdaptImages(o: SegmenterOptions, sub: string, model: UNet): GreyImage[] | undefined {
  if (o.adaptBn === undefined) return undefined;
  if (o.adaptBn.length === 0) throw new UserError(`segment ${sub}: --adapt-bn needs images or folders of images`, ExitCode.usage);
  if (batchNormLayers(model).length === 0) throw new UserError(`segment ${sub}: --adapt-bn: the model ${modelName(o)} has no batch norm layers (trained with --norm instance): nothing to adapt`, ExitCode.usage);
  const files = listImageFiles(o.adaptBn).filter((f) => !/_m$/.test(basename(f, extname(f))));
  if (files.length === 0) throw new InputError(o.adaptBn.join(', '), '--adapt-bn: only masks (NAME_m.*) there, no images');
  return files.map((f) => readCroppedImage(f, o.cropBottom ?? 0));
}

/** With --adapt-bn: the model's batch norm statistics replaced by those of its images (seg/adapt-bn.ts). */
function adaptSegmenter(seg: Segmenter, out: SegmentConsole): void {
  const model = seg.models[0];
  if (!model || !seg.adaptImages) return;
  const t0 = performance.now();
  // At the model's working scale, where its batch norm layers see the images.
  const images = seg.adaptImages.map((img) => {
    if (seg.scale === 1) return img;
    const [width, height] = workingSize(img.width, img.height, seg.scale);
    return { width, height, data: resampleBilinear(Float32Array.from(img.data), 1, img.width, img.height, width, height) };
  });
  seg.batchNorm = estimateBatchNormStats(model, images, { tile: seg.tile, normalisation: seg.normalisation, polarity: seg.polarity });
  applyBatchNormStats(model, seg.batchNorm);
  out.log(`batch norm adapted to ${seg.batchNorm.images} images (${seg.batchNorm.tiles} tiles of ${seg.tile} px; --adapt-bn) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

// --- predict -----------------------------------------------------------------------------------

export interface SegmentPredictOptions extends SegmenterOptions {
  /** Images or folders of images (.png/.tif). */
  inputs: string[];
  /** Output folder (created; left as it was if the run fails). */
  out: string;
  /** particles.csv columns: ours, or Fiji's Analyze Particles; default 'ours'. */
  columns?: 'ours' | 'fiji';
  /** Physical size of a pixel, e.g. '2.1nm'; default 'auto': from each image's metadata, px when there is none. */
  pixelSize?: string;
}

/** What summary.json holds. */
export interface PredictSummary {
  method: string;
  model: string | null;
  pixelSize: number | null;
  unit: string;
  pixelSizes: Record<string, { size: number; source: string | null }>;
  images: number;
  overall: ReturnType<typeof summarizeSizes> & ReturnType<typeof sizeIntervals>;
  perImage: Record<string, unknown>;
}

/**
 * Segments and measures every input image and writes, into `out`, per image NAME_instances.png
 * (16-bit ids), NAME_classes.png, NAME_overlay.png and the Fiji outputs, and for the run
 * particles.csv, summary.json (returned) and size-distribution.svg. All or nothing: a failure
 * removes what the run wrote.
 */
export async function segmentPredict(o: SegmentPredictOptions, out: SegmentConsole = console): Promise<PredictSummary> {
  const outDir = o.out;
  const pxSetting = o.pixelSize ?? 'auto';
  if (pxSetting !== 'auto') parsePixelSize(pxSetting); // a bad size is a usage error before any file is read
  const cropBottom = o.cropBottom ?? 0;
  const minArea = o.minArea ?? 50;
  // Read and check everything before writing anything.
  const files = listImageFiles(o.inputs);
  const px = resolvePixelSizes(files, pxSetting);
  for (const m of px.messages) out.error(m);
  const names = files.map((f) => basename(f, extname(f)));
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new InputError(files[names.lastIndexOf(dup)], `two inputs are named '${dup}'; their outputs would overwrite each other`);
  const images = files.map((f) => readCroppedImage(f, cropBottom));
  const segmenter = loadSegmenter(o, 'predict', () => images, out);
  // An unusable --out fails now, before minutes of segmentation (the folder stays empty until the end).
  const made = makeOutputDir(outDir);
  const written: string[] = [];
  try {
    return await predictInto(outDir, written, o, out, { segmenter, px, minArea, files, names, images });
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

async function predictInto(outDir: string, written: string[], o: SegmentPredictOptions, out: SegmentConsole, inp: PredictInputs): Promise<PredictSummary> {
  const { segmenter, px, minArea, files, names, images } = inp;
  const { models, tile } = segmenter;
  const method = o.method ?? 'unet';
  const put = (name: string, write: (path: string) => void): void => {
    const path = join(outDir, name);
    write(path);
    written.push(path);
  };
  if (models.length) {
    out.log(`backend ${await useBackend(o)}`);
    adaptSegmenter(segmenter, out);
  }
  const results: { name: string; img: GreyImage; instances: Labelled; classes: Uint8Array; particles: Particle[]; lowConfidence?: LowConfidence }[] = [];
  const segmented = await segmentAll(o, method, models, segmenter.batchNorm, images, tile, minArea, segmentFlags(o, segmenter), out);
  for (let k = 0; k < images.length; k++) {
    const img = images[k];
    const { segmentation: { instances, classes, lowConfidence }, seconds } = segmented[k];
    if (instances.count > 65535) throw new UserError(`${files[k]}: ${instances.count} particles do not fit a 16-bit instance PNG`, ExitCode.badOutput);
    const particles = measureParticles(instances.labels, img.width, img.height, { pixelSize: px.sizes[k] });
    results.push({ name: names[k], img, instances, classes, particles, lowConfidence });
    const unsure = lowConfidence ? `; at low confidence ${lowConfidence.splits} split, ${lowConfidence.merges} merged` : '';
    out.log(`${files[k]}: ${instances.count} particles${unsure} (${seconds.toFixed(1)} s)`);
  }
  for (const r of results) {
    const { width: w, height: h } = r.img;
    put(`${r.name}_instances.png`, (p) => writePngGrey16(p, w, h, Uint16Array.from(r.instances.labels)));
    put(`${r.name}_classes.png`, (p) => writePngGrey8(p, w, h, r.classes));
    put(`${r.name}_overlay.png`, (p) => writePngRgb8(p, w, h, overlayRgb(r.img, r.instances.labels)));
  }
  const fiji = results.map((r, k) => ({ image: r.name, rows: writeFijiOutputs(put, { name: r.name, width: r.img.width, height: r.img.height, labels: r.instances.labels, particles: r.particles }, { size: px.sizes[k], unit: px.unit }) }));
  const all = results.flatMap((r) => r.particles);
  const csv = o.columns === 'fiji' ? fijiCsv(fiji) : particlesCsv(results.map((r) => ({ image: r.name, particles: r.particles })), { unit: px.unit });
  put('particles.csv', (p) => writeFileAtomic(p, csv));
  const summary = { ...summarizeSizes(all), ...sizeIntervals(all) };
  const perImage = Object.fromEntries(results.map((r) => [r.name, { particles: r.instances.count, ...(r.lowConfidence ? { lowConfidence: r.lowConfidence } : {}), ...summarizeSizes(r.particles), ...sizeIntervals(r.particles) }]));
  const result: PredictSummary = { method, model: modelName(o), pixelSize: px.sizes.every((v) => v === px.sizes[0]) ? px.sizes[0] : null, unit: px.unit, pixelSizes: Object.fromEntries(names.map((n, i) => [n, { size: px.sizes[i], source: px.sources[i] }])), images: results.length, overall: summary, perImage };
  put('summary.json', (p) => writeFileAtomic(p, JSON.stringify(result, null, 2) + '\n'));
  const kept = all.filter((p) => !p.touchesBorder).map((p) => p.ecd);
  put('size-distribution.svg', (p) => writeFileAtomic(p, sizeDistributionSvg(kept, summary.lognormal, px.unit)));
  out.log(`${all.length} particles in ${results.length} images; ECD median ${summary.median.toFixed(2)} ${px.unit} (${summary.count} not touching the border); outputs in ${outDir}`);
  return result;
}

/** 95 % bootstrap intervals over particles of D10 / D50 / D90 of the ECD (interior particles, as summarizeSizes). */
function sizeIntervals(particles: readonly Particle[]): { d10CI: [number, number]; d50CI: [number, number]; d90CI: [number, number] } {
  const ecd = particles.filter((p) => !p.touchesBorder).map((p) => p.ecd);
  const b = bootstrapQuantiles(ecd, { bootstrap: 200, seed: 0 });
  return { d10CI: b.d10, d50CI: b.d50, d90CI: b.d90 };
}

// --- eval --------------------------------------------------------------------------------------

export interface SegmentEvalOptions extends SegmenterOptions {
  /** Annotated images (NAME.tif). */
  images: string;
  /** Their masks (NAME_m.tif). */
  masks: string;
  /** Only these image names. */
  ids?: string[];
}

export type SegmentEvalRow = EvalResult & { image: string; predicted: number; truth: number; sizing: SizingResult; lowConfidence: LowConfidence | null };

/** The scores of one segmenter on an annotated set (what `segment eval --json` prints). */
export interface SegmentEvalReport {
  method: string;
  model: string | null;
  /** The backend the U-Net ran on (null for Otsu). */
  backend: string | null;
  polarity: Polarity;
  images: SegmentEvalRow[];
  mean: ReturnType<typeof meanOf>;
  sizing: SizingResult;
  sizingRules: string;
}

/** Scores a segmenter against annotated masks: foreground DSC, AP50, PQ / SQ / RQ and the sizing errors, per image and pooled. */
export async function segmentEval(o: SegmentEvalOptions, out: SegmentConsole = console): Promise<SegmentEvalReport> {
  const minArea = o.minArea ?? 50;
  const method = o.method ?? 'unet';
  const set = readAnnotatedSet(o.images, o.masks, { cropBottom: o.cropBottom ?? 0, ids: o.ids });
  // The images only: the baseline's polarity is detected as on unannotated images, masks unread.
  const segmenter = loadSegmenter(o, 'eval', () => set.map((a) => ({ data: a.image })), out);
  const { models, tile } = segmenter;
  const backend = models.length ? await useBackend(o) : null;
  // Only on a miss: an eval whose images all come from o.reuse segments nothing.
  if (models.length && segmenter.adaptImages && !set.every((a) => o.reuse?.find(reuseSettings(o, method, tile, minArea, segmentFlags(o, segmenter)), a.width, a.height, a.image))) adaptSegmenter(segmenter, out);
  const rows: SegmentEvalRow[] = [];
  const parts: SizingParts[] = [];
  const sizingOpts = { minArea, bootstrap: 200, seed: 0 };
  for (const a of set) {
    const { instances, lowConfidence } = segmentReused(o, method, models, { width: a.width, height: a.height, data: a.image, bitDepth: 8, warnings: [] }, tile, minArea, segmentFlags(o, segmenter));
    const part = sizingParts(instances.labels, a.instances, a.width, a.height, minArea);
    parts.push(part);
    rows.push({ image: a.name, predicted: instances.count, truth: a.instanceCount, ...evaluate(instances.labels, a.instances, a.width, a.height), sizing: sizingFromParts([part], sizingOpts), lowConfidence: lowConfidence ?? null });
  }
  const mean = meanOf(rows);
  const sizing = sizingFromParts(parts, sizingOpts);
  return { method, model: modelName(o), backend, polarity: segmenter.polarity, images: rows, mean, sizing, sizingRules: sizingRules(minArea) };
}

/** How the sizing figures were made (printed under the table and carried in --json). */
export function sizingRules(minArea: number): string {
  return `sizing: interior particles (not touching the border) of >= ${minArea} px on both sides; errors = predicted / manual - 1; KS of the ECDs; [95 % bootstrap over particles]; outline bias = mean signed distance of matched predicted outlines to the manual ones (+ = outside); merges / splits against the manual particles; unsure split / merge = particles split or merged at low confidence (marker prominence within a factor 2 of the threshold; no masks needed, also in predict's summary.json)`;
}
