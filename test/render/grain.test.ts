import { describe, it, expect } from 'vitest';
import { Rng } from '../../src/autodiff/index.js';
import { PARAMETER_TABLE, defaultParams, sampleScene, renderScene, presetConfig, mergeSceneConfig } from '../../src/render/index.js';
import { grainField, clearGrainCache } from '../../src/render/shade/grain.js';

describe('particle surface grain (SEM, particleGrain)', () => {
  it('the grain field has zero mean, unit std, features of 1-2 px, and is memoised exactly', () => {
    clearGrainCache();
    const W = 96, H = 80;
    const g = grainField(W, H, 7);
    let s = 0, v = 0, c1 = 0, c3 = 0;
    for (let i = 0; i < g.length; i++) { s += g[i]; v += g[i] * g[i]; }
    for (let y = 0; y < H; y++) for (let x = 0; x + 3 < W; x++) { c1 += g[y * W + x] * g[y * W + x + 1]; c3 += g[y * W + x] * g[y * W + x + 3]; }
    const n = H * (W - 3);
    expect(Math.abs(s / g.length)).toBeLessThan(1e-9);
    expect(v / g.length).toBeCloseTo(1, 9);
    // correlated over a pixel, nearly independent 3 px apart (fine grain, not blotches)
    expect(c1 / n).toBeGreaterThan(0.3);
    expect(Math.abs(c3 / n)).toBeLessThan(0.15);
    const again = grainField(W, H, 7);
    clearGrainCache();
    expect(Array.from(grainField(W, H, 7))).toEqual(Array.from(again));
    expect(Array.from(grainField(W, H, 8))).not.toEqual(Array.from(again));
  });

  it('tio2-sem: mottles the particles only; particleGrain 0 renders exactly as without the term', () => {
    const cfg = mergeSceneConfig(presetConfig('tio2-sem'), { width: 64, height: 64, particles: { count: { min: 3, max: 4 } }, shading: { noise: false } });
    const scene = sampleScene(cfg, new Rng(4));
    const idx = PARAMETER_TABLE.findIndex((q) => q.name === 'particleGrain');
    const p = defaultParams('tio2-sem');
    p[PARAMETER_TABLE.findIndex((q) => q.name === 'blurSigma')] = 0.3;
    p[PARAMETER_TABLE.findIndex((q) => q.name === 'scanNoise')] = 0;
    const at = (kg: number) => {
      const q = Float64Array.from(p);
      q[idx] = kg;
      return renderScene(scene, q);
    };
    const off = at(0), on = at(0.05);
    const inst = off.instances!;
    let changedIn = 0, nIn = 0, maxOut = 0;
    // pixels well inside particles change; pixels far from every particle (beyond the blur) do not
    for (let y = 3; y < 61; y++) {
      for (let x = 3; x < 61; x++) {
        let allIn = true, noneIn = true;
        for (let dy = -3; dy <= 3; dy++) for (let dx = -3; dx <= 3; dx++) {
          const a = inst[(y + dy) * 64 + x + dx] > 0;
          allIn &&= a;
          noneIn &&= !a;
        }
        const i = y * 64 + x, d = Math.abs(on.image.data[i] - off.image.data[i]);
        if (allIn) { nIn++; if (d > 1e-3) changedIn++; }
        if (noneIn) maxOut = Math.max(maxOut, d);
      }
    }
    expect(nIn).toBeGreaterThan(100);
    expect(changedIn / nIn).toBeGreaterThan(0.8);
    expect(maxOut).toBe(0);
  });
});
