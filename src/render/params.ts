/**
 * The image-formation parameters theta as one named vector. `PARAMETER_TABLE` holds what each
 * parameter means and its range; the values a preset starts from live in its record
 * (src/render/presets/). The generator maps its sigmoid outputs s in (0, 1) linearly to
 * min + s (max - min) (or into a run's narrower calibrated ranges, src/gan/imaging-calibration.ts). Parameters an image-formation model does not use receive zero gradient
 * (HIM ignores detector / shadow; SEM ignores diffuse / specular / shininess; the transmission
 * model uses only the film*, massAttenuation, diffractionContrast, texture scale / width / level,
 * blur and noise parameters, and the shaded models ignore those film* and attenuation ones).
 */
import { ConfigError } from '../errors.js';

export interface ParameterSpec {
  readonly name: string;
  readonly meaning: string;
  readonly min: number;
  readonly max: number;
}

export const PARAMETER_TABLE = [
  // Particle material. Domain fact built into the parametrisation: TiO2, SiO2 and Ag emit many
  // more secondary electrons than the carbon / polymer film under them, so a particle's yield is
  // the substrate's plus a contrast of at least 0.3 grey levels (on the 24 TiO2-SEM dev-pool
  // images the median bright pixel lies 0.29-0.56 above the median dark one, median 0.42, from
  // an Otsu split without annotations); the GAN cannot hide particles by darkening them.
  { name: 'particleBrightness', meaning: 'SE yield of a particle face normal to the beam ABOVE the substrate\'s (grey levels): a flat face shows substrateBrightness + particleBrightness', min: 0.3, max: 0.9 },
  { name: 'tiltExponent', meaning: 'n in yield = (substrateBrightness + particleBrightness) / cos(theta)^n: how fast the yield rises with surface tilt', min: 0.1, max: 1.3 },
  { name: 'edgeGain', meaning: 'extra brightness just inside particle silhouettes (edge effect)', min: 0, max: 0.4 },
  { name: 'detectorStrength', meaning: 'weight of the side-detector Lambertian term (faces towards the detector brighter, faces away at least 1 - this of their yield)', min: 0, max: 0.6 },
  { name: 'shadowStrength', meaning: 'darkening of the substrate on the side of particles away from the detector', min: 0, max: 0.5 },
  { name: 'substrateBrightness', meaning: 'grey level of the bare substrate film (between its ridges)', min: 0.02, max: 0.4 },
  { name: 'textureAmplitude', meaning: 'grey level the film\'s ridge lines add on the substrate (0: a flat substrate)', min: 0, max: 0.2 },
  { name: 'textureScale', meaning: 'spatial frequency of the band-passed noise whose iso-lines are the ridges (cycles / pixel; rings about 1 / this across)', min: 0.01, max: 0.15 },
  { name: 'textureWidth', meaning: 'half-width of the ridge lines in noise units (larger: thicker lines, blobs where the film is flat)', min: 0.01, max: 0.08 },
  { name: 'textureLevel', meaning: 'iso-level of the ridges in the noise field (0.5: a connected network of lines; higher: fewer, isolated rings)', min: 0.5, max: 0.8 },
  { name: 'blurSigma', meaning: 'standard deviation of the Gaussian beam / reconstruction blur (pixels)', min: 0.2, max: 4 },
  { name: 'noiseGaussian', meaning: 'std of additive Gaussian detector noise (grey levels)', min: 0, max: 0.06 },
  { name: 'noiseShot', meaning: 'shot-noise factor: noise std += noiseShot * sqrt(signal)', min: 0, max: 0.1 },
  { name: 'diffuse', meaning: 'HIM: weight of the Lambertian term towards the light (vs. flat ambient)', min: 0, max: 1 },
  { name: 'specular', meaning: 'HIM: specular highlight strength (Blinn-Phong)', min: 0, max: 1 },
  { name: 'shininess', meaning: 'HIM: Blinn-Phong exponent (higher = sharper highlights)', min: 1, max: 64 },
  // Transmission (TEM / STEM bright field, TSEM; shade/transmission.ts). On the 24 TiO2-TSEM
  // dev-pool images (Otsu split, no annotations) the film's median grey level is 0.68-0.91 and the
  // particles' 0.00-0.07: TiO2 particles ~30 px across are nearly opaque (mu t ~ 3 at the centre).
  { name: 'filmBrightness', meaning: 'transmission: grey level of the bare support film (the transmitted beam, I0)', min: 0.3, max: 1 },
  { name: 'massAttenuation', meaning: 'transmission: mu in I = I0 exp(-mu t), attenuation per pixel of path length t through the particles (mass-thickness contrast)', min: 0.005, max: 0.5 },
  { name: 'diffractionContrast', meaning: 'transmission: extra attenuation per pixel of path times each particle\'s diffraction strength u in [0, 1] (crystalline particles differ in darkness; 0: off)', min: 0, max: 0.2 },
  { name: 'filmMottle', meaning: 'transmission: darkening of the film by its mottle (the noise pattern of textureScale / textureWidth / textureLevel), as a fraction of filmBrightness', min: 0, max: 0.3 },
  { name: 'filmResidue', meaning: 'transmission: darkening of the film by grey residue patches (a fixed large-scale blotch pattern), as a fraction of filmBrightness', min: 0, max: 0.4 },
  { name: 'filmGradientX', meaning: 'transmission: relative change of the film brightness from the left to the right edge (uneven illumination or film thickness)', min: -0.2, max: 0.2 },
  { name: 'filmGradientY', meaning: 'transmission: relative change of the film brightness from the top to the bottom edge', min: -0.2, max: 0.2 },
  // Terms the TiO2-SEM side-by-side comparison asked for (issue 14): the SE edge effect falls off
  // over the electrons' escape depth, several px at this resolution, not only in a thin band; SEM
  // frames carry line-to-line offsets of the scan and slow brightness drifts.
  { name: 'rimGain', meaning: 'SEM: brightness of the wide rim band (3 x shading.edgeWidth inside the silhouette, fading with the distance to it: the escape-depth edge effect beyond the narrow edgeGain band)', min: 0, max: 0.3 },
  { name: 'scanNoise', meaning: 'std of a grey-level offset shared by all pixels of one scan line (row-correlated scan noise)', min: 0, max: 0.03 },
  { name: 'brightnessGradient', meaning: 'amplitude of a slow brightness gradient across the image (grey levels at the image edge; a fixed random direction and curvature per image)', min: 0, max: 0.08 },
  { name: 'particleVariation', meaning: 'SEM: spread of the particles\' own brightness: each particle\'s yield is multiplied by 1 + this x u, u uniform in [-1, 1] and fixed per particle (orientation, composition and charging differ between particles; real TiO2 agglomerates show light and dark grey neighbours)', min: 0, max: 0.5 },
  { name: 'particleGrain', meaning: 'SEM: relative depth of the particles\' surface grain: the yield is multiplied by 1 + this x g, g a fixed zero-mean, unit-std field of 1-2 px features (surface roughness below the resolved scale tilts the surface from pixel to pixel; real TiO2 particle bodies are mottled, not smooth; the range ends at 0.06 because inside the dev-pool particles the whole fine residual, detector noise included, is about 4 % of the grey level, and a GAN free up to 0.3 went to 0.27, a speckle no micrograph shows)', min: 0, max: 0.06 },
  // SE collection shadowing (issue 14): on the 24 TiO2-SEM dev-pool micrographs the substrate
  // 1-5 px outside every particle is darker than far from them (0.094-0.102 against 0.118, on
  // all sides, so not the detector-side shadow above), and touching particles are parted by a
  // dark crease. Secondary electrons leaving the film next to a particle, or the surfaces where
  // two particles meet, are partly intercepted by the neighbouring particle before they reach
  // the detector. Distances come from the exact instance map (shade/proximity.ts).
  { name: 'haloStrength', meaning: 'SEM: darkening of the substrate next to particles (all sides): the substrate term is multiplied by 1 - this x exp(-(d / haloWidth)^2 / 2), d the distance (px) outside the nearest particle silhouette', min: 0, max: 0.5 },
  { name: 'haloWidth', meaning: 'SEM: width (px) of the substrate halo outside the silhouettes (a Gaussian of the distance: flat near the particles, 61 % of its depth at this distance, 14 % at twice it)', min: 1, max: 40 },
  { name: 'creaseStrength', meaning: 'SEM: darkening of the particles where two silhouettes meet or overlap: the particle term is multiplied by 1 - this x (1 - d / creaseWidth)^2 for d < creaseWidth, d the distance (px) to the nearest contact pixel (the particle pixels next to another particle)', min: 0, max: 0.9 },
  { name: 'creaseWidth', meaning: 'SEM: extent (px) of the contact crease on both particles (the darkening falls to 0 there)', min: 0.5, max: 6 },
  // The particle bodies (issue 14): the 1 / cos(theta)^n law diverges at grazing tilt, so a
  // render's outermost particle pixel (cos theta ~ 0.05) shows 0.05^-n, a one-pixel rim up to 11 x
  // the body at n = 0.8; on the lone particles of the 24 TiO2-SEM dev-pool micrographs the
  // outermost pixels are 1.1-1.2 x the centre and the band peaks at 1.7 x two pixels inside
  // (src/gan/body-profile.ts). At grazing incidence the SE yield saturates: the excited volume
  // reaches through the thin edge and the escape area stops growing.
  { name: 'tiltFloor', meaning: 'SEM: the smallest cos(theta) the tilt law uses: beyond the tilt acos(tiltFloor) the yield stops rising (saturation of the SE edge effect at grazing incidence; 0.05 = 87 deg, the law almost unbounded)', min: 0.05, max: 0.6 },
] as const satisfies readonly ParameterSpec[];


export type ParamName = (typeof PARAMETER_TABLE)[number]['name'];
export const PARAM_NAMES: readonly ParamName[] = PARAMETER_TABLE.map((p) => p.name);
export const PARAM_INDEX = Object.fromEntries(PARAMETER_TABLE.map((p, i) => [p.name, i])) as Record<ParamName, number>;

/** True when `name` is a parameter of the table. */
export function isParamName(name: string): name is ParamName {
  return Object.prototype.hasOwnProperty.call(PARAM_INDEX, name);
}

/** The table index of a parameter named by a string (a run's config, a flag); throws on an unknown name. */
export function paramIndex(name: string): number {
  if (!isParamName(name)) throw new ConfigError('learned', `unknown parameter '${name}'; allowed: ${PARAM_NAMES.join(', ')}`);
  return PARAM_INDEX[name];
}

/**
 * A config's parameter values as a vector in table order. Every parameter must be set: a preset
 * sets all of them and a user's config is merged over a preset (mergeSceneConfig checks both).
 */
export function paramsVector(config: { params: Readonly<Record<string, number>> }): Float64Array {
  return Float64Array.from(PARAMETER_TABLE, (p) => {
    const v = config.params[p.name];
    if (typeof v !== 'number') throw new ConfigError(`params.${p.name}`, 'missing; a scene config must set every image-formation parameter');
    return v;
  });
}

/** Maps s in [0, 1]^P to [min, max] per parameter (the generator's output mapping), no tape. */
export function fromUnit(s: ArrayLike<number>): Float64Array {
  return Float64Array.from(PARAMETER_TABLE, (p, i) => p.min + s[i] * (p.max - p.min));
}
