/**
 * The upper spread of the particle sizes from the real patches' median local thickness (issue 14
 * item 3, "learned geometry"; docs/realism.md, "The upper size spread calibrated on the local
 * thickness"). A score-based calibration, not gradients: the size distribution is drawn, not
 * rendered differentiably.
 *
 * The radius calibration matches the 75th percentile of the particles' equivalent radius; what
 * lies above it is the lognormal's (sigma 0.45 for tio2-sem), and the dev-pool masks say the real
 * sizes are skewed to small ones: their upper part is narrower. The median local thickness of
 * the Otsu foreground (src/gan/scene-stats.ts, option `thickness`: an area-weighted diameter,
 * frame closed) reads real tiles and windowed renders alike and falls with the upper spread at a
 * fixed 75th percentile (docs/realism.md, "A size statistic without watershed pieces"), so it
 * can pin that one parameter. The size distribution becomes the split lognormal
 * (particles.size.sigmaLow; src/render/layout.ts): the lower spread stays the scene's, the upper
 * spread is searched, mu moves so that the 75th percentile (mu + 0.674 sigma) stays where the
 * radius calibration put it, and the counts are scaled by the mean squared size, so that the
 * covered area stays (as withBaseRadius does for the radius).
 *
 * The thickness reads crowding too (its Otsu / exact ratio is 1.08 on whole-object renders, 1.20
 * on windowed ones, 1.24 on the real tiles), and the image formation: so each candidate is
 * measured on renders as the pairs are rendered: the caller passes the scene as a window into the
 * larger field (src/render/scene-window.ts), as train's run scene already is, at the image formation
 * the caller gives in the scene's params (train: the trained generator's mean, after the epochs;
 * the calibrated one the GAN starts from reads 13 % thinner, docs/realism.md).
 *
 * 'coverage' (docs/realism.md, "The upper size spread calibrated on the coverage") searches the
 * same upper spread on another statistic and holds other things: the median (mu) and the counts
 * stay, so the covered area moves with the spread, and the Otsu coverage of the same windowed
 * renders is matched to the real patches'. The pairs' excess coverage is in their largest
 * particles (the dev-pool masks have half as many of >= 1200 px per tile), while they hold about
 * as many particles per tile as the masks: narrowing the upper tail at a fixed count removes it.
 */
import { Rng } from '../autodiff/rng.js';
import { mergeSceneConfig, type SceneConfig } from '../render/config.js';
import { modelPolarity } from '../render/polarity.js';
import { paramsVector } from '../render/params.js';
import { PRESETS, type PresetName } from '../render/presets/index.js';
import type { SizeSpreadMethod } from '../render/presets/preset.js';
export type { SizeSpreadMethod } from '../render/presets/preset.js';
import { MAX_CALIBRATED_COUNT, noiselessRenders } from './calibrate.js';
import { sceneStatistics } from './scene-stats.js';

export const SIZE_SPREAD_METHODS: readonly SizeSpreadMethod[] = ['off', 'calibrated', 'coverage'];

/** A method that searches the upper spread (every SizeSpreadMethod but 'off'). */
export type SizeSpreadSearch = Exclude<SizeSpreadMethod, 'off'>;

/** The scene statistic each search matches (sceneStatistics: medianLocalThickness / coverage). */
export const SIZE_SPREAD_STATISTIC = { calibrated: 'thickness', coverage: 'coverage' } as const satisfies Record<SizeSpreadSearch, string>;

/** The preset's choice (`sizeSpread`; 'off' where it gives none). */
export function presetSizeSpread(preset: PresetName): SizeSpreadMethod {
  return PRESETS[preset].sizeSpread ?? 'off';
}

/** The z of the standard normal's 75th percentile: the upper quartile of ln s is mu + Q75_Z sigma. */
const Q75_Z = 0.6744897501960817;

/**
 * Upper spreads tried: from far narrower than the masks' (0.28 with the oracle shapes) to wider
 * than tio2-sem's lognormal (0.45).
 */
export const SIZE_SPREAD_GRID: readonly number[] = [0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55];
/**
 * Windowed renders per candidate (the same seeded layout streams for each). The median thickness
 * is area-weighted, so a few crowded renders carry it: on tio2-sem's calibrated scene (base31-s0's,
 * sigma 0.45) four sets of 64 renders read 23.3-26.0 px, so 64 cannot resolve the 2.8 px the
 * spread moves it between 0.25 and 0.45; 256 (the step's 10 render sets took about 2 min under
 * load) and the line through all candidates average that down (docs/realism.md).
 */
export const SIZE_SPREAD_RENDERS = 256;

/** The size distribution's problem for this calibration (null: it applies). */
export function sizeSpreadProblem(scene: SceneConfig): string | null {
  const d = scene.particles.size;
  return d.type === 'lognormal' ? null : `the particle sizes are ${d.type}; the upper spread is calibrated for lognormal sizes only (particles.size.type "lognormal")`;
}

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, |error| < 1.5e-7). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** E[s^2] of the split lognormal ln s = mu + z (z < 0 ? low : high): what a particle covers, up to a constant. */
export function meanSquaredSize(mu: number, low: number, high: number): number {
  return Math.exp(2 * mu) * (Math.exp(2 * low * low) * normalCdf(-2 * low) + Math.exp(2 * high * high) * normalCdf(2 * high));
}

/**
 * The scene with upper spread `sigma`: the split lognormal whose lower spread is the scene's
 * (sigmaLow, else sigma). 'calibrated': its 75th percentile is the scene's, and the counts are
 * scaled by the mean squared size so that the covered area stays (at most MAX_CALIBRATED_COUNT).
 * 'coverage': its median (mu) and the counts are the scene's, so the covered area moves.
 */
export function withUpperSpread(scene: SceneConfig, sigma: number, method: SizeSpreadSearch = 'calibrated'): SceneConfig {
  const problem = sizeSpreadProblem(scene);
  if (problem) throw new RangeError(problem);
  if (!(sigma > 0 && sigma <= 2)) throw new RangeError(`upper spread must be in (0, 2], got ${sigma}`);
  const d = scene.particles.size as Extract<SceneConfig['particles']['size'], { type: 'lognormal' }>;
  const low = d.sigmaLow ?? d.sigma;
  if (method === 'coverage') return mergeSceneConfig(scene, { particles: { size: { type: 'lognormal', mu: d.mu, sigma, sigmaLow: low } } });
  const mu = d.mu + Q75_Z * (d.sigma - sigma);
  const ratio = meanSquaredSize(d.mu, low, d.sigma) / meanSquaredSize(mu, low, sigma);
  // At most the generator's particle slots, as every calibrated count.
  const count = (c: number) => Math.min(MAX_CALIBRATED_COUNT, Math.max(1, Math.round(c * ratio)));
  return mergeSceneConfig(scene, {
    particles: { size: { type: 'lognormal', mu, sigma, sigmaLow: low }, count: { min: count(scene.particles.count.min), max: count(scene.particles.count.max) } },
  });
}

export interface SizeSpreadCalibration {
  /** The chosen upper spread, and the distribution and whole-object counts it gives. */
  sigma: number;
  scene: SceneConfig;
  /**
   * The matched statistic (SIZE_SPREAD_STATISTIC: median local thickness in px, or the Otsu
   * coverage) of the real patches and of the renders at the chosen spread.
   */
  real: number;
  synthetic: number;
  /** Each candidate's renders' statistic, and the line fitted through them. */
  grid: { sigma: number; value: number }[];
  line: { intercept: number; slope: number };
}

/**
 * The upper spread whose windowed renders' statistic (SIZE_SPREAD_STATISTIC[method]) matches
 * `real` (the real patches' same sceneStatistics value): each SIZE_SPREAD_GRID candidate
 * (withUpperSpread of `scene` by `method`; the scene should already be the window the pairs are
 * rendered as) is rendered `renders` times, a least-squares line through the candidates' values
 * is solved for the real one, and the result is clamped to the grid's ends. Null when the renders
 * show no particle or the statistic does not rise with the spread (nothing to match).
 */
export function calibrateSizeSpread(
  scene: SceneConfig,
  real: number,
  renders = SIZE_SPREAD_RENDERS,
  seed = 0,
  grid: readonly number[] = SIZE_SPREAD_GRID,
  method: SizeSpreadSearch = 'calibrated',
): SizeSpreadCalibration | null {
  const problem = sizeSpreadProblem(scene);
  if (problem) throw new RangeError(problem);
  if (!(real > 0)) return null;
  const params = paramsVector(scene);
  const polarity = modelPolarity(scene.shading.model);
  const thickness = SIZE_SPREAD_STATISTIC[method] === 'thickness';
  const valueAt = (sigma: number) => {
    const stats = sceneStatistics(noiselessRenders(withUpperSpread(scene, sigma, method), params, renders, new Rng(seed + 9191)), polarity, { thickness });
    return (thickness ? stats.medianLocalThickness : stats.coverage) ?? 0;
  };
  const measured = grid.map((sigma) => ({ sigma, value: valueAt(sigma) }));
  if (!measured.every((m) => m.value > 0)) return null;
  const n = measured.length;
  const mx = measured.reduce((a, m) => a + m.sigma, 0) / n;
  const my = measured.reduce((a, m) => a + m.value, 0) / n;
  const sxy = measured.reduce((a, m) => a + (m.sigma - mx) * (m.value - my), 0);
  const sxx = measured.reduce((a, m) => a + (m.sigma - mx) ** 2, 0);
  const slope = sxy / sxx;
  if (!(slope > 0)) return null;
  const intercept = my - slope * mx;
  const lo = Math.min(...grid), hi = Math.max(...grid);
  const sigma = Math.min(hi, Math.max(lo, (real - intercept) / slope));
  return { sigma, scene: withUpperSpread(scene, sigma, method), real, synthetic: valueAt(sigma), grid: measured, line: { intercept, slope } };
}
