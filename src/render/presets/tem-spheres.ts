/** Generic TEM bright field of spheres: dark, partly transparent spheres on a carbon film. */
import type { Preset } from './preset.js';

export const temSpheres = {
  name: 'tem-spheres',
  description: 'spheres in TEM bright field: mass-thickness contrast on a mottled carbon film',
  scene: {
    // Fine geodesic spheres (the path length is interpolated over their faces), lognormal(0, 0.15)
    // around 16 px, packed on the film (2-D) in up to 4 agglomerates. Set size and packing to your
    // images in a scene config (particles.size, baseRadius, placement).
    particles: {
      shape: 'sphere',
      freq: 6,
      size: { type: 'lognormal', mu: 0, sigma: 0.15 },
      baseRadius: 16,
      count: { min: 6, max: 24 },
      placement: { type: 'packed', dims: 2, maxAgglomerates: 4, rotation: 'uniform' },
    },
    raster: { sigma: 0.1 },
    shading: { model: 'transmission' },
  },
  params: {
    // shaded-model parameters (unused by the transmission model)
    particleBrightness: 0.45, tiltExponent: 0.3, edgeGain: 0.2, detectorStrength: 0.3, shadowStrength: 0.15,
    substrateBrightness: 0.12, textureAmplitude: 0.06, diffuse: 0.5, specular: 0.2, shininess: 8,
    textureScale: 0.08,
    textureWidth: 0.08,
    textureLevel: 0.5,
    blurSigma: 1.0,
    noiseGaussian: 0.02,
    noiseShot: 0.02,
    // a 32 px sphere transmits exp(-0.05 * 32) = 20 % at its centre: thickness contrast visible
    filmBrightness: 0.75,
    massAttenuation: 0.05,
    diffractionContrast: 0.01,
    filmMottle: 0.03,
    filmResidue: 0,
    filmGradientX: 0,
    filmGradientY: 0,
    // SEM scan terms (issue 14), off here
    rimGain: 0, scanNoise: 0, brightnessGradient: 0, particleVariation: 0, particleGrain: 0,
    haloStrength: 0, haloWidth: 6, creaseStrength: 0, creaseWidth: 2,
    // the tilt law up to 87 deg (the yield rises without saturating)
    tiltFloor: 0.05,
  },
  learned: [
    'filmBrightness', 'massAttenuation', 'diffractionContrast', 'filmMottle', 'filmResidue', 'filmGradientX', 'filmGradientY',
    'textureScale', 'textureWidth', 'textureLevel', 'blurSigma', 'noiseGaussian', 'noiseShot',
  ],
} as const satisfies Preset;
