/**
 * train's second agglomerate calibration (TrainOptions.recalibrateAgglomerates): after the image
 * formation calibration and the second radius calibration, the agglomerate settings and counts
 * are chosen again on renders of that calibrated scene. The run with it must hold exactly what
 * calibrateAgglomerates chooses for the scene the run without it ends with (same images, same
 * seed: everything before the second pass is the same), and leave the image formation and the
 * radius as they were. The preset's window into a larger field (src/render/scene-window.ts) comes
 * after both, or (windowCalibrated) before the second pass, which then calibrates on the window.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../src/autodiff/index.js';
import { runTraining, type TrainOptions } from '../../src/node/train.js';
import { readImageFile } from '../../src/node/files.js';
import { extractPatchesFromImages } from '../../src/gan/patches.js';
import { calibrateAgglomerates, calibrateWindowCounts, presetRecalibrateAgglomerates, presetWindowMargin, MAX_CALIBRATED_COUNT } from '../../src/gan/calibrate.js';
import { sceneStatistics } from '../../src/gan/scene-stats.js';
import { asWindowIntoField } from '../../src/render/scene-window.js';
import { tinyRealTrainOptions, tempDirWithClumpedDiscs } from './helpers.js';
import type { SceneConfig } from '../../src/render/config.js';
import { removeTempDirs } from '../reliability/helpers.js';

let dir = '';
beforeAll(() => {
  dir = tempDirWithClumpedDiscs('recalibrate-agglomerates');
});
afterAll(() => removeTempDirs());

describe('agglomerate calibration again at the calibrated image formation', () => {
  it('tio2-sem does it by default, the other presets do not', () => {
    expect(presetRecalibrateAgglomerates('tio2-sem')).toBe('on');
    expect(presetRecalibrateAgglomerates('tio2-him')).toBe('off');
  });

  it('keeps what calibrateAgglomerates chooses on the finished scene, and nothing else changes', async () => {
    // sizeSpread off: the scenes compared are the calibrations' (tio2-sem's size step after the epochs would change their sizes)
    const common: TrainOptions = { ...tinyRealTrainOptions(join(dir, 'real')), windowMargin: 0, sizeSpread: 'off' };
    await runTraining({ ...common, out: join(dir, 'off'), recalibrateAgglomerates: 'off' });
    await runTraining({ ...common, out: join(dir, 'on'), recalibrateAgglomerates: 'on' });
    const scene = (run: string): SceneConfig => JSON.parse(readFileSync(join(dir, run, 'config.json'), 'utf8')).gan.scene;
    const off = scene('off');
    const on = scene('on');
    // the same real patches train calibrates against (tio2-sem: bright particles)
    const images = ['a', 'b'].map((n) => ({ name: n, image: readImageFile(join(dir, 'real', `${n}.png`)) }));
    const patches = extractPatchesFromImages(images, { patch: 32, cropBottom: 6, polarity: 'bright' }).kept.map((p) => ({ width: 32, height: 32, data: p.data }));
    const again = await calibrateAgglomerates(off, patches, 'bright');
    expect(again).not.toBeNull();
    // on these images the second pass chooses another setting than the first (else this test could not tell them apart)
    expect(on.particles).not.toEqual(off.particles);
    expect(on.particles.count).toEqual(again!.count);
    expect(on.particles.placement).toEqual({ ...off.particles.placement, maxAgglomerates: again!.maxAgglomerates, contact: again!.contact, attach: again!.attach });
    // the image formation and the radius are those of the run without the second pass
    expect(on.params).toEqual(off.params);
    expect(on.particles.baseRadius).toBe(off.particles.baseRadius);
    expect({ ...on, particles: { ...on.particles, count: off.particles.count, placement: off.particles.placement } }).toEqual(off);
    // and last, the preset's window (tio2-sem: 0.35) turns exactly that scene into a window
    await runTraining({ ...common, out: join(dir, 'on-window'), recalibrateAgglomerates: 'on', windowMargin: undefined });
    expect(scene('on-window')).toEqual(asWindowIntoField(on, presetWindowMargin('tio2-sem'), MAX_CALIBRATED_COUNT));
    expect(scene('on-window').particles.placement.outside).toBe(0.35);
    // windowField 'periodic': the same window into a torus (placement.field), nothing else changes
    await runTraining({ ...common, out: join(dir, 'on-periodic'), recalibrateAgglomerates: 'on', windowMargin: undefined, windowField: 'periodic' });
    expect(scene('on-periodic')).toEqual(asWindowIntoField(on, presetWindowMargin('tio2-sem'), MAX_CALIBRATED_COUNT, undefined, 'periodic'));
    expect(scene('on-periodic').particles.placement.field).toBe('periodic');
    expect(scene('on-window').particles.placement.field).toBeUndefined();
    // windowCounts 'coverage': the same window, the counts scaled by the factor calibrateWindowCounts
    // finds on that scene against the real patches' coverage (instead of the grown area)
    await runTraining({ ...common, out: join(dir, 'on-coverage'), recalibrateAgglomerates: 'on', windowMargin: undefined, windowCounts: 'coverage' });
    const byCoverage = calibrateWindowCounts(on, presetWindowMargin('tio2-sem'), sceneStatistics(patches, 'bright').coverage);
    expect(byCoverage).not.toBeNull();
    expect(scene('on-coverage')).toEqual(asWindowIntoField(on, presetWindowMargin('tio2-sem'), MAX_CALIBRATED_COUNT, byCoverage!.countScale));
    expect(scene('on-coverage').particles.count).not.toEqual(scene('on-window').particles.count);
    // windowCalibrated: the window first, then the second pass chooses counts and agglomerates on
    // frame-cut renders (instead of the counts scaled by the grown area)
    await runTraining({ ...common, out: join(dir, 'window-first'), recalibrateAgglomerates: 'on', windowMargin: undefined, windowCalibrated: true });
    const windowed = asWindowIntoField(off, presetWindowMargin('tio2-sem'), MAX_CALIBRATED_COUNT);
    const onWindow = await calibrateAgglomerates(windowed, patches, 'bright');
    const first = scene('window-first');
    expect(first.particles.placement).toEqual({ ...windowed.particles.placement, maxAgglomerates: onWindow!.maxAgglomerates, contact: onWindow!.contact, attach: onWindow!.attach });
    expect(first.particles.placement.outside).toBe(0.35);
    expect(first.particles.count).toEqual(onWindow!.count);
    expect(first.particles).not.toEqual(scene('on-window').particles);
    expect({ ...first, particles: { ...first.particles, count: off.particles.count, placement: off.particles.placement } }).toEqual(off);
  }, 600_000);
});
