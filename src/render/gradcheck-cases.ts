/**
 * The renderer's gradient checks for `diffrendergan gradcheck` (registered in
 * src/cli/gradcheck.ts): the soft rasterizer (vertices and attributes, soft and sharp, culling
 * on and off), the blur (image and sigma, borders included), the substrate texture (its scale, line width and level)
 * and the whole image formation (every parameter through rasterize -> shade or transmission -> blur -> noise) on
 * the small scenes the tests use. Each case runs in well under a second.
 */
import type { GradcheckCase } from '../autodiff/gradcheck.js';
import { randomInput } from '../autodiff/gradcheck.js';
import { Rng } from '../autodiff/rng.js';
import { Tensor } from '../autodiff/tensor.js';
import { softRasterize } from './raster/soft.js';
import { gaussianBlur } from './shade/blur.js';
import { substrateTexture } from './shade/texture.js';
import { scanArtifacts } from './scan.js';
import { shade } from './shade/shade-op.js';
import { semModel } from './shade/sem.js';
import type { EdgeScale } from './shade/model.js';
import { fixedMaps, ALPHA_FULL } from './shade/fixed-maps.js';
import { toFragments } from './raster/fragments.js';
import { proximityMaps } from './shade/proximity.js';
import { PARAMETER_TABLE } from './params.js';
import { mergeSceneConfig } from './config.js';
import { presetConfig, defaultParams } from './presets/index.js';
import { renderScene, sampleScene } from './scene.js';
import { icosphere } from './mesh/icosphere.js';
import { transformMesh } from './mesh/types.js';

const t64 = (values: number[], shape: number[]): Tensor => new Tensor(Float64Array.from(values), shape);

/** Two overlapping triangles at different heights, one clockwise (the raster test's scene). */
function twoTriangles(): { verts: Tensor; attrs: Tensor; faces: Uint32Array } {
  return {
    verts: t64([1.3, 1.1, 2.0, 7.2, 2.4, 1.0, 3.1, 6.7, 1.5, 2.2, 3.3, 0.5, 6.4, 5.9, 2.5, 5.6, 1.2, 1.2], [6, 3]),
    attrs: t64([0.1, 0.9, 0.5, 0.3, 0.8, 0.2, 0.7, 0.4, 0.6, 0.35, 0.25, 0.15], [6, 2]),
    faces: Uint32Array.from([0, 1, 2, 3, 4, 5]),
  };
}

/** A 16 x 16 scene with two particles and a soft raster: small enough for finite differences. */
type TinyPreset = 'tio2-sem' | 'sio2-him' | 'tio2-tsem' | 'tem-spheres';
export function tinyScene(preset: TinyPreset) {
  const cfg = mergeSceneConfig(presetConfig(preset), {
    width: 16, height: 16,
    particles: { count: { min: 2, max: 2 }, baseRadius: 4, freq: 2, placement: { type: 'uniform', dims: 2, maxAgglomerates: 1, rotation: 'uniform' } },
    raster: { sigma: 0.5, gamma: 1, cutoff: 1e-12 },
  });
  return sampleScene(cfg, new Rng(5));
}

function pipelineParams(preset: TinyPreset): Float64Array {
  // off the clamp limits, blur radius ceil(4 sigma) + 1 away from a jump (as in the tests)
  const p = defaultParams(preset);
  const set = (name: string, v: number): void => {
    p[PARAMETER_TABLE.findIndex((q) => q.name === name)] = v;
  };
  set('particleBrightness', 0.3);
  set('noiseGaussian', 0.01);
  set('noiseShot', 0.01);
  set('edgeGain', 0.1);
  set('particleVariation', 0.2);
  set('particleGrain', 0.05);
  set('haloStrength', 0.3);
  set('haloWidth', 3);
  set('creaseStrength', 0.4);
  set('creaseWidth', 1.7);
  // the tilt law's floor above some normals' cos(theta) (the shade case draws n_z in 0.2-0.95)
  set('tiltFloor', 0.3);
  set('blurSigma', preset === 'sio2-him' ? 2.9 : 0.7);
  // transmission: every film term on, the particles not fully opaque
  set('massAttenuation', 0.1);
  set('diffractionContrast', 0.03);
  set('filmMottle', 0.1);
  set('filmResidue', 0.1);
  set('filmGradientX', 0.05);
  set('filmGradientY', -0.05);
  return p;
}

/** The SEM shading op on a random raster; `edgeScale` as shading.edgeScale. */
function shadeSemCase(edgeScale: EdgeScale): GradcheckCase {
  return {
    op: 'shadeSEM',
    variant: `7 x 5 raster (random normals, per-particle brightness factors u in [-1, 1], partial and full coverage) and every SEM parameter (surface grain, halo and crease on); fixed maps from the starting coverage, proximity maps from a random instance map${edgeScale === 'particle' ? '; edge and rim terms scaled by the particle\'s brightness factor (shading.edgeScale particle)' : ''}`,
    make: (rng: Rng) => {
      const H = 5, W = 7, HW = H * W;
      const r = new Float64Array(5 * HW);
      for (let i = 0; i < HW; i++) {
        r[i] = rng.range(-0.6, 0.6);
        r[HW + i] = rng.range(-0.6, 0.6);
        r[2 * HW + i] = rng.range(0.2, 0.95);
        r[3 * HW + i] = rng.range(-1, 1);
        // alpha: a third bare substrate, the rest partial or full coverage
        r[4 * HW + i] = rng.uniform() < 0.33 ? 0 : rng.range(0.05, 1.4 * ALPHA_FULL);
      }
      const p = pipelineParams('tio2-sem');
      const maps = fixedMaps(r.subarray(4 * HW), { width: W, height: H, edgeWidth: 1.5, shadow: { azimuthDeg: 30, length: 2 } });
      // particles 1-3 where covered (so contacts between them), substrate elsewhere
      const instances = Uint16Array.from({ length: HW }, (_, i) => (r[4 * HW + i] > 0 ? 1 + rng.int(3) : 0));
      const ctx = { model: 'sem', width: W, height: H, detectorAzimuthDeg: 30, detectorElevationDeg: 40, textureSeed: 3, noise: null, edgeWidth: 1.5, shadowLength: 2, edgeScale, proximity: proximityMaps(instances, W, H) };
      return {
        f: (raster: Tensor, x: Tensor, T: Tensor) => shade(semModel, toFragments(raster), x, T, maps, ctx),
        inputs: [new Tensor(r, [5, H, W]), new Tensor(p, [p.length]), randomInput(rng, [H, W], 0, 1)],
      };
    },
    options: { atol: 1e-6, rtol: 1e-4 },
  };
}

export const gradcheckCases: GradcheckCase[] = [
  {
    op: 'softRasterize',
    variant: 'two overlapping triangles, culling off, soft (sigma 0.6, gamma 0.7)',
    make: () => {
      const { verts, attrs, faces } = twoTriangles();
      const opts = { width: 8, height: 8, sigma: 0.6, gamma: 0.7, background: [0.2, 0.1], cutoff: 1e-12, cullBackfaces: false };
      return { f: (v: Tensor, a: Tensor) => softRasterize(v, faces, a, opts), inputs: [verts, attrs] };
    },
    options: { atol: 1e-5, rtol: 1e-4 },
  },
  {
    op: 'softRasterize',
    variant: 'two overlapping triangles, culling on, sharp (sigma 0.05, gamma 0.2)',
    make: () => {
      const { verts, attrs, faces } = twoTriangles();
      const opts = { width: 8, height: 8, sigma: 0.05, gamma: 0.2, background: [0.2, 0.1], cutoff: 1e-12 };
      return { f: (v: Tensor, a: Tensor) => softRasterize(v, faces, a, opts), inputs: [verts, attrs] };
    },
    options: { atol: 1e-5, rtol: 1e-4 },
  },
  {
    op: 'softRasterize',
    variant: 'geodesic sphere (freq 2, 80 faces) on a 12 x 12 image, 4 attribute channels',
    make: (rng: Rng) => {
      const m = transformMesh(icosphere(2), 4.3, [0.9, 0.1, -0.3, 0.2].map((x, _, a) => x / Math.hypot(...a)) as [number, number, number, number], [6.1, 5.7, 4.3]);
      const nv = m.positions.length / 3;
      const verts = new Tensor(Float64Array.from(m.positions), [nv, 3]);
      const attrs = randomInput(rng, [nv, 4], 0, 1);
      const opts = { width: 12, height: 12, sigma: 0.3, gamma: 0.5, background: [0, 0, 1, 0], cutoff: 1e-12 };
      return { f: (v: Tensor, a: Tensor) => softRasterize(v, m.faces, a, opts), inputs: [verts, attrs] };
    },
    options: { atol: 1e-5, rtol: 1e-4, maxElements: 40 },
  },
  {
    op: 'gaussianBlur',
    variant: '7 x 9 image, sigma 1.3 (radius 7 > half the width: clamped borders)',
    make: (rng: Rng) => ({ f: (x: Tensor, s: Tensor) => gaussianBlur(x, s), inputs: [randomInput(rng, [7, 9], 0, 1), t64([1.3], [1])] }),
  },
  {
    op: 'gaussianBlur',
    variant: '16 x 16 image, sigma 0.7',
    make: (rng: Rng) => ({ f: (x: Tensor, s: Tensor) => gaussianBlur(x, s), inputs: [randomInput(rng, [16, 16], 0, 1), t64([0.7], [1])] }),
  },
  {
    op: 'substrateTexture',
    variant: '12 x 10, scale 0.13, width 0.08, level 0.55 (lines cross the image), 3 octaves',
    make: () => ({ f: (s: Tensor, w: Tensor, l: Tensor) => substrateTexture(s, w, l, { width: 12, height: 10, seed: 3 }), inputs: [t64([0.13], [1]), t64([0.08], [1]), t64([0.55], [1])] }),
    options: { rtol: 1e-3 },
  },
  {
    op: 'substrateTexture',
    variant: '20 x 16, scale 0.06, width 0.03, level 0.62 (the TiO2-SEM default: thin isolated rings), 2 octaves',
    make: () => ({ f: (s: Tensor, w: Tensor, l: Tensor) => substrateTexture(s, w, l, { width: 20, height: 16, seed: 11, octaves: 2 }), inputs: [t64([0.06], [1]), t64([0.03], [1]), t64([0.62], [1])] }),
    options: { rtol: 1e-3 },
  },
  {
    op: 'scanArtifacts',
    variant: '9 x 7 image, row offsets and brightness gradient (scanNoise, brightnessGradient; the other parameters get 0)',
    make: (rng: Rng) => {
      const p = pipelineParams('tio2-sem');
      p[PARAMETER_TABLE.findIndex((q) => q.name === 'scanNoise')] = 0.02;
      p[PARAMETER_TABLE.findIndex((q) => q.name === 'brightnessGradient')] = 0.05;
      return { f: (b: Tensor, x: Tensor) => scanArtifacts(b, x, 17, true), inputs: [randomInput(rng, [9, 7], 0, 1), new Tensor(p, [p.length])] };
    },
  },
  shadeSemCase('additive'),
  {
    op: 'renderImage',
    variant: 'tio2-sem at 2 x 2 samples per pixel (raster.supersample 2): all parameters through rasterize, shade on the finer grid, box filter, blur, noise (16 x 16)',
    make: () => {
      const scene = tinyScene('tio2-sem');
      scene.config = mergeSceneConfig(scene.config, { raster: { supersample: 2 } });
      const p = pipelineParams('tio2-sem');
      return { f: (x: Tensor) => renderScene(scene, x, { masks: false }).image, inputs: [new Tensor(p, [p.length])] };
    },
  },
  ...(['tio2-sem', 'sio2-him', 'tio2-tsem', 'tem-spheres'] as const).map(

    (preset): GradcheckCase => ({
      op: 'renderImage',
      variant: `${preset}: all parameters through rasterize, ${presetConfig(preset).shading.model === 'transmission' ? 'path lengths, transmission' : 'shade'}, blur, noise (16 x 16)`,
      make: () => {
        const scene = tinyScene(preset);
        const p = pipelineParams(preset);
        return { f: (x: Tensor) => renderScene(scene, x, { masks: false }).image, inputs: [new Tensor(p, [p.length])] };
      },
    }),
  ),
  // appended, so that the cases above keep their random inputs (the test seeds each case by its index)
  shadeSemCase('particle'),
];
