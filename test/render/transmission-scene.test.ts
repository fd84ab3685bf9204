/**
 * Transmission scenes end to end (presets tio2-tsem and tem-spheres): path lengths rasterized,
 * dark particles on the film, the rejection rule with dark polarity, and what each parameter does.
 */
import { describe, expect, it } from 'vitest';
import { Rng, Tensor } from '../../src/autodiff/index.js';
import { PARAM_INDEX, defaultParams, mergeSceneConfig, presetConfig, renderScene, sampleScene } from '../../src/render/index.js';
import { modelPolarity } from '../../src/render/polarity.js';

const quiet = (name: 'tio2-tsem' | 'tem-spheres') => mergeSceneConfig(presetConfig(name), { width: 96, height: 96, shading: { noise: false } });

function meanBy(img: ArrayLike<number>, inst: ArrayLike<number>, particle: boolean): number {
  let s = 0, n = 0;
  for (let i = 0; i < img.length; i++) if ((inst[i] !== 0) === particle) { s += img[i]; n++; }
  return s / n;
}

describe('transmission presets', () => {
  for (const name of ['tio2-tsem', 'tem-spheres'] as const) {
    it(`${name}: dark particles on a bright film; the rejection rule keeps them`, () => {
      const cfg = quiet(name);
      expect(cfg.shading.model).toBe('transmission');
      expect(modelPolarity(cfg.shading.model)).toBe('dark');
      const rng = new Rng(7);
      let kept = 0;
      for (let k = 0; k < 4; k++) {
        const r = renderScene(sampleScene(cfg, rng), defaultParams(name));
        const fg = meanBy(r.image.data, r.instances!, true), bg = meanBy(r.image.data, r.instances!, false);
        expect(fg).toBeLessThan(0.75 * bg);
        if (r.rejected === null) kept++;
        else expect(r.rejected).toMatch(/background|no particle/);
      }
      expect(kept).toBeGreaterThan(0);
    });
  }

  it('a float32 parameter vector gives a float32 image (no float64 constant promotes it: the discriminator would run on the slow float64 path)', () => {
    const scene = sampleScene(quiet('tio2-tsem'), new Rng(2));
    const p = defaultParams('tio2-tsem');
    const img = renderScene(scene, new Tensor(Float32Array.from(p), [p.length]), { masks: false }).image;
    expect(img.dtype).toBe('float32');
    expect(renderScene(scene, new Tensor(Float64Array.from(p), [p.length]), { masks: false }).image.dtype).toBe('float64');
  });

  it('mass attenuation darkens the particles only; the film gradient tilts the film', () => {
    const cfg = quiet('tem-spheres');
    const scene = sampleScene(cfg, new Rng(3));
    const p = defaultParams('tem-spheres');
    const base = renderScene(scene, p);
    const more = Float64Array.from(p);
    more[PARAM_INDEX.massAttenuation] *= 2;
    const dark = renderScene(scene, more, { masks: false });
    const inst = base.instances!;
    expect(meanBy(dark.image.data, inst, true)).toBeLessThan(meanBy(base.image.data, inst, true) - 0.02);
    // far from every particle the film is unchanged (blur reaches a few px)
    let far = 0;
    for (let i = 0; i < inst.length; i++) {
      const x = i % 96, y = (i - x) / 96;
      let near = false;
      for (let dy = -6; dy <= 6 && !near; dy++) for (let dx = -6; dx <= 6 && !near; dx++) {
        const xx = x + dx, yy = y + dy;
        if (xx >= 0 && yy >= 0 && xx < 96 && yy < 96 && inst[yy * 96 + xx]) near = true;
      }
      if (near) continue;
      far++;
      expect(dark.image.data[i]).toBeCloseTo(base.image.data[i], 6);
    }
    expect(far).toBeGreaterThan(300);
    const tilted = Float64Array.from(p);
    tilted[PARAM_INDEX.filmGradientX] = 0.2;
    tilted[PARAM_INDEX.filmMottle] = 0;
    const flat = Float64Array.from(tilted);
    flat[PARAM_INDEX.filmGradientX] = 0;
    const a = renderScene(scene, tilted, { masks: false }).image.data, b = renderScene(scene, flat, { masks: false }).image.data;
    let right = 0, left = 0;
    for (let y = 0; y < 96; y++) {
      for (const x of [2, 93]) {
        const i = y * 96 + x;
        if (inst[i]) continue;
        if (x === 93) { expect(a[i]).toBeGreaterThan(b[i]); right++; } else { expect(a[i]).toBeLessThan(b[i]); left++; }
      }
    }
    expect(left).toBeGreaterThan(20);
    expect(right).toBeGreaterThan(20);
  });
});
