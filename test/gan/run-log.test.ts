/**
 * The run folder's train.log (src/node/run-log.ts): what train reports, kept whether or not
 * --quiet hides it, the lines before the folder existed included, appended to on resume.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import '../../src/autodiff/index.js';
import { runTraining } from '../../src/node/train.js';
import { RunLog } from '../../src/node/run-log.js';
import { ExitCode, UserError } from '../../src/errors.js';
import { tinyRealTrainOptions, tempDirWithClumpedDiscs } from './helpers.js';
import { removeTempDirs } from '../reliability/helpers.js';

let dir = '';
beforeAll(() => {
  dir = tempDirWithClumpedDiscs('run-log');
});
afterAll(() => removeTempDirs());

const logLines = (run: string) => readFileSync(join(dir, run, 'train.log'), 'utf8').split('\n').filter((l) => l !== '');

describe('RunLog', () => {
  it('writes the held lines after the start line on attach, then appends', () => {
    const log = new RunLog();
    log.write('before 1');
    log.write('before 2');
    const file = join(dir, 'unit.log');
    log.attach(file, '# started');
    log.write('after');
    expect(readFileSync(file, 'utf8')).toBe('# started\nbefore 1\nbefore 2\nafter\n');
  });

  it('names the file when it cannot be written', () => {
    const notAFolder = join(dir, 'not-a-folder');
    writeFileSync(notAFolder, '');
    const log = new RunLog();
    log.write('held');
    const attach = () => log.attach(join(notAFolder, 'train.log'), '# started');
    expect(attach).toThrow(UserError);
    expect(attach).toThrow(/not-a-folder\/train\.log: cannot append \(a part of the path is not a folder\)/);
    try {
      attach();
    } catch (e) {
      expect((e as UserError).exitCode).toBe(ExitCode.badOutput);
    }
  });
});

describe('train.log of a run folder', () => {
  it('holds what a run prints, with --quiet too, and a resumed run appends to it', async () => {
    const printed: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      printed.push(...String(s).split('\n'));
      return true;
    });
    try {
      await runTraining({ ...tinyRealTrainOptions(join(dir, 'real')), out: join(dir, 'loud'), quiet: false });
    } finally {
      spy.mockRestore();
    }
    await runTraining({ ...tinyRealTrainOptions(join(dir, 'real')), out: join(dir, 'quiet'), quiet: true });
    const loud = logLines('loud');
    const quiet = logLines('quiet');
    expect(loud[0]).toMatch(/^# started \d{4}-\d\d-\d\dT/);
    // the calibrations (logged before the folder existed), the epochs and the choice
    for (const start of ['particle radius', 'particle count', 'epoch 0 (untrained generator)', 'epoch 1:', 'best epoch: 1', 'run folder:']) {
      expect(loud.some((l) => l.startsWith(start)), start).toBe(true);
    }
    // every logged line is one the terminal showed, and --quiet keeps the same lines
    for (const l of loud.slice(1)) expect(printed).toContain(l);
    // the same lines but for the run folder's name and the calibrations' wall times (the size
    // step after the epochs ends its line with its own: '...; 4.4 s)')
    const body = (lines: string[]) =>
      lines
        .slice(1)
        .map((l) => l.replaceAll(join(dir, 'loud'), 'RUN').replaceAll(join(dir, 'quiet'), 'RUN').replace(/ in [\d.]+ s\b/, ' in T s').replace(/; [\d.]+ s\)$/, '; T s)'));
    expect(body(quiet)).toEqual(body(loud));

    await runTraining({ ...tinyRealTrainOptions(join(dir, 'real')), resume: join(dir, 'quiet'), quiet: true });
    const resumed = logLines('quiet');
    expect(resumed.slice(0, quiet.length)).toEqual(quiet);
    expect(resumed[quiet.length]).toMatch(/^# resumed \d{4}-/);
    expect(resumed.slice(quiet.length + 1).some((l) => l.includes('all 1 epochs are done'))).toBe(true);
  });
});
