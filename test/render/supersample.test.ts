import { describe, it, expect } from 'vitest';
import { Rng } from '../../src/autodiff/index.js';
import { noGrad } from '../../src/autodiff/tape.js';
import { mergeSceneConfig, presetConfig, sampleScene, renderScene, paramsVector, type SceneConfig } from '../../src/render/index.js';
import { project } from '../../src/render/camera.js';
import { hardRasterize } from '../../src/render/raster/hard.js';
import { repeatPixels } from '../../src/render/shade/supersample.js';
import { ConfigError } from '../../src/errors.js';

/** tio2-sem at 48 x 48, noiseless, with the image-formation parameters `params` and raster.supersample s. */
function config(s: number, params: Record<string, number> = {}): SceneConfig {
  return mergeSceneConfig(presetConfig('tio2-sem'), {
    width: 48, height: 48,
    particles: { count: { min: 3, max: 3 }, baseRadius: 7, placement: { type: 'uniform', dims: 2, maxAgglomerates: 1, rotation: 'uniform' } },
    raster: { supersample: s },
    shading: { noise: false },
    params: { noiseGaussian: 0, noiseShot: 0, scanNoise: 0, brightnessGradient: 0, ...params },
  });
}

function image(cfg: SceneConfig, seed = 3): { data: Float32Array | Float64Array; instances: Uint16Array } {
  const scene = sampleScene(cfg, new Rng(seed));
  const r = noGrad(() => renderScene(scene, paramsVector(cfg)));
  return { data: r.image.data, instances: r.hard!.instances };
}

describe('supersampled rendering (raster.supersample)', () => {
  it('repeatPixels repeats every value over its s x s block', () => {
    const a = [1, 2, 3, 4, 5, 6];
    const r = repeatPixels(a, 3, 2, 2);
    expect(Array.from(r)).toEqual([1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 4, 4, 5, 5, 6, 6]);
    expect(() => repeatPixels(a, 2, 2, 2)).toThrow(/6 values for a 2 x 2 map/);
  });

  it('leaves the masks and the image far from the particles as they are at one sample per pixel', () => {
    const one = image(config(1, { shadowStrength: 0 }));
    for (const s of [2, 3]) {
      const many = image(config(s, { shadowStrength: 0 }));
      expect(Array.from(many.instances)).toEqual(Array.from(one.instances));
      // far from every particle (the shadow, rim and blur reach a few px) the image is the substrate's
      const W = 48;
      let far = 0;
      for (let i = 0; i < one.data.length; i++) {
        const x = i % W, y = Math.floor(i / W);
        let near = false;
        for (let dy = -14; dy <= 14 && !near; dy++) for (let dx = -14; dx <= 14 && !near; dx++) {
          const xx = x + dx, yy = y + dy;
          if (xx >= 0 && yy >= 0 && xx < W && yy < W && one.instances[yy * W + xx] !== 0) near = true;
        }
        if (near) continue;
        far++;
        expect(Math.abs(many.data[i] - one.data[i])).toBeLessThan(1e-6);
      }
      expect(far).toBeGreaterThan(50);
    }
  });

  it('gives each pixel its covered area: the box-filtered coverage approaches the exact one as 1 / s', () => {
    // I = sb + mean over the pixel's samples of w_k (y0 c_k^-n - sb) with y0 = sb + pb (no
    // texture, rims, detector, shadow, variation, grain; blur 0.2 px: about the identity), so
    // dI / dsb - dI / dpb = 1 - coverage exactly, read back from three renders (I is linear in sb, pb)
    const flat = { tiltExponent: 0.1, detectorStrength: 0, edgeGain: 0, rimGain: 0, shadowStrength: 0, textureAmplitude: 0, particleVariation: 0, particleGrain: 0, blurSigma: 0.2 };
    const coverage = (s: number): Float64Array => {
      const at = (sb: number, pb: number) => image(config(s, { ...flat, substrateBrightness: sb, particleBrightness: pb })).data;
      const base = at(0.1, 0.4), dsb = at(0.12, 0.4), dpb = at(0.1, 0.42);
      return Float64Array.from(base, (b, i) => 1 - ((dsb[i] - b) / 0.02 - (dpb[i] - b) / 0.02));
    };
    // the exact coverage: the hard raster at 16 x 16 samples per pixel, box-filtered
    const scene = sampleScene(config(1, flat), new Rng(3));
    const K = 16, W = 48;
    const proj = project(scene.camera, scene.mesh.positions);
    for (let i = 0; i < proj.length; i += 3) { proj[i] *= K; proj[i + 1] *= K; }
    const fine = hardRasterize(proj, scene.mesh.faces, scene.faceOwner, { width: K * W, height: K * W }).instances;
    const exact = new Float64Array(W * W);
    for (let i = 0; i < fine.length; i++) if (fine[i]) exact[Math.floor(Math.floor(i / (K * W)) / K) * W + Math.floor((i % (K * W)) / K)] += 1 / (K * K);
    const err = (s: number): number => {
      const c = coverage(s);
      let e = 0, n = 0;
      for (let i = 0; i < W * W; i++) {
        if (exact[i] === 0 || exact[i] === 1) continue; // the silhouette's pixels
        e += Math.abs(c[i] - exact[i]);
        n++;
      }
      expect(n).toBeGreaterThan(50);
      return e / n;
    };
    // point sampling's error on an edge falls about as 1 / s (measured: 0.42, 0.16, 0.10, 0.07 for s = 1 .. 4)
    const e1 = err(1), e2 = err(2), e4 = err(4);
    expect(e2).toBeLessThan(e1 / 2);
    expect(e4).toBeLessThan(0.1);
    expect(e4).toBeLessThan(e1 / 4);
  });

  it('refuses supersampling for the transmission model, naming the field', () => {
    expect(() => mergeSceneConfig(presetConfig('tio2-tsem'), { raster: { supersample: 2 } })).toThrow(ConfigError);
    expect(() => mergeSceneConfig(presetConfig('tio2-tsem'), { raster: { supersample: 2 } })).toThrow(/raster\.supersample/);
    expect(() => mergeSceneConfig(presetConfig('tio2-sem'), { raster: { supersample: 5 } })).toThrow(/raster\.supersample/);
  });
});
