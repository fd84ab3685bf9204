/** TiO2 nanoparticles, helium-ion microscopy: METHOD.md's second case. */
import type { Preset } from './preset.js';

export const tio2Him = {
  name: 'tio2-him',
  description: 'TiO2 nanoparticles, HIM: packed 3-D irregular rounded polyhedra, 3 px reconstruction filter',
  scene: {
    // lognormal(0, 0.1), packed 3-D, irregular rounded polyhedra, filter 3.0 px
    particles: {
      size: { type: 'lognormal', mu: 0, sigma: 0.1 },
      baseRadius: 18,
      count: { min: 6, max: 20 },
      placement: { type: 'packed', dims: 3, maxAgglomerates: 3, rotation: 'uniform' },
    },
    shading: { model: 'him', detectorAzimuthDeg: -135, detectorElevationDeg: 55 },
  },
  params: {
    particleBrightness: 0.3,
    tiltExponent: 0.6,
    edgeGain: 0.2,
    detectorStrength: 0,
    shadowStrength: 0,
    substrateBrightness: 0.25,
    textureAmplitude: 0.03,
    textureScale: 0.04,
    textureWidth: 0.04,
    textureLevel: 0.6,
    blurSigma: 3.0,
    noiseGaussian: 0.02,
    noiseShot: 0.03,
    diffuse: 0.6,
    specular: 0.25,
    shininess: 12,
    // transmission parameters (unused by this preset's model)
    filmBrightness: 0.8, massAttenuation: 0.15, diffractionContrast: 0.02, filmMottle: 0.03, filmResidue: 0, filmGradientX: 0, filmGradientY: 0,
    rimGain: 0,
    scanNoise: 0,
    brightnessGradient: 0,
    particleVariation: 0,
    particleGrain: 0,
    // no collection halo or contact crease (sem.ts)
    haloStrength: 0, haloWidth: 6, creaseStrength: 0, creaseWidth: 2,
    // the tilt law up to 87 deg (the yield rises without saturating)
    tiltFloor: 0.05,
  },
  // HIM parity with the reference: material (diffuse / specular / shininess), stage colour and
  // noise are learned; the reconstruction filter (blur 3 px) is fixed as in the reference.
  learned: ['particleBrightness', 'tiltExponent', 'edgeGain', 'substrateBrightness', 'textureAmplitude', 'diffuse', 'specular', 'shininess', 'noiseGaussian', 'noiseShot'],
} as const satisfies Preset;
