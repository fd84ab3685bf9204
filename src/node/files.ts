/**
 * The Node-only file layer over the pure decoders / encoders: reading images and meshes from
 * paths, listing image folders, and writing PNGs and other outputs atomically. Every failure a
 * user can cause is a UserError naming the path: InputError (exit code badInput) for inputs,
 * UserError with ExitCode.badOutput for outputs.
 */
import { closeSync, constants, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, readdirSync, renameSync, rmdirSync, statSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { ExitCode, InputError, UserError } from '../errors.js';
import { decodeImage, decodeMesh } from '../io/decode.js';
import type { GreyImage } from '../io/grey-image.js';
import type { Mesh } from '../io/mesh.js';
import { encodePngGrey16, encodePngGrey8, encodePngRgb8 } from '../io/png.js';

/** File name endings that listImageFiles picks up in a directory (case-insensitive). */
export const IMAGE_EXTENSIONS = ['.png', '.tif', '.tiff'];

function reason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EROFS':
      return 'read-only file system';
    default:
      return code ?? (e instanceof Error ? e.message : String(e));
  }
}

/** Whether an input path is a directory; a path that cannot be reached -> InputError. */
function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch (e) {
    throw new InputError(path, `cannot read: ${reason(e)}`);
  }
}

/**
 * The largest input file any command reads (images, meshes, configs, checkpoints, run-folder
 * JSON): 512 MiB. Larger files, and anything that is not a regular file (a device such as
 * /dev/zero, a FIFO, a socket), are refused before a byte is read, so no input can exhaust
 * memory or block forever.
 */
export const MAX_INPUT_FILE_BYTES = 512 * 2 ** 20;

/**
 * Reads a whole input file: checked first to be a regular file (a FIFO, a device or a directory
 * -> InputError, without opening it) of at most `maxBytes` bytes. Every reader of user or run
 * files goes through here. A missing or unreadable file -> InputError naming it (exit 3).
 */
export function readInputFile(path: string, maxBytes: number = MAX_INPUT_FILE_BYTES): Uint8Array {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new InputError(path, `cannot read: ${reason(e)}`);
  }
  if (st.isDirectory()) throw new InputError(path, 'is a directory, not a file');
  if (!st.isFile()) throw new InputError(path, `is not a regular file (${fileKind(st)}); only regular files are read`);
  if (st.size > maxBytes) throw new InputError(path, `file of ${st.size} bytes is larger than the limit of ${maxBytes} bytes`);
  let fd: number | undefined;
  try {
    // O_NONBLOCK: should the path have been swapped for a FIFO since the stat, open does not wait for a writer
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const again = fstatSync(fd);
    if (!again.isFile()) throw new InputError(path, `is not a regular file (${fileKind(again)}); only regular files are read`);
    if (again.size > maxBytes) throw new InputError(path, `file of ${again.size} bytes is larger than the limit of ${maxBytes} bytes`);
    const buf = new Uint8Array(again.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break; // shrank while reading: what was there
      off += n;
    }
    return off === buf.length ? buf : buf.subarray(0, off);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(path, `cannot read: ${reason(e)}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function fileKind(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a file';
}

/** An input file read as UTF-8 text (see readInputFile). */
export function readInputText(path: string, maxBytes: number = MAX_INPUT_FILE_BYTES): string {
  return new TextDecoder().decode(readInputFile(path, maxBytes));
}

/** An input file parsed as JSON (see readInputFile); invalid JSON -> InputError naming the file. */
export function readInputJson(path: string, maxBytes: number = MAX_INPUT_FILE_BYTES): unknown {
  const text = readInputText(path, maxBytes);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(path, `invalid JSON: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** Reads and decodes a PNG or TIFF image (see decodeImage). */
export function readImageFile(path: string): GreyImage {
  return decodeImage(readInputFile(path), path);
}

/** Reads, decodes and validates a PLY or OBJ mesh (see decodeMesh). */
export function readMeshFile(path: string): Mesh {
  return decodeMesh(readInputFile(path), path);
}

/**
 * Expands the arguments into image paths: a directory gives its .png / .tif / .tiff files (not
 * recursively), sorted by name; a file is taken as given. A missing path, or no image at all,
 * -> InputError.
 */
export function listImageFiles(dirOrFiles: string[]): string[] {
  const out: string[] = [];
  for (const p of dirOrFiles) {
    if (!isDirectory(p)) {
      out.push(p);
      continue;
    }
    let names: string[];
    try {
      names = readdirSync(p);
    } catch (e) {
      throw new InputError(p, `cannot list the directory: ${reason(e)}`);
    }
    const images = names
      .filter((n) => IMAGE_EXTENSIONS.some((ext) => n.toLowerCase().endsWith(ext)))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .map((n) => join(p, n))
      .filter((f) => {
        try {
          return statSync(f).isFile();
        } catch {
          return false;
        }
      });
    out.push(...images);
  }
  if (out.length === 0) {
    throw new InputError(dirOrFiles.join(', ') || '(no paths given)', `no ${IMAGE_EXTENSIONS.join(' / ')} images found`);
  }
  return out;
}

/**
 * mkdir -p, one level at a time. Node 20's mkdirSync(dir, { recursive: true }) never returns for
 * a path under /proc (mkdir there fails with ENOENT although the parent exists, and Node keeps
 * retrying); here that is an Error saying so (no errno code, so callers print its message). A
 * folder made meanwhile by a parallel process (EEXIST) is fine. Returns the topmost folder this
 * call created (for removeIfEmpty on a later failure), or undefined when `dir` was there. A
 * `dir` that exists as something else than a folder is an Error saying so.
 */
export function makeDirs(dir: string): string | undefined {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); ) {
    missing.push(d);
    const parent = dirname(d);
    if (parent === d) break;
    d = parent;
  }
  if (missing.length === 0 && !statSync(dir).isDirectory()) throw new Error('exists and is not a folder');
  let top: string | undefined;
  let deepest = '';
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      mkdirSync(missing[i]);
      top ??= missing[i];
      deepest = missing[i];
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statSync(missing[i]).isDirectory()) continue;
      removeIfEmpty(top, deepest); // the levels made before the failure
      if (code === 'ENOENT' && existsSync(dirname(missing[i]))) {
        throw new Error(`the file system does not allow new folders in ${dirname(missing[i])} (mkdir: ENOENT although it exists)`);
      }
      throw e;
    }
  }
  return top;
}

/** Why a file-system call failed, in words (its errno code, else its message). */
export function fsErrorText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const text: Record<string, string> = {
    ENOENT: 'no such file or directory', EACCES: 'permission denied', EPERM: 'permission denied', ENOTDIR: 'a part of the path is not a folder',
    EROFS: 'read-only file system', ENOSPC: 'no space left on the device', EEXIST: 'exists',
  };
  return (code && text[code]) ?? code ?? (e as Error).message;
}

/**
 * Creates an output folder and its parents (makeDirs); an unusable path is a UserError (exit
 * code badOutput): "DIR: cannot create the output folder: WHY". Returns the topmost folder it
 * created (for removeIfEmpty on a later failure), undefined when the folder was there.
 */
export function makeOutputDir(dir: string): string | undefined {
  try {
    return makeDirs(dir);
  } catch (e) {
    throw new UserError(`${dir}: cannot create the output folder: ${fsErrorText(e)}`, ExitCode.badOutput);
  }
}

/**
 * Removes `top` and the folders below it on the way to `dir` (both as makeDirs returned / was
 * given them) where they are empty, deepest first: what a failed command created but never
 * filled. Never throws; a folder that holds anything stays.
 */
export function removeIfEmpty(top: string | undefined, dir: string): void {
  if (top === undefined) return;
  const stop = resolve(top);
  for (let d = resolve(dir); d === stop || d.startsWith(stop + sep); d = dirname(d)) {
    try {
      rmdirSync(d); // fails unless empty
    } catch {
      return;
    }
    if (d === stop) return;
  }
}

let tempCounter = 0;

/** Names writeFileAtomic gives its temporary files: .NAME.PID.TIME.N.tmp */
const TEMP_NAME = /^\..+\.(\d+)\.[0-9a-z]+\.\d+\.tmp$/;

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, owned by someone else
  }
}

/**
 * Removes the temporary files writeFileAtomic left in `dir` when its process was killed
 * mid-write (a rerun calls this on the folders it writes to); files of a process still running
 * are left alone. Returns how many were removed; never throws.
 */
export function removeStaleTempFiles(dir: string): number {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const n of names) {
    const m = TEMP_NAME.exec(n);
    if (!m || processAlive(Number(m[1]))) continue;
    try {
      unlinkSync(join(dir, n));
      removed++;
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
  return removed;
}

/**
 * Writes `data` to `path` so that readers never see a partial file: a temporary file in the same
 * directory is written and fsync'ed, then renamed over `path`. On failure the temporary file is
 * removed and a UserError naming the path (ExitCode.badOutput) is thrown.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.${tempCounter++}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o644);
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already failing; the original error is the one to report
      }
    }
    try {
      unlinkSync(tmp);
    } catch {
      // the temporary file may not exist
    }
    throw new UserError(`${path}: cannot write: ${reason(e)}`, ExitCode.badOutput);
  }
}

/** Writes an 8-bit greyscale PNG (floats in [0, 1] are clamped and rounded; bytes as they are). */
export function writePngGrey8(path: string, width: number, height: number, data: Float32Array | Uint8Array): void {
  writeFileAtomic(path, encodePngGrey8(width, height, data));
}

/** Writes a 16-bit greyscale PNG, e.g. an instance map (0 = background, k = particle k). */
export function writePngGrey16(path: string, width: number, height: number, data: Uint16Array): void {
  writeFileAtomic(path, encodePngGrey16(width, height, data));
}

/** Writes an 8-bit RGB PNG from interleaved r, g, b bytes. */
export function writePngRgb8(path: string, width: number, height: number, rgb: Uint8Array): void {
  writeFileAtomic(path, encodePngRgb8(width, height, rgb));
}
