/**
 * The `generate` command: a trained run's ParamNet writes annotated synthetic image / mask pairs
 * (formats png, nnunet, coco). Every sample is a pure function of (seed, index) (export.ts), so
 * the work is split across child processes by index and a rerun skips the samples already
 * written; dataset-level files (dataset.json, annotations) are written last, atomically.
 */
import { existsSync, rmSync, accessSync, constants } from 'node:fs';
import { join, resolve } from 'node:path';
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { ParamNet } from '../gan/models.js';
import { ParamMapping, FEATURE_SIZE } from '../gan/generator.js';
import { generateSample, cocoAnnotations, type SyntheticSample } from '../gan/export.js';
import * as ckpt from './gan-checkpoint.js';
import { checkTrainerState } from './trainer-state-check.js';
import { formatLearnedSize, withLearnedSize } from '../gan/learned-size.js';
import { activateBackend } from './backends.js';
import { relaxedSimdSetting } from './relaxed-simd.js';
import { loadRefiner, REFINER_DIR } from './refiner.js';
import type { Refiner } from '../gan/refiner.js';
import type { RunConfig } from './train.js';
import { pickBest, readRunConfig } from './train.js';
import { Rng } from '../autodiff/rng.js';
import { makeDirs, readInputFile, readInputJson, removeStaleTempFiles, writeFileAtomic } from './files.js';
import { encodePngGrey8, encodePngGrey16 } from '../io/png.js';
import { decodePng } from '../io/png.js';
import { ExitCode, InputError, UserError } from '../errors.js';

export type DatasetFormat = 'png' | 'nnunet' | 'coco';

export interface GenerateOptions {
  run: string;
  epoch: 'best' | 'last' | number;
  n: number;
  out: string;
  format: DatasetFormat;
  seed: number;
  workers: number;
  quiet: boolean;
  /** Only this shard of the indices (internal: set in child processes). */
  shard?: { index: number; count: number };
  /** nnU-Net v2 dataset id (format nnunet): the dataset goes to OUT/DatasetNNN_<datasetName>. */
  datasetId?: number;
  /** nnU-Net dataset name (default DiffRenderGAN). */
  datasetName?: string;
}

export const DEFAULT_NNUNET_NAME = 'DiffRenderGAN';

/**
 * nnU-Net v2's folder name for a dataset: Dataset + the id in three digits + _ + name
 * (nnUNet_raw/Dataset001_Name is where nnUNetv2_plan_and_preprocess -d 1 looks).
 */
export function nnunetDatasetFolder(id: number, name = DEFAULT_NNUNET_NAME): string {
  if (!Number.isInteger(id) || id < 1 || id > 999) throw new UserError(`--dataset-id must be an integer from 1 to 999 (nnU-Net's three digits), got ${id}`, ExitCode.usage);
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(name)) throw new UserError(`--dataset-name must be letters, digits, '-' or '_', got '${name}'`, ExitCode.usage);
  return `Dataset${String(id).padStart(3, '0')}_${name}`;
}

export function sampleName(i: number): string {
  return `synth_${String(i).padStart(5, '0')}`;
}

/** Paths of one sample's files in each format. */
export function samplePaths(out: string, format: DatasetFormat, i: number): { image: string; mask: string; instances: string; meta: string } {
  const name = sampleName(i);
  if (format === 'nnunet') {
    return { image: join(out, 'imagesTr', `${name}_0000.png`), mask: join(out, 'labelsTr', `${name}.png`), instances: join(out, 'instancesTr', `${name}.png`), meta: join(out, 'meta', `${name}.json`) };
  }
  return { image: join(out, 'images', `${name}.png`), mask: join(out, 'masks', `${name}.png`), instances: join(out, 'instances', `${name}.png`), meta: join(out, 'meta', `${name}.json`) };
}

/**
 * The epoch --epoch best selects: the one best.json names (written when training finishes), which
 * must be a complete checkpoint; a best.json that is not that is an InputError, never a silent
 * fallback. A run without best.json (training not finished) uses the best-epoch rule on the
 * epochs so far, and without any scored epoch the last checkpoint, saying so.
 */
export function bestEpoch(runDir: string, epochs: number[]): number {
  const file = join(runDir, 'best.json');
  if (existsSync(file)) {
    const best = readInputJson(file) as { epoch?: unknown } | null;
    const e = best !== null && typeof best === 'object' ? best.epoch : undefined;
    if (typeof e !== 'number' || !Number.isInteger(e) || e < 1) throw new InputError(file, `field 'epoch' must be an integer >= 1 (got ${JSON.stringify(e) ?? 'nothing'})`);
    if (!epochs.includes(e)) throw new InputError(file, `names epoch ${e}, which has no complete checkpoint (have: ${epochs.join(', ')})`);
    return e;
  }
  const picked = pickBest(runDir)?.epoch;
  if (picked !== undefined && epochs.includes(picked)) return picked;
  process.stderr.write(`note: ${runDir} has no best.json and no scored epoch with a checkpoint; using the last checkpoint, epoch ${epochs[epochs.length - 1]}\n`);
  return epochs[epochs.length - 1];
}

/** A training run's generator at the selected epoch (what `generate --run` loads), every file checked. */
export function loadRun(runDir: string, epochSel: GenerateOptions['epoch'], note: (s: string) => void = () => {}): { config: RunConfig; epoch: number; fcn: ParamNet; mapping: ParamMapping; refiner: Refiner | null } {
  const file = join(runDir, 'config.json');
  if (!existsSync(file)) throw new UserError(`--run ${runDir}: no config.json there (not a training run folder)`, ExitCode.badInput);
  const config = readRunConfig(file);
  const epochs = ckpt.listCheckpoints(runDir);
  if (epochs.length === 0) throw new UserError(`--run ${runDir}: no complete checkpoint yet (train at least one epoch)`, ExitCode.badInput);
  let epoch: number;
  if (epochSel === 'last') epoch = epochs[epochs.length - 1];
  else if (epochSel === 'best') epoch = bestEpoch(runDir, epochs);
  else {
    if (!epochs.includes(epochSel)) throw new UserError(`--epoch ${epochSel}: no complete checkpoint for that epoch in ${runDir} (have: ${epochs.join(', ')})`, ExitCode.usage);
    epoch = epochSel;
  }
  const fcn = new ParamNet(FEATURE_SIZE, config.gan.learned.length, new Rng(0), new Rng(0));
  const checkpoint = ckpt.loadCheckpoint(runDir, epoch, { fcn: fcn.stateDict() });
  fcn.loadStateDict(checkpoint.fcn);
  fcn.eval();
  if (config.gan.learnSize) {
    // The epoch's learned size goes into the scene every sample is drawn from.
    const state = checkTrainerState(checkpoint.state, join(ckpt.epochDir(runDir, epoch), 'optim.json'));
    if (!state.size) throw new InputError(join(ckpt.epochDir(runDir, epoch), 'optim.json'), "field 'size' is missing, but the run learns the size (gan.learnSize)");
    config.gan.scene = withLearnedSize(config.gan.scene, state.size);
    note(`learned ${formatLearnedSize(state.size)} (epoch ${epoch})`);
  }
  // The learned refiner, when the run has one (config.json's refiner) trained for this epoch.
  const refiner = config.refiner ? loadRefiner(runDir, epoch, note) : null;
  if (config.refiner && !refiner && !existsSync(join(runDir, REFINER_DIR, 'refiner.json'))) note(`note: ${runDir} asks for a refiner but has none yet (training did not finish); images are written unrefined`);
  return { config, epoch, fcn, mapping: new ParamMapping(config.gan.learned, config.gan.scene.params, 'float32', config.gan.ranges), refiner };
}

function writeSample(out: string, format: DatasetFormat, s: SyntheticSample): void {
  const p = samplePaths(out, format, s.index);
  try {
    writeFileAtomic(p.image, encodePngGrey8(s.width, s.height, s.image));
    writeFileAtomic(p.instances, encodePngGrey16(s.width, s.height, s.instances));
    writeFileAtomic(p.meta, JSON.stringify({ index: s.index, params: s.params, rejected: s.rejected }) + '\n');
    // The mask is written last: a sample counts as done when its mask exists.
    writeFileAtomic(p.mask, encodePngGrey8(s.width, s.height, s.classes));
  } catch (e) {
    // No half-written sample (an image without its mask): remove the parts already written.
    for (const f of [p.image, p.instances, p.meta]) rmSync(f, { force: true });
    throw e;
  }
}

/** Ends a worker whose parent is gone (what it finished is kept; a rerun continues). */
function exitOrphan(): never {
  process.stderr.write('diffrendergan: generate worker: the parent process is gone; stopping\n');
  process.exit(ExitCode.internal);
}

/** Generates this process's share of the samples; returns how many it wrote. */
function generateShard(opts: GenerateOptions, run: ReturnType<typeof loadRun>, indices: number[], report: (done: number) => void): number {
  let written = 0;
  for (const i of indices) {
    if (existsSync(samplePaths(opts.out, opts.format, i).mask)) continue;
    const s = generateSample(i, opts.seed, run.config.gan.scene, run.fcn, run.mapping, run.refiner);
    writeSample(opts.out, opts.format, s);
    written++;
    report(written);
  }
  return written;
}

export async function runGenerate(opts: GenerateOptions): Promise<{ out: string; epoch: number }> {
  if (opts.datasetId !== undefined && opts.format !== 'nnunet') throw new UserError(`--dataset-id is for --format nnunet (got --format ${opts.format})`, ExitCode.usage);
  if (opts.datasetName !== undefined && opts.datasetId === undefined) throw new UserError('--dataset-name needs --dataset-id', ExitCode.usage);
  const runDir = resolve(opts.run);
  const run = loadRun(runDir, opts.epoch, (s) => {
    if (!opts.quiet) process.stderr.write(s + '\n');
  });
  const out = opts.datasetId !== undefined ? join(resolve(opts.out), nnunetDatasetFolder(opts.datasetId, opts.datasetName)) : resolve(opts.out);
  opts = { ...opts, out };
  // The refiner's convolutions on WASM SIMD, one thread per process (the renderer does not use
  // the backend, so unrefined images do not depend on it); the same in every worker, so a
  // sample's image does not depend on how the indices are split up.
  if (run.refiner) await activateBackend('wasm-1t', { relaxedSimd: relaxedSimdSetting() ?? true });
  const log = (s: string) => {
    if (!opts.quiet) process.stderr.write(s + '\n');
  };
  const dirs = opts.format === 'nnunet' ? ['imagesTr', 'labelsTr', 'instancesTr', 'meta'] : ['images', 'masks', 'instances', 'meta'];
  try {
    for (const d of dirs) makeDirs(join(out, d)); // not mkdirSync(recursive): it never returns under /proc
    accessSync(out, constants.W_OK);
  } catch (e) {
    throw new UserError(`--out ${opts.out}: cannot create or write the folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, ExitCode.badOutput);
  }
  const all = Array.from({ length: opts.n }, (_, i) => i);
  if (opts.shard) {
    const mine = all.filter((i) => i % opts.shard!.count === opts.shard!.index);
    const parent = process.ppid;
    generateShard(opts, run, mine, (d) => {
      // A worker whose parent died (kill -9) stops instead of running on as an orphan: the shard
      // loop is synchronous, so the IPC 'disconnect' event would only fire at the end; the
      // parent pid changes as soon as the worker is re-parented.
      if (process.ppid !== parent || (process.send !== undefined && !process.connected)) exitOrphan();
      process.send?.({ done: d });
    });
    return { out, epoch: run.epoch };
  }
  // Temporary files of a previous run killed mid-write (by whoever: a worker or this process).
  const stale = dirs.reduce((n, d) => n + removeStaleTempFiles(join(out, d)), removeStaleTempFiles(out));
  if (stale > 0) log(`removed ${stale} temporary file(s) left by an interrupted run`);
  const todo = all.filter((i) => !existsSync(samplePaths(out, opts.format, i).mask));
  log(`generating ${todo.length} of ${opts.n} samples (${opts.n - todo.length} already there) from ${runDir}, epoch ${run.epoch}, format ${opts.format}${run.refiner ? ', images refined by the run\'s learned refiner' : ''}`);
  const t0 = Date.now();
  const workers = Math.max(1, Math.min(opts.workers || availableParallelism(), todo.length));
  let progressShown = false;
  let failed = false;
  const progress = (done: number) => {
    if (opts.quiet || failed) return; // after a failure, the other workers' progress is noise
    const rate = done / Math.max(1e-3, (Date.now() - t0) / 1000);
    process.stderr.write(`\r${done}/${todo.length} samples  ${rate.toFixed(1)}/s  ETA ${Math.round((todo.length - done) / Math.max(rate, 1e-9))} s   `);
    progressShown = true;
  };
  try {
    if (workers <= 1 || !process.argv[1]) {
      generateShard(opts, run, todo, progress);
    } else {
      // Child processes of this same CLI, each with a shard of the indices.
      const counts = new Array<number>(workers).fill(0);
      await Promise.all(
        counts.map(
          (_, w) =>
            new Promise<void>((ok, fail) => {
              const args = ['generate', '--run', runDir, '--epoch', String(run.epoch), '--n', String(opts.n), '--out', out, '--format', opts.format, '--seed', String(opts.seed), '--shard', `${w}/${workers}`, '--quiet'];
              const child = fork(process.argv[1], args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
              let err = '';
              child.stderr?.on('data', (d) => (err += d));
              child.on('message', (m: { done: number }) => {
                counts[w] = m.done;
                progress(counts.reduce((a, b) => a + b, 0));
              });
              child.on('exit', (code) => {
                if (code === 0) return ok();
                // The other workers run on to their end or their own error: a kill could leave a
                // temporary file behind, and what they finish is kept for the rerun to continue.
                const lines = err.trim().split('\n');
                const msg = lines.find((l) => l.startsWith('diffrendergan:')) ?? lines.find((l) => /Error/.test(l)) ?? lines.pop();
                // A user error of the worker keeps its exit code (5 for an unwritable / full disk).
                const userCode = Object.values(ExitCode).find((c) => c === code && c !== ExitCode.ok && c !== ExitCode.internal);
                fail(new UserError(`generate worker ${w} failed (exit ${code}): ${msg?.replace(/^diffrendergan: /, '')}`, userCode ?? ExitCode.internal));
              });
            }),
        ),
      );
    }
  } catch (e) {
    failed = true;
    if (progressShown) process.stderr.write('\n'); // the error line after the progress line, not on it
    throw e;
  }
  if (!opts.quiet) process.stderr.write('\n');
  writeDatasetFiles(out, opts, run);
  log(`wrote ${opts.n} samples to ${out} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { out, epoch: run.epoch };
}

function writeDatasetFiles(out: string, opts: GenerateOptions, run: ReturnType<typeof loadRun>): void {
  const source = { run: resolve(opts.run), epoch: run.epoch, seed: opts.seed, preset: run.config.gan.preset, learned: run.config.gan.learned, refined: run.refiner !== null };
  const labels = { background: 0, particle: 1, contour: 2 };
  if (opts.format === 'nnunet') {
    writeFileAtomic(join(out, 'dataset.json'), JSON.stringify({ channel_names: { '0': 'SEM' }, labels, numTraining: opts.n, file_ending: '.png', name: opts.datasetName ?? (opts.datasetId !== undefined ? DEFAULT_NNUNET_NAME : 'diffrendergan'), diffrendergan: source }, null, 2) + '\n');
    return;
  }
  if (opts.format === 'coco') {
    const images: unknown[] = [];
    const annotations: unknown[] = [];
    for (let i = 0; i < opts.n; i++) {
      const p = samplePaths(out, 'coco', i);
      const inst = decodePng(readInputFile(p.instances), p.instances);
      const ids = new Uint16Array(inst.data.length);
      const scale = (1 << inst.bitDepth) - 1;
      for (let k = 0; k < ids.length; k++) ids[k] = Math.round(inst.data[k] * scale);
      images.push({ id: i + 1, file_name: `images/${sampleName(i)}.png`, width: inst.width, height: inst.height });
      annotations.push(...cocoAnnotations({ index: i, width: inst.width, height: inst.height, instances: ids } as SyntheticSample, i + 1, annotations.length + 1));
    }
    writeFileAtomic(join(out, 'annotations.json'), JSON.stringify({ info: { description: 'diffrendergan synthetic dataset', ...source }, images, annotations, categories: [{ id: 1, name: 'particle', supercategory: 'particle' }] }) + '\n');
  }
  writeFileAtomic(join(out, 'dataset.json'), JSON.stringify({ format: opts.format, numSamples: opts.n, labels, maskEncoding: 'masks/*.png hold class values 0/1/2 (not scaled)', ...source }, null, 2) + '\n');
}
