/**
 * The run directory of a GAN training run (Node only):
 *
 *   <run>/config.json                 the run's configuration (written once, at the start)
 *   <run>/metrics.jsonl               one JSON object per line, appended (steps and epochs)
 *   <run>/samples/epoch-NNNN.png      a sample sheet per epoch
 *   <run>/epoch-NNNN/fcn.safetensors  generator (FCN) weights
 *   <run>/epoch-NNNN/disc.safetensors discriminator weights
 *   <run>/epoch-NNNN/optim.json       everything else needed to resume (Adam states, RNG state,
 *                                     step / epoch counters): the `state` value as JSON, where
 *                                     every Tensor or typed array inside it is replaced by a
 *                                     {"$tensor": key} reference into
 *   <run>/epoch-NNNN/optim.safetensors  (only when the state holds any; Adam moments are as big
 *                                     as the weights and would not belong in JSON)
 *   <run>/epoch-NNNN/done             written last: {"epoch": N, "files": {name: {"bytes": B, "sha256": hex}}}
 *
 * NNNN is the epoch number padded to 4 digits. Every file is written atomically (temp file in the
 * same directory, fsync, rename; then the directory is fsync'ed where the OS allows), so a killed
 * run leaves whole files or none. A checkpoint counts only when its `done` marker exists and every
 * file it lists has the listed size: a run killed while saving falls back to the previous epoch.
 * Loading also verifies each file's SHA-256 against the marker (a flipped bit is an error naming
 * the file, exit 3), and, given the modules' state dicts, every tensor's name, shape, dtype and
 * values (src/node/state-dict-check.ts).
 * metrics.jsonl is appended line by line; a line cut short by a kill is ignored by readMetrics
 * and cut off by the next appendMetrics; truncateMetrics drops the rows logged after the step a
 * resumed run restarts from.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, statSync, truncateSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, InputError, UserError } from '../errors.js';
import { Tensor } from '../autodiff/tensor.js';
import { makeOutputDir, readInputFile, readInputText, writeFileAtomic } from './files.js';
import type { StateDict } from '../autodiff/nn/module.js';
import { checkFiniteTensors, checkStateDict } from './state-dict-check.js';
import { decodeSafetensors, decodeSafetensorsRaw, encodeSafetensors, safeToTensor, torchStateDict, type SafeTensor } from '../io/safetensors.js';

export interface CheckpointData {
  fcn: Record<string, Tensor>;
  disc: Record<string, Tensor>;
  /** Anything JSON-like; Tensors and typed arrays anywhere inside are stored in optim.safetensors. */
  state: unknown;
}

export const CONFIG_FILE = 'config.json';
export const METRICS_FILE = 'metrics.jsonl';
export const SAMPLES_DIR = 'samples';
export const DONE_FILE = 'done';

/** "epoch-0007" */
export function epochDirName(epoch: number): string {
  if (!Number.isInteger(epoch) || epoch < 0) throw new UserError(`epoch must be an integer >= 0 (got ${epoch})`);
  return `epoch-${String(epoch).padStart(4, '0')}`;
}

export function epochDir(runDir: string, epoch: number): string {
  return join(runDir, epochDirName(epoch));
}

export function samplePath(runDir: string, epoch: number): string {
  return join(runDir, SAMPLES_DIR, `${epochDirName(epoch)}.png`);
}

/** fsync a directory so that renames in it are durable; a no-op where the OS does not allow it. */
function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Not supported (e.g. Windows): the rename is still atomic, only less durable.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function readText(path: string): string {
  return readInputText(path);
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** One file's entry in the done marker. */
interface FileRecord {
  bytes: number;
  sha256: string;
}

/** The listed size of a marker entry ({bytes, sha256}; a bare number in markers without checksums). */
function listedBytes(entry: unknown): unknown {
  return entry !== null && typeof entry === 'object' ? (entry as { bytes?: unknown }).bytes : entry;
}

// ---------------------------------------------------------------------------------------------
// State <-> JSON + tensors.

const TYPED: Record<string, new (n: number) => Float32Array | Float64Array | Int32Array | Uint8Array> = {
  Float32Array,
  Float64Array,
  Int32Array,
  Uint8Array,
};

/** Splits `state` into JSON-safe data and the tensors it holds (keys are JSON paths). */
export function splitState(state: unknown): { json: unknown; tensors: Record<string, Tensor | SafeTensor> } {
  const tensors: Record<string, Tensor | SafeTensor> = {};
  const walk = (v: unknown, path: string): unknown => {
    if (v instanceof Tensor) {
      tensors[path] = v;
      return { $tensor: path };
    }
    if (v instanceof Float32Array || v instanceof Float64Array || v instanceof Int32Array || v instanceof Uint8Array) {
      const dtype = v instanceof Float32Array ? 'F32' : v instanceof Float64Array ? 'F64' : v instanceof Int32Array ? 'I32' : 'U8';
      tensors[path] = { dtype, shape: [v.length], data: v };
      return { $tensor: path, array: v.constructor.name };
    }
    if (ArrayBuffer.isView(v)) throw new UserError(`checkpoint state at '${path}': ${v.constructor.name} is not supported`);
    if (typeof v === 'number' && !Number.isFinite(v)) return { $number: String(v) };
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}.${i}`));
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        if (k === '$tensor' || k === '$number') throw new UserError(`checkpoint state at '${path}': the key '${k}' is reserved`);
        if (x !== undefined) out[k] = walk(x, path ? `${path}.${k}` : k);
      }
      return out;
    }
    if (typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint') {
      throw new UserError(`checkpoint state at '${path}': a ${typeof v} cannot be saved`);
    }
    return v;
  };
  return { json: walk(state, ''), tensors };
}

/** The inverse of splitState. `file` names optim.json in errors. */
export function joinState(json: unknown, tensors: Record<string, SafeTensor>, file: string): unknown {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.$tensor === 'string') {
        const t = tensors[o.$tensor];
        if (!t) throw new InputError(file, `refers to tensor '${o.$tensor}', which optim.safetensors does not hold`);
        if (typeof o.array === 'string') {
          const Ctor = TYPED[o.array];
          if (!Ctor) throw new InputError(file, `unknown array type '${o.array}'`);
          if (t.data instanceof BigInt64Array) throw new InputError(file, `tensor '${o.$tensor}' is I64, not a ${o.array}`);
          const out = new Ctor(t.data.length);
          out.set(t.data);
          return out;
        }
        return safeToTensor(t, o.$tensor, file);
      }
      if (typeof o.$number === 'string') return Number(o.$number);
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(o)) out[k] = walk(x);
      return out;
    }
    return v;
  };
  return walk(json);
}

// ---------------------------------------------------------------------------------------------
// Checkpoints.

/**
 * Saves one epoch's checkpoint: the two weight files, the state, then the `done` marker. Saving
 * an epoch that already exists (after a resume) first removes its marker, so a crash in between
 * leaves it uncounted rather than mixed.
 */
export function saveCheckpoint(runDir: string, epoch: number, data: CheckpointData, metadata: Record<string, string> = {}): void {
  const dir = epochDir(runDir, epoch);
  makeOutputDir(dir);
  const done = join(dir, DONE_FILE);
  if (existsSync(done)) {
    unlinkSync(done);
    fsyncDir(dir);
  }
  const meta = { format: 'pt', epoch: String(epoch), ...metadata };
  const files: Record<string, Uint8Array | string> = {
    'fcn.safetensors': encodeSafetensors(torchStateDict(data.fcn), meta),
    'disc.safetensors': encodeSafetensors(torchStateDict(data.disc), meta),
  };
  const { json, tensors } = splitState(data.state);
  if (Object.keys(tensors).length > 0) files['optim.safetensors'] = encodeSafetensors(tensors, { epoch: String(epoch) });
  files['optim.json'] = JSON.stringify(json) + '\n';
  const records: Record<string, FileRecord> = {};
  for (const [name, content] of Object.entries(files)) {
    const bytes = typeof content === 'string' ? new TextEncoder().encode(content) : content;
    writeFileAtomic(join(dir, name), bytes);
    records[name] = { bytes: bytes.length, sha256: sha256Hex(bytes) };
  }
  fsyncDir(dir);
  writeFileAtomic(done, JSON.stringify({ epoch, files: records }) + '\n');
  fsyncDir(dir);
  fsyncDir(runDir);
}

/** Why the checkpoint in `dir` does not count, or null when it is complete. */
function incompleteReason(dir: string, epoch: number): string | null {
  const done = join(dir, DONE_FILE);
  if (!existsSync(done)) return 'no done marker (the run was stopped while saving it)';
  const marker = readMarker(done);
  if (typeof marker === 'string') return marker;
  if (marker.epoch !== epoch) return `the done marker names epoch ${String(marker.epoch)}`;
  for (const [name, entry] of Object.entries(marker.files)) {
    const size = listedBytes(entry);
    if (!CHECKPOINT_FILES.includes(name)) return `the done marker lists '${name}', which is not a checkpoint file`;
    let actual: number;
    try {
      actual = statSync(join(dir, name)).size;
    } catch {
      return `${name} is missing`;
    }
    if (actual !== size) return `${name} has ${actual} bytes, the done marker says ${String(size)}`;
  }
  return null;
}

/** The checkpoint files a done marker may list (anything else would let it point outside the folder). */
const CHECKPOINT_FILES = ['fcn.safetensors', 'disc.safetensors', 'optim.json', 'optim.safetensors'];

/** The done marker as {epoch, files}, or a sentence saying why it is unusable. */
function readMarker(done: string): { epoch: unknown; files: Record<string, unknown> } | string {
  let marker: unknown;
  try {
    marker = JSON.parse(readInputText(done));
  } catch {
    return 'the done marker is not valid JSON';
  }
  if (marker === null || typeof marker !== 'object' || Array.isArray(marker)) return 'the done marker is not a JSON object';
  const { epoch, files } = marker as { epoch?: unknown; files?: unknown };
  if (typeof files !== 'object' || files === null || Array.isArray(files)) return 'the done marker lists no files';
  return { epoch, files: files as Record<string, unknown> };
}

/** Epoch numbers of the complete checkpoints in `runDir`, ascending ([] when none or no dir). */
export function listCheckpoints(runDir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(runDir);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const name of names) {
    const m = /^epoch-(\d{4,})$/.exec(name);
    if (!m) continue;
    const epoch = Number(m[1]);
    if (incompleteReason(join(runDir, name), epoch) === null) out.push(epoch);
  }
  return out.sort((a, b) => a - b);
}

/** The highest epoch with a complete checkpoint, or null. Half-written epochs are ignored. */
export function latestCheckpoint(runDir: string): number | null {
  const all = listCheckpoints(runDir);
  return all.length ? all[all.length - 1] : null;
}

/**
 * Loads a complete checkpoint, each file verified against the SHA-256 in the done marker. With
 * `expect` (the modules' own state dicts) every weight tensor is checked against its module
 * (names, shapes, dtypes, finite values); without, the values are still checked to be finite.
 * Any fault -> InputError naming the directory or file (and tensor).
 */
export function loadCheckpoint(
  runDir: string,
  epoch: number,
  expect: { fcn?: StateDict; disc?: StateDict } = {},
): CheckpointData & { metadata: Record<string, string> } {
  const dir = epochDir(runDir, epoch);
  if (!existsSync(dir)) throw new InputError(dir, 'no such checkpoint');
  const why = incompleteReason(dir, epoch);
  if (why) throw new InputError(dir, `incomplete checkpoint: ${why}`);
  const marker = readMarker(join(dir, DONE_FILE)) as { files: Record<string, unknown> };
  const readBytes = (name: string): Uint8Array => {
    const path = join(dir, name);
    const entry = marker.files[name];
    if (entry === undefined) throw new InputError(path, 'not listed in the done marker');
    const sha = entry !== null && typeof entry === 'object' ? (entry as { sha256?: unknown }).sha256 : undefined;
    if (typeof sha !== 'string') throw new InputError(join(dir, DONE_FILE), `no SHA-256 for ${name}: written by an older version, the checkpoint cannot be verified`);
    const bytes = readInputFile(path);
    const actual = sha256Hex(bytes);
    if (actual !== sha) throw new InputError(path, `SHA-256 ${actual} differs from the ${sha} recorded in the done marker: the file is corrupted`);
    return bytes;
  };
  const fcnPath = join(dir, 'fcn.safetensors');
  const discPath = join(dir, 'disc.safetensors');
  const weights = (name: string, own: StateDict | undefined): { tensors: Record<string, Tensor>; metadata: Record<string, string> } => {
    const path = join(dir, name);
    const bytes = readBytes(name);
    const raw = decodeSafetensorsRaw(bytes, path);
    if (own) return { tensors: checkStateDict(own, raw.tensors, path), metadata: raw.metadata };
    checkFiniteTensors(raw.tensors, path);
    return decodeSafetensors(bytes, path);
  };
  const fcnFile = weights('fcn.safetensors', expect.fcn);
  const disc = weights('disc.safetensors', expect.disc).tensors;
  const optimPath = join(dir, 'optim.json');
  const optimText = new TextDecoder().decode(readBytes('optim.json'));
  let json: unknown;
  try {
    json = JSON.parse(optimText);
  } catch (e) {
    throw new InputError(optimPath, `not valid JSON (${(e as Error).message})`);
  }
  const tensorsPath = join(dir, 'optim.safetensors');
  let tensors: Record<string, SafeTensor> = {};
  if (marker.files['optim.safetensors'] !== undefined) {
    tensors = decodeSafetensorsRaw(readBytes('optim.safetensors'), tensorsPath).tensors;
  }
  return { fcn: fcnFile.tensors, disc, state: joinState(json, tensors, optimPath), metadata: fcnFile.metadata };
}

// ---------------------------------------------------------------------------------------------
// Config, samples, metrics.

export function writeConfig(runDir: string, config: unknown): void {
  makeOutputDir(runDir);
  writeFileAtomic(join(runDir, CONFIG_FILE), JSON.stringify(config, null, 2) + '\n');
}

export function readConfig(runDir: string): unknown {
  const path = join(runDir, CONFIG_FILE);
  const text = readText(path);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(path, `not valid JSON (${(e as Error).message})`);
  }
}

/** Writes samples/epoch-NNNN.png (PNG bytes encoded by the caller). */
export function writeSample(runDir: string, epoch: number, png: Uint8Array): string {
  const path = samplePath(runDir, epoch);
  makeOutputDir(join(runDir, SAMPLES_DIR));
  writeFileAtomic(path, png);
  return path;
}

/**
 * Appends one row to metrics.jsonl (created if absent) and fsyncs it. A last line left without
 * its newline by a killed run is cut off first, so rows never run together.
 */
export function appendMetrics(runDir: string, row: Record<string, unknown>): void {
  appendMetricsRows(runDir, [row]);
}

/** appendMetrics for several rows with one write. */
export function appendMetricsRows(runDir: string, rows: readonly Record<string, unknown>[]): void {
  makeOutputDir(runDir);
  const path = join(runDir, METRICS_FILE);
  const text = rows.map((r) => JSON.stringify(r, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)) + '\n').join('');
  let fd: number | undefined;
  try {
    let prefix = '';
    if (existsSync(path)) {
      const bytes = readInputFile(path);
      if (bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a) {
        // A last line without its newline: keep it when it is a whole row (as readMetrics does),
        // else cut it off.
        const start = bytes.lastIndexOf(0x0a) + 1;
        if (isJsonObject(new TextDecoder().decode(bytes.subarray(start)))) prefix = '\n';
        else truncateSync(path, start);
      }
    }
    fd = openSync(path, 'a');
    const data = new TextEncoder().encode(prefix + text);
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } catch (e) {
    throw new UserError(`${path}: cannot append (${(e as Error).message})`, ExitCode.badOutput);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function isJsonObject(line: string): boolean {
  try {
    const v: unknown = JSON.parse(line);
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  } catch {
    return false;
  }
}

export interface MetricsFile {
  rows: Record<string, unknown>[];
  /** True when the last line was cut short (a killed run) and was left out. */
  truncated: boolean;
}

/**
 * Reads metrics.jsonl ({rows: [], truncated: false} when absent). A last line without its
 * newline that does not parse is left out (truncated: true); any other bad line is an InputError
 * naming the line. Non-finite numbers written as "NaN" / "Infinity" strings stay strings.
 */
export function readMetricsFile(runDir: string): MetricsFile {
  const path = join(runDir, METRICS_FILE);
  if (!existsSync(path)) return { rows: [], truncated: false };
  const text = readText(path);
  const lines = text.split('\n');
  const complete = text.endsWith('\n') || text.length === 0;
  const rows: Record<string, unknown>[] = [];
  let truncated = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    const partial = !complete && i === lines.length - 1;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      if (partial) {
        truncated = true;
        continue;
      }
      throw new InputError(path, `line ${i + 1} is not valid JSON`);
    }
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      if (partial) {
        truncated = true;
        continue;
      }
      throw new InputError(path, `line ${i + 1} is not a JSON object`);
    }
    rows.push(row as Record<string, unknown>);
  }
  return { rows, truncated };
}

/** The rows of metrics.jsonl (readMetricsFile without the truncation flag). */
export function readMetrics(runDir: string): Record<string, unknown>[] {
  return readMetricsFile(runDir).rows;
}

/**
 * Rewrites metrics.jsonl keeping only the rows `keep` accepts (atomically), e.g. to drop rows
 * logged after the checkpoint a run resumes from. Returns the number of rows dropped.
 */
export function filterMetrics(runDir: string, keep: (row: Record<string, unknown>) => boolean): number {
  const { rows, truncated } = readMetricsFile(runDir);
  const kept = rows.filter(keep);
  if (kept.length === rows.length && !truncated) return 0;
  writeFileAtomic(join(runDir, METRICS_FILE), kept.map((r) => JSON.stringify(r) + '\n').join(''));
  return rows.length - kept.length;
}

/**
 * Drops the rows logged after training step `step` (rows whose numeric `step` field is larger),
 * used when a run resumes from a checkpoint taken at that step. Returns the number dropped.
 */
export function truncateMetrics(runDir: string, step: number): number {
  return filterMetrics(runDir, (r) => !(typeof r.step === 'number' && r.step > step));
}
