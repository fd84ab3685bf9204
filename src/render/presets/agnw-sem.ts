/** Silver nanowires, SEM: METHOD.md's fourth case. */
import type { Preset } from './preset.js';

export const agnwSem = {
  name: 'agnw-sem',
  description: 'silver nanowires, SEM: long thin wires placed uniformly (they may cross)',
  scene: {
    // lognormal(0, 0.1), uniform random, long thin wires (may cross)
    particles: {
      shape: 'wire',
      size: { type: 'lognormal', mu: 0, sigma: 0.1 },
      baseRadius: 3,
      count: { min: 5, max: 12 },
      placement: { type: 'uniform', dims: 2, maxAgglomerates: 1, rotation: 'z' },
    },
  },
  params: {
    particleBrightness: 0.35,
    tiltExponent: 0.9,
    edgeGain: 0.25,
    detectorStrength: 0.3,
    shadowStrength: 0.2,
    substrateBrightness: 0.15,
    textureAmplitude: 0.05,
    textureScale: 0.05,
    textureWidth: 0.03,
    textureLevel: 0.62,
    blurSigma: 0.7,
    noiseGaussian: 0.03,
    noiseShot: 0.05,
    diffuse: 0.5,
    specular: 0.2,
    shininess: 8,
    // transmission parameters (unused by this preset's model)
    filmBrightness: 0.8, massAttenuation: 0.15, diffractionContrast: 0.02, filmMottle: 0.03, filmResidue: 0, filmGradientX: 0, filmGradientY: 0,
    rimGain: 0.05,
    scanNoise: 0.004,
    brightnessGradient: 0.02,
    particleVariation: 0,
    particleGrain: 0,
    // no collection halo or contact crease (sem.ts)
    haloStrength: 0, haloWidth: 6, creaseStrength: 0, creaseWidth: 2,
    // the tilt law up to 87 deg (the yield rises without saturating)
    tiltFloor: 0.05,
  },
  learned: [
    'particleBrightness', 'tiltExponent', 'edgeGain', 'detectorStrength', 'shadowStrength', 'substrateBrightness',
    'textureAmplitude', 'textureScale', 'blurSigma', 'noiseGaussian', 'noiseShot', 'rimGain', 'scanNoise', 'brightnessGradient',
  ],
} as const satisfies Preset;
