/**
 * The image-formation parameters as one named vector. `PARAMETER_TABLE` is data: the generator
 * maps its sigmoid outputs s in (0, 1) linearly to min + s (max - min). Parameters a shading
 * model does not use receive zero gradient (HIM ignores detector/shadow; SEM ignores
 * diffuse/specular/shininess).
 */
export const PRESET_NAMES = ['tio2-sem', 'tio2-him', 'sio2-him', 'agnw-sem'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

export interface ParameterSpec {
  name: string;
  meaning: string;
  min: number;
  max: number;
  defaults: Record<PresetName, number>;
}

const d = (tio2Sem: number, tio2Him: number, sio2Him: number, agnwSem: number): Record<PresetName, number> => ({
  'tio2-sem': tio2Sem, 'tio2-him': tio2Him, 'sio2-him': sio2Him, 'agnw-sem': agnwSem,
});

export const PARAMETER_TABLE: readonly ParameterSpec[] = [
  // Particle material. Domain fact built into the parametrisation: TiO2, SiO2 and Ag emit many
  // more secondary electrons than the carbon / polymer film under them, so a particle's yield is
  // the substrate's plus a contrast of at least 0.3 grey levels (on the 24 TiO2-SEM dev-pool
  // images the median bright pixel lies 0.29-0.56 above the median dark one, median 0.42, from
  // an Otsu split without annotations); the GAN cannot hide particles by darkening them.
  { name: 'particleBrightness', meaning: 'SE yield of a particle face normal to the beam ABOVE the substrate\'s (grey levels): a flat face shows substrateBrightness + particleBrightness', min: 0.3, max: 0.9, defaults: d(0.45, 0.3, 0.3, 0.35) },
  { name: 'tiltExponent', meaning: 'n in yield = (substrateBrightness + particleBrightness) / cos(theta)^n: how fast the yield rises with surface tilt', min: 0.1, max: 1.3, defaults: d(0.3, 0.6, 0.6, 0.9) },
  { name: 'edgeGain', meaning: 'extra brightness just inside particle silhouettes (edge effect)', min: 0, max: 0.4, defaults: d(0.2, 0.2, 0.15, 0.25) },
  { name: 'detectorStrength', meaning: 'weight of the side-detector Lambertian term (faces towards the detector brighter, faces away at least 1 - this of their yield)', min: 0, max: 0.6, defaults: d(0.3, 0, 0, 0.3) },
  { name: 'shadowStrength', meaning: 'darkening of the substrate on the side of particles away from the detector', min: 0, max: 0.5, defaults: d(0.15, 0, 0, 0.2) },
  { name: 'substrateBrightness', meaning: 'grey level of the bare substrate film (between its ridges)', min: 0.02, max: 0.4, defaults: d(0.12, 0.25, 0.2, 0.15) },
  { name: 'textureAmplitude', meaning: 'grey level the film\'s ridge lines add on the substrate (0: a flat substrate)', min: 0, max: 0.2, defaults: d(0.06, 0.03, 0.03, 0.05) },
  { name: 'textureScale', meaning: 'spatial frequency of the band-passed noise whose iso-lines are the ridges (cycles / pixel; rings about 1 / this across)', min: 0.01, max: 0.15, defaults: d(0.055, 0.04, 0.04, 0.05) },
  { name: 'textureWidth', meaning: 'half-width of the ridge lines in noise units (larger: thicker lines, blobs where the film is flat)', min: 0.01, max: 0.08, defaults: d(0.03, 0.04, 0.04, 0.03) },
  { name: 'textureLevel', meaning: 'iso-level of the ridges in the noise field (0.5: a connected network of lines; higher: fewer, isolated rings)', min: 0.5, max: 0.8, defaults: d(0.62, 0.6, 0.6, 0.62) },
  { name: 'blurSigma', meaning: 'standard deviation of the Gaussian beam / reconstruction blur (pixels)', min: 0.2, max: 4, defaults: d(1.0, 3.0, 3.0, 0.7) },
  { name: 'noiseGaussian', meaning: 'std of additive Gaussian detector noise (grey levels)', min: 0, max: 0.06, defaults: d(0.008, 0.02, 0.02, 0.03) },
  { name: 'noiseShot', meaning: 'shot-noise factor: noise std += noiseShot * sqrt(signal)', min: 0, max: 0.1, defaults: d(0.015, 0.03, 0.03, 0.05) },
  { name: 'diffuse', meaning: 'HIM: weight of the Lambertian term towards the light (vs. flat ambient)', min: 0, max: 1, defaults: d(0.5, 0.6, 0.5, 0.5) },
  { name: 'specular', meaning: 'HIM: specular highlight strength (Blinn-Phong)', min: 0, max: 1, defaults: d(0.2, 0.25, 0.3, 0.2) },
  { name: 'shininess', meaning: 'HIM: Blinn-Phong exponent (higher = sharper highlights)', min: 1, max: 64, defaults: d(8, 12, 20, 8) },
];

export type ParamName = (typeof PARAMETER_TABLE)[number]['name'];
export const PARAM_INDEX: Record<string, number> = Object.fromEntries(PARAMETER_TABLE.map((p, i) => [p.name, i]));

/** Default parameter values for a preset, in table order. */
export function defaultParams(preset: PresetName): Float64Array {
  return Float64Array.from(PARAMETER_TABLE.map((p) => p.defaults[preset]));
}

/** Maps s in [0, 1]^P to [min, max] per parameter (the generator's output mapping), no tape. */
export function fromUnit(s: ArrayLike<number>): Float64Array {
  return Float64Array.from(PARAMETER_TABLE, (p, i) => p.min + s[i] * (p.max - p.min));
}

/** The table as markdown (for docs). */
export function parameterTableMarkdown(): string {
  const rows = PARAMETER_TABLE.map((p) => `| ${p.name} | ${p.meaning} | ${p.min} | ${p.max} | ${Object.values(p.defaults).join(' / ')} |`);
  return ['| name | meaning | min | max | defaults (' + Object.keys(PARAMETER_TABLE[0].defaults).join(' / ') + ') |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}
