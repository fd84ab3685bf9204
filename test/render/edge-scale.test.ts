import { describe, it, expect } from 'vitest';
import { Tensor, Rng } from '../../src/autodiff/index.js';
import { PARAMETER_TABLE, defaultParams, renderScene, presetConfig, mergeSceneConfig, sampleScene } from '../../src/render/index.js';
import { semParticleY, type SemConstants } from '../../src/render/shade/sem.js';
import { ConfigError } from '../../src/errors.js';

/** SEM constants with a non-zero value in every term of the particle's yield. */
function constants(ev: number): SemConstants {
  return {
    n: 0.1, eg: 0.2, eg2: 0.15, kdet: 0.3, ksh: 0, sb: 0.1, ta: 0.06, kv: 0.5, kg: 0.03, ev,
    cmin: 0.05, kh: 0, ih: 1 / 6, kc: 0, ic: 1 / 2, y0: 0.43, dx: 0.4, dy: -0.7, dz: 0.57,
  };
}

describe('shading.edgeScale (SEM edge and rim terms and the particle brightness factor)', () => {
  const Y = 0.47, nx = 0.3, ny = -0.2, nz = 0.93, e = 0.8, e2 = 0.6, g = 0.4;

  it("'additive': the edge and rim terms do not change with the particle's brightness factor u", () => {
    const k = constants(0);
    const p = (u: number) => semParticleY(k, Y, nx, ny, nz, e, e2, u, g);
    const body = (u: number) => semParticleY(k, Y, nx, ny, nz, 0, 0, u, g);
    for (const u of [-1, -0.4, 0.7]) expect(p(u) - body(u)).toBeCloseTo(k.eg * e + k.eg2 * e2, 12);
  });

  it("'particle': the whole particle term scales with 1 + particleVariation u, rims included", () => {
    const k = constants(1);
    const p = (u: number) => semParticleY(k, Y, nx, ny, nz, e, e2, u, g);
    for (const u of [-1, -0.4, 0.7]) expect(p(u) / p(0)).toBeCloseTo(1 + k.kv * u, 12);
    // a dark particle (u = -1, half the yield) has half the rim brightness
    const rim = (u: number) => p(u) - semParticleY(k, Y, nx, ny, nz, 0, 0, u, g);
    expect(rim(-1)).toBeCloseTo(0.5 * rim(0), 12);
    // at u = 0 both modes agree
    expect(p(0)).toBe(semParticleY(constants(0), Y, nx, ny, nz, e, e2, 0, g));
  });

  const scene = (edgeScale?: 'additive' | 'particle') => {
    const cfg = mergeSceneConfig(presetConfig('tio2-sem'), {
      width: 24, height: 24,
      particles: { count: { min: 3, max: 3 }, baseRadius: 5, freq: 2, placement: { type: 'uniform', dims: 2, maxAgglomerates: 1, rotation: 'uniform' } },
      ...(edgeScale ? { shading: { edgeScale } } : {}),
    });
    return sampleScene(cfg, new Rng(7));
  };
  const params = (variation: number) => {
    const p = defaultParams('tio2-sem');
    p[PARAMETER_TABLE.findIndex((q) => q.name === 'particleVariation')] = variation;
    p[PARAMETER_TABLE.findIndex((q) => q.name === 'rimGain')] = 0.2;
    return new Tensor(p, [p.length]);
  };
  const render = (edgeScale: 'additive' | 'particle' | undefined, variation: number) => renderScene(scene(edgeScale), params(variation), { masks: false }).image.data;

  it('reaches the renders through the scene config; without particleVariation the option changes nothing', () => {
    expect(Array.from(render('particle', 0))).toEqual(Array.from(render(undefined, 0)));
    expect(Array.from(render('additive', 0.5))).toEqual(Array.from(render(undefined, 0.5)));
    const a = render(undefined, 0.5), b = render('particle', 0.5);
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
    expect(diff).toBeGreaterThan(1e-3);
  });

  it('the config accepts additive and particle only', () => {
    expect(() => mergeSceneConfig(presetConfig('tio2-sem'), { shading: { edgeScale: 'body' } })).toThrow(ConfigError);
    expect(mergeSceneConfig(presetConfig('tio2-sem'), { shading: { edgeScale: 'particle' } }).shading.edgeScale).toBe('particle');
    expect(presetConfig('tio2-sem').shading.edgeScale).toBeUndefined();
  });
});
