import { modelPolarity } from '../../src/render/polarity.js';
import { describe, it, expect } from 'vitest';
import { Tensor, Rng } from '../../src/autodiff/index.js';
import { gradcheck } from '../../src/autodiff/gradcheck.js';
import { gaussianBlur, blurRaw, substrateTexture } from '../../src/render/shade/index.js';
import { PARAMETER_TABLE, defaultParams, fromUnit, PRESET_NAMES, PRESETS } from '../../src/render/index.js';
import { sampleScene, renderScene, presetConfig, mergeSceneConfig } from '../../src/render/index.js';
import { tinyScene } from '../../src/render/gradcheck-cases.js';

describe('image formation', () => {
  it('gaussianBlur: gradcheck w.r.t. image and sigma', () => {
    const rng = new Rng(1);
    const x = new Tensor(Float64Array.from({ length: 7 * 9 }, () => rng.uniform()), [7, 9]);
    const s = new Tensor(Float64Array.of(1.3), [1]);
    const r = gradcheck((a, b) => gaussianBlur(a, b), [x, s]);
    expect(r.failure).toBeUndefined();
  });

  it('substrateTexture: gradcheck w.r.t. scale, line width and level; values in (0, 1]', () => {
    const t64 = (v: number) => new Tensor(Float64Array.of(v), [1]);
    const r = gradcheck((a, b, c) => substrateTexture(a, b, c, { width: 12, height: 10, seed: 3 }), [t64(0.13), t64(0.08), t64(0.55)], { rtol: 1e-3 });
    expect(r.failure).toBeUndefined();
    const t = substrateTexture(t64(0.06), t64(0.03), t64(0.62), { width: 64, height: 64, seed: 3 });
    for (const v of t.data) expect(v > 0 && v <= 1).toBe(true);
  });

  it('substrateTexture: thin ridge lines (a small bright fraction) that grow with the width and thin out with the level', () => {
    const t64 = (v: number) => new Tensor(Float64Array.of(v), [1]);
    const bright = (w: number, l: number) => {
      const t = substrateTexture(t64(0.055), t64(w), t64(l), { width: 128, height: 128, seed: 9 });
      let n = 0;
      for (const v of t.data) if (v > 0.5) n++;
      return n / t.size;
    };
    const base = bright(0.03, 0.62);
    expect(base).toBeGreaterThan(0.01);
    expect(base).toBeLessThan(0.2);
    expect(bright(0.06, 0.62)).toBeGreaterThan(base);
    expect(bright(0.03, 0.72)).toBeLessThan(base);
  });

  for (const preset of ['tio2-sem', 'sio2-him'] as const) {
    it(`${preset}: every parameter's gradient through the full pipeline (gradcheck, float64, 16 x 16)`, () => {
      const scene = tinyScene(preset);
      // keep the image off the clamp limits so finite differences see the smooth branch
      const p = defaultParams(preset);
      p[PARAMETER_TABLE.findIndex((q) => q.name === 'particleBrightness')] = 0.3;
      p[PARAMETER_TABLE.findIndex((q) => q.name === 'noiseGaussian')] = 0.01;
      p[PARAMETER_TABLE.findIndex((q) => q.name === 'noiseShot')] = 0.01;
      p[PARAMETER_TABLE.findIndex((q) => q.name === 'edgeGain')] = 0.1;
      // blur radius is ceil(4 sigma) + 1: keep 4 sigma away from an integer (see blur.ts)
      p[PARAMETER_TABLE.findIndex((q) => q.name === 'blurSigma')] = preset === 'tio2-sem' ? 0.7 : 2.9;
      const params = new Tensor(p, [p.length]);
      const f = (x: Tensor) => renderScene(scene, x, { masks: false }).image;
      const img = f(params);
      // saturated pixels (bright rims) pass no gradient; that is fine for gradcheck as long as
      // no pixel sits exactly on a clamp limit
      const r = gradcheck(f, [params], { eps: 1e-6, atol: 1e-6, rtol: 1e-4 });
      expect(r.failure).toBeUndefined();
      // the model's own parameters get nonzero gradients
      const x = new Tensor(Float64Array.from(p), [p.length], true);
      f(x).backward(new Tensor(Float64Array.from(img.data, (_, i) => Math.cos(i)), img.shape));
      const used = preset === 'tio2-sem'
        ? ['particleBrightness', 'tiltExponent', 'edgeGain', 'detectorStrength', 'shadowStrength', 'substrateBrightness', 'textureAmplitude', 'textureScale', 'textureWidth', 'textureLevel', 'blurSigma', 'noiseGaussian', 'noiseShot']
        : ['particleBrightness', 'tiltExponent', 'substrateBrightness', 'textureAmplitude', 'textureScale', 'textureWidth', 'textureLevel', 'blurSigma', 'noiseGaussian', 'noiseShot', 'diffuse', 'specular', 'shininess'];
      for (const name of used) expect(Math.abs(x.grad!.data[PARAMETER_TABLE.findIndex((q) => q.name === name)]), name).toBeGreaterThan(0);
    });
  }

  it('parameter table: defaults inside [min, max] for every preset; unit mapping', () => {
    for (const q of PARAMETER_TABLE) {
      expect(q.min).toBeLessThan(q.max);
      for (const pr of PRESET_NAMES) {
        expect(PRESETS[pr].params[q.name]).toBeGreaterThanOrEqual(q.min);
        expect(PRESETS[pr].params[q.name]).toBeLessThanOrEqual(q.max);
      }
    }
    const lo = fromUnit(new Float64Array(PARAMETER_TABLE.length));
    const hi = fromUnit(new Float64Array(PARAMETER_TABLE.length).fill(1));
    PARAMETER_TABLE.forEach((q, i) => {
      expect(lo[i]).toBe(q.min);
      expect(hi[i]).toBeCloseTo(q.max, 12);
    });
  });

  it('rendered presets are finite, in [0, 1], and particles differ from the substrate as their model\'s polarity says', () => {
    for (const preset of PRESET_NAMES) {
      const cfg = mergeSceneConfig(presetConfig(preset), { width: 96, height: 96, particles: { count: { min: 3, max: 5 } } });
      const scene = sampleScene(cfg, new Rng(11));
      const r = renderScene(scene, defaultParams(preset));
      let sp = 0, np = 0, sb = 0, nb = 0;
      r.image.data.forEach((v, i) => {
        expect(v >= 0 && v <= 1).toBe(true);
        if (r.instances![i]) { sp += v; np++; } else { sb += v; nb++; }
      });
      expect(np).toBeGreaterThan(0);
      if (modelPolarity(cfg.shading.model) === 'bright') expect(sp / np, preset).toBeGreaterThan(sb / nb);
      else expect(sp / np, preset).toBeLessThan(sb / nb);
    }
  });
});

describe('registration of the image with its masks', () => {
  it('tio2-sem: the first background pixel outside the exact mask is near the substrate, not the particle (coverage alpha mixes, not the blended indicator)', () => {
    const cfg = mergeSceneConfig(presetConfig('tio2-sem'), { width: 96, height: 96, particles: { count: { min: 4, max: 6 } }, shading: { noise: false } });
    const p = defaultParams('tio2-sem');
    const set = (name: string, v: number) => (p[PARAMETER_TABLE.findIndex((q) => q.name === name)] = v);
    set('blurSigma', 0.3);
    set('textureAmplitude', 0);
    set('shadowStrength', 0);
    const rng = new Rng(21);
    const W = 96, H = 96;
    let ring = 0, nRing = 0, inner = 0, nInner = 0;
    for (let k = 0; k < 4; k++) {
      const r = renderScene(sampleScene(cfg, rng), p);
      const fg = (x: number, y: number) => x >= 0 && y >= 0 && x < W && y < H && r.instances![y * W + x] > 0;
      for (let y = 1; y < H - 1; y++) {
        for (let x = 1; x < W - 1; x++) {
          const nb = [fg(x - 1, y), fg(x + 1, y), fg(x, y - 1), fg(x, y + 1)];
          if (!fg(x, y) && nb.some(Boolean)) { ring += r.image.data[y * W + x]; nRing++; }
          if (fg(x, y) && !nb.every(Boolean)) { inner += r.image.data[y * W + x]; nInner++; }
        }
      }
    }
    const sub = p[PARAMETER_TABLE.findIndex((q) => q.name === 'substrateBrightness')];
    ring /= nRing;
    inner /= nInner;
    // halfway between substrate and the particle's boundary pixels or below
    expect(ring).toBeLessThan(sub + 0.5 * (inner - sub));
  });
});

describe('blur passes', () => {
  it('blurRaw (which skips all-zero rows) equals the blur op on sparse images', () => {
    const rng = new Rng(8);
    for (const [H, W, s] of [[40, 30, 2], [17, 5, 0.7], [3, 50, 3.1]] as const) {
      const x = new Float64Array(H * W);
      for (let y = 0; y < H; y++) if (rng.uniform() < 0.3) for (let i = 0; i < W; i++) x[y * W + i] = rng.uniform() < 0.5 ? rng.uniform() : 0;
      const a = blurRaw(x, H, W, s);
      const b = gaussianBlur(new Tensor(x, [H, W]), new Tensor(Float64Array.of(s), [1])).data;
      for (let i = 0; i < H * W; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-15);
    }
  });
  it('gaussianBlur gradient is the adjoint of the blur for any size and radius (borders included)', async () => {
    const fc = (await import('fast-check')).default;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), fc.double({ min: 0.1, max: 3.3, noNaN: true }), fc.integer({ min: 0, max: 1e6 }), (H, W, s, seed) => {
        const rng = new Rng(seed);
        const x = new Tensor(Float64Array.from({ length: H * W }, () => rng.uniform()), [H, W], true);
        const y = Float64Array.from({ length: H * W }, () => rng.uniform());
        const out = gaussianBlur(x, new Tensor(Float64Array.of(s), [1]));
        out.backward(new Tensor(y, [H, W]));
        // <y, B x> = <B^T y, x>
        let lhs = 0, rhs = 0;
        for (let i = 0; i < H * W; i++) {
          lhs += y[i] * out.data[i];
          rhs += x.grad!.data[i] * x.data[i];
        }
        expect(Math.abs(lhs - rhs)).toBeLessThan(1e-10 * Math.max(1, Math.abs(lhs)));
      }),
      { numRuns: 100, seed: 3 },
    );
  });
});

describe('raster cache', () => {
  it('cacheRaster gives the same image and parameter gradients, and follows geometry changes', () => {
    const cfg = mergeSceneConfig(presetConfig('tio2-sem'), { width: 24, height: 24, particles: { count: { min: 2, max: 2 }, baseRadius: 5, freq: 2 } });
    const scene = sampleScene(cfg, new Rng(4));
    const p = defaultParams('tio2-sem');
    const run = (cache: boolean) => {
      const x = new Tensor(Float64Array.from(p), [p.length], true);
      const r = renderScene(scene, x, { masks: false, cacheRaster: cache });
      r.image.backward(new Tensor(Float64Array.from(r.image.data, (_, i) => Math.cos(i)), r.image.shape));
      return { img: Array.from(r.image.data), g: Array.from(x.grad!.data), raster: r.raster };
    };
    const a = run(false), b = run(true), c = run(true);
    expect(c.raster).toBe(b.raster); // reused
    expect(b.img).toEqual(a.img);
    expect(c.img).toEqual(a.img);
    expect(c.g).toEqual(a.g);
    // a new geometry array invalidates the cache
    scene.mesh.positions = scene.mesh.positions.map((v, i) => (i % 3 === 0 ? v + 1 : v));
    const d = run(true);
    expect(d.raster).not.toBe(b.raster);
    expect(d.img).not.toEqual(a.img);
  });
});
