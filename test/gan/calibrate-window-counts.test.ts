/**
 * The window's count factor calibrated on the coverage (calibrateWindowCounts): it finds the
 * factor of "real" patches rendered as a window with known counts, and keeps everything of the
 * scene but the counts.
 */
import { describe, expect, it } from 'vitest';
import '../../src/autodiff/index.js';
import { Rng } from '../../src/autodiff/rng.js';
import { calibrateWindowCounts, noiselessRenders, presetWindowCounts, MAX_CALIBRATED_COUNT } from '../../src/gan/calibrate.js';
import { sceneStatistics } from '../../src/gan/scene-stats.js';
import { scaleSceneConfig } from '../../src/gan/demo.js';
import { mergeSceneConfig, presetConfig } from '../../src/render/index.js';
import { paramsVector } from '../../src/render/params.js';
import { asWindowIntoField, windowFieldArea } from '../../src/render/scene-window.js';

const base = mergeSceneConfig(scaleSceneConfig(presetConfig('tio2-sem'), 96, { keepParticleSize: true }), {
  particles: { baseRadius: 10, count: { min: 2, max: 8 }, placement: { maxAgglomerates: 2, contact: 0.85, attach: 'size' } },
});
const coverageOf = (scene: typeof base, n: number, seed: number) => sceneStatistics(noiselessRenders(scene, paramsVector(scene), n, new Rng(seed)), 'bright').coverage;

describe('calibrateWindowCounts', () => {
  it('matches the coverage of windowed "real" patches, with more particles for denser ones', () => {
    const margin = 0.35;
    const area = windowFieldArea(margin);
    const scales: number[] = [];
    for (const truth of [0.5 * area, 0.9 * area]) {
      const real = coverageOf(asWindowIntoField(base, margin, MAX_CALIBRATED_COUNT, truth), 48, 321);
      const cal = calibrateWindowCounts(base, margin, real, 48)!;
      expect(cal.real).toBe(real);
      expect(Math.abs(Math.log(cal.synthetic / real))).toBeLessThan(0.1);
      // within the bracket [0.2, 1.2] x the area, at most a factor 1.5 from the truth (a few particles: coverage is noisy in the count)
      expect(cal.countScale).toBeGreaterThan(0.2 * area);
      expect(cal.countScale).toBeLessThan(1.2 * area);
      expect(Math.abs(Math.log(cal.countScale / truth))).toBeLessThan(Math.log(1.5));
      expect(cal.count).toEqual(asWindowIntoField(base, margin, MAX_CALIBRATED_COUNT, cal.countScale).particles.count);
      scales.push(cal.countScale);
    }
    expect(scales[1]).toBeGreaterThan(scales[0]);
  });

  it('a higher real coverage gives more particles', () => {
    const lo = calibrateWindowCounts(base, 0.35, 0.1, 16)!;
    const hi = calibrateWindowCounts(base, 0.35, 0.3, 16)!;
    expect(hi.countScale).toBeGreaterThan(lo.countScale);
    expect(hi.count.max).toBeGreaterThan(lo.count.max);
    expect(hi.count.max).toBeLessThanOrEqual(MAX_CALIBRATED_COUNT);
    expect(lo.byArea).toBe(hi.byArea);
  });

  it('no window or no real coverage: nothing to calibrate; tio2-sem scales by the area by default', () => {
    expect(calibrateWindowCounts(base, 0, 0.2, 4)).toBeNull();
    expect(calibrateWindowCounts(base, 0.35, 0, 4)).toBeNull();
    expect(presetWindowCounts('tio2-sem')).toBe('area');
  });

  it('asWindowIntoField with a count scale scales by it (the area when none is given)', () => {
    const w = asWindowIntoField(base, 0.35, MAX_CALIBRATED_COUNT, 1.5);
    expect(w.particles.count).toMatchObject({ min: 3, max: 12 });
    expect(w.particles.placement.outside).toBe(0.35);
    expect(asWindowIntoField(base, 0.35).particles.count).toMatchObject({ min: 6, max: 23 });
    expect(() => asWindowIntoField(base, 0.35, 32, 0)).toThrow(/count scale/);
  });
});
