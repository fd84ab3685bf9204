/**
 * Annotation-free calibration of the scene geometry from the user's real micrographs. The GAN
 * learns how particles look, not how big they are (geometry is fixed per configuration), so the
 * size scale must match the real images before training. It is estimated without annotations:
 * the classical baseline (Otsu threshold + distance-transform watershed, src/seg) cuts the real
 * images into particles, and the median equivalent radius of those not touching the border sets
 * the scene's base radius. The estimate is biased a little high where agglomerates stay merged;
 * the median keeps that small, and the user can override it (--particle-radius).
 *
 * The same estimator is run on renders of the scene, and the scene's radius is scaled by the
 * ratio of the two estimates: what the estimator gets wrong (merged agglomerates, the gap
 * between a particle's bounding radius and its projected equivalent radius) cancels out where it
 * gets it equally wrong on both sides. Its median does not (docs/realism.md, measured against the
 * dev-pool's manual masks and the renders' exact instances): the watershed cuts real particles
 * into fragments (median 0.90 of the manual one) but not the renders' (0.99 at the calibrated
 * image formation, 1.08 at the preset's), so the 'upper-quartile' calibration (RADIUS_QUANTILES)
 * compares the 75th percentile instead, whose particles are whole on both sides (1.00 real,
 * 1.03 rendered), on the real patches (the renders' field of view: the border cut drops large
 * particles more often in small tiles) against many renders, and is run again at the end of the
 * scene and image-formation calibration (src/node/train.ts).
 *
 * Both sides are analysed with their own contrast polarity (particles/polarity.ts): the real images'
 * detected or given one, the renders' from their image-formation model (render/polarity.ts).
 */
import { otsuInstances } from '../particles/instances.js';
import { measureParticles } from '../particles/measure.js';
import { particleFraction, type Polarity } from '../particles/polarity.js';
import { Rng } from '../autodiff/rng.js';
import { noGrad } from '../autodiff/tape.js';
import { mergeSceneConfig, type SceneConfig } from '../render/config.js';
import { sampleScene, renderScene } from '../render/scene.js';
import { modelPolarity } from '../render/polarity.js';
import { paramsVector } from '../render/params.js';
import { PRESETS, type PresetName } from '../render/presets/index.js';
import type { AgglomerateRecalibration, RadiusCalibrationMethod, WindowCountsMethod, WindowField } from '../render/presets/preset.js';
export type { AgglomerateRecalibration, RadiusCalibrationMethod, WindowCountsMethod, WindowField } from '../render/presets/preset.js';
import { sceneStatistics, type SceneStatistics } from './scene-stats.js';
import { asWindowIntoField, windowFieldArea } from '../render/scene-window.js';

/**
 * `n` renders of `scene` without noise (images only: no masks, no gradients), the scenes drawn
 * from `rng` in turn, each with its particle count: what every calibration below measures.
 */
export function noiselessRenders(scene: SceneConfig, params: ReturnType<typeof paramsVector>, n: number, rng: Rng): { width: number; height: number; data: ArrayLike<number>; particles: number }[] {
  const noiseless = mergeSceneConfig(scene, { shading: { noise: false } });
  return noGrad(() =>
    Array.from({ length: n }, () => {
      const sc = sampleScene(noiseless, rng);
      return { width: scene.width, height: scene.height, data: renderScene(sc, params, { masks: false }).image.data, particles: sc.layout.particles.length };
    }),
  );
}

export interface RadiusEstimate {
  /** Median equivalent-circle radius (px) of the interior particles found. */
  radius: number;
  /** Particles the estimate is based on. */
  count: number;
}

/**
 * How the particle radius is calibrated (RadiusCalibrationMethod, a preset's choice): 'median'
 * matches the median equivalent radius of the full micrographs against 8 renders at the preset's
 * image formation; 'upper-quartile' matches the 75th percentile on the real patches against
 * RADIUS_RENDERS renders, once at the preset's image formation and again at the calibrated scene
 * and image formation. Each was measured on one data set (docs/realism.md: the upper quartile on
 * TiO2-SEM; docs/tio2-tsem.md: the median on TiO2-TSEM, where the upper quartile makes the
 * particles too small), so the preset says which.
 */
export const RADIUS_CALIBRATION_METHODS: readonly RadiusCalibrationMethod[] = ['upper-quartile', 'median'];
/** The preset's method (`radiusCalibration`; 'median' where it gives none). */
export function presetRadiusCalibration(preset: PresetName): RadiusCalibrationMethod {
  return PRESETS[preset].radiusCalibration ?? 'median';
}
/** How often the preset's agglomerate calibration runs again (`recalibrateAgglomerates`; 'off' where it gives none). */
export function presetRecalibrateAgglomerates(preset: PresetName): AgglomerateRecalibration {
  return PRESETS[preset].recalibrateAgglomerates ?? 'off';
}
/** Whether the preset's upper-quartile radius step runs after the second agglomerate pass (`radiusLast`; false where it gives none). */
export function presetRadiusLast(preset: PresetName): boolean {
  return PRESETS[preset].radiusLast ?? false;
}
/** The margin of the window the preset's calibrated scene is rendered as (`windowMargin`; 0 where it gives none). */
export function presetWindowMargin(preset: PresetName): number {
  return PRESETS[preset].windowMargin ?? 0;
}
/** Whether the preset's second agglomerate pass runs on the window (`windowCalibrated`; false where it gives none). */
export function presetWindowCalibrated(preset: PresetName): boolean {
  return PRESETS[preset].windowCalibrated ?? false;
}
/** How the window's counts are set (`windowCounts`; 'area' where it gives none). */
export function presetWindowCounts(preset: PresetName): WindowCountsMethod {
  return PRESETS[preset].windowCounts ?? 'area';
}
/** The field the preset's window looks into (`windowField`; 'bounded' where it gives none). */
export function presetWindowField(preset: PresetName): WindowField {
  return PRESETS[preset].windowField ?? 'bounded';
}
/** The quantile of the interior particles' equivalent radii each method matches. */
export const RADIUS_QUANTILES: Record<RadiusCalibrationMethod, number> = { median: 0.5, 'upper-quartile': 0.75 };
/** Renders per radius estimate of each method (8 renders hold about 30 interior particles). */
export const RADIUS_RENDERS: Record<RadiusCalibrationMethod, number> = { median: 8, 'upper-quartile': 256 };

/** The `quantile` (default the median) of the interior particles' equivalent radii of all images. */
export function estimateParticleRadius(images: readonly { width: number; height: number; data: ArrayLike<number> }[], polarity: Polarity, quantile = 0.5): RadiusEstimate | null {
  return quantileRadius(images.flatMap((img) => interiorParticleRadii(img, polarity)), quantile);
}

/**
 * Equivalent-circle radii (px) of the particles the classical baseline finds in one image, those
 * touching its border left out: estimateParticleRadius's work per image (independent jobs).
 */
export function interiorParticleRadii(img: { width: number; height: number; data: ArrayLike<number> }, polarity: Polarity): number[] {
  const radii: number[] = [];
  const { labels } = otsuInstances(img.data, img.width, img.height, { invert: polarity === 'dark' });
  for (const p of measureParticles(labels, img.width, img.height)) if (!p.touchesBorder) radii.push(p.ecd / 2);
  return radii;
}

/**
 * The `quantile` in [0, 1] of the radii of all images (in any order; linear interpolation between
 * order statistics, so 0.5 is the median), or null when there are none.
 */
export function quantileRadius(all: readonly number[], quantile: number): RadiusEstimate | null {
  if (all.length === 0) return null;
  if (!(quantile >= 0 && quantile <= 1)) throw new RangeError(`quantileRadius: quantile ${quantile} is not in [0, 1]`);
  const radii = [...all].sort((a, b) => a - b);
  const k = quantile * (radii.length - 1);
  const i = Math.floor(k);
  const f = k - i;
  // (1 - f) a + f b: at f = 0.5 exactly the mean of the two middle values (the median as before)
  const radius = i + 1 < radii.length ? (1 - f) * radii[i] + f * radii[i + 1] : radii[i];
  return { radius, count: radii.length };
}

export interface RadiusCalibration {
  /** The base radius (px) to use. */
  baseRadius: number;
  real: RadiusEstimate;
  synthetic: RadiusEstimate;
}

/**
 * Base radius that makes the renders' estimated particle size (the same `quantile` as `real`'s)
 * match the real images'. The renders use the scene's own parameters (its image formation).
 * Returns null when the estimator finds no particles on either side.
 */
export function calibrateBaseRadius(scene: SceneConfig, real: RadiusEstimate, renders = 8, seed = 0, quantile = 0.5): RadiusCalibration | null {
  const images = noiselessRenders(scene, paramsVector(scene), renders, new Rng(seed + 4242));
  const synthetic = estimateParticleRadius(images, modelPolarity(scene.shading.model), quantile);
  if (!synthetic) return null;
  return { baseRadius: (scene.particles.baseRadius * real.radius) / synthetic.radius, real, synthetic };
}

export interface CoverageCalibration {
  /** Factor applied to the particle counts. */
  countScale: number;
  /** Mean particle fraction (particles/polarity.ts) of the real patches and of renders before scaling. */
  real: number;
  synthetic: number;
}

/**
 * Particle counts that make the renders cover as much of a patch as the particles in the real
 * patches do (mean Otsu particle fraction, each side with its own polarity; no annotations). Without it the discriminator can tell
 * real from fake by the amount of particle alone, and the generator learns to hide particles
 * (darken them) instead of matching their appearance.
 */
export function calibrateCoverage(scene: SceneConfig, realFractions: readonly number[], renders = 12, seed = 0): CoverageCalibration | null {
  if (realFractions.length === 0) return null;
  const real = realFractions.reduce((a, b) => a + b, 0) / realFractions.length;
  const polarity = modelPolarity(scene.shading.model);
  let synthetic = 0;
  for (const r of noiselessRenders(scene, paramsVector(scene), renders, new Rng(seed + 5151))) synthetic += particleFraction(r.data, polarity) / renders;
  if (!(synthetic > 0)) return null;
  return { countScale: Math.min(5, Math.max(0.2, real / synthetic)), real, synthetic };
}

export interface AgglomerateCandidate {
  maxAgglomerates: number;
  contact: number;
  attach: 'uniform' | 'size';
  /** Count distribution (CountSpec.dist) and range of this setting after its coverage step. */
  count: { min: number; max: number; dist: 'uniform' | 'logUniform' };
  particlesPerComponent: number;
  largeComponentAreaFraction: number;
  coverage: number;
  cost: number;
  /** The cost on REFINE_FACTOR x more renders, for the REFINE_BEST cheapest settings. */
  refinedCost?: number;
}

export interface AgglomerateCalibration {
  maxAgglomerates: number;
  contact: number;
  attach: 'uniform' | 'size';
  count: { min: number; max: number; dist: 'uniform' | 'logUniform' };
  real: SceneStatistics;
  /** The chosen setting's statistics on the refinement renders. */
  synthetic: SceneStatistics;
  candidates: AgglomerateCandidate[];
}

/** Agglomerate settings tried by calibrateAgglomerates (packed placement only). */
export const AGGLOMERATE_GRID = {
  maxAgglomerates: [1, 2, 3, 5],
  contact: [1, 0.85, 0.7],
  attach: ['uniform', 'size'] as const,
  countDist: ['uniform', 'logUniform'] as const,
};
/** The cheapest settings of the first pass measured again on REFINE_FACTOR x as many renders. */
const REFINE_BEST = 4;
const REFINE_FACTOR = 4;

/**
 * Most particles per patch the calibration may ask for: the generator's layout features hold 32
 * slots (layoutFeatures), and the renderer's cost grows with the count.
 */
export const MAX_CALIBRATED_COUNT = 32;

/** One agglomerate setting of AGGLOMERATE_GRID (with its count distribution). */
export interface AgglomerateSetting {
  maxAgglomerates: number;
  contact: number;
  attach: 'uniform' | 'size';
  dist: 'uniform' | 'logUniform';
}

/**
 * One setting's measurement (what calibrateAgglomerates runs per setting and pass): plain data,
 * so a caller may run the jobs of a pass anywhere (e.g. on worker threads) and in any order.
 */
export interface AgglomerateJob {
  scene: SceneConfig;
  /** The real patches' statistics (the cost compares against them). */
  real: SceneStatistics;
  setting: AgglomerateSetting;
  renders: number;
  seed: number;
}

export interface AgglomerateEvaluation {
  count: AgglomerateCandidate['count'];
  stats: SceneStatistics;
  cost: number;
}

/** Runs the jobs of one pass and returns their evaluations in the jobs' order. */
export type AgglomerateRunner = (jobs: AgglomerateJob[]) => Promise<AgglomerateEvaluation[]>;

/** The jobs one after the other on the calling thread. */
export const runAgglomerateJobsHere: AgglomerateRunner = async (jobs) => jobs.map(evaluateAgglomerateSetting);

/**
 * A setting's coverage-matched counts, its statistics at those counts and its cost (see
 * calibrateAgglomerates). Depends on nothing but the job: the same job gives the same result on
 * any thread.
 */
export function evaluateAgglomerateSetting(job: AgglomerateJob): AgglomerateEvaluation {
  const { scene, real, setting: st, renders: n, seed } = job;
  const params = paramsVector(scene);
  const rendered = modelPolarity(scene.shading.model);
  const stats = (c: { min: number; max: number }) => {
    const cfg = mergeSceneConfig(scene, { particles: { count: { ...c, dist: st.dist }, placement: { maxAgglomerates: st.maxAgglomerates, contact: st.contact, attach: st.attach } } });
    return sceneStatistics(noiselessRenders(cfg, params, n, new Rng(seed + 6161)), rendered);
  };
  let count = { min: scene.particles.count.min, max: scene.particles.count.max };
  let s = stats(count);
  // Two coverage steps: the covered area grows less than linearly with the count in dense
  // agglomerates (particles hide each other).
  for (let step = 0; step < 2; step++) {
    if (!(s.coverage > 0)) break;
    const scale = Math.min(5, Math.max(0.2, real.coverage / s.coverage));
    if (Math.abs(scale - 1) < 0.05) break;
    const max = Math.min(MAX_CALIBRATED_COUNT, Math.max(1, Math.round(count.max * scale)));
    const next = { min: Math.min(max, Math.max(1, Math.round(count.min * scale))), max };
    if (next.min === count.min && next.max === count.max) break;
    count = next;
    s = stats(count);
  }
  const cost =
    Math.abs(Math.log((s.particlesPerComponent || 1e-3) / real.particlesPerComponent)) +
    Math.abs(Math.log((s.largeComponentAreaFraction + 0.05) / (real.largeComponentAreaFraction + 0.05))) +
    Math.abs(Math.log((s.coverage || 1e-3) / real.coverage));
  return { count: { ...count, dist: st.dist }, stats: s, cost: Number.isFinite(cost) ? cost : Infinity };
}

/**
 * Agglomerate density from the unannotated real patches, the way size and coverage are
 * calibrated: the scene statistics of src/gan/scene-stats.ts (particles per Otsu component, the
 * share of the particle area in components larger than 12 median particles, and the coverage) are
 * measured on the real patches and on noiseless renders of each setting in AGGLOMERATE_GRID
 * (number of agglomerate seeds; contact factor: how far touching particles interpenetrate /
 * stack; attach: whether agglomerates grow evenly or in proportion to their size; the count
 * distribution: uniform, or log-uniform with many sparse patches and a few crowded ones), and the
 * setting with the smallest cost
 *   |ln(ppc_s / ppc_r)| + |ln((large_s + 0.05) / (large_r + 0.05))| + |ln(cov_s / cov_r)|
 * is kept (the 0.05 keeps near-empty shares from dominating). Denser packing hides particles
 * behind others, so each setting first gets its own particle counts (the scene's count range
 * scaled until its renders' coverage matches the real patches', at most MAX_CALIBRATED_COUNT),
 * and is judged at those counts: calibrating at the scene's counts and rescaling the counts
 * afterwards would lose the density the setting was chosen for. The large-agglomerate share rests
 * on the few crowded patches, so it is noisy on `renders` patches: the REFINE_BEST cheapest
 * settings are measured again on REFINE_FACTOR x as many, and the cheapest of those is kept.
 * Every setting renders the same layouts' random streams. Returns null for uniform placement or
 * when the real patches show no particle.
 *
 * The settings of each pass are independent jobs (evaluateAgglomerateSetting); `run` executes a
 * pass (default: on the calling thread; the CLI spreads them over worker threads). The result
 * does not depend on where or in which order they ran.
 */
export async function calibrateAgglomerates(
  scene: SceneConfig,
  realPatches: readonly { width: number; height: number; data: ArrayLike<number> }[],
  polarity: Polarity,
  renders = 32,
  seed = 0,
  run: AgglomerateRunner = runAgglomerateJobsHere,
): Promise<AgglomerateCalibration | null> {
  if (scene.particles.placement.type !== 'packed' || realPatches.length === 0) return null;
  const real = sceneStatistics(realPatches, polarity);
  if (!(real.particles > 0)) return null;
  const settings: AgglomerateSetting[] = [];
  for (const maxAgglomerates of AGGLOMERATE_GRID.maxAgglomerates)
    for (const contact of AGGLOMERATE_GRID.contact)
      for (const attach of AGGLOMERATE_GRID.attach)
        for (const dist of AGGLOMERATE_GRID.countDist) {
          if (maxAgglomerates === 1 && attach === 'size') continue; // one agglomerate: the same layouts
          settings.push({ maxAgglomerates, contact, attach, dist });
        }
  const job = (setting: AgglomerateSetting, n: number): AgglomerateJob => ({ scene, real, setting, renders: n, seed });
  const first = await run(settings.map((st) => job(st, renders)));
  const candidates: AgglomerateCandidate[] = settings.map((st, i) => {
    const e = first[i];
    return {
      maxAgglomerates: st.maxAgglomerates, contact: st.contact, attach: st.attach, count: e.count,
      particlesPerComponent: e.stats.particlesPerComponent, largeComponentAreaFraction: e.stats.largeComponentAreaFraction, coverage: e.stats.coverage, cost: e.cost,
    };
  });
  const order = candidates.map((_, i) => i).sort((a, b) => candidates[a].cost - candidates[b].cost);
  const refine = order.slice(0, REFINE_BEST);
  const refined = await run(refine.map((i) => job(settings[i], REFINE_FACTOR * renders)));
  let best: { i: number; count: AgglomerateCandidate['count']; stats: SceneStatistics; cost: number } | null = null;
  for (let k = 0; k < refine.length; k++) {
    const i = refine[k];
    const e = refined[k];
    candidates[i].refinedCost = e.cost;
    if (!best || e.cost < best.cost) best = { i, ...e };
  }
  const b = best!;
  const chosen = candidates[b.i];
  return { maxAgglomerates: chosen.maxAgglomerates, contact: chosen.contact, attach: chosen.attach, count: b.count, real, synthetic: b.stats, candidates };
}

export interface CountSpreadCalibration {
  min: number;
  max: number;
  /** 5th and 95th percentile of the real patches' particle fraction. */
  real: [number, number];
  /** Particle fraction per rendered particle (mean over the renders). */
  perParticle: number;
}

/**
 * The spread of the particle count per patch. Real micrographs are uneven: some patches hold a
 * dense agglomerate, others a few lone particles, so the covered fraction varies far more from
 * patch to patch than a narrow count range renders (and large agglomerates need patches with many
 * particles). The count range is set so that its ends cover what the 5th and 95th percentiles of
 * the real patches' particle fraction (no annotations) cover, at the renders' mean fraction per
 * particle. Returns null when the renders show no particle.
 */
export function calibrateCountSpread(scene: SceneConfig, realFractions: readonly number[], renders = 16, seed = 0): CountSpreadCalibration | null {
  if (realFractions.length < 2) return null;
  const sorted = [...realFractions].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(p * (sorted.length - 1))))];
  const polarity = modelPolarity(scene.shading.model);
  let covered = 0;
  let particles = 0;
  for (const r of noiselessRenders(scene, paramsVector(scene), renders, new Rng(seed + 7171))) {
    covered += particleFraction(r.data, polarity);
    particles += r.particles;
  }
  if (!(covered > 0) || particles === 0) return null;
  const perParticle = covered / particles;
  const min = Math.max(1, Math.round(q(0.05) / perParticle));
  const max = Math.max(min, Math.round(q(0.95) / perParticle));
  return { min, max, real: [q(0.05), q(0.95)], perParticle };
}

export interface WindowCountCalibration {
  /** Factor applied to the scene's (whole-object) counts; the field's area would be windowFieldArea(margin). */
  countScale: number;
  /** The windowed counts at that factor (capped at MAX_CALIBRATED_COUNT). */
  count: { min: number; max: number };
  /** Coverage (scene statistics' Otsu foreground) of the real patches and of the windowed renders at countScale. */
  real: number;
  synthetic: number;
  /** The windowed renders' coverage with the counts scaled by the field's area. */
  byArea: number;
}

/** Bisection steps of calibrateWindowCounts: the factor's bracket [0.2, 1.2] x the field's area shrinks to 1/256. */
const WINDOW_COUNT_STEPS = 8;

/**
 * The window's count factor from the real patches' coverage (docs/realism.md, "The window's counts
 * calibrated on the coverage"): asWindowIntoField with the counts scaled by the field's area,
 * (1 + 2 margin)^2, covers more of a windowed render than the calibrated scene covers of a whole
 * one (agglomerates of the larger field overlap the window from every side, where the whole-object
 * layout loses the parts of its edge particles beyond the frame). This bisects the factor over
 * [0.2, 1.2] x the area until the mean coverage of `renders` noiseless windowed renders (each
 * factor renders the same seeded layout streams) matches `realCoverage`, the real patches'
 * (sceneStatistics, the statistic the agglomerate calibration matches). Everything else of the
 * scene (radius, agglomerate settings, count distribution, image formation) is kept.
 */
export function calibrateWindowCounts(scene: SceneConfig, margin: number, realCoverage: number, renders = 64, seed = 0, field: WindowField = 'bounded'): WindowCountCalibration | null {
  if (!(margin > 0) || !(realCoverage > 0)) return null;
  const area = windowFieldArea(margin);
  const params = paramsVector(scene);
  const polarity = modelPolarity(scene.shading.model);
  const windowed = (scale: number) => asWindowIntoField(scene, margin, MAX_CALIBRATED_COUNT, scale, field);
  const coverageAt = (scale: number) => sceneStatistics(noiselessRenders(windowed(scale), params, renders, new Rng(seed + 8181)), polarity).coverage;
  const byArea = coverageAt(area);
  if (!(byArea > 0)) return null;
  let lo = 0.2 * area, hi = 1.2 * area;
  let covLo = coverageAt(lo), covHi = coverageAt(hi);
  for (let step = 0; step < WINDOW_COUNT_STEPS; step++) {
    const mid = (lo + hi) / 2;
    const c = coverageAt(mid);
    if (c > realCoverage) { hi = mid; covHi = c; } else { lo = mid; covLo = c; }
  }
  // The end of the bracket whose coverage is nearer the real one.
  const [countScale, synthetic] = Math.abs(covLo - realCoverage) <= Math.abs(covHi - realCoverage) ? [lo, covLo] : [hi, covHi];
  const { min, max } = windowed(countScale).particles.count;
  return { countScale, count: { min, max }, real: realCoverage, synthetic, byArea };
}
