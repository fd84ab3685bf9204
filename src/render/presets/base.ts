/**
 * The scene every preset patches (preset.ts): a 256 x 256 orthographic patch of packed
 * polyhedra with an SEM side detector. Sizes in pixels.
 */
import type { SceneConfig } from '../config.js';

export const BASE_SCENE: Omit<SceneConfig, 'params'> = {
  width: 256,
  height: 256,
  camera: { kind: 'orthographic', fovDeg: 40 },
  particles: {
    shape: 'polyhedron',
    count: { min: 8, max: 30 },
    baseRadius: 14,
    size: { type: 'lognormal', mu: 0, sigma: 0.2 },
    placement: { type: 'packed', dims: 3, maxAgglomerates: 5, rotation: 'uniform' },
    freq: 5,
    polyhedron: { facets: 14, irregularity: 0.15, roundness: 0.35, elongation: 1.5 },
    wire: { length: 180, lengthJitter: 0.3, sides: 5, ends: 'rounded', segments: 8 },
  },
  raster: { sigma: 0.25, gamma: 0.5, cutoff: 1e-4 },
  shading: { model: 'sem', detectorAzimuthDeg: -60, detectorElevationDeg: 35, edgeWidth: 2, shadowLength: 4, noise: true },
  masks: { minArea: 50, contourDilation: 0, minBackground: 0.15, contrastFactor: 1.15 },
};
