import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import '../../src/autodiff/index.js';
import { Rng } from '../../src/autodiff/rng.js';
import { calibrateBaseRadius, estimateParticleRadius, noiselessRenders, presetRadiusCalibration, quantileRadius, RADIUS_QUANTILES } from '../../src/gan/calibrate.js';
import { PRESET_NAMES } from '../../src/render/presets/index.js';
import { scaleSceneConfig } from '../../src/gan/demo.js';
import { mergeSceneConfig, presetConfig } from '../../src/render/index.js';
import { paramsVector } from '../../src/render/params.js';

/** The classic median (middle value, or the mean of the two middle ones). */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
}

describe('quantileRadius', () => {
  it('interpolates between order statistics; 0.5 is the median', () => {
    expect(quantileRadius([4, 1, 3, 2, 5], 0.75)).toEqual({ radius: 4, count: 5 });
    expect(quantileRadius([1, 2, 3, 4], 0.75)!.radius).toBeCloseTo(3.25, 12);
    expect(quantileRadius([1, 2, 3, 4], 0.5)!.radius).toBe(2.5);
    expect(quantileRadius([7], 0.75)).toEqual({ radius: 7, count: 1 });
    expect(quantileRadius([2, 9], 0)!.radius).toBe(2);
    expect(quantileRadius([2, 9], 1)!.radius).toBe(9);
    expect(quantileRadius([], 0.5)).toBeNull();
    expect(() => quantileRadius([1, 2], 1.5)).toThrow(/quantile 1.5/);
    expect(() => quantileRadius([1, 2], Number.NaN)).toThrow(RangeError);
  });

  it('the median of any list, in any order; non-decreasing in the quantile', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 4000 }).map((v) => v / 16), { minLength: 1, maxLength: 40 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (xs, a, b) => {
        expect(quantileRadius(xs, 0.5)!.radius).toBe(median(xs));
        expect(quantileRadius([...xs].reverse(), 0.75)!.radius).toBe(quantileRadius(xs, 0.75)!.radius);
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        // (1 - f) a + f b is monotone in f up to rounding
        expect(quantileRadius(xs, lo)!.radius).toBeLessThanOrEqual(quantileRadius(xs, hi)!.radius + 1e-9);
      }),
      { numRuns: 500 },
    );
  });
});

/**
 * A 128 px image with `whole` discs of radius r and `cut` discs of radius r parted by a dark
 * 3 px line through the centre (as the watershed sees a particle cut by a crease or a dark
 * patch: two fragments), bright (0.8) on a dark film (0.1), on a 3 x 3 grid.
 */
function discImage(r: number, whole: number, cut: number, rng: Rng): { width: number; height: number; data: Float32Array } {
  const W = 128;
  const data = new Float32Array(W * W).fill(0.1);
  const cells = [0, 1, 2, 3, 4, 5, 6, 7, 8].sort(() => rng.uniform() - 0.5).slice(0, whole + cut);
  cells.forEach((cell, k) => {
    const cx = 22 + 42 * (cell % 3), cy = 22 + 42 * Math.floor(cell / 3);
    for (let y = 0; y < W; y++)
      for (let x = 0; x < W; x++) {
        const dx = x + 0.5 - cx, dy = y + 0.5 - cy;
        if (dx * dx + dy * dy > r * r) continue;
        data[y * W + x] = k >= whole && Math.abs(dx) < 1.5 ? 0.1 : 0.8;
      }
  });
  return { width: W, height: W, data };
}

describe('estimateParticleRadius', () => {
  it("the upper quartile reads whole particles where fragments pull the median down", () => {
    const rng = new Rng(3);
    // per image 4 whole discs and 3 cut ones: 10 pieces, 6 of them half discs
    const imgs = Array.from({ length: 6 }, () => discImage(12, 4, 3, rng));
    const q50 = estimateParticleRadius(imgs, 'bright', 0.5)!;
    const q75 = estimateParticleRadius(imgs, 'bright', RADIUS_QUANTILES['upper-quartile'])!;
    expect(q75.count).toBe(6 * 10);
    // a whole disc of radius 12 px reads about 12 px (Otsu on the blurred image); a half disc 12 / sqrt 2
    expect(q75.radius).toBeGreaterThan(11);
    expect(q75.radius).toBeLessThan(13);
    expect(q50.radius).toBeLessThan(q75.radius);
    // without fragments the two agree
    const clean = Array.from({ length: 6 }, () => discImage(12, 7, 0, rng));
    expect(estimateParticleRadius(clean, 'bright', 0.75)!.radius).toBeCloseTo(estimateParticleRadius(clean, 'bright', 0.5)!.radius, 0);
    expect(estimateParticleRadius(clean, 'bright', 0.75)!.radius).toBeCloseTo(q75.radius, 0);
  });
});

describe('calibrateBaseRadius', () => {
  const scene = mergeSceneConfig(scaleSceneConfig(presetConfig('tio2-sem'), 128, { keepParticleSize: true }), { particles: { count: { min: 4, max: 8 } } });
  it('recovers the radius of "real" renders at the matched quantile, with the scene\'s own image formation', () => {
    const truth = mergeSceneConfig(scene, { particles: { baseRadius: 9 } });
    // one ratio step from either side (the estimate grows less than in proportion in small tiles: the
    // border cut drops large particles more often, so it is a step towards the radius, not onto it)
    for (const q of [0.5, 0.75])
      for (const start of [7.5, 10.5]) {
        const real = estimateParticleRadius(noiselessRenders(truth, paramsVector(truth), 48, new Rng(77)), 'bright', q)!;
        const cal = calibrateBaseRadius(mergeSceneConfig(scene, { particles: { baseRadius: start } }), real, 48, 0, q)!;
        expect(cal.synthetic.count).toBeGreaterThan(40);
        expect(Math.abs(cal.baseRadius - 9)).toBeLessThan(Math.abs(start - 9));
        expect(Math.abs(cal.baseRadius / 9 - 1)).toBeLessThan(0.06);
      }
  });

  it('renders with the parameters of the scene it is given', () => {
    // a blurrier image formation grows the Otsu outlines: the renders' estimate and so the radius change
    const real = { radius: 10, count: 100 };
    const sharp = calibrateBaseRadius(scene, real, 16, 0, 0.75)!;
    const blurred = calibrateBaseRadius(mergeSceneConfig(scene, { params: { blurSigma: 3 } }), real, 16, 0, 0.75)!;
    expect(blurred.synthetic.radius).toBeGreaterThan(sharp.synthetic.radius);
    expect(blurred.baseRadius).toBeLessThan(sharp.baseRadius);
  });
});

describe('presetRadiusCalibration', () => {
  it('the upper quartile where it was measured (tio2-sem), the median elsewhere', () => {
    expect(presetRadiusCalibration('tio2-sem')).toBe('upper-quartile');
    // on TiO2-TSEM the upper quartile made the particles a third too small in area (docs/realism.md)
    expect(presetRadiusCalibration('tio2-tsem')).toBe('median');
    for (const p of PRESET_NAMES) expect(['median', 'upper-quartile']).toContain(presetRadiusCalibration(p));
  });
});
