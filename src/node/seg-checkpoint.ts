/**
 * A model directory on disk (Node only):
 *
 *   config.json         what inference needs besides the weights (ModelInfo) + the training config
 *   model.safetensors   the U-Net's weights and batch-norm buffers (metadata: epoch, step)
 *   optimizer.json      Adam's state (step counts and moments), for --resume
 *   train-state.json    epoch, step, data-Rng state, class weights, split, history, for --resume
 *
 * Every file is written atomically (temporary file + rename); train-state.json is written last
 * and names the step, and loadCheckpoint refuses files whose steps disagree (a crash between two
 * writes), so a resume never mixes two checkpoints.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, InputError, UserError } from '../errors.js';
import { readInputFile, writeFileAtomic } from '../io/files.js';
import { decodeSafetensors, encodeSafetensors } from '../gan/safetensors.js';
import { Rng } from '../autodiff/index.js';
import { UNet, validateUNetConfig } from '../seg/unet.js';
import type { Checkpoint, ModelInfo, TrainConfig } from '../seg/train.js';

export const MODEL_FILES = { config: 'config.json', weights: 'model.safetensors', optimizer: 'optimizer.json', state: 'train-state.json' } as const;

/** Creates the directory (and parents); an unusable path -> UserError (badOutput). */
export function ensureDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new UserError(`${dir}: cannot create the directory: ${(e as Error).message}`, ExitCode.badOutput);
  }
}

export function saveCheckpoint(dir: string, c: Checkpoint): void {
  ensureDir(dir);
  const meta = { format: 'diffrendergan-unet', epoch: String(c.epoch), step: String(c.step) };
  writeFileAtomic(join(dir, MODEL_FILES.weights), encodeSafetensors(c.weights, meta));
  writeFileAtomic(join(dir, MODEL_FILES.optimizer), JSON.stringify({ step: c.step, optimizer: c.optimizer }));
  writeFileAtomic(join(dir, MODEL_FILES.config), JSON.stringify({ ...c.model, train: c.train, epoch: c.epoch, step: c.step }, null, 2) + '\n');
  const { epoch, step, rng, classWeights, split, history, train } = c;
  writeFileAtomic(join(dir, MODEL_FILES.state), JSON.stringify({ epoch, step, rng, classWeights, split, history, train }, null, 2) + '\n');
}

function readJson(path: string): Record<string, unknown> {
  const text = new TextDecoder().decode(readInputFile(path));
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
    if (cfg.normalisation !== 'image-zscore') throw new Error(`unknown normalisation '${String(cfg.normalisation)}'`);
    const crop = Number(cfg.crop);
    return { unet, normalisation: 'image-zscore', crop: Number.isInteger(crop) && crop > 0 ? crop : 128 };
  } catch (e) {
    throw new InputError(path, (e as Error).message);
  }
}

function readWeights(dir: string, model: UNet): number {
  const path = join(dir, MODEL_FILES.weights);
  const file = decodeSafetensors(readInputFile(path), path);
  try {
    model.loadStateDict(file.tensors);
  } catch (e) {
    throw new InputError(path, `does not fit the architecture in ${MODEL_FILES.config}: ${(e as Error).message}`);
  }
  return Number(file.metadata.step ?? NaN);
}

/** Loads a trained model for inference (eval mode). Missing / invalid files -> InputError naming them. */
export function loadModel(dir: string): { model: UNet; info: ModelInfo } {
  checkModelDir(dir);
  const info = readModelInfo(dir);
  const model = new UNet(info.unet, new Rng(0));
  readWeights(dir, model);
  model.eval();
  return { model, info };
}

/** Whether `dir` holds a resumable checkpoint. */
export function hasCheckpoint(dir: string): boolean {
  return Object.values(MODEL_FILES).every((f) => existsSync(join(dir, f)));
}

/** Loads everything --resume needs; files from different steps -> InputError. */
export function loadCheckpoint(dir: string): Checkpoint {
  checkModelDir(dir);
  for (const f of [MODEL_FILES.optimizer, MODEL_FILES.state]) {
    if (!existsSync(join(dir, f))) throw new InputError(join(dir, f), 'missing: cannot resume (the run never finished an epoch?)');
  }
  const info = readModelInfo(dir);
  const model = new UNet(info.unet, new Rng(0));
  const wStep = readWeights(dir, model);
  const optPath = join(dir, MODEL_FILES.optimizer);
  const opt = readJson(optPath);
  const statePath = join(dir, MODEL_FILES.state);
  const st = readJson(statePath);
  if (opt.step !== st.step || wStep !== st.step) {
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
  };
}
