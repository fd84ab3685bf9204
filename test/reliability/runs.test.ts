/**
 * Interrupted and failing training runs through the built CLI: a SIGKILL mid-epoch and
 * `--resume` end with the same weights as an uninterrupted run; the remains of a crash between a
 * temp write and its rename (stray temp files, a checkpoint folder without `done`) are ignored by
 * `--resume`; a numerical fault stops the run with exit code 6 naming the loss / parameter and
 * keeps the last good checkpoint; an unwritable --out fails with exit code 5 before any work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { decodeSafetensorsRaw } from '../../src/io/safetensors.js';
import { CLI, ensureBuilt, errorLines, listTree, runCli, removeTempDirs, tempDir, type CliResult } from './helpers.js';

const TINY = ['--patch', '32', '--epochs', '3', '--steps-per-epoch', '4', '--base-filters', '4', '--configs', '4', '--eval-samples', '2', '--backend', 'reference', '--seed', '3'];
let dir = '';
let runA = '';

/** name -> tensor bytes of every safetensors file of a checkpoint. */
function checkpointTensors(run: string, epoch: number): Record<string, Buffer> {
  const cdir = join(run, `epoch-${String(epoch).padStart(4, '0')}`);
  const out: Record<string, Buffer> = {};
  for (const f of ['fcn.safetensors', 'disc.safetensors', 'optim.safetensors']) {
    const file = decodeSafetensorsRaw(readFileSync(join(cdir, f)), f);
    for (const [k, t] of Object.entries(file.tensors)) out[`${f}:${k}`] = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  }
  return out;
}

function expectSameWeights(a: string, b: string, epoch: number): void {
  const ta = checkpointTensors(a, epoch);
  const tb = checkpointTensors(b, epoch);
  expect(Object.keys(tb).sort()).toEqual(Object.keys(ta).sort());
  expect(Object.keys(ta).length).toBeGreaterThan(10);
  for (const k of Object.keys(ta)) expect(tb[k].equals(ta[k]), k).toBe(true);
}

function oneError(r: CliResult, code: number, re: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  const lines = errorLines(r);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(re);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

function stepRows(run: string): { epoch: number; step: number }[] {
  const p = join(run, 'metrics.jsonl');
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8')
    .split('\n')
    .filter((l) => l.endsWith('}'))
    .map((l) => { try { return JSON.parse(l); } catch { return {}; } })
    .filter((r) => r.type === 'step');
}

/** Every file of a folder with its bytes. */
function snapshot(d: string): Record<string, string> {
  return Object.fromEntries(readdirSync(d).map((f) => [f, readFileSync(join(d, f)).toString('base64')]));
}

beforeAll(() => {
  ensureBuilt();
  dir = tempDir('runs');
  runA = join(dir, 'uninterrupted');
  const r = runCli(['train', ...TINY, '--out', runA, '--quiet']);
  expect(r.code, r.stderr).toBe(0);
}, 300_000);
afterAll(removeTempDirs);

describe('kill and resume', () => {
  it('SIGKILL mid-epoch 2, then --resume: the final checkpoint equals the uninterrupted run bit for bit', async () => {
    const runB = join(dir, 'killed');
    const child = spawn(process.execPath, [CLI, 'train', ...TINY, '--out', runB, '--quiet'], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((res) => child.on('exit', (_c, s) => res(s)));
    const t0 = Date.now();
    let killedAt: { epoch: number; step: number } | undefined;
    while (Date.now() - t0 < 120_000) {
      const rows = stepRows(runB);
      const last = rows[rows.length - 1];
      if (last && last.epoch === 2) {
        child.kill('SIGKILL');
        killedAt = last;
        break;
      }
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    // Timed out without seeing epoch 2: stop the child anyway, so it writes nothing after the test.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(killedAt, 'the run ended before a step of epoch 2 was seen').toBeDefined();
    // The kill left epoch 2 unfinished: no complete checkpoint for it (epoch 1 at most).
    expect(existsSync(join(runB, 'epoch-0002', 'done'))).toBe(false);
    expect(existsSync(join(runB, 'epoch-0001', 'done'))).toBe(true);
    const r = runCli(['train', '--resume', runB, '--backend', 'reference']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/resuming .* after epoch 1 \(step 4\)/);
    expectSameWeights(runA, runB, 3);
    // metrics.jsonl holds each step once, in order, as in the uninterrupted run.
    expect(stepRows(runB).map((x) => x.step)).toEqual(stepRows(runA).map((x) => x.step));
  }, 300_000);

  it('the remains of a crash between temp write and rename (stray temp files, epoch folder without done) are ignored by --resume', () => {
    const runC = join(dir, 'crashed-while-saving');
    cpSync(runA, runC, { recursive: true });
    const e3 = join(runC, 'epoch-0003');
    rmSync(join(e3, 'done'));
    // A temp file written but never renamed (the writer's naming scheme), garbage in it.
    writeFileSync(join(e3, `.disc.safetensors.99999.lx0.7.tmp`), 'half a file');
    writeFileSync(join(runC, `.report.html.99999.lx0.8.tmp`), '<html');
    // epoch 3's weight files replaced by garbage of another size: without `done` they must not count.
    writeFileSync(join(e3, 'fcn.safetensors'), 'not weights');
    // A later epoch folder with a done marker whose sizes do not match (a torn copy).
    mkdirSync(join(runC, 'epoch-0004'));
    writeFileSync(join(runC, 'epoch-0004', 'done'), JSON.stringify({ epoch: 4, files: { 'fcn.safetensors': 123 } }));
    const r = runCli(['train', '--resume', runC, '--backend', 'reference']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/resuming .* after epoch 2 \(step 8\)/);
    expectSameWeights(runA, runC, 3);
    expect(existsSync(join(e3, 'done'))).toBe(true);
  }, 300_000);
});

describe('numerical faults', () => {
  function faultyRun(name: string, lrD: number): string {
    const run = join(dir, name);
    cpSync(runA, run, { recursive: true });
    rmSync(join(run, 'epoch-0002'), { recursive: true });
    rmSync(join(run, 'epoch-0003'), { recursive: true });
    const cfg = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
    cfg.gan.lrD = lrD; // the fault: a discriminator update far too large for float32
    writeFileSync(join(run, 'config.json'), JSON.stringify(cfg));
    return run;
  }

  it('a weight pushed to Inf by an update: exit code 6 naming the parameter and the step; epoch 1 kept intact', () => {
    const run = faultyRun('inf-weight', 1e39);
    const before = snapshot(join(run, 'epoch-0001'));
    const r = runCli(['train', '--resume', run, '--quiet']);
    oneError(r, 6, /discriminator parameter 'net\.0\.weight' is -?Infinity after the optimiser update of step 4 .*learning rate/);
    expect(errorLines(r)[0]).toMatch(/run stopped; the last complete checkpoint, epoch 1, is kept in /);
    expect(snapshot(join(run, 'epoch-0001'))).toEqual(before);
    expect(existsSync(join(run, 'epoch-0002', 'done'))).toBe(false);
  });

  it('a loss that turns NaN: exit code 6 naming the loss and the step; epoch 1 kept intact', () => {
    const run = faultyRun('nan-loss', 1e38);
    const before = snapshot(join(run, 'epoch-0001'));
    const r = runCli(['train', '--resume', run, '--quiet']);
    oneError(r, 6, /(generator|discriminator) loss is NaN at step \d+ \(run stopped; the last complete checkpoint, epoch 1, is kept/);
    expect(snapshot(join(run, 'epoch-0001'))).toEqual(before);
    expect(existsSync(join(run, 'epoch-0002', 'done'))).toBe(false);
  });
});

describe('unwritable output: exit code 5 before any work', () => {
  // Tests run as root in CI, where chmod does not stop writes: a path under a regular file
  // cannot be created by anyone (ENOTDIR). (An --out under /proc, where Node's recursive
  // mkdirSync never returns, is covered by outputs.test.ts.)
  let blocker = '';
  beforeAll(() => {
    blocker = join(dir, 'a-regular-file');
    writeFileSync(blocker, 'x');
  });

  const outs = (): [string, string][] => [
    ['under a regular file', join(blocker, 'out')],
  ];

  it('train (demo and real): fails before the first step', () => {
    for (const [why, out] of outs()) {
      const r = runCli(['train', ...TINY, '--out', out]);
      oneError(r, 5, new RegExp(`--out ${out}: cannot create or write the folder`));
      // No training happened (shown by the output, not by wall time): no epoch, step or evaluation line.
      expect(r.stderr, why).not.toMatch(/epoch \d|step \d+\/|realism/);
    }
  });

  it('render, generate, segment train, segment predict', () => {
    for (const [, out] of outs()) {
      oneError(runCli(['render', '--n', '1', '--size', '32', '--out', out]), 5, /cannot create the output folder/);
      oneError(runCli(['generate', '--run', runA, '--n', '1', '--workers', '1', '--out', out]), 5, /cannot create or write the folder/);
      const img = join(dir, 'seg-in');
      if (!existsSync(img)) cpSync(join(runA, 'samples'), img, { recursive: true });
      oneError(runCli(['segment', 'predict', '--method', 'otsu', '--in', img, '--out', out]), 5, /cannot create/);
    }
  });

  it('a read-only folder (chmod 555) when not running as root', () => {
    const ro = join(dir, 'read-only');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    let root = false;
    try {
      writeFileSync(join(ro, 'probe'), '');
      root = true; // chmod does not stop this user (root): nothing to check here
    } catch {
      // expected for an ordinary user
    }
    if (!root) oneError(runCli(['train', ...TINY, '--out', join(ro, 'run')]), 5, /cannot create or write the folder \((EACCES|EPERM)\)/);
    chmodSync(ro, 0o755);
    expect(listTree(ro).filter((f) => f !== 'probe')).toEqual([]);
  });
});
