/**
 * The upper size spread calibrated on the median local thickness (calibrate-size-spread.ts): the
 * split lognormal keeps the 75th percentile and the covered area, the search recovers the spread
 * of "real" patches rendered at a known one, and train refuses the option where it cannot apply
 * and leaves runs without it as they were. 'coverage': the median and the counts held, the search
 * on the Otsu coverage recovers the spread the same way.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../src/autodiff/index.js';
import { Rng } from '../../src/autodiff/rng.js';
import { calibrateSizeSpread, meanSquaredSize, presetSizeSpread, sizeSpreadProblem, withUpperSpread } from '../../src/gan/calibrate-size-spread.js';
import { noiselessRenders } from '../../src/gan/calibrate.js';
import { sceneStatistics } from '../../src/gan/scene-stats.js';
import { scaleSceneConfig } from '../../src/gan/demo.js';
import { mergeSceneConfig, presetConfig } from '../../src/render/index.js';
import { paramsVector } from '../../src/render/params.js';
import { PRESET_NAMES } from '../../src/render/presets/index.js';
import { splitNormal } from '../../src/render/layout.js';
import { runTraining } from '../../src/node/train.js';
import * as ckpt from '../../src/node/gan-checkpoint.js';
import { encodePngGrey8 } from '../../src/io/png.js';
import { removeTempDirs, tempDir } from '../reliability/helpers.js';
import { tinyRealTrainOptions } from './helpers.js';

const base = mergeSceneConfig(scaleSceneConfig(presetConfig('tio2-sem'), 64, { keepParticleSize: true }), {
  particles: { baseRadius: 8, count: { min: 2, max: 6 }, placement: { maxAgglomerates: 2, contact: 0.85, attach: 'size' } },
});
const Z75 = 0.6744897501960817;

describe('withUpperSpread', () => {
  it('keeps the 75th percentile and the lower spread, and the covered area through the counts', () => {
    const s = base.particles.size as { mu: number; sigma: number };
    for (const sigma of [0.2, 0.3, 0.6]) {
      const w = withUpperSpread(base, sigma);
      const d = w.particles.size as { type: string; mu: number; sigma: number; sigmaLow: number };
      expect(d.type).toBe('lognormal');
      expect(d.sigma).toBe(sigma);
      expect(d.sigmaLow).toBe(s.sigma);
      expect(d.mu + Z75 * d.sigma).toBeCloseTo(s.mu + Z75 * s.sigma, 12);
      // counts x E[s^2] (the covered area) kept, up to the rounding of the counts
      const ratio = meanSquaredSize(s.mu, s.sigma, s.sigma) / meanSquaredSize(d.mu, d.sigmaLow, d.sigma);
      expect(w.particles.count.max).toBe(Math.round(base.particles.count.max * ratio));
      // narrower above at the same 75th percentile: fewer large particles, more of them
      expect(w.particles.count.max >= base.particles.count.max).toBe(sigma < s.sigma);
    }
    expect(withUpperSpread(base, 0.45).particles.count).toEqual(base.particles.count);
  });

  it("'coverage' keeps the median (mu), the lower spread and the counts: the covered area moves with the spread", () => {
    const s = base.particles.size as { mu: number; sigma: number };
    const shifted = mergeSceneConfig(base, { particles: { size: { type: 'lognormal', mu: 0.1, sigma: 0.5, sigmaLow: 0.4 } } });
    for (const scene of [base, shifted]) {
      const d0 = scene.particles.size as { mu: number; sigma: number; sigmaLow?: number };
      for (const sigma of [0.2, 0.3, 0.6]) {
        const w = withUpperSpread(scene, sigma, 'coverage');
        const d = w.particles.size as { type: string; mu: number; sigma: number; sigmaLow: number };
        expect(d).toEqual({ type: 'lognormal', mu: d0.mu, sigma, sigmaLow: d0.sigmaLow ?? d0.sigma });
        expect(w.particles.count).toEqual(scene.particles.count);
        expect(w.particles.placement).toEqual(scene.particles.placement);
      }
    }
    // the 75th percentile moves instead (it stays under 'calibrated')
    const d = withUpperSpread(base, 0.2, 'coverage').particles.size as { mu: number; sigma: number };
    expect(d.mu + Z75 * d.sigma).toBeLessThan(s.mu + Z75 * s.sigma - 0.1);
  });

  it('meanSquaredSize is E[s^2] of the split lognormal', () => {
    const rng = new Rng(3);
    let sum = 0;
    const n = 200_000;
    for (let i = 0; i < n; i++) sum += Math.exp(2 * splitNormal(0.1, 0.6, 0.3, rng));
    expect(Math.abs(sum / n / meanSquaredSize(0.1, 0.6, 0.3) - 1)).toBeLessThan(0.01);
    expect(meanSquaredSize(0, 0.45, 0.45)).toBeCloseTo(Math.exp(2 * 0.45 ** 2), 6);
  });

  it('refuses sizes that are not lognormal', () => {
    const gaussian = mergeSceneConfig(base, { particles: { size: { type: 'gaussian', mean: 1, std: 0.2 } } });
    expect(sizeSpreadProblem(gaussian)).toMatch(/gaussian.*lognormal sizes only/);
    expect(sizeSpreadProblem(base)).toBeNull();
    expect(() => withUpperSpread(gaussian, 0.3)).toThrow(/lognormal sizes only/);
    expect(() => calibrateSizeSpread(gaussian, 20)).toThrow(/lognormal sizes only/);
  });
});

describe('calibrateSizeSpread', () => {
  const thickness = (sigma: number, n: number, seed: number) => sceneStatistics(noiselessRenders(withUpperSpread(base, sigma), paramsVector(base), n, new Rng(seed)), 'bright', { thickness: true }).medianLocalThickness!;
  it('recovers the spread of "real" patches rendered at a known one (other layouts)', () => {
    const found: number[] = [];
    for (const truth of [0.2, 0.6]) {
      const real = thickness(truth, 96, 77);
      const cal = calibrateSizeSpread(base, real, 96, 0, [0.15, 0.3, 0.45, 0.6, 0.75])!;
      expect(cal.real).toBe(real);
      expect(cal.line.slope).toBeGreaterThan(0);
      expect(cal.grid.map((g) => g.sigma)).toEqual([0.15, 0.3, 0.45, 0.6, 0.75]);
      expect(Math.abs(cal.sigma - truth)).toBeLessThan(0.15);
      expect((cal.scene.particles.size as { sigma: number }).sigma).toBe(cal.sigma);
      found.push(cal.sigma);
    }
    expect(found[1]).toBeGreaterThan(found[0] + 0.2);
  }, 120_000);

  it('no real thickness: nothing to match', () => {
    expect(calibrateSizeSpread(base, 0, 4)).toBeNull();
  });

  const coverage = (sigma: number, n: number, seed: number) => sceneStatistics(noiselessRenders(withUpperSpread(base, sigma, 'coverage'), paramsVector(base), n, new Rng(seed)), 'bright').coverage;
  it("'coverage' recovers the spread of \"real\" patches rendered at a known one (other layouts), the median and counts held", () => {
    const found: number[] = [];
    for (const truth of [0.2, 0.6]) {
      const real = coverage(truth, 96, 77);
      const cal = calibrateSizeSpread(base, real, 96, 0, [0.15, 0.3, 0.45, 0.6, 0.75], 'coverage')!;
      expect(cal.real).toBe(real);
      expect(cal.line.slope).toBeGreaterThan(0);
      // coverage rises with the spread at a fixed median and count
      expect(cal.grid[4].value).toBeGreaterThan(cal.grid[0].value);
      expect(Math.abs(cal.sigma - truth)).toBeLessThan(0.15);
      const d = cal.scene.particles.size as { mu: number; sigma: number; sigmaLow: number };
      expect(d.sigma).toBe(cal.sigma);
      expect(d.mu).toBe((base.particles.size as { mu: number }).mu);
      expect(d.sigmaLow).toBe((base.particles.size as { sigma: number }).sigma);
      expect(cal.scene.particles.count).toEqual(base.particles.count);
      found.push(cal.sigma);
    }
    expect(found[1]).toBeGreaterThan(found[0] + 0.2);
  }, 120_000);
});

describe('train --size-spread', () => {
  let dir = '';
  beforeAll(() => {
    dir = tempDir('size-spread');
    mkdirSync(join(dir, 'real'));
    const W = 96, H = 70;
    const blobs: [number, number, number][] = [[12, 12, 7], [30, 14, 5], [60, 15, 8], [80, 50, 5], [45, 45, 6], [20, 50, 4], [70, 30, 6]];
    for (const name of ['a', 'b']) {
      const img = new Float32Array(W * H);
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          const inside = blobs.some(([cx, cy, r]) => (name === 'a' ? (x - cx) ** 2 + (y - cy) ** 2 : (y - cx) ** 2 + (x - cy) ** 2) < r * r);
          img[y * W + x] = 0.1 + 0.02 * ((x * 7 + y * 3) % 5) + (inside ? 0.6 : 0);
        }
      writeFileSync(join(dir, 'real', `${name}.png`), encodePngGrey8(W, H, img));
    }
    writeFileSync(join(dir, 'gaussian.json'), JSON.stringify({ particles: { size: { type: 'gaussian', mean: 1, std: 0.2 } } }));
  });
  afterAll(() => removeTempDirs());
  const config = (run: string) => JSON.parse(readFileSync(join(dir, run, 'config.json'), 'utf8'));

  it("tio2-sem's default is coverage, every other preset's off; --size-spread off: no field in the config, no size-spread row", async () => {
    for (const p of PRESET_NAMES) expect(presetSizeSpread(p)).toBe(p === 'tio2-sem' ? 'coverage' : 'off');
    await runTraining({ ...tinyRealTrainOptions(join(dir, 'real')), out: join(dir, 'off'), sizeSpread: 'off' });
    expect(config('off').sizeSpread).toBeUndefined();
    expect(ckpt.readMetrics(join(dir, 'off')).some((r) => r.type === 'size-spread')).toBe(false);
  }, 600_000);

  it("the preset's step runs without the flag, and yields where it cannot apply: the demo, --learn-size, sizes that are not lognormal", async () => {
    const real = tinyRealTrainOptions(join(dir, 'real'));
    await runTraining({ ...real, out: join(dir, 'preset') });
    expect(config('preset').sizeSpread).toBe('coverage');
    expect(ckpt.readMetrics(join(dir, 'preset')).filter((r) => r.type === 'size-spread').map((r) => r.method)).toEqual(['coverage']);
    await runTraining({ ...real, real: undefined, out: join(dir, 'preset-demo') });
    await runTraining({ ...real, out: join(dir, 'preset-learn'), learnSize: true });
    await runTraining({ ...real, out: join(dir, 'preset-gauss'), configFile: join(dir, 'gaussian.json') });
    for (const run of ['preset-demo', 'preset-learn', 'preset-gauss']) {
      expect(config(run).sizeSpread).toBeUndefined();
      expect(ckpt.readMetrics(join(dir, run)).some((r) => r.type === 'size-spread')).toBe(false);
    }
    expect(readFileSync(join(dir, 'preset-gauss', 'train.log'), 'utf8')).toMatch(/size spread: the preset's step \(coverage\) is skipped: the particle sizes are gaussian/);
  }, 600_000);

  it("coverage on --resume of a finished run: the median and the counts kept, the row names its method", async () => {
    const out = join(dir, 'off');
    const before = config('off').gan.scene.particles;
    await runTraining({ ...tinyRealTrainOptions(join(dir, 'real')), resume: out, real: undefined, sizeSpread: 'coverage' });
    const c = config('off');
    expect(c.sizeSpread).toBe('coverage');
    const rows = ckpt.readMetrics(out).filter((r) => r.type === 'size-spread');
    expect(rows).toHaveLength(1);
    expect(rows[0].method).toBe('coverage');
    expect(rows[0].real).toBeGreaterThan(0);
    expect(rows[0].real).toBeLessThan(1);
    expect(c.gan.scene.particles.count).toEqual(before.count);
    if (rows[0].changed) {
      expect((rows[0].grid as { coverage: number }[]).every((g) => g.coverage > 0 && g.coverage < 1)).toBe(true);
      expect(c.gan.scene.particles.size).toEqual({ type: 'lognormal', mu: before.size.mu, sigma: rows[0].sigma, sigmaLow: before.size.sigma });
      expect(readFileSync(join(out, 'train.log'), 'utf8')).toMatch(/size spread \(coverage\): upper spread [\d.]+ \(lower 0\.450, mu [-\d.]+: the median kept\)/);
    } else expect(c.gan.scene.particles.size).toEqual(before.size);
  }, 600_000);

  it('calibrated: after the epochs, the scene generate renders gets the split lognormal, logged once', async () => {
    const out = join(dir, 'on');
    await runTraining({ ...tinyRealTrainOptions(join(dir, 'real')), out, sizeSpread: 'calibrated' });
    const c = config('on');
    expect(c.sizeSpread).toBe('calibrated');
    const rows = ckpt.readMetrics(out).filter((r) => r.type === 'size-spread');
    expect(rows).toHaveLength(1);
    const size = c.gan.scene.particles.size;
    if (rows[0].changed) {
      expect(size.sigma).toBe(rows[0].sigma);
      expect(size.sigmaLow).toBe(0.45);
      expect(readFileSync(join(out, 'train.log'), 'utf8')).toMatch(/size spread: upper spread [\d.]+ \(lower 0\.450/);
    } else expect(size.sigmaLow).toBeUndefined();
    // resumed: done already, not run again
    await runTraining({ ...tinyRealTrainOptions(join(dir, 'real')), resume: out, real: undefined });
    expect(ckpt.readMetrics(out).filter((r) => r.type === 'size-spread')).toHaveLength(1);
    // the other method on top of it is refused (it would start from these sizes, not the scene's)
    await expect(runTraining({ ...tinyRealTrainOptions(join(dir, 'real')), resume: out, real: undefined, sizeSpread: 'coverage' })).rejects.toThrow(/--size-spread coverage: .* already ran --size-spread calibrated/);
    expect(config('on').sizeSpread).toBe('calibrated');
  }, 600_000);

  it('refused where it cannot apply: the demo, sizes that are not lognormal', async () => {
    await expect(runTraining({ ...tinyRealTrainOptions(join(dir, 'real')), real: undefined, out: join(dir, 'demo'), sizeSpread: 'calibrated' })).rejects.toThrow(/--size-spread calibrated needs --real/);
    await expect(runTraining({ ...tinyRealTrainOptions(join(dir, 'real')), out: join(dir, 'gauss'), configFile: join(dir, 'gaussian.json'), sizeSpread: 'calibrated' })).rejects.toThrow(/--size-spread calibrated: the particle sizes are gaussian/);
    await expect(runTraining({ ...tinyRealTrainOptions(join(dir, 'real')), out: join(dir, 'both'), learnSize: true, sizeSpread: 'calibrated' })).rejects.toThrow(/--size-spread calibrated and --learn-size on both set the size distribution/);
    await expect(runTraining({ ...tinyRealTrainOptions(join(dir, 'real')), preset: 'sio2-him', polarity: 'bright', out: join(dir, 'bimodal'), sizeSpread: 'calibrated' })).rejects.toThrow(/the particle sizes are bimodal/);
    await expect(runTraining({ ...tinyRealTrainOptions(join(dir, 'real')), real: undefined, out: join(dir, 'demo-c'), sizeSpread: 'coverage' })).rejects.toThrow(/--size-spread coverage needs --real/);
    await expect(runTraining({ ...tinyRealTrainOptions(join(dir, 'real')), out: join(dir, 'both-c'), learnSize: true, sizeSpread: 'coverage' })).rejects.toThrow(/--size-spread coverage and --learn-size on both set the size distribution/);
    await expect(runTraining({ ...tinyRealTrainOptions(join(dir, 'real')), preset: 'sio2-him', polarity: 'bright', out: join(dir, 'bimodal-c'), sizeSpread: 'coverage' })).rejects.toThrow(/--size-spread coverage: the particle sizes are bimodal/);
  }, 600_000);
});
