/**
 * A command that fails halfway leaves no half-written outputs, through the built CLI: a disk
 * that fills up (ENOSPC from fs.writeSync, simulated in the CLI process and in the generate
 * workers it forks by fixtures/enospc-preload.mjs) and an output path under /proc (where Node
 * 20's recursive mkdirSync never returns). Each case: exit code 5, one error line naming a path
 * the user can find (not a hidden temporary one), nothing partial left behind, and a folder the
 * command created for nothing removed again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, errorLines, listTree, removeTempDirs, ROOT, runCli, tempDir, type CliResult } from './helpers.js';

const PRELOAD = join(ROOT, 'test/reliability/fixtures/enospc-preload.mjs');
const TINY = ['--patch', '32', '--epochs', '1', '--steps-per-epoch', '2', '--base-filters', '4', '--configs', '2', '--eval-samples', '1', '--backend', 'reference', '--seed', '3', '--quiet'];
const SEG_TRAIN = ['--epochs', '1', '--batch', '1', '--crop', '32', '--base', '2', '--depth', '1', '--backend', 'reference'];
let dir = '';
let run = '';
let images = '';
let masks = '';

/** The CLI on a disk that is full for the files matching `match`, after the first `after` of them. */
function cliFull(args: string[], match: string, after = 0): CliResult {
  return runCli(args, { nodeArgs: ['--import', PRELOAD], env: { DRG_ENOSPC_MATCH: match, DRG_ENOSPC_AFTER: String(after) }, timeoutMs: 90_000 });
}

function oneError(r: CliResult, re: RegExp): void {
  expect(r.code, r.stderr).toBe(5);
  const lines = errorLines(r);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(re);
  expect(lines[0]).not.toMatch(/\.tmp\b/);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

beforeAll(() => {
  ensureBuilt();
  dir = tempDir('outputs');
  run = join(dir, 'run');
  let r = runCli(['train', ...TINY, '--out', run]);
  expect(r.code, r.stderr).toBe(0);
  const rendered = join(dir, 'rendered');
  r = runCli(['render', '--n', '3', '--size', '48', '--out', rendered, '--quiet']);
  expect(r.code, r.stderr).toBe(0);
  images = join(dir, 'images');
  masks = join(dir, 'masks');
  mkdirSync(images);
  mkdirSync(masks);
  for (const s of readdirSync(rendered)) {
    copyFileSync(join(rendered, s, 'image.png'), join(images, `im${s}.png`));
    copyFileSync(join(rendered, s, 'classes.png'), join(masks, `im${s}.png`));
  }
}, 300_000);
afterAll(removeTempDirs);

describe('the disk fills up halfway (ENOSPC)', () => {
  it('render: the complete samples stay, the failed one leaves no trace, the error names the sample folder', () => {
    const out = join(dir, 'render-full');
    const r = cliFull(['render', '--n', '4', '--size', '32', '--out', out, '--quiet'], String.raw`\.0002\.\d+\.tmp/`);
    oneError(r, new RegExp(`${out}/0002/image\\.png: cannot write: no space left on the device`));
    expect(listTree(out).filter((f) => f.endsWith('/'))).toEqual(['0000/', '0001/']);
    expect(listTree(out).filter((f) => f.split('/').some((part) => part.startsWith('.')))).toEqual([]);
  });

  it('render: a full disk at the first sample removes the folders the run created', () => {
    const out = join(dir, 'render-new', 'a', 'b');
    oneError(cliFull(['render', '--n', '2', '--size', '32', '--out', out, '--quiet'], 'image\\.png'), /0000\/image\.png: cannot write: no space left/);
    expect(existsSync(join(dir, 'render-new'))).toBe(false);
  });

  it('segment predict: no partial result set; a folder it did not create keeps what it held', () => {
    const kept = join(dir, 'predict-existing');
    mkdirSync(kept);
    writeFileSync(join(kept, 'notes.txt'), 'mine');
    // The second overlay PNG fails: the first image's three PNGs were written by then.
    oneError(cliFull(['segment', 'predict', '--method', 'otsu', '--in', images, '--out', kept], '_overlay\\.png', 1), /im0001_overlay\.png: cannot write: no space left/);
    expect(listTree(kept)).toEqual(['notes.txt']);
    const fresh = join(dir, 'predict-new');
    oneError(cliFull(['segment', 'predict', '--method', 'otsu', '--in', images, '--out', fresh], 'particles\\.csv'), /particles\.csv: cannot write: no space left/);
    expect(existsSync(fresh)).toBe(false);
  });

  it('generate (one process): no sample without its mask, the error on a line of its own', () => {
    const out = join(dir, 'generate-1');
    const r = cliFull(['generate', '--run', run, '--n', '8', '--workers', '1', '--out', out], '/masks/', 3);
    oneError(r, /masks\/synth_00003\.png: cannot write: no space left/);
    for (const d of ['images', 'instances', 'meta', 'masks']) expect(readdirSync(join(out, d)).length, d).toBe(3);
    expect(listTree(out).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('generate (two workers): exit code 5 as with one, no sample without its mask', () => {
    const out = join(dir, 'generate-2');
    const r = cliFull(['generate', '--run', run, '--n', '12', '--workers', '2', '--out', out], '/masks/', 2);
    oneError(r, /generate worker \d failed \(exit 5\): .*masks\/synth_\d+\.png: cannot write: no space left/);
    const stems = (d: string, ext: string) => readdirSync(join(out, d)).map((f) => f.replace(ext, '')).sort();
    const done = stems('masks', '.png');
    expect(done.length).toBe(4); // two per worker
    expect(stems('images', '.png')).toEqual(done);
    expect(stems('instances', '.png')).toEqual(done);
    expect(stems('meta', '.json')).toEqual(done);
    expect(listTree(out).filter((f) => f.includes('.tmp'))).toEqual([]);
  });
});

describe('an --out that is a regular file: exit code 5 before any work', () => {
  it('segment predict and segment train', () => {
    const file = join(dir, 'a-regular-file');
    writeFileSync(file, 'x');
    const p = runCli(['segment', 'predict', '--method', 'otsu', '--in', images, '--out', file]);
    oneError(p, /a-regular-file: cannot create the output folder: exists and is not a folder/);
    expect(p.stdout).not.toMatch(/particles \(/); // nothing segmented first
    const t = runCli(['segment', 'train', '--images', images, '--masks', masks, ...SEG_TRAIN, '--out', file]);
    oneError(t, /a-regular-file: cannot create the output folder: exists and is not a folder/);
    expect(t.stdout).not.toMatch(/epoch 1/);
  });
});

describe('an output folder under /proc: a clear error at once, not a hang', () => {
  const out = '/proc/drg-no-such-folder/out';
  const cases: [string, () => string[]][] = [
    ['train', () => ['train', ...TINY, '--out', out]],
    ['render', () => ['render', '--n', '1', '--size', '32', '--out', out]],
    ['generate', () => ['generate', '--run', run, '--n', '1', '--workers', '1', '--out', out]],
    ['segment predict', () => ['segment', 'predict', '--method', 'otsu', '--in', images, '--out', out]],
    ['segment train', () => ['segment', 'train', '--images', images, '--masks', masks, ...SEG_TRAIN, '--out', out]],
    ['pipeline', () => ['pipeline', '--real', images, '--budget', 'quick', '--out', out]],
  ];
  for (const [name, args] of cases) {
    it(name, () => {
      const r = runCli(args(), { timeoutMs: 30_000 });
      expect(r.signal, 'timed out: mkdir under /proc hangs').toBeNull();
      oneError(r, /\/proc\/drg-no-such-folder\/out.*cannot create/);
    });
  }
});
