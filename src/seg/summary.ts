/**
 * Size-distribution summary of measured particles.
 */
import { UserError } from '../errors.js';
import type { Particle } from '../particles/measure.js';

/** Lognormal distribution: log(d) ~ N(mu, sigma^2). */
export interface LognormalFit {
  mu: number;
  sigma: number;
}

export interface SizeSummary {
  /** Which particle length was summarised. */
  diameter: DiameterKind;
  /** Particles summarised (after the border exclusion). */
  count: number;
  /** Particles left out because they touch the image border. */
  excludedBorder: number;
  /** Statistics of the diameters; NaN when count is 0. */
  mean: number;
  /** Sample standard deviation (n - 1); NaN when count < 2. */
  std: number;
  median: number;
  d10: number;
  d50: number;
  d90: number;
  /** Maximum-likelihood lognormal fit; null when count < 2 or all diameters are equal. */
  lognormal: LognormalFit | null;
}

export type DiameterKind = 'ecd' | 'feretMax' | 'feretMin';

export interface SummaryOptions {
  /** Include particles that touch the image border (default false: they may be cut off). */
  includeBorder?: boolean;
  /** The length to summarise (default 'ecd', the equivalent circular diameter). */
  diameter?: DiameterKind;
}

/**
 * The p-quantile (0 <= p <= 1) of ascending-sorted values by linear interpolation between order
 * statistics: position h = (n - 1) p, value = x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h])
 * (Hyndman & Fan type 7, the default of R and NumPy). NaN for no values.
 */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 1)) throw new UserError(`quantile must be in [0, 1] (got ${p})`);
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Maximum-likelihood lognormal fit of positive values: mu = mean of log d, sigma = root mean
 * square deviation of log d from mu (divisor n, the MLE). null when fewer than two values or
 * sigma = 0; a UserError for a value that is not positive and finite.
 */
export function fitLognormal(values: ArrayLike<number>): LognormalFit | null {
  const n = values.length;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (!(v > 0) || !Number.isFinite(v)) throw new UserError(`lognormal fit: value ${v} is not positive and finite`);
    s += Math.log(v);
  }
  if (n < 2) return null;
  const mu = s / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (Math.log(values[i]) - mu) ** 2;
  const sigma = Math.sqrt(ss / n);
  return sigma > 0 ? { mu, sigma } : null;
}

/** Density of the lognormal distribution at x (0 for x <= 0). */
export function lognormalPdf(x: number, fit: LognormalFit): number {
  if (!(x > 0)) return 0;
  const z = (Math.log(x) - fit.mu) / fit.sigma;
  return Math.exp(-0.5 * z * z) / (x * fit.sigma * Math.sqrt(2 * Math.PI));
}

/**
 * Count, mean, standard deviation, median and D10 / D50 / D90 (the 10 / 50 / 90 % quantiles, see
 * `quantileSorted`; D50 = median) of one particle diameter, plus a lognormal fit. Particles that
 * touch the image border are left out unless `includeBorder`.
 */
export function summarizeSizes(particles: readonly Particle[], options: SummaryOptions = {}): SizeSummary {
  const { includeBorder = false, diameter = 'ecd' } = options;
  const kept = includeBorder ? particles : particles.filter((p) => !p.touchesBorder);
  const d = Float64Array.from(kept, (p) => p[diameter]).sort();
  const n = d.length;
  let mean = NaN;
  let std = NaN;
  if (n > 0) {
    mean = d.reduce((s, v) => s + v, 0) / n;
    if (n > 1) std = Math.sqrt(d.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  }
  const median = quantileSorted(d, 0.5);
  return {
    diameter,
    count: n,
    excludedBorder: particles.length - n,
    mean,
    std,
    median,
    d10: quantileSorted(d, 0.1),
    d50: median,
    d90: quantileSorted(d, 0.9),
    lognormal: n > 0 ? fitLognormal(d) : null,
  };
}
