/**
 * A model directory on disk (Node only):
 *
 *   config.json         what inference needs besides the weights (ModelInfo) + the training config
 *   model.safetensors   the U-Net's weights and batch-norm buffers (metadata: epoch, step)
 *   optimizer.json      Adam's state (step counts and moments), for --resume
 *   train-state.json    epoch, step, data-Rng state, class weights, split, history, for --resume
 *   average.safetensors only for a model trained with --ema-steps: the averaged weights with
 *                       their batch norm statistics (metadata: updates), which inference loads
 *                       instead of model.safetensors (config.json names it as "inferenceWeights")
 *   done                written last: {"epoch", "step", "finished", "files": {name: bytes},
 *                       "sha256": {name: hex}}; loading verifies every file's SHA-256 against it
 *
 * Every file is written atomically (temporary file + rename). A save first removes `done`, then
 * writes the four files, then `done` (as the GAN's epoch checkpoints do, src/node/gan-checkpoint.ts),
 * so a directory whose `done` is missing or lists other sizes holds a save that was interrupted;
 * loadCheckpoint refuses it, and also files whose steps disagree, so a resume never mixes two
 * checkpoints. `finished` says the run reached its last epoch (`readDoneMarker` / `isFinished`:
 * a finished run needs no resume).
 */
import { existsSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, InputError, UserError } from '../errors.js';
import { makeOutputDir, readInputFile, writeFileAtomic } from './files.js';
import { decodeSafetensorsRaw, encodeSafetensors, torchStateDict } from '../io/safetensors.js';
import { sha256Hex } from './gan-checkpoint.js';
import { checkStateDict } from './state-dict-check.js';
import { Rng } from '../autodiff/index.js';
import { UNet, validateUNetConfig } from '../seg/unet.js';
import type { Checkpoint, ModelInfo, TrainConfig } from '../seg/train.js';
import { NORMALISATIONS, type Normalisation } from '../seg/augment.js';
import { checkWorkingScale } from '../seg/working-scale.js';
import { POLARITIES, type Polarity } from '../particles/polarity.js';

export const MODEL_FILES = { config: 'config.json', weights: 'model.safetensors', optimizer: 'optimizer.json', state: 'train-state.json' } as const;

/** The averaged weights of a model trained with --ema-steps (Checkpoint.average). */
export const AVERAGE_FILE = 'average.safetensors';

/** Every file of a checkpoint: MODEL_FILES, and AVERAGE_FILE when the marker lists it. */
function checkpointFiles(withAverage: boolean): string[] {
  return [...Object.values(MODEL_FILES), ...(withAverage ? [AVERAGE_FILE] : [])];
}

/** The marker written after a complete save. */
export const DONE_FILE = 'done';

export interface DoneMarker {
  epoch: number;
  step: number;
  /** The checkpoint is the run's last epoch (epoch >= train.epochs). */
  finished: boolean;
  /** Bytes of every file of the checkpoint. */
  files: Record<string, number>;
  /** SHA-256 of every file (absent in markers written before checksums: those load unverified). */
  sha256?: Record<string, string>;
}

export function saveCheckpoint(dir: string, c: Checkpoint): void {
  makeOutputDir(dir);
  const done = join(dir, DONE_FILE);
  if (existsSync(done)) unlinkSync(done);
  const meta = { format: 'diffrendergan-unet', epoch: String(c.epoch), step: String(c.step) };
  writeFileAtomic(join(dir, MODEL_FILES.weights), encodeSafetensors(torchStateDict(c.weights), meta));
  if (c.average) writeFileAtomic(join(dir, AVERAGE_FILE), encodeSafetensors(torchStateDict(c.average.weights), { ...meta, updates: String(c.average.updates) }));
  else if (existsSync(join(dir, AVERAGE_FILE))) unlinkSync(join(dir, AVERAGE_FILE));
  writeFileAtomic(join(dir, MODEL_FILES.optimizer), JSON.stringify({ step: c.step, optimizer: c.optimizer }));
  writeFileAtomic(join(dir, MODEL_FILES.config), JSON.stringify({ ...c.model, ...(c.average ? { inferenceWeights: AVERAGE_FILE } : {}), train: c.train, epoch: c.epoch, step: c.step }, null, 2) + '\n');
  const { epoch, step, rng, classWeights, split, history, train } = c;
  writeFileAtomic(join(dir, MODEL_FILES.state), JSON.stringify({ epoch, step, rng, classWeights, split, history, train }, null, 2) + '\n');
  const names = checkpointFiles(Boolean(c.average));
  const files = Object.fromEntries(names.map((f) => [f, statSync(join(dir, f)).size]));
  const sha256 = Object.fromEntries(names.map((f) => [f, sha256Hex(readInputFile(join(dir, f)))]));
  const marker: DoneMarker = { epoch, step, finished: epoch >= train.epochs, files, sha256 };
  writeFileAtomic(done, JSON.stringify(marker) + '\n');
}

/**
 * The `done` marker of a complete save, or a sentence saying why there is none (missing, not
 * JSON, or a file whose size differs from the one it lists).
 */
export function readDoneMarker(dir: string): DoneMarker | string {
  const path = join(dir, DONE_FILE);
  if (!existsSync(path)) return 'no done marker (the save was interrupted, or the run never finished an epoch)';
  let m: DoneMarker;
  try {
    m = JSON.parse(new TextDecoder().decode(readInputFile(path))) as DoneMarker;
  } catch {
    return 'the done marker is not valid JSON';
  }
  if (!m || typeof m !== 'object' || typeof m.files !== 'object' || m.files === null || !Number.isInteger(m.step)) return 'the done marker lists no files';
  for (const f of checkpointFiles(AVERAGE_FILE in m.files)) {
    const p = join(dir, f);
    const size = existsSync(p) ? statSync(p).size : -1;
    if (size !== m.files[f]) return `${f} has ${size < 0 ? 'no file' : `${size} bytes`}, the done marker says ${String(m.files[f])}`;
  }
  return m;
}

/** Whether `dir` holds the complete checkpoint of a run that reached its last epoch. */
export function isFinished(dir: string): boolean {
  const m = readDoneMarker(dir);
  return typeof m !== 'string' && m.finished === true;
}

function readJson(path: string, bytes: Uint8Array = readInputFile(path)): Record<string, unknown> {
  const text = new TextDecoder().decode(bytes);
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new InputError(path, `invalid JSON: ${(e as Error).message}`);
  }
}

function checkModelDir(dir: string): void {
  let ok = false;
  try {
    ok = statSync(dir).isDirectory();
  } catch {
    ok = false;
  }
  if (!ok) throw new InputError(dir, 'model directory not found (train one with `diffrendergan segment train --out DIR`)');
  for (const f of [MODEL_FILES.config, MODEL_FILES.weights]) {
    if (!existsSync(join(dir, f))) throw new InputError(join(dir, f), 'missing: this is not a model directory written by `segment train`');
  }
}

function readModelInfo(dir: string): ModelInfo {
  const path = join(dir, MODEL_FILES.config);
  const cfg = readJson(path);
  try {
    const unet = validateUNetConfig(cfg.unet as ModelInfo['unet']);
    const normalisation = cfg.normalisation as Normalisation;
    if (!NORMALISATIONS.includes(normalisation)) throw new Error(`unknown normalisation '${String(cfg.normalisation)}'`);
    // Models written before polarity existed were all trained on bright-particle images.
    const polarity = (cfg.polarity ?? 'bright') as Polarity;
    if (!POLARITIES.includes(polarity)) throw new Error(`unknown polarity '${String(cfg.polarity)}'`);
    const crop = Number(cfg.crop);
    // Models written before the working scale existed (and scale-1 models) record none: 1.
    const scale = cfg.scale === undefined ? 1 : Number(cfg.scale);
    checkWorkingScale(scale, '"scale"');
    return { unet, normalisation, polarity, crop: Number.isInteger(crop) && crop > 0 ? crop : 128, ...(scale !== 1 ? { scale } : {}) };
  } catch (e) {
    throw new InputError(path, (e as Error).message);
  }
}

/**
 * A model file's bytes, checked against the SHA-256 the done marker records for it (when there is
 * a marker with checksums); a mismatch is an InputError naming the file.
 */
function readVerified(dir: string, name: string): Uint8Array {
  const path = join(dir, name);
  const bytes = readInputFile(path);
  const marker = readDoneMarker(dir);
  const want = typeof marker === 'string' ? undefined : marker.sha256?.[name];
  if (want !== undefined) {
    const got = sha256Hex(bytes);
    if (got !== want) throw new InputError(path, `SHA-256 ${got} differs from the ${String(want)} recorded in the done marker: the file is corrupted`);
  }
  return bytes;
}

/** Loads the weights file `name` of `dir` into `model`; returns its metadata. */
function readWeights(dir: string, model: UNet, name: string = MODEL_FILES.weights): Record<string, string> {
  const path = join(dir, name);
  const file = decodeSafetensorsRaw(readVerified(dir, name), path);
  // Names, shapes, dtypes and finite values, each fault naming the file and the tensor.
  model.loadStateDict(checkStateDict(model.stateDict(), file.tensors, path));
  return file.metadata;
}

/** The weights file inference uses: config.json's "inferenceWeights" (AVERAGE_FILE) or model.safetensors. */
function inferenceWeightsFile(dir: string): string {
  const path = join(dir, MODEL_FILES.config);
  const named = readJson(path).inferenceWeights;
  if (named === undefined) return MODEL_FILES.weights;
  if (named !== AVERAGE_FILE) throw new InputError(path, `"inferenceWeights" must be "${AVERAGE_FILE}" or absent, got ${JSON.stringify(named)}`);
  if (!existsSync(join(dir, AVERAGE_FILE))) throw new InputError(join(dir, AVERAGE_FILE), 'missing: config.json names it as the weights to use');
  return AVERAGE_FILE;
}

/** Loads a trained model for inference (eval mode). Missing / invalid files -> InputError naming them. */
export function loadModel(dir: string): { model: UNet; info: ModelInfo } {
  checkModelDir(dir);
  const info = readModelInfo(dir);
  const model = new UNet(info.unet, new Rng(0));
  readWeights(dir, model, inferenceWeightsFile(dir));
  model.eval();
  return { model, info };
}

/** One setting in which two models differ: what it is, the flag of `segment train` that sets it, and the two values. */
export interface ModelDifference {
  what: string;
  flag: string;
  a: unknown;
  b: unknown;
}

/**
 * The settings in which model `b` differs from model `a` among those that make two networks
 * interchangeable: the architecture, the instance target (distance head, rays), the input
 * normalisation and the polarity (`segment train --init` and an ensemble both need them equal).
 */
export function modelDifferences(a: Omit<ModelInfo, 'crop'>, b: Omit<ModelInfo, 'crop'>): ModelDifference[] {
  const all: ModelDifference[] = [
    { what: 'depth', flag: '--depth', a: a.unet.depth, b: b.unet.depth },
    { what: 'base', flag: '--base', a: a.unet.base, b: b.unet.base },
    { what: 'norm', flag: '--norm', a: a.unet.norm, b: b.unet.norm },
    { what: 'input channels', flag: 'the data', a: a.unet.inChannels, b: b.unet.inChannels },
    { what: 'classes', flag: 'the data', a: a.unet.classes, b: b.unet.classes },
    { what: 'distance head', flag: '--instance-target', a: Boolean(a.unet.distanceHead), b: Boolean(b.unet.distanceHead) },
    { what: 'rays', flag: '--instance-target stardist --rays', a: a.unet.rays ?? 0, b: b.unet.rays ?? 0 },
    { what: 'normalisation', flag: '--normalisation', a: a.normalisation, b: b.normalisation },
    { what: 'polarity', flag: '--polarity', a: a.polarity, b: b.polarity },
  ];
  return all.filter((d) => d.a !== d.b);
}

/**
 * Loads the models of `dirs` (loadModel each) as one ensemble (seg/infer.ts predictEnsemble); a
 * member that differs from the first in a modelDifferences setting, in its training crop (which
 * sets the default inference tile) or in its working scale is a UserError naming `flag`, both folders and every
 * difference (ExitCode.usage). The info returned is the first member's.
 */
export function loadEnsemble(dirs: readonly string[], flag: string): { models: UNet[]; info: ModelInfo } {
  if (dirs.length === 0) throw new UserError(`${flag}: no model folder given`, ExitCode.usage);
  const loaded = dirs.map((d) => loadModel(d));
  const first = loaded[0].info;
  loaded.forEach(({ info }, k) => {
    const diffs = modelDifferences(first, info).map((d) => `${d.what} ${String(d.b)}, not ${String(d.a)} (${d.flag})`);
    if (info.crop !== first.crop) diffs.push(`training crop ${info.crop}, not ${first.crop} (--crop)`);
    if ((info.scale ?? 1) !== (first.scale ?? 1)) diffs.push(`working scale ${info.scale ?? 1}, not ${first.scale ?? 1} (--scale)`);
    if (diffs.length) throw new UserError(`${flag}: ${dirs[k]} cannot join ${dirs[0]} in an ensemble: its ${diffs.join('; ')}`, ExitCode.usage);
  });
  return { models: loaded.map((l) => l.model), info: first };
}

/**
 * Whether `dir` holds a complete, resumable checkpoint (a valid `done` marker). Files of an
 * interrupted save do not count: they cannot be resumed, and a new run may overwrite them.
 */
export function hasCheckpoint(dir: string): boolean {
  return typeof readDoneMarker(dir) !== 'string';
}

/** Loads everything --resume needs; files from different steps -> InputError. */
export function loadCheckpoint(dir: string): Checkpoint {
  checkModelDir(dir);
  for (const f of [MODEL_FILES.optimizer, MODEL_FILES.state]) {
    if (!existsSync(join(dir, f))) throw new InputError(join(dir, f), 'missing: cannot resume (the run never finished an epoch?)');
  }
  const marker = readDoneMarker(dir);
  if (typeof marker === 'string') throw new InputError(dir, `cannot resume: ${marker}; delete the directory or retrain`);
  const info = readModelInfo(dir);
  const model = new UNet(info.unet, new Rng(0));
  const wStep = Number(readWeights(dir, model).step ?? NaN);
  let average: Checkpoint['average'];
  if (inferenceWeightsFile(dir) === AVERAGE_FILE) {
    const averaged = new UNet(info.unet, new Rng(0));
    const meta = readWeights(dir, averaged, AVERAGE_FILE);
    const updates = Number(meta.updates);
    if (!(Number.isInteger(updates) && updates >= 0) || Number(meta.step) !== wStep) throw new InputError(join(dir, AVERAGE_FILE), `metadata step ${String(meta.step)} / updates ${String(meta.updates)} do not match the weights at step ${wStep}`);
    average = { weights: averaged.stateDict(), updates };
  }
  const optPath = join(dir, MODEL_FILES.optimizer);
  const opt = readJson(optPath, readVerified(dir, MODEL_FILES.optimizer));
  const statePath = join(dir, MODEL_FILES.state);
  const st = readJson(statePath, readVerified(dir, MODEL_FILES.state));
  if (opt.step !== st.step || wStep !== st.step || marker.step !== st.step) {
    throw new InputError(dir, `checkpoint files disagree (weights at step ${wStep}, optimizer at ${String(opt.step)}, train-state at ${String(st.step)}); an interrupted save? delete the directory or retrain`);
  }
  const rng = st.rng as number[];
  if (!Array.isArray(rng) || rng.length !== 4) throw new InputError(statePath, 'rng state must be 4 integers');
  return {
    model: info,
    train: st.train as TrainConfig,
    epoch: Number(st.epoch),
    step: Number(st.step),
    weights: model.stateDict(),
    optimizer: opt.optimizer as Checkpoint['optimizer'],
    rng: rng as Checkpoint['rng'],
    classWeights: st.classWeights as number[],
    split: st.split as Checkpoint['split'],
    history: st.history as Checkpoint['history'],
    ...(average ? { average } : {}),
  };
}
