/**
 * Shared helpers of the reliability suite: build dist/cli.js once per test run (several test
 * files run in parallel worker processes, so the build is guarded by a lock folder and a stamp
 * naming the vitest main process), run the CLI as a child process, and craft bad input files.
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeTiff, type TiffSpec } from '../io/helpers/tiff-writer.js';
import { buildPng, pngChunk } from '../io/helpers/png-builder.js';
import { PNG_SIGNATURE } from '../../src/io/png.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
export const CLI = join(ROOT, 'dist', 'cli.js');

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Runs `node build.mjs` once per vitest run (the first worker builds, the others wait). */
export function ensureBuilt(): void {
  const stamp = join(ROOT, 'dist', `.reliability-built-${process.ppid}`);
  if (existsSync(stamp)) return;
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  const lock = join(ROOT, 'dist', '.reliability-build-lock');
  const t0 = Date.now();
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(stamp)) return;
      // A lock left by a killed run: take it over after 2 minutes.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 120_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        // gone meanwhile
      }
      if (Date.now() - t0 > 300_000) throw new Error('timed out waiting for another worker to build dist/');
      sleepMs(200);
    }
  }
  try {
    if (!existsSync(stamp)) {
      execFileSync(process.execPath, ['build.mjs'], { cwd: ROOT, stdio: 'pipe' });
      for (const f of readdirSync(join(ROOT, 'dist'))) if (f.startsWith('.reliability-built-')) rmSync(join(ROOT, 'dist', f), { force: true });
      writeFileSync(stamp, '');
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/cli.js ...args` and waits for it. */
export function runCli(args: string[], opts: { cwd?: string; timeoutMs?: number; nodeArgs?: string[]; env?: NodeJS.ProcessEnv } = {}): CliResult {
  const r: SpawnSyncReturns<string> = spawnSync(process.execPath, [...(opts.nodeArgs ?? []), CLI, ...args], {
    cwd: opts.cwd ?? ROOT,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 120_000,
    env: { ...process.env, ...opts.env },
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** The error lines the CLI printed (lines starting with `diffrendergan:`). */
export function errorLines(r: CliResult): string[] {
  return r.stderr.split('\n').filter((l) => l.startsWith('diffrendergan:'));
}

const madeDirs = new Set<string>();

/**
 * A fresh folder under the temp directory, remembered until removeTempDirs(): every test file
 * that makes one calls removeTempDirs from afterAll / afterEach (the temp-directory guard,
 * tmp-guard.setup.ts, fails a file that leaves anything behind).
 */
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `drg-rel-${prefix}-`));
  madeDirs.add(d);
  return d;
}

/** Removes every folder tempDir() made in this test file (read-only ones included). */
export function removeTempDirs(): void {
  for (const d of madeDirs) {
    makeWritable(d);
    rmSync(d, { recursive: true, force: true });
  }
  madeDirs.clear();
}

/** chmod u+rwx every folder under `dir`, so that a non-root user can remove a chmod 555 one. */
function makeWritable(dir: string): void {
  let entries: import('node:fs').Dirent[];
  try {
    chmodSync(dir, 0o755);
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) makeWritable(join(dir, e.name));
}

/** Every file under `dir` (relative paths), [] when it does not exist. */
export function listTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const r = rel ? `${rel}/${n}` : n;
      if (statSync(p).isDirectory()) {
        out.push(r + '/');
        walk(p, r);
      } else out.push(r);
    }
  };
  walk(dir, '');
  return out;
}

/** Deterministic particle-like grey picture (bright discs on a dark stage), values 0..max. */
export function discs(width: number, height: number, max: number, seed = 1): number[] {
  const out = new Array<number>(width * height).fill(Math.round(max * 0.15));
  let s = seed;
  const rnd = (): number => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const n = Math.max(3, Math.round((width * height) / 400));
  for (let k = 0; k < n; k++) {
    const cx = rnd() * width, cy = rnd() * height, r = 3 + rnd() * 6;
    for (let y = Math.max(0, Math.floor(cy - r)); y < Math.min(height, cy + r); y++) {
      for (let x = Math.max(0, Math.floor(cx - r)); x < Math.min(width, cx + r); x++) {
        if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) out[y * width + x] = Math.round(max * (0.7 + 0.2 * rnd()));
      }
    }
  }
  return out;
}

export function greyPng(width: number, height: number): Uint8Array {
  return buildPng({ width, height, bitDepth: 8, colorType: 0, samples: discs(width, height, 255) });
}

export function greyTiff(width: number, height: number, extra: Partial<TiffSpec> = {}): Uint8Array {
  return encodeTiff({ width, height, bits: 8, photometric: 1, samples: discs(width, height, 255), ...extra });
}

/** A PNG that is only a signature and an IHDR claiming width x height (no pixel data). */
export function pngHeaderOnly(width: number, height: number): Uint8Array {
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grey
  const chunk = pngChunk('IHDR', ihdr);
  const out = new Uint8Array(PNG_SIGNATURE.length + chunk.length);
  out.set(PNG_SIGNATURE, 0);
  out.set(chunk, PNG_SIGNATURE.length);
  return out;
}

/** A little-endian TIFF whose only IFD claims width x height, 8-bit grey, with no strips. */
export function tiffHeaderOnly(width: number, height: number): Uint8Array {
  const tags: [number, number, number][] = [
    [256, 4, width], // ImageWidth LONG
    [257, 4, height], // ImageLength LONG
    [258, 3, 8], // BitsPerSample
    [259, 3, 1], // Compression none
    [262, 3, 1], // min-is-black
  ];
  const buf = new Uint8Array(8 + 2 + tags.length * 12 + 4);
  const dv = new DataView(buf.buffer);
  buf.set([0x49, 0x49, 42, 0]);
  dv.setUint32(4, 8, true);
  dv.setUint16(8, tags.length, true);
  tags.forEach(([tag, type, v], i) => {
    const o = 10 + i * 12;
    dv.setUint16(o, tag, true);
    dv.setUint16(o + 2, type, true);
    dv.setUint32(o + 4, 1, true);
    if (type === 3) dv.setUint16(o + 8, v, true);
    else dv.setUint32(o + 8, v, true);
  });
  return buf;
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}
