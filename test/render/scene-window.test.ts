/**
 * The calibrated scene as a window into a larger field (src/render/scene-window.ts) and train's
 * use of it: the counts scale with the grown area, the layouts then cut objects by the frame, and
 * a margin of 0 leaves the scene as it was.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { asWindowIntoField } from '../../src/render/scene-window.js';
import { presetConfig } from '../../src/render/presets/index.js';
import { presetWindowCalibrated, presetWindowMargin } from '../../src/gan/calibrate.js';
import { sampleLayout } from '../../src/render/layout.js';
import { Rng } from '../../src/autodiff/rng.js';
import { mergeSceneConfig } from '../../src/render/config.js';

describe('asWindowIntoField', () => {
  const base = mergeSceneConfig(presetConfig('tio2-sem'), { particles: { count: { min: 1, max: 10 } } });

  it('scales the counts by the grown area and sets placement.outside; margin 0 is the identity', () => {
    const w = asWindowIntoField(base, 0.35);
    expect(w.particles.count).toEqual({ ...base.particles.count, min: 3, max: 29 });
    expect(w.particles.placement.outside).toBe(0.35);
    expect({ ...w, particles: { ...w.particles, count: base.particles.count, placement: base.particles.placement } }).toEqual(base);
    expect(asWindowIntoField(base, 0)).toBe(base);
    expect(asWindowIntoField(base, 0.5, 32).particles.count.max).toBe(32);
    expect(() => asWindowIntoField(base, 1.5)).toThrow(/window margin/);
    expect(() => asWindowIntoField(base, Number.NaN)).toThrow(/window margin/);
  });

  it('keeps the particles per area of the grown field', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 40 }), fc.double({ min: 0.01, max: 1, noNaN: true }), (lo, span, m) => {
        const s = mergeSceneConfig(base, { particles: { count: { min: lo, max: lo + span } } });
        const w = asWindowIntoField(s, m);
        const area = (1 + 2 * m) ** 2;
        for (const k of ['min', 'max'] as const) expect(Math.abs(w.particles.count[k] - s.particles.count[k] * area)).toBeLessThanOrEqual(0.5 + 1e-9);
      }),
    );
  });

  it('tio2-sem renders a window by default, the other presets do not', () => {
    expect(presetWindowMargin('tio2-sem')).toBe(0.35);
    expect(presetWindowMargin('tio2-him')).toBe(0);
    // applied after every calibration, not before the second agglomerate pass (opt-in: count worse, docs/realism.md)
    expect(presetWindowCalibrated('tio2-sem')).toBe(false);
  });

  it('cuts more objects by the frame: particles whose disc crosses the image border', () => {
    const cut = (scene: typeof base) => {
      let crossing = 0, visible = 0;
      for (let seed = 0; seed < 40; seed++) {
        const P = scene.particles;
        const layout = sampleLayout({ width: 128, height: 128, count: P.count, baseRadius: P.baseRadius, size: P.size, placement: P.placement }, new Rng(seed));
        for (const p of layout.particles) {
          const inside = p.x + p.scale > 0 && p.x - p.scale < 128 && p.y + p.scale > 0 && p.y - p.scale < 128;
          if (!inside) continue;
          visible++;
          if (p.x - p.scale < 0 || p.x + p.scale > 128 || p.y - p.scale < 0 || p.y + p.scale > 128) crossing++;
        }
      }
      return crossing / visible;
    };
    expect(cut(asWindowIntoField(base, 0.35))).toBeGreaterThan(cut(base) + 0.1);
  });
});
