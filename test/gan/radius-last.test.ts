/**
 * train's radiusLast (TrainOptions.radiusLast, --radius-last): the second, upper-quartile radius
 * step runs after the second agglomerate pass, on the whole-object scene the pairs are rendered
 * from, instead of before that pass. Without the second pass the order changes nothing; with the
 * window applied before the second pass (windowCalibrated) it is ignored (the radius step
 * measures whole objects); off by default.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../src/autodiff/index.js';
import { runTraining, type TrainOptions } from '../../src/node/train.js';
import { presetRadiusLast } from '../../src/gan/calibrate.js';
import { tinyRealTrainOptions, tempDirWithClumpedDiscs } from './helpers.js';
import type { SceneConfig } from '../../src/render/config.js';
import { removeTempDirs } from '../reliability/helpers.js';

let dir = '';
beforeAll(() => {
  dir = tempDirWithClumpedDiscs('radius-last');
});
afterAll(() => removeTempDirs());

/** The run's log lines (train.log) that name a calibration step, in order (train logs each step). */
async function trainLogged(opts: TrainOptions): Promise<string[]> {
  await runTraining(opts);
  return readFileSync(join(opts.out!, 'train.log'), 'utf8').split('\n').filter((l) => /^(particle radius|agglomerates)/.test(l));
}

describe('the second radius step after the second agglomerate pass', () => {
  it('is off by default for every preset', () => {
    expect(presetRadiusLast('tio2-sem')).toBe(false);
    expect(presetRadiusLast('tio2-him')).toBe(false);
  });

  it('runs on the final scene, changes nothing without the second pass and is ignored where the window comes first', async () => {
    const common: TrainOptions = {
      ...tinyRealTrainOptions(join(dir, 'real')), windowMargin: 0,
      radiusCalibration: 'upper-quartile', recalibrateAgglomerates: 'on',
    };
    const scene = (run: string): SceneConfig => JSON.parse(readFileSync(join(dir, run, 'config.json'), 'utf8')).gan.scene;
    const before = await trainLogged({ ...common, out: join(dir, 'before'), radiusLast: false });
    const last = await trainLogged({ ...common, out: join(dir, 'last'), radiusLast: true });
    const kind = (l: string) => (l.startsWith('particle radius') ? 'radius' : 'agglomerates');
    // default order: radius, agglomerates, radius, agglomerates again; radiusLast: the second radius step last
    expect(before.map(kind)).toEqual(['radius', 'agglomerates', 'radius', 'agglomerates']);
    expect(last.map(kind)).toEqual(['radius', 'agglomerates', 'agglomerates', 'radius']);
    expect(last[3]).toContain('final scene, after the second agglomerate pass');
    // the first radius step and the first agglomerate pass are the same in both runs
    expect(last.slice(0, 2)).toEqual(before.slice(0, 2));
    // the final scene holds the radius the last step chose
    const chosen = Number(/base radius ([\d.]+) px/.exec(last[3])![1]);
    expect(scene('last').particles.baseRadius.toFixed(1)).toBe(chosen.toFixed(1));
    expect(scene('last')).not.toEqual(scene('before'));
    // without the second agglomerate pass the two orders are the same calibration
    await runTraining({ ...common, out: join(dir, 'one-pass'), recalibrateAgglomerates: 'off', radiusLast: false });
    await runTraining({ ...common, out: join(dir, 'one-pass-last'), recalibrateAgglomerates: 'off', radiusLast: true });
    expect(scene('one-pass-last')).toEqual(scene('one-pass'));
    // windowCalibrated puts the window before the second pass: radiusLast is ignored there
    await runTraining({ ...common, out: join(dir, 'window-first'), windowMargin: undefined, windowCalibrated: true, radiusLast: false });
    await runTraining({ ...common, out: join(dir, 'window-first-last'), windowMargin: undefined, windowCalibrated: true, radiusLast: true });
    expect(scene('window-first-last')).toEqual(scene('window-first'));
  }, 600_000);
});
