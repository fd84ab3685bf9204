/**
 * Realism scores of generated images against real patches, with no downloaded weights (the
 * reference uses FID, which needs an Inception network). All three are distances: 0 for identical
 * sets, larger = less realistic. Images are [0, 1] greyscale, all of one size.
 *
 * (a) swd: the sliced Wasserstein distance on Laplacian-pyramid patches of ProGAN (Karras et al.,
 *     "Progressive growing of GANs", ICLR 2018, and its sliced_wasserstein.py): a Laplacian
 *     pyramid (5-tap binomial filter [1 4 6 4 1] / 16, mirrored borders, down to `minResolution`
 *     px); from every level, 7 x 7 neighbourhoods at random positions; per level and per set the
 *     descriptors are normalised to zero mean and unit standard deviation over all their values
 *     (so this score sees structure, not brightness or contrast: (b) sees those); then the mean
 *     over random unit directions of the 1-D Wasserstein-1 distance between the two projected
 *     sets (sorted projections, mean absolute difference). Reported per level (finest first) and
 *     as the mean over levels, multiplied by 1e3 like ProGAN's tables. Both sets use the same
 *     sequence of sampled positions and the same directions (common random numbers: identical
 *     sets give exactly 0, and the score varies less from epoch to epoch).
 * (b) histogram: the Wasserstein-1 (earth mover's) distance between the grey-level distributions
 *     of the two sets (all pixels pooled), on a 256-bin histogram over [0, 1]:
 *     W1 = sum_k |F_a(k) - F_b(k)| / 256 with F the cumulative histograms. In grey units: a
 *     brightness shift by d gives d (while nothing is clipped).
 * (c) spectrum: the radially averaged power spectrum. Per image: subtract the mean, apply a 2-D
 *     Hann window, FFT, power |F|^2 / sum(window^2); average the power over rings of radius
 *     r = 1 .. floor(min(w, h) / 2) (radius in units of 1 / min(w, h) cycles per px; the DC term
 *     and the corners beyond the Nyquist circle are left out); take log10. Mean over the images
 *     of each set; the score is the root-mean-square difference over the rings (in decades).
 *
 * combined = W_SWD * swd.mean + W_HIST * histogram + W_SPECTRUM * spectrum, with the weights in
 * COMBINED_WEIGHTS chosen so that each term is about 1 for a clearly wrong generator (measured on
 * the TiO2-SEM dev-pool patches: see the constant).
 *
 * chooseBestEpoch applies the checkpoint rule; see its comment. Pure: runs in a browser.
 */
import { UserError } from '../errors.js';
import { Rng } from '../autodiff/rng.js';
import { fft2d } from './fft.js';
import { reflectIndex } from '../particles/otsu.js';

/** A greyscale image, row-major, values in [0, 1]. */
export interface Grey {
  width: number;
  height: number;
  data: Float32Array;
}

function checkSets(a: readonly Grey[], b: readonly Grey[], what: string): { width: number; height: number } {
  if (a.length === 0 || b.length === 0) throw new UserError(`${what}: both image sets must be non-empty (got ${a.length} and ${b.length})`);
  const { width, height } = a[0];
  for (const [set, imgs] of [['generated', a], ['real', b]] as const) {
    imgs.forEach((img, i) => {
      if (img.width !== width || img.height !== height || img.data.length !== width * height) {
        throw new UserError(`${what}: ${set} image ${i} is ${img.width} x ${img.height} (${img.data.length} values), expected ${width} x ${height}`);
      }
    });
  }
  return { width, height };
}

// ---------------------------------------------------------------------------------------------
// (a) Sliced Wasserstein distance on Laplacian-pyramid patches.

interface Plane {
  width: number;
  height: number;
  data: Float64Array;
}

const BINOMIAL = [1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16];

/** Separable 5-tap binomial filter, mirrored borders, optional gain. */
function blur5(p: Plane, gain = 1): Plane {
  const { width: w, height: h } = p;
  const src = p.data;
  const tmp = new Float64Array(w * h);
  const out = new Float64Array(w * h);
  const [k0, k1, k2] = [BINOMIAL[0], BINOMIAL[1], BINOMIAL[2]];
  for (let y = 0; y < h; y++) {
    const o = y * w;
    for (let x = 0; x < w; x++) {
      if (x >= 2 && x < w - 2) {
        const i = o + x;
        tmp[i] = k0 * (src[i - 2] + src[i + 2]) + k1 * (src[i - 1] + src[i + 1]) + k2 * src[i];
      } else {
        let s = 0;
        for (let k = -2; k <= 2; k++) s += BINOMIAL[k + 2] * src[o + reflectIndex(x + k, w)];
        tmp[o + x] = s;
      }
    }
  }
  for (let y = 0; y < h; y++) {
    const o = y * w;
    if (y >= 2 && y < h - 2) {
      for (let x = 0; x < w; x++) {
        const i = o + x;
        out[i] = gain * (k0 * (tmp[i - 2 * w] + tmp[i + 2 * w]) + k1 * (tmp[i - w] + tmp[i + w]) + k2 * tmp[i]);
      }
    } else {
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let k = -2; k <= 2; k++) s += BINOMIAL[k + 2] * tmp[reflectIndex(y + k, h) * w + x];
        out[o + x] = gain * s;
      }
    }
  }
  return { width: w, height: h, data: out };
}

function pyrDown(p: Plane): Plane {
  const b = blur5(p);
  const w = Math.ceil(p.width / 2);
  const h = Math.ceil(p.height / 2);
  const out = new Float64Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = b.data[2 * y * p.width + 2 * x];
  return { width: w, height: h, data: out };
}

function pyrUp(p: Plane, width: number, height: number): Plane {
  const up = new Float64Array(width * height);
  for (let y = 0; y < p.height; y++) for (let x = 0; x < p.width; x++) up[2 * y * width + 2 * x] = p.data[y * p.width + x];
  // Zeros between the samples; the filter times 4 restores the level (2 per axis).
  return blur5({ width, height, data: up }, 4);
}

/** Laplacian pyramid with `levels` levels: band-pass levels finest first, the last one low-pass. */
export function laplacianPyramid(img: Grey, levels: number): Plane[] {
  let cur: Plane = { width: img.width, height: img.height, data: Float64Array.from(img.data) };
  const out: Plane[] = [];
  for (let l = 0; l < levels - 1; l++) {
    const down = pyrDown(cur);
    const up = pyrUp(down, cur.width, cur.height);
    const band = new Float64Array(cur.data.length);
    for (let i = 0; i < band.length; i++) band[i] = cur.data[i] - up.data[i];
    out.push({ width: cur.width, height: cur.height, data: band });
    cur = down;
  }
  out.push(cur);
  return out;
}

export interface SwdOptions {
  /** Coarsest pyramid level's smaller side, at least (default 16, as in ProGAN). */
  minResolution?: number;
  /** Side of the sampled neighbourhoods (default 7). */
  neighbourhood?: number;
  /** Descriptors drawn per set and level (default 2048). */
  descriptors?: number;
  /** Random projection directions per level (default 256; ProGAN: 4 repeats x 128 = 512). */
  projections?: number;
  /** Seed of the positions and directions (default 0). */
  seed?: number;
}

export interface SwdResult {
  /** Per pyramid level, finest first: the level's width and its SWD (x 1e3). */
  levels: { resolution: number; swd: number }[];
  mean: number;
}

function pyramidLevels(width: number, height: number, minResolution: number, nh: number): number {
  let levels = 1;
  let s = Math.min(width, height);
  while (Math.ceil(s / 2) >= minResolution) {
    s = Math.ceil(s / 2);
    levels++;
  }
  if (s < nh) throw new UserError(`swd: images of ${width} x ${height} px are smaller than the ${nh} x ${nh} neighbourhood`);
  return levels;
}

/** Normalises descriptors (n x d, row-major) to zero mean, unit std over all values, in place. */
function normalise(desc: Float64Array): void {
  let s = 0;
  for (let i = 0; i < desc.length; i++) s += desc[i];
  const mean = s / desc.length;
  let v = 0;
  for (let i = 0; i < desc.length; i++) v += (desc[i] - mean) ** 2;
  const std = Math.sqrt(v / desc.length);
  const inv = std > 1e-12 ? 1 / std : 0;
  for (let i = 0; i < desc.length; i++) desc[i] = (desc[i] - mean) * inv;
}

/** Projections of n descriptors (n x d) on p unit directions (p x d), each row sorted: p x n. */
function sortedProjections(desc: Float64Array, n: number, d: number, dirs: Float64Array, p: number): Float64Array {
  const out = new Float64Array(p * n);
  for (let j = 0; j < p; j++) {
    const row = out.subarray(j * n, (j + 1) * n);
    const jo = j * d;
    for (let i = 0; i < n; i++) {
      let s = 0;
      const o = i * d;
      for (let k = 0; k < d; k++) s += desc[o + k] * dirs[jo + k];
      row[i] = s;
    }
    row.sort();
  }
  return out;
}

/** Mean over directions of the 1-D W1 distance between sorted projections (p x n each). */
function meanSortedDistance(a: Float64Array, b: Float64Array, n: number, p: number): number {
  let total = 0;
  for (let i = 0; i < p * n; i++) total += Math.abs(a[i] - b[i]);
  return total / (p * n);
}

interface SwdPlan {
  levels: number;
  n: number;
  nh: number;
  p: number;
  /** Per level: level width and height, neighbourhood origins (x, y pairs), directions. */
  level: { width: number; height: number; origins: Int32Array; dirs: Float64Array }[];
}

function planSwd(width: number, height: number, options: SwdOptions): SwdPlan {
  const nh = options.neighbourhood ?? 7;
  const n = options.descriptors ?? 2048;
  const p = options.projections ?? 256;
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(p) || p < 1 || !Number.isInteger(nh) || nh < 1) {
    throw new UserError(`swd: descriptors, projections and neighbourhood must be integers >= 1 (got ${n}, ${p}, ${nh})`);
  }
  const levels = pyramidLevels(width, height, options.minResolution ?? 16, nh);
  const rng = new Rng(options.seed ?? 0);
  const d = nh * nh;
  const level: SwdPlan['level'] = [];
  let lw = width;
  let lh = height;
  for (let l = 0; l < levels; l++) {
    const origins = new Int32Array(2 * n);
    for (let i = 0; i < n; i++) {
      origins[2 * i] = rng.int(lw - nh + 1);
      origins[2 * i + 1] = rng.int(lh - nh + 1);
    }
    const dirs = new Float64Array(p * d);
    for (let j = 0; j < p; j++) {
      let norm = 0;
      for (let k = 0; k < d; k++) norm += (dirs[j * d + k] = rng.normal()) ** 2;
      norm = Math.sqrt(norm);
      for (let k = 0; k < d; k++) dirs[j * d + k] /= norm;
    }
    level.push({ width: lw, height: lh, origins, dirs });
    lw = Math.ceil(lw / 2);
    lh = Math.ceil(lh / 2);
  }
  return { levels, n, nh, p, level };
}

/**
 * Sorted projections of a set's descriptors per level. Descriptor i is taken from image
 * i mod (set size) at the plan's i-th origin, so two sets share positions (common random numbers).
 */
function setProjections(set: readonly Grey[], plan: SwdPlan): Float64Array[] {
  const { n, nh, p } = plan;
  const d = nh * nh;
  // Only the images that give descriptors need a pyramid.
  const pyramids = set.slice(0, Math.min(set.length, n)).map((g) => laplacianPyramid(g, plan.levels));
  return plan.level.map(({ width: lw, origins, dirs }, l) => {
    const desc = new Float64Array(n * d);
    for (let i = 0; i < n; i++) {
      const src = pyramids[i % pyramids.length][l].data;
      const x0 = origins[2 * i];
      const y0 = origins[2 * i + 1];
      for (let dy = 0; dy < nh; dy++) {
        const o = (y0 + dy) * lw + x0;
        for (let dx = 0; dx < nh; dx++) desc[i * d + dy * nh + dx] = src[o + dx];
      }
    }
    normalise(desc);
    return sortedProjections(desc, n, d, dirs, p);
  });
}

function swdFromProjections(a: Float64Array[], b: Float64Array[], plan: SwdPlan): SwdResult {
  const levels = plan.level.map((lv, l) => ({ resolution: lv.width, swd: 1e3 * meanSortedDistance(a[l], b[l], plan.n, plan.p) }));
  return { levels, mean: levels.reduce((s, l) => s + l.swd, 0) / levels.length };
}

/** ProGAN's sliced Wasserstein distance between two image sets; see the module comment. */
export function slicedWasserstein(generated: readonly Grey[], real: readonly Grey[], options: SwdOptions = {}): SwdResult {
  const { width, height } = checkSets(generated, real, 'swd');
  const plan = planSwd(width, height, options);
  return swdFromProjections(setProjections(generated, plan), setProjections(real, plan), plan);
}

// ---------------------------------------------------------------------------------------------
// (b) Grey-level histogram distance.

const HIST_BINS = 256;

function cumulativeHistogram(set: readonly Grey[]): Float64Array {
  const h = new Float64Array(HIST_BINS);
  let n = 0;
  for (const img of set)
    for (const v of img.data) {
      const k = Math.floor(v * HIST_BINS);
      h[k < 0 ? 0 : k >= HIST_BINS ? HIST_BINS - 1 : k]++;
      n++;
    }
  let c = 0;
  for (let k = 0; k < HIST_BINS; k++) h[k] = (c += h[k]) / n;
  return h;
}

/** Wasserstein-1 distance between the pooled grey-level distributions (256 bins over [0, 1]). */
export function histogramDistance(generated: readonly Grey[], real: readonly Grey[]): number {
  checkSets(generated, real, 'histogram distance');
  const a = cumulativeHistogram(generated);
  const b = cumulativeHistogram(real);
  let s = 0;
  for (let k = 0; k < HIST_BINS; k++) s += Math.abs(a[k] - b[k]);
  return s / HIST_BINS;
}

// ---------------------------------------------------------------------------------------------
// (c) Radially averaged power spectrum.

/** Mean over the set of log10 ring-averaged power, rings r = 1 .. floor(min(w, h) / 2). */
export function radialLogSpectrum(set: readonly Grey[]): Float64Array {
  const { width: w, height: h } = set[0];
  const m = Math.min(w, h);
  const rings = Math.floor(m / 2);
  const wx = Float64Array.from({ length: w }, (_, x) => 0.5 - 0.5 * Math.cos((2 * Math.PI * (x + 0.5)) / w));
  const wy = Float64Array.from({ length: h }, (_, y) => 0.5 - 0.5 * Math.cos((2 * Math.PI * (y + 0.5)) / h));
  let wsum = 0;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) wsum += (wx[x] * wy[y]) ** 2;
  const ring = new Int32Array(w * h).fill(-1);
  const count = new Float64Array(rings + 1);
  for (let y = 0; y < h; y++) {
    const fy = (y <= h / 2 ? y : y - h) / h;
    for (let x = 0; x < w; x++) {
      const fx = (x <= w / 2 ? x : x - w) / w;
      const r = Math.round(Math.hypot(fx, fy) * m);
      if (r >= 1 && r <= rings) {
        ring[y * w + x] = r;
        count[r]++;
      }
    }
  }
  const mean = new Float64Array(rings);
  const re = new Float64Array(w * h);
  const im = new Float64Array(w * h);
  const power = new Float64Array(rings + 1);
  for (const img of set) {
    let s = 0;
    for (const v of img.data) s += v;
    const mu = s / img.data.length;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) re[y * w + x] = (img.data[y * w + x] - mu) * wx[x] * wy[y];
    im.fill(0);
    fft2d(re, im, w, h);
    power.fill(0);
    for (let i = 0; i < w * h; i++) if (ring[i] > 0) power[ring[i]] += re[i] * re[i] + im[i] * im[i];
    for (let r = 1; r <= rings; r++) mean[r - 1] += Math.log10(power[r] / count[r] / wsum + 1e-20);
  }
  for (let r = 0; r < rings; r++) mean[r] /= set.length;
  return mean;
}

/** RMS difference (decades) of the two sets' mean log radial power spectra. */
export function spectrumDistance(generated: readonly Grey[], real: readonly Grey[]): number {
  checkSets(generated, real, 'spectrum distance');
  const a = radialLogSpectrum(generated);
  const b = radialLogSpectrum(real);
  let s = 0;
  for (let r = 0; r < a.length; r++) s += (a[r] - b[r]) ** 2;
  return Math.sqrt(s / a.length);
}

// ---------------------------------------------------------------------------------------------
// Combined score.

/**
 * Weights of the combined score: each term is about 1 above its real-vs-real floor for a clearly
 * wrong generator. Calibrated on the 215 kept 256 px TiO2-SEM dev-pool patches, split by source
 * image into 115 "generated" and 100 "real" patches (default options):
 *
 *   "generated" set             swd mean   histogram   spectrum
 *   real patches (the floor)        86.1      0.031      0.195
 *   + Gaussian noise std 0.05      166.6      0.047      0.699
 *   + Gaussian noise std 0.10      209.7      0.070      1.028
 *   Gaussian blur 1 px              98.7      0.029      1.784
 *   Gaussian blur 3 px             127.3      0.027      5.781
 *   brightness + 0.10               87.6      0.123      0.183
 *   contrast x 0.5 (+ 0.2)          86.1      0.138      0.413
 *   two-level cartoon + noise      156.8      0.180      0.289
 *
 * So swd / 100, histogram / 0.1 and spectrum / 1: {swd: 0.01, histogram: 10, spectrum: 1}. The
 * floor of the combined score on this split is about 1.4 (mostly SWD: two sets of ~100 different
 * micrographs differ at the coarse levels); a clearly wrong set scores 2.3 - 7.3. Cost there
 * (2 shared cores, busy): SWD 3 - 9 s, spectrum 3 - 9 s for the 215 patches, most of it the real
 * side, which RealismReference computes once per run.
 */
export const COMBINED_WEIGHTS = { swd: 0.01, histogram: 10, spectrum: 1 };

export interface RealismScores {
  swd: SwdResult;
  histogram: number;
  spectrum: number;
  combined: number;
}

export function combinedScore(
  s: { swd: { mean: number }; histogram: number; spectrum: number },
  weights: { swd: number; histogram: number; spectrum: number } = COMBINED_WEIGHTS,
): number {
  return weights.swd * s.swd.mean + weights.histogram * s.histogram + weights.spectrum * s.spectrum;
}

/**
 * The real side of the scores, computed once (pyramids, sorted projections, histogram, spectrum)
 * and reused for every epoch's generated set.
 */
export class RealismReference {
  readonly width: number;
  readonly height: number;
  readonly count: number;
  private readonly plan: SwdPlan;
  private readonly projections: Float64Array[];
  private readonly cdf: Float64Array;
  private readonly spectrum: Float64Array;

  constructor(real: readonly Grey[], options: SwdOptions = {}) {
    const { width, height } = checkSets(real, real, 'realism reference');
    this.width = width;
    this.height = height;
    this.count = real.length;
    this.plan = planSwd(width, height, options);
    this.projections = setProjections(real, this.plan);
    this.cdf = cumulativeHistogram(real);
    this.spectrum = radialLogSpectrum(real);
  }

  score(generated: readonly Grey[]): RealismScores {
    const probe = { width: this.width, height: this.height, data: new Float32Array(this.width * this.height) };
    checkSets(generated, [probe], 'realism scores');
    const swd = swdFromProjections(setProjections(generated, this.plan), this.projections, this.plan);
    const cdf = cumulativeHistogram(generated);
    let h = 0;
    for (let k = 0; k < HIST_BINS; k++) h += Math.abs(cdf[k] - this.cdf[k]);
    const histogram = h / HIST_BINS;
    const spec = radialLogSpectrum(generated);
    let sp = 0;
    for (let r = 0; r < spec.length; r++) sp += (spec[r] - this.spectrum[r]) ** 2;
    const spectrum = Math.sqrt(sp / spec.length);
    return { swd, histogram, spectrum, combined: combinedScore({ swd, histogram, spectrum }) };
  }
}

/** All three scores and the combined one (builds a RealismReference for `real` each call). */
export function realismScores(generated: readonly Grey[], real: readonly Grey[], options: SwdOptions = {}): RealismScores {
  checkSets(generated, real, 'realism scores');
  return new RealismReference(real, options).score(generated);
}

// ---------------------------------------------------------------------------------------------
// Which epoch to keep.

/**
 * Spread of the learned rendering parameters at one epoch: `samples[i][j]` is parameter j for
 * stored configuration i, normalised to [0, 1] (the FCN's sigmoid output, before the linear map
 * into [min, max]), so that parameters with different ranges weigh the same.
 */
export function parameterSpread(samples: readonly (readonly number[])[]): { mean: number[]; std: number[]; meanStd: number } {
  if (samples.length === 0) throw new UserError('parameterSpread: no samples');
  const m = samples[0].length;
  const mean = new Array<number>(m).fill(0);
  const std = new Array<number>(m).fill(0);
  for (const row of samples) {
    if (row.length !== m) throw new UserError(`parameterSpread: rows of ${row.length} and ${m} parameters`);
    for (let j = 0; j < m; j++) mean[j] += row[j] / samples.length;
  }
  for (const row of samples) for (let j = 0; j < m; j++) std[j] += (row[j] - mean[j]) ** 2 / samples.length;
  for (let j = 0; j < m; j++) std[j] = Math.sqrt(std[j]);
  return { mean, std, meanStd: m ? std.reduce((a, b) => a + b, 0) / m : 0 };
}

export interface EpochScore {
  epoch: number;
  /** The combined realism score (lower is better). */
  score: number;
  /**
   * Standard deviation of each learned parameter across the rendered configurations. The collapse
   * floor is in the units given: pass stds divided by each parameter's range, or give the ranges
   * in BestEpochOptions.paramRanges.
   */
  paramStd: readonly number[];
}

export interface BestEpochOptions {
  /** Relative slack on the lowest late score (default 0.10: within 10 %). */
  tolerance?: number;
  /** Mean per-parameter std below which an epoch counts as collapsed (default 0.01 = 1 % of range). */
  collapseStd?: number;
  /** Fraction of the epochs, counted from the end, that count as late (default 0.5). */
  lateFraction?: number;
  /** max - min of each parameter (same order as paramStd): the stds are divided by them first. */
  paramRanges?: readonly number[];
}

export interface BestEpoch {
  epoch: number;
  reason: string;
  /** The epochs that were within the tolerance (the choice among them went by spread). */
  candidates: number[];
}

const fmt = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(3));

/**
 * The checkpoint rule (METHOD.md: a late, low-score epoch whose parameter distribution is still
 * broad). meanStd = the mean over parameters of paramStd (divided by paramRanges when given).
 * With the epochs sorted by number:
 *  1. late = the last ceil(lateFraction * count) epochs (default: the last half);
 *  2. drop collapsed epochs, whose meanStd < collapseStd (default 0.01), and non-finite scores;
 *  3. candidates = the remaining late epochs whose combined score <= (1 + tolerance) x the lowest
 *     of them (default: within 10 % of the minimum);
 *  4. pick the candidate with the largest meanStd (the broadest learned distribution); ties go to
 *     the later epoch.
 * Fallbacks, each named in the reason: no healthy late epoch -> steps 3-4 over all healthy epochs;
 * no healthy epoch at all -> the late epoch with the lowest finite score (or the last epoch).
 */
export function chooseBestEpoch(epochs: readonly EpochScore[], options: BestEpochOptions = {}): BestEpoch {
  if (epochs.length === 0) throw new UserError('chooseBestEpoch: no epochs to choose from');
  const tolerance = options.tolerance ?? 0.1;
  const floor = options.collapseStd ?? 0.01;
  const lateFraction = options.lateFraction ?? 0.5;
  const ranges = options.paramRanges;
  const meanStdOf = (e: EpochScore): number => {
    if (e.paramStd.length === 0) return Infinity; // nothing learned: nothing can collapse
    let s = 0;
    e.paramStd.forEach((v, j) => (s += ranges ? v / ranges[j] : v));
    return s / e.paramStd.length;
  };
  const sorted = [...epochs]
    .map((e) => ({ epoch: e.epoch, combined: e.score, meanStd: meanStdOf(e) }))
    .sort((a, b) => a.epoch - b.epoch);
  const late = sorted.slice(sorted.length - Math.max(1, Math.ceil(lateFraction * sorted.length)));
  type Row = (typeof sorted)[number];
  const healthy = (e: Row) => Number.isFinite(e.combined) && e.meanStd >= floor;
  const collapsed = late.filter((e) => !(e.meanStd >= floor)).map((e) => e.epoch);
  const collapseNote = collapsed.length ? `; late epochs ${collapsed.join(', ')} collapsed (mean std < ${floor})` : '';
  let pool = late.filter(healthy);
  let scope = `late epochs (${late[0].epoch}-${late[late.length - 1].epoch})`;
  if (pool.length === 0) {
    pool = sorted.filter(healthy);
    scope = 'all epochs (no healthy late epoch)';
  }
  if (pool.length === 0) {
    const finite = late.filter((e) => Number.isFinite(e.combined));
    const pick = finite.length ? finite.reduce((a, b) => (b.combined <= a.combined ? b : a)) : late[late.length - 1];
    return {
      epoch: pick.epoch,
      candidates: [pick.epoch],
      reason: `every epoch collapsed (mean parameter std < ${floor}) or has no finite score; epoch ${pick.epoch} is the late epoch with the lowest score${finite.length ? ` (${fmt(pick.combined)})` : ''}`,
    };
  }
  const best = pool.reduce((a, b) => (b.combined < a.combined ? b : a));
  const limit = best.combined >= 0 ? best.combined * (1 + tolerance) : best.combined * (1 - tolerance);
  const candidates = pool.filter((e) => e.combined <= limit);
  const pick = candidates.reduce((a, b) => (b.meanStd >= a.meanStd ? b : a));
  const others = candidates.length - 1;
  const reason =
    `epoch ${pick.epoch}: combined score ${fmt(pick.combined)}` +
    (pick === best ? `, the lowest among ${scope}` : ` within ${Math.round(tolerance * 100)} % of the lowest among ${scope} (${fmt(best.combined)}, epoch ${best.epoch})`) +
    (others > 0 ? `, and the broadest parameter spread (mean std ${fmt(pick.meanStd)}) of ${candidates.length} such epochs` : ` (mean parameter std ${fmt(pick.meanStd)})`) +
    collapseNote;
  return { epoch: pick.epoch, reason, candidates: candidates.map((e) => e.epoch) };
}
