/** SiO2 spheres, helium-ion microscopy: METHOD.md's third case. */
import type { Preset } from './preset.js';

export const sio2Him = {
  name: 'sio2-him',
  description: 'SiO2 spheres, HIM: two sizes (bimodal), packed in 2-D',
  scene: {
    // bimodal N(0.8, 0.05) p = 0.7, N(0.3, 0.05) p = 0.3, packed, spheres
    particles: {
      shape: 'sphere',
      size: { type: 'bimodal', components: [{ mean: 0.8, std: 0.05, weight: 0.7 }, { mean: 0.3, std: 0.05, weight: 0.3 }] },
      baseRadius: 24,
      count: { min: 8, max: 24 },
      placement: { type: 'packed', dims: 2, maxAgglomerates: 3, rotation: 'uniform' },
    },
    shading: { model: 'him', detectorAzimuthDeg: -135, detectorElevationDeg: 55 },
  },
  params: {
    particleBrightness: 0.3,
    tiltExponent: 0.6,
    edgeGain: 0.15,
    detectorStrength: 0,
    shadowStrength: 0,
    substrateBrightness: 0.2,
    textureAmplitude: 0.03,
    textureScale: 0.04,
    textureWidth: 0.04,
    textureLevel: 0.6,
    blurSigma: 3.0,
    noiseGaussian: 0.02,
    noiseShot: 0.03,
    diffuse: 0.5,
    specular: 0.3,
    shininess: 20,
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
  // as tio2-him: the reconstruction filter stays fixed
  learned: ['particleBrightness', 'tiltExponent', 'edgeGain', 'substrateBrightness', 'textureAmplitude', 'diffuse', 'specular', 'shininess', 'noiseGaussian', 'noiseShot'],
} as const satisfies Preset;
