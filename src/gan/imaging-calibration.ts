/**
 * Annotation-free calibration of the image formation from the user's real micrographs, before the
 * GAN (calibrate.ts does the same for the scene geometry). Grey-level statistics of the real
 * patches are matched by renders of the scene, each measured the same way on both sides:
 *
 * - the substrate level: the median grey value of the pixels at least FAR px outside the Otsu
 *   foreground (the bare film between the particles);
 * - the particle body level: the median of the pixels at least FAR px inside it (the bodies, past
 *   the rims), and the spread of those pixels;
 * - the edge profile: the median grey level at each distance from the Otsu boundary, PROFILE_IN
 *   px inside to PROFILE_OUT px outside;
 * - the fine residual of the substrate: a robust standard deviation (1.4826 x the median absolute
 *   deviation) of the pixel minus its 3 x 3 mean over the same substrate pixels. On the renders
 *   the film's ridge texture leaves a residual too, so the noise is calibrated by its excess;
 * - the contact profile (contact-profile.ts): the grey level on the watershed lines between
 *   touching particles of one Otsu component, and 1-5 px from them, relative to the particles'
 *   own levels: the dark creases where particles meet, without knowing where they meet.
 *
 * Why: the GAN starts from the scene's values (GanConfig.start), and the statistics tell it where
 * the micrographs are. On the 24 TiO2-SEM dev-pool images (128 px patches) the bodies sit at a
 * median 0.55 and the substrate at 0.13; the preset's hand-set levels render bodies near 0.45,
 * and a GAN that started in the middle of every range (blur 2.1 px, detector noise 0.03) drove the
 * noise and the blur to zero and the bodies to the floor of their range (docs/realism.md).
 *
 * Only shaded models with bright particles (SEM) are calibrated: the levels are set through
 * substrateBrightness and particleBrightness, the edge profile through PROFILE_GRID's parameters,
 * the body spread through particleVariation, the noise through noiseGaussian and noiseShot
 * (scaled together, keeping their ratio).
 */
import { pooledOtsuThreshold, gaussianBlur } from '../particles/otsu.js';
import { median } from './median.js';
import { addContactRatios, contactDistance, contactProfile, emptyContactBins } from './contact-profile.js';
import { squaredDistanceTransform } from '../particles/distance.js';
import { Rng } from '../autodiff/rng.js';
import { noGrad } from '../autodiff/tape.js';
import { mergeSceneConfig, type SceneConfig } from '../render/config.js';
import { sampleScene, renderScene } from '../render/scene.js';
import { PARAMETER_TABLE, paramIndex, paramsVector, type ParamName } from '../render/params.js';
import { bodyProfile, type BodyProfile } from './body-profile.js';

/** Pixels closer than this (px) to the Otsu boundary belong to neither the substrate nor a body. */
export const FAR = 6;
/** Depth of the edge profile inside and outside the Otsu boundary (px). */
export const PROFILE_IN = 10;
export const PROFILE_OUT = 30;
/**
 * The outside depth (px) the edge fit compares without the halo terms (the nearest bins: the blur
 * and the shadow); with them, all PROFILE_OUT (the dev-pool's dark ring reaches its far level
 * only 25-30 px out). Bins beyond this one may be empty (small images) and are then skipped.
 */
export const PROFILE_OUT_EDGE = 5;

type Grey = { width: number; height: number; data: ArrayLike<number> };

export interface ImagingStatistics {
  /** Median grey level of the substrate far from particles. */
  substrate: number;
  /** Median grey level of the particle bodies far inside them. */
  body: number;
  /**
   * Spread of those body pixels: (90th - 10th percentile) / median. On the micrographs mostly
   * the particles' differences in brightness (light and dark grey neighbours), which
   * particleVariation renders.
   */
  bodySpread: number;
  /** Robust std of the 3 x 3 high-pass residual on that substrate. */
  residual: number;
  /**
   * The edge profile: median grey level of the pixels at distance d = 1 .. PROFILE_IN px inside
   * the Otsu boundary (inside[d - 1]) and d = 1 .. PROFILE_OUT px outside it (outside[d - 1]):
   * how sharp the edge is, how bright and wide the rim, how dark the shadow ring.
   */
  inside: number[];
  /** NaN beyond PROFILE_OUT_EDGE where no pixel lies that far out. */
  outside: number[];
  /**
   * The contact profile (contact-profile.ts): median grey on the contact lines between touching
   * particles over their levels (contact[0]), and 1 .. CONTACT_REACH px from them (NaN: none);
   * null when not asked for (StatisticsProfiles).
   */
  contact: number[] | null;
  /** Contact line pixels behind contact[0] (0 when not asked for). */
  contactPixels: number;
  /**
   * The lone particles' shading profile inside their outline (body-profile.ts, same threshold);
   * null without any, or when not asked for. Reported (train's log), not fitted: on 12 renders it
   * rests on a handful of particles, and the tilt law's floor that shapes it is learned by the GAN.
   */
  bodyProfile: BodyProfile | null;
  /** Pixels behind each statistic. */
  substratePixels: number;
  bodyPixels: number;
}

/** The q-quantile (nearest rank) of a non-empty list. */
function quantile(v: number[], q: number): number {
  const s = Float64Array.from(v).sort();
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/**
 * Which of the two profiles imagingStatistics computes. Each costs a pass of its own per image
 * (the contact profile a watershed, the body profile the components and their hulls): together
 * about half the statistics' time on 128 px renders, so the calibration's candidates compute
 * only the one their error reads.
 */
export interface StatisticsProfiles {
  contact: boolean;
  body: boolean;
}
export const ALL_PROFILES: StatisticsProfiles = { contact: true, body: true };
export const NO_PROFILES: StatisticsProfiles = { contact: false, body: false };

/**
 * The statistics above over a set of images with bright particles. One Otsu threshold for the
 * whole set (of the images smoothed at sigma 1, so that noise does not speckle the foreground):
 * a patch that is almost all substrate has no threshold of its own worth the name.
 */
export function imagingStatistics(images: readonly Grey[], profiles: StatisticsProfiles = ALL_PROFILES): ImagingStatistics | null {
  if (images.length === 0) return null;
  const smooth = images.map((im) => gaussianBlur(im.data, im.width, im.height, 1));
  const t = pooledOtsuThreshold(smooth);
  const sub: number[] = [];
  const body: number[] = [];
  const dev: number[] = [];
  const far2 = FAR * FAR;
  const contactBins = emptyContactBins();
  const inBins: number[][] = Array.from({ length: PROFILE_IN }, () => []);
  const outBins: number[][] = Array.from({ length: PROFILE_OUT }, () => []);
  images.forEach((im, k) => {
    const { width: W, height: H, data } = im;
    const s = smooth[k];
    const fg = new Uint8Array(W * H);
    const bg = new Uint8Array(W * H);
    for (let i = 0; i < W * H; i++) {
      fg[i] = s[i] > t ? 1 : 0;
      bg[i] = 1 - fg[i];
    }
    const inside = squaredDistanceTransform(fg, W, H);
    const outside = squaredDistanceTransform(bg, W, H);
    for (let y = 1; y < H - 1; y++) {
      for (let x = 1; x < W - 1; x++) {
        const i = y * W + x;
        const d = Math.round(Math.sqrt(fg[i] ? inside[i] : outside[i]));
        if (fg[i] && d <= PROFILE_IN) inBins[d - 1].push(data[i]);
        else if (!fg[i] && d <= PROFILE_OUT) outBins[d - 1].push(data[i]);
        if (fg[i] && inside[i] >= far2) body.push(data[i]);
        else if (!fg[i] && outside[i] >= far2) {
          sub.push(data[i]);
          let m = 0;
          for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) m += data[i + dy * W + dx];
          dev.push(data[i] - m / 9);
        }
      }
    }
    if (profiles.contact) addContactRatios(contactBins, s, W, H, t);
  });
  if (sub.length < 100 || body.length < 100) return null;
  const md = median(dev);
  const residual = 1.4826 * median(dev.map((d) => Math.abs(d - md)));
  if (inBins.some((b) => b.length === 0) || outBins.slice(0, PROFILE_OUT_EDGE).some((b) => b.length === 0)) return null;
  const bodyMedian = median(body);
  const bodySpread = (quantile(body, 0.9) - quantile(body, 0.1)) / bodyMedian;
  return {
    substrate: median(sub), body: bodyMedian, bodySpread, residual, inside: inBins.map(median), outside: outBins.map(median),
    contact: profiles.contact ? contactProfile(contactBins) : null, contactPixels: contactBins[0].length,
    bodyProfile: profiles.body ? bodyProfile(images, t, smooth) : null, substratePixels: sub.length, bodyPixels: body.length,
  };
}

/** `n` renders of the scene at `params` (noise as the scene's shading says), images only. */
function renders(scene: SceneConfig, params: Record<string, number>, n: number, seed: number): Grey[] {
  const cfg = mergeSceneConfig(scene, { params });
  const rng = new Rng(seed);
  const P = paramsVector(cfg);
  return noGrad(() => Array.from({ length: n }, () => ({ width: cfg.width, height: cfg.height, data: renderScene(sampleScene(cfg, rng), P, { masks: false }).image.data })));
}

/**
 * One candidate of the calibration: the statistics of `n` renders of `scene` at `params` with
 * seed `seed`, with the profiles `profiles` asks for (default none). Jobs are plain data and independent of each other, so a runner may compute them
 * anywhere (the CLI: on worker threads, src/node/task-workers.ts) in any order; the calibration
 * reads the results in the jobs' order.
 */
export interface ImagingJob {
  scene: SceneConfig;
  params: Record<string, number>;
  n: number;
  seed: number;
  profiles?: StatisticsProfiles;
}

export function evaluateImagingJob(job: ImagingJob): ImagingStatistics | null {
  return imagingStatistics(renders(job.scene, job.params, job.n, job.seed), job.profiles ?? NO_PROFILES);
}

/** Computes the statistics of each job, in the jobs' order. */
export type ImagingRunner = (jobs: ImagingJob[]) => Promise<(ImagingStatistics | null)[]>;

/** The jobs one after the other on the calling thread. */
export const runImagingJobsHere: ImagingRunner = async (jobs) => jobs.map(evaluateImagingJob);

function clampParam(name: ParamName, v: number): number {
  const p = PARAMETER_TABLE[paramIndex(name)];
  return Math.min(p.max, Math.max(p.min, v));
}

/**
 * Squared distance between two edge profiles (grey levels), inside and outside bins alike, over
 * the first `outBins` outside bins (default all; bins empty on either side are skipped).
 */
export function profileDistance(a: ImagingStatistics, b: ImagingStatistics, outBins = a.outside.length): number {
  let d = 0;
  for (let i = 0; i < a.inside.length; i++) d += (a.inside[i] - b.inside[i]) ** 2;
  for (let i = 0; i < outBins; i++) if (Number.isFinite(a.outside[i]) && Number.isFinite(b.outside[i])) d += (a.outside[i] - b.outside[i]) ** 2;
  return d;
}

/** The parameters the edge profile is fitted with, and the values each may take. */
export const PROFILE_GRID: { name: ParamName; values: number[] }[] = [
  { name: 'blurSigma', values: [0.3, 0.5, 0.75, 1.0, 1.4] },
  { name: 'tiltExponent', values: [0.1, 0.3, 0.5, 0.8] },
  { name: 'edgeGain', values: [0, 0.1, 0.2] },
  { name: 'rimGain', values: [0, 0.05, 0.1, 0.2] },
  { name: 'shadowStrength', values: [0, 0.15, 0.3, 0.45] },
  // the dark ring around the particles (the dev-pool's profile 2-15 px outside is 0.094-0.102,
  // 0.110-0.114 at 16-25 px, 0.118 from 26 px)
  { name: 'haloStrength', values: [0, 0.1, 0.2, 0.3, 0.4] },
  { name: 'haloWidth', values: [4, 8, 12, 16, 22, 30] },
];

/**
 * Which of the SE collection terms (sem.ts) the calibration fits; the others keep the scene's
 * values. train fits those the GAN learns (the preset's list or --learn).
 */
export interface ProximityTerms {
  /** haloStrength and haloWidth, on the edge profile. */
  halo: boolean;
  /** creaseStrength and creaseWidth, on the contact profile. */
  crease: boolean;
}

/**
 * The crease fit renders this many times the calibration's scenes: the contact profile rests on
 * the few contact lines of a dozen patches (about 60 line pixels per 128 px render), and on 12
 * renders its first bin moved by up to 0.03 with the scenes' seed, as much as the creases move it.
 */
export const CREASE_RENDERS = 4;

/** The values of creaseStrength and creaseWidth the contact profile is fitted with (table ranges 0-0.9 and 0.5-6 px). */
export const CREASE_GRID: { name: ParamName; values: number[] }[] = [
  { name: 'creaseStrength', values: [0, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9] },
  { name: 'creaseWidth', values: [1, 2, 3, 4.5] },
];

/** The values of particleVariation the body spread is fitted with (its table range is 0-0.5). */
export const VARIATION_VALUES = [0, 0.1, 0.2, 0.3, 0.4, 0.5];

export interface ImagingCalibration {
  /** The calibrated parameters (physical units). */
  params: Record<'substrateBrightness' | 'particleBrightness' | 'noiseGaussian' | 'noiseShot' | 'blurSigma' | 'tiltExponent' | 'edgeGain' | 'rimGain' | 'shadowStrength' | 'particleVariation', number> &
    Partial<Record<'haloStrength' | 'haloWidth' | 'creaseStrength' | 'creaseWidth', number>>;
  real: ImagingStatistics;
  /** The statistics of renders at the calibrated parameters (with noise). */
  synthetic: ImagingStatistics;
}

/**
 * substrateBrightness and particleBrightness so that noiseless renders at `params` show the
 * real substrate and body levels: a few fixed-point steps (the substrate level moves one for one
 * with substrateBrightness; the body level with the flat-face yield substrateBrightness +
 * particleBrightness, scaled by the tilt, detector, variation, grain and rim factors, whose mean
 * ratio is read off the renders).
 */
async function fitLevels(quiet: SceneConfig, params: Record<string, number>, real: ImagingStatistics, n: number, seed: number, run: ImagingRunner): Promise<Record<string, number> | null> {
  let sb = params.substrateBrightness;
  let pb = params.particleBrightness;
  for (let it = 0; it < 3; it++) {
    const [s] = await run([{ scene: quiet, params: { ...params, substrateBrightness: sb, particleBrightness: pb }, n, seed }]);
    if (!s) return null;
    const nsb = clampParam('substrateBrightness', sb + (real.substrate - s.substrate));
    const g = s.body / (sb + pb);
    pb = clampParam('particleBrightness', real.body / g - nsb);
    sb = nsb;
  }
  return { ...params, substrateBrightness: sb, particleBrightness: pb };
}

/**
 * The value of `name` among `values` whose renders (the same scenes for every value) score lowest
 * by `error`, the first of equals; the current value when none has statistics. The values go to
 * `run` together; their statistics hold the profiles `profiles` asks for.
 */
async function bestValue(
  run: ImagingRunner,
  scene: SceneConfig,
  params: Record<string, number>,
  name: string,
  values: readonly number[],
  n: number,
  seed: number,
  error: (s: ImagingStatistics) => number,
  profiles: StatisticsProfiles = NO_PROFILES,
): Promise<number> {
  const stats = await run(values.map((v) => ({ scene, params: { ...params, [name]: v }, n, seed, profiles })));
  let best = params[name];
  let bestError = Infinity;
  values.forEach((v, k) => {
    const s = stats[k];
    const e = s ? error(s) : Infinity;
    if (e < bestError) {
      bestError = e;
      best = v;
    }
  });
  return best;
}

/**
 * The image formation, in three steps, so that renders of `scene` show the real patches'
 * statistics: the levels (fitLevels); then the edge (blur, the tilt law, the narrow and the wide
 * rim, the shadow, the halo when `terms` says) by coordinate descent over PROFILE_GRID on the edge
 * profile, the contact creases when `terms` says (CREASE_GRID, on the contact profile) and the particles' brightness spread (particleVariation over VARIATION_VALUES, on
 * bodySpread), two passes, the
 * levels refitted after each pass; then the noise: the residual of noisy renders grows as
 * sqrt(R0^2 + f^2 (R1^2 - R0^2)) with the factor f on the scene's noise parameters (R0: the
 * texture's residual without noise, R1: with the scene's noise), solved for the real residual.
 * All renders of one step show the same scenes (one seed), so that candidates differ only by
 * their parameters. Null when either side has too few substrate, body or edge pixels. The
 * candidates of one coordinate (and the two noise renders) go to `run` together: they are
 * independent, so a runner may compute them side by side.
 */
export async function calibrateImaging(
  scene: SceneConfig,
  realPatches: readonly Grey[],
  n = 12,
  seed = 0,
  run: ImagingRunner = runImagingJobsHere,
  terms: ProximityTerms = { halo: true, crease: true },
): Promise<ImagingCalibration | null> {
  const real = imagingStatistics(realPatches, ALL_PROFILES);
  if (!real) return null;
  const quiet = mergeSceneConfig(scene, { shading: { noise: false } });
  const isHalo = (g: { name: ParamName }) => g.name === 'haloStrength' || g.name === 'haloWidth';
  const edgeGrid = PROFILE_GRID.filter((g) => !isHalo(g));
  const haloGrid = terms.halo ? PROFILE_GRID.filter(isHalo) : [];
  const grid = [...edgeGrid, ...haloGrid];
  const start: Record<string, number> = {};
  const creaseGrid = terms.crease ? CREASE_GRID : [];
  for (const name of ['substrateBrightness', 'particleBrightness', 'particleVariation', ...creaseGrid.map((g) => g.name), ...grid.map((g) => g.name)]) start[name] = scene.params[name as ParamName];
  let params = await fitLevels(quiet, start, real, n, seed + 8181, run);
  if (!params) return null;
  for (let pass = 0; pass < 2; pass++) {
    // The edge terms on the nearest outside bins, then the halo on all: fitted together on all 30
    // bins, the far bins (where only the halo can help) swayed the rims and the blur too (edgeGain
    // and rimGain went to their grid's end and the bodies' first px to 0.66 against 0.59)
    for (const { name, values } of edgeGrid) {
      params = { ...params, [name]: await bestValue(run, quiet, params, name, values, n, seed + 8282, (s) => profileDistance(s, real, PROFILE_OUT_EDGE)) };
    }
    for (const { name, values } of haloGrid) {
      params = { ...params, [name]: await bestValue(run, quiet, params, name, values, n, seed + 8282, (s) => profileDistance(s, real, PROFILE_OUT)) };
    }
    // the contact creases, by the contact profile
    for (const { name, values } of creaseGrid) {
      params = { ...params, [name]: await bestValue(run, quiet, params, name, values, CREASE_RENDERS * n, seed + 8282, (s) => contactDistance(s.contact!, real.contact!), { contact: true, body: false }) };
    }
    // the particles' own brightness spread, by the spread of the body pixels
    const variation = await bestValue(run, quiet, params, 'particleVariation', VARIATION_VALUES, n, seed + 8282, (s) => Math.abs(s.bodySpread - real.bodySpread));
    params = await fitLevels(quiet, { ...params, particleVariation: variation }, real, n, seed + 8181, run);
    if (!params) return null;
  }
  const [r0, r1] = await run([
    { scene: quiet, params, n, seed: seed + 9191 },
    { scene, params, n, seed: seed + 9191 },
  ]);
  if (!r0 || !r1) return null;
  const gain = r1.residual ** 2 - r0.residual ** 2;
  const f = gain > 0 ? Math.sqrt(Math.max(0, real.residual ** 2 - r0.residual ** 2) / gain) : 1;
  const out = {
    ...(params as ImagingCalibration['params']),
    noiseGaussian: clampParam('noiseGaussian', scene.params.noiseGaussian * f),
    noiseShot: clampParam('noiseShot', scene.params.noiseShot * f),
  };
  // the scenes the levels were fitted on, now with the noise
  const [synthetic] = await run([{ scene, params: out, n, seed: seed + 8181, profiles: ALL_PROFILES }]);
  if (!synthetic) return null;
  return { params: out, real, synthetic };
}

/** Half-width of the GAN's range around a calibrated value: this share of the value ... */
export const RANGE_RELATIVE = 0.25;
/** ... or this share of the parameter table's range, whichever is wider. */
export const RANGE_ABSOLUTE = 0.05;

/**
 * The ranges the GAN may move the calibrated parameters in: value +- max(RANGE_RELATIVE x value,
 * RANGE_ABSOLUTE x (table max - min)), inside the table's range. Why bounded: started at the
 * calibrated values and free over the whole table, the standard budget's GAN still drove the
 * blur from 1.0 to 0.44 px and the particle bodies back towards the floor of their range
 * (docs/realism.md), away from what the statistics above measure on the micrographs; with only
 * the levels, blur, rims and shadow bounded it raised the tilt exponent from 0.3 to 0.72, which
 * paints rims of 0.93 grey where the micrographs' edge profile peaks at 0.59.
 */
export function calibratedRanges(params: Readonly<Record<string, number>>): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const [name, v] of Object.entries(params)) {
    const p = PARAMETER_TABLE[paramIndex(name as ParamName)];
    const half = Math.max(RANGE_RELATIVE * Math.abs(v), RANGE_ABSOLUTE * (p.max - p.min));
    out[name] = [Math.max(p.min, v - half), Math.min(p.max, v + half)];
  }
  return out;
}
