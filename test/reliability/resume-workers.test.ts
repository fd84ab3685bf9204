/**
 * `train --resume RUN --epochs N` continues to N epochs or says why not; `generate`'s worker
 * processes stop when their parent is killed, and a rerun removes the temporary files a killed
 * writer left (issue 18).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, ensureBuilt, errorLines, removeTempDirs, runCli, tempDir } from './helpers.js';

const TINY = ['--patch', '32', '--epochs', '2', '--steps-per-epoch', '1', '--base-filters', '4', '--configs', '2', '--eval-samples', '1', '--backend', 'reference', '--seed', '5'];
let dir = '';
let run = '';

beforeAll(() => {
  ensureBuilt();
  dir = tempDir('resume');
  run = join(dir, 'run');
  const r = runCli(['train', ...TINY, '--quiet', '--out', run]);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => removeTempDirs());

const epochsDone = (): string[] => readdirSync(run).filter((n) => /^epoch-\d+$/.test(n) && existsSync(join(run, n, 'done'))).sort();

describe('train --resume --epochs N', () => {
  it('a finished run without --epochs: says all epochs are done and trains nothing', () => {
    const r = runCli(['train', '--resume', run]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/all 2 epochs are done; nothing to train \(pass --epochs N with N > 2 to train further\)/);
    expect(epochsDone()).toEqual(['epoch-0001', 'epoch-0002']);
  });

  it('--epochs 3 continues to epoch 3 and records the new total', () => {
    const r = runCli(['train', '--resume', run, '--epochs', '3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/--epochs 3: the run now goes to 3 epochs \(was 2\)/);
    expect(epochsDone()).toEqual(['epoch-0001', 'epoch-0002', 'epoch-0003']);
    expect(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).gan.epochs).toBe(3);
  });

  it('--epochs below the epochs done is a usage error naming both', () => {
    const r = runCli(['train', '--resume', run, '--epochs', '1']);
    expect(r.code).toBe(2);
    expect(errorLines(r)[0]).toMatch(/--epochs 1: .* already holds 3 epochs; give --epochs 3 or more/);
    expect(epochsDone()).toEqual(['epoch-0001', 'epoch-0002', 'epoch-0003']);
  });
});

/** Child pids of `pid` (Linux /proc). */
function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('generate workers and interrupted writes', () => {
  it('workers exit when the parent is killed; a rerun removes stale temp files and completes', async () => {
    const out = join(dir, 'data');
    const parent = spawn(process.execPath, [CLI, 'generate', '--run', run, '--out', out, '--n', '400', '--workers', '2', '--quiet'], { cwd: ROOT, stdio: 'ignore' });
    // Wait until both workers exist and have written a sample (the loop is running).
    let workers: number[] = [];
    for (let i = 0; i < 600 && (workers.length < 2 || !existsSync(join(out, 'masks', 'synth_00001.png'))); i++) {
      await sleep(100);
      workers = children(parent.pid!);
    }
    expect(workers.length).toBe(2);
    parent.kill('SIGKILL');
    // Orphaned, each worker notices at its next sample and exits; they never reach sample 400.
    for (let i = 0; i < 600 && workers.some(alive); i++) await sleep(100);
    expect(workers.filter(alive)).toEqual([]);
    const written = readdirSync(join(out, 'masks')).length;
    expect(written).toBeLessThan(400);
    // A temporary file as a writer killed mid-write leaves it (its pid is gone).
    const stale = join(out, 'images', `.synth_00399.png.${workers[0]}.abc.0.tmp`);
    writeFileSync(stale, 'partial');
    const r = runCli(['generate', '--run', run, '--out', out, '--n', '400', '--workers', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/removed 1 temporary file\(s\) left by an interrupted run/);
    expect(existsSync(stale)).toBe(false);
    expect(readdirSync(join(out, 'masks')).length).toBe(400);
    for (const d of ['images', 'masks', 'instances', 'meta']) expect(readdirSync(join(out, d)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  }, 300_000);
});
