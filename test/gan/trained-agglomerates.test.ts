/**
 * The agglomerate calibration once more after the GAN's epochs (--recalibrate-agglomerates
 * trained, src/node/train.ts): on the run's scene as the pairs are rendered (the window applied,
 * its field included) at the chosen epoch's mean learned image formation. The run with it must
 * train exactly what the run with 'on' trains, then hold in config.json what calibrateAgglomerates
 * chooses for that scene (nothing else of the scene changes), record one metrics row (a resume
 * does not run it again), and generate must render that scene; where it cannot apply it is
 * refused before any work.
 */
import { cpSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../src/autodiff/index.js';
import { runTraining, type TrainOptions } from '../../src/node/train.js';
import { runGenerate } from '../../src/node/generate.js';
import * as ckpt from '../../src/node/gan-checkpoint.js';
import { readImageFile } from '../../src/node/files.js';
import { extractPatchesFromImages } from '../../src/gan/patches.js';
import { calibrateAgglomerates, presetRecalibrateAgglomerates } from '../../src/gan/calibrate.js';
import { mergeSceneConfig, type SceneConfig } from '../../src/render/config.js';
import { PRESET_NAMES } from '../../src/render/presets/index.js';
import { tinyRealTrainOptions, tempDirWithClumpedDiscs } from './helpers.js';
import { removeTempDirs } from '../reliability/helpers.js';

let dir = '';
beforeAll(() => {
  dir = tempDirWithClumpedDiscs('trained-agglomerates');
  writeFileSync(join(dir, 'uniform.json'), JSON.stringify({ particles: { placement: { type: 'uniform' } } }));
});
afterAll(() => removeTempDirs());

const ROW = 'agglomerates-trained';
const config = (run: string) => JSON.parse(readFileSync(join(dir, run, 'config.json'), 'utf8'));
const scene = (run: string): SceneConfig => config(run).gan.scene;

describe('agglomerates calibrated again after the epochs (--recalibrate-agglomerates trained)', () => {
  it('no preset does it by default', () => {
    for (const p of PRESET_NAMES) expect(presetRecalibrateAgglomerates(p)).not.toBe('trained');
  });

  it("chooses on the windowed scene at the chosen epoch's mean image formation, once; generate renders it", async () => {
    const common: TrainOptions = { ...tinyRealTrainOptions(join(dir, 'real')), windowField: 'periodic' };
    await runTraining({ ...common, out: join(dir, 'on'), recalibrateAgglomerates: 'on' });
    await runTraining({ ...common, out: join(dir, 'trained'), recalibrateAgglomerates: 'trained' });
    // 'on' runs have no field and no row
    expect(config('on').recalibrateAgglomerates).toBeUndefined();
    expect(ckpt.readMetrics(join(dir, 'on')).some((r) => r.type === ROW)).toBe(false);
    expect(config('trained').recalibrateAgglomerates).toBe('trained');
    // the same GAN was trained: the epochs' rows are the same
    const epochs = (run: string) => ckpt.readMetrics(join(dir, run)).filter((r) => r.type === 'epoch').map(({ seconds: _s, ...r }) => r);
    expect(epochs('trained')).toEqual(epochs('on'));
    const on = scene('on');
    expect(on.particles.placement.outside).toBe(0.35);
    expect(on.particles.placement.field).toBe('periodic');
    // what calibrateAgglomerates chooses for the window at the chosen epoch's mean learned parameters
    const best = JSON.parse(readFileSync(join(dir, 'trained', 'best.json'), 'utf8')).epoch as number;
    const row = ckpt.readMetrics(join(dir, 'trained')).find((r) => r.type === 'epoch' && r.epoch === best)!;
    const images = ['a', 'b'].map((n) => ({ name: n, image: readImageFile(join(dir, 'real', `${n}.png`)) }));
    const patches = extractPatchesFromImages(images, { patch: 32, cropBottom: 6, polarity: 'bright' }).kept.map((p) => ({ width: 32, height: 32, data: p.data }));
    const again = await calibrateAgglomerates(mergeSceneConfig(on, { params: row.paramMean as Record<string, number> }), patches, 'bright');
    expect(again).not.toBeNull();
    const trained = scene('trained');
    expect(trained.particles.count).toEqual(again!.count);
    expect(trained.particles.placement).toEqual({ ...on.particles.placement, maxAgglomerates: again!.maxAgglomerates, contact: again!.contact, attach: again!.attach });
    // here the pass changes the scene (else this test could not tell it from 'on')
    expect(trained.particles).not.toEqual(on.particles);
    // nothing else of the scene changes (the image formation stays the scene's: the GAN learns it)
    expect({ ...trained, particles: { ...trained.particles, count: on.particles.count, placement: on.particles.placement } }).toEqual(on);
    const rows = ckpt.readMetrics(join(dir, 'trained')).filter((r) => r.type === ROW);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ epoch: best, changed: true, after: { count: again!.count, maxAgglomerates: again!.maxAgglomerates } });
    expect(readFileSync(join(dir, 'trained', 'train.log'), 'utf8')).toMatch(/agglomerates after the epochs, at epoch \d+'s mean image formation, on the window \(margin 0\.35, periodic field\)/);
    // resumed: done already, not run again, the scene kept
    await runTraining({ ...common, resume: join(dir, 'trained'), real: undefined });
    expect(ckpt.readMetrics(join(dir, 'trained')).filter((r) => r.type === ROW)).toHaveLength(1);
    expect(scene('trained')).toEqual(trained);
    // generate renders config.json's scene: the 'on' run's weights with the trained scene give the trained run's pairs
    cpSync(join(dir, 'on'), join(dir, 'on-with-trained-scene'), { recursive: true });
    writeFileSync(join(dir, 'on-with-trained-scene', 'config.json'), JSON.stringify({ ...config('on'), gan: { ...config('on').gan, scene: trained } }, null, 2) + '\n');
    const gen = async (run: string) => {
      const out = join(dir, `gen-${run}`);
      await runGenerate({ run: join(dir, run), epoch: 'best', n: 3, out, format: 'png', seed: 2, workers: 1, quiet: true });
      return readdirSync(join(out, 'instances')).sort().map((f) => readFileSync(join(out, 'instances', f)));
    };
    const fromTrained = await gen('trained');
    expect(await gen('on-with-trained-scene')).toEqual(fromTrained);
    expect(await gen('on')).not.toEqual(fromTrained);
  }, 600_000);

  it('--resume --recalibrate-agglomerates trained adds the pass to a finished run', async () => {
    const out = join(dir, 'resumed');
    cpSync(join(dir, 'on'), out, { recursive: true });
    await runTraining({ ...tinyRealTrainOptions(join(dir, 'real')), real: undefined, resume: out, recalibrateAgglomerates: 'trained' });
    expect(config('resumed').recalibrateAgglomerates).toBe('trained');
    expect(ckpt.readMetrics(out).filter((r) => r.type === ROW)).toHaveLength(1);
    expect(scene('resumed')).toEqual(scene('trained'));
  }, 600_000);

  it('refused where it cannot apply: the demo, learned sizes, placement other than packed', async () => {
    const opts = { ...tinyRealTrainOptions(join(dir, 'real')), recalibrateAgglomerates: 'trained' as const };
    await expect(runTraining({ ...opts, real: undefined, out: join(dir, 'demo') })).rejects.toThrow(/--recalibrate-agglomerates trained needs --real/);
    await expect(runTraining({ ...opts, out: join(dir, 'learn-size'), learnSize: true })).rejects.toThrow(/--recalibrate-agglomerates trained: the run learns its sizes/);
    await expect(runTraining({ ...opts, out: join(dir, 'uniform'), configFile: join(dir, 'uniform.json'), configFirst: true })).rejects.toThrow(/placement is 'uniform'/);
    expect(readdirSync(dir)).not.toContain('demo');
  }, 600_000);
});
