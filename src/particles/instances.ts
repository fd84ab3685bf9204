/**
 * From a segmenter's output to particle instances, and the classical (non-neural) baseline.
 */
import { UserError } from '../errors.js';
import { checkShape, connectedComponents, removeSmallComponents, type Labelled } from './labels.js';
import { applyThreshold, gaussianBlur, otsuThreshold } from './otsu.js';
import { distanceWatershed, findMaxima, markerWatershed } from './watershed.js';
import { distanceTransform } from './distance.js';

/** Classes of a 3-class map, as in the synthetic masks: 0 background, 1 particle, 2 contour. */
export const CLASS_BACKGROUND = 0;
export const CLASS_PARTICLE = 1;
export const CLASS_CONTOUR = 2;

export interface ClassMapOptions {
  /** Seeds (4-connected components of class 1) smaller than this are dropped (default 50 px). */
  minArea?: number;
}

/**
 * Instances from a 3-class map (0 background, 1 particle, 2 contour):
 * 1. seeds = 4-connected components of class 1 (4, because the contours that separate touching
 *    particles are one pixel thin and may run diagonally);
 * 2. seeds smaller than `minArea` px are dropped (the paper's post-processing uses 50 px);
 * 3. the seeds are grown back over the class-1 and class-2 pixels by a breadth-first search
 *    (4-connected, all seeds advancing one pixel per step), so a contour pixel, or a pixel of a
 *    dropped seed, joins the seed nearest to it along particle/contour pixels (ties: the seed
 *    that reached it first in the queue, i.e. the lower id). Pixels not connected to any kept
 *    seed stay background.
 * Returns instances numbered 1..count in raster order of their seeds' first pixels.
 */
export function instancesFromClassMap(
  classes: ArrayLike<number>,
  width: number,
  height: number,
  options: ClassMapOptions = {},
): Labelled {
  checkShape(classes.length, width, height, 'class map');
  const { minArea = 50 } = options;
  const n = width * height;
  const particle = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = classes[i];
    if (c !== CLASS_BACKGROUND && c !== CLASS_PARTICLE && c !== CLASS_CONTOUR) {
      throw new UserError(`class map: pixel ${i} has class ${c}, expected 0, 1 or 2`);
    }
    particle[i] = c === CLASS_PARTICLE ? 1 : 0;
  }
  const seeds = removeSmallComponents(connectedComponents(particle, width, height, 4).labels, minArea);
  const labels = seeds.labels;
  const queue = new Int32Array(n);
  let tail = 0;
  for (let i = 0; i < n; i++) if (labels[i]) queue[tail++] = i;
  for (let head = 0; head < tail; head++) {
    const i = queue[head];
    const l = labels[i];
    const x = i % width;
    const visit = (j: number): void => {
      if (labels[j] === 0 && classes[j] !== CLASS_BACKGROUND) {
        labels[j] = l;
        queue[tail++] = j;
      }
    };
    if (x > 0) visit(i - 1);
    if (x < width - 1) visit(i + 1);
    if (i >= width) visit(i - width);
    if (i < n - width) visit(i + width);
  }
  return { labels, count: seeds.count };
}

export interface ProbabilityInstanceOptions {
  /** Foreground = pixels whose background probability is below this (default 0.5). */
  background?: number;
  /** Core = foreground pixels whose contour probability is below this (default 0.5). */
  contour?: number;
  /** Prominence of a distance maximum that starts its own particle, px (default 1). */
  h?: number;
  /** Particles with fewer core pixels than this are dropped (default 10). */
  minCore?: number;
  /** Particles smaller than this are dropped at the end (default 50 px, as in the paper). */
  minArea?: number;
  /** Leave one-pixel background lines between touching particles, as the TiO2-SEM masks do (default true). */
  lines?: boolean;
}

/**
 * Instances from class probabilities [3, H, W] (background, particle, contour), the default
 * post-processing of `segmentImage`:
 * 1. foreground = P(background) < `background` (the particle and contour classes together: the
 *    foreground mask does not depend on how the network shares a pixel between them);
 * 2. core = foreground pixels with P(contour) < `contour` (the predicted contours cut it);
 * 3. markers = the maxima of the core's Euclidean distance map that stand out by more than `h` px
 *    (as in ImageJ's binary watershed), so touching particles are split where the network drew a
 *    contour between them and also where their union has a waist but the contour is faint (a
 *    segmenter trained on renders often sees no contour between real touching particles);
 * 4. the foreground is flooded from the markers on the inverted distance map (4-connected, with
 *    one-pixel lines where two particles meet when `lines`);
 * 5. particles with fewer than `minCore` core pixels (thin bright structures that are all
 *    contour, e.g. substrate ridges) or fewer than `minArea` pixels are dropped.
 * Foreground pieces that hold no marker (no core pixel) stay background.
 * Returns instances numbered 1..count in raster order.
 */
export function instancesFromProbabilities(probabilities: ArrayLike<number>, width: number, height: number, options: ProbabilityInstanceOptions = {}): Labelled & { lowConfidence: LowConfidence } {
  const n = width * height;
  checkShape(probabilities.length, 3 * width, height, 'class probabilities (3 classes)');
  const { background = 0.5, contour = 0.5, h = 1, minCore = 10, minArea = 50, lines = true } = options;
  const fg = new Uint8Array(n);
  const core = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    fg[i] = probabilities[i] < background ? 1 : 0;
    core[i] = fg[i] && probabilities[2 * n + i] < contour ? 1 : 0;
  }
  return coreWatershed(fg, core, width, height, h, minCore, minArea, lines);
}

/** Steps 3-5 of instancesFromProbabilities, from its foreground and core masks. */
function coreWatershed(fg: Uint8Array, core: Uint8Array, width: number, height: number, h: number, minCore: number, minArea: number, lines: boolean): Labelled & { lowConfidence: LowConfidence } {
  const n = width * height;
  const dist = distanceTransform(core, width, height);
  const markers = findMaxima(dist, width, height, { mask: core, h, connectivity: 4 });
  const cost = new Float32Array(n);
  for (let i = 0; i < n; i++) cost[i] = -dist[i];
  const labels = markerWatershed(cost, markers.labels, width, height, { mask: fg, connectivity: 4, lines });
  const coreCount = new Int32Array(markers.count + 1);
  for (let i = 0; i < n; i++) if (core[i]) coreCount[labels[i]]++;
  for (let i = 0; i < n; i++) if (coreCount[labels[i]] < minCore) labels[i] = 0;
  const out = removeSmallComponents(labels, minArea);
  return { ...out, lowConfidence: lowConfidenceCounts(out, dist, core, width, height, h) };
}

/**
 * Splits and merges that hang on the marker prominence h (`instancesFromProbabilities`):
 * - splits: particles that hold no maximum of prominence > 2h, so they stand apart from a
 *   neighbour on a distance maximum only up to twice the threshold;
 * - merges: particles that hold two or more maxima of prominence > h / 2, so they would split
 *   at half the threshold.
 * These are the particles a user should look at first in the overlay.
 */
export interface LowConfidence {
  splits: number;
  merges: number;
}

function lowConfidenceCounts(inst: Labelled, dist: Float32Array, core: Uint8Array, width: number, height: number, h: number): LowConfidence {
  const strong = findMaxima(dist, width, height, { mask: core, h: 2 * h, connectivity: 4 }).labels;
  const weak = findMaxima(dist, width, height, { mask: core, h: h / 2, connectivity: 4 }).labels;
  const strongIn = new Int32Array(inst.count + 1);
  const weakIn = new Int32Array(inst.count + 1);
  for (let i = 0; i < inst.labels.length; i++) {
    const l = inst.labels[i];
    if (!l) continue;
    if (strong[i]) strongIn[l]++;
    if (weak[i]) weakIn[l]++;
  }
  let splits = 0;
  let merges = 0;
  for (let l = 1; l <= inst.count; l++) {
    if (strongIn[l] === 0) splits++;
    if (weakIn[l] >= 2) merges++;
  }
  return { splits, merges };
}

export interface DistanceInstanceOptions {
  /** Foreground = P(background) below this (default 0.5). */
  background?: number;
  /**
   * Markers: 'core' (default) = the distance watershed of instancesFromProbabilities with its
   * core also cut where the predicted distance is below `relative` x the image's typical
   * predicted centre value; 'threshold' = 4-connected components of the foreground where the
   * predicted distance exceeds `threshold`; 'maxima' = the maxima of the predicted distance
   * that stand out by more than `h`.
   */
  seeds?: 'core' | 'threshold' | 'maxima';
  /**
   * 'core': the level, as a fraction of the median of the predicted distance's maxima in the
   * foreground (prominence 0.05; the typical centre value in this image), below which the core
   * is cut (default 0.5: the inner half of every particle, as the target defines it). Relative,
   * because a segmenter trained on renders predicts lower centre values on real micrographs
   * (TiO2-SEM dev-test: median 0.49 where the target is 1) and the level must follow.
   */
  relative?: number;
  /** P(contour) below which a foreground pixel is core ('core'; default 0.5). */
  contour?: number;
  /** 'core': prominence of a core distance maximum in px (default 1); 'core' particles need `minCore` core px (default 10). */
  coreH?: number;
  minCore?: number;
  /** 'threshold': seed level of the normalised distance (default 0.5). */
  threshold?: number;
  /** Prominence of a maximum, in units of the normalised distance ('maxima'; default 0.2). */
  h?: number;
  /** Threshold seeds with fewer pixels than this are no markers (default 4). */
  minSeed?: number;
  /** Particles smaller than this are dropped at the end (default 50 px). */
  minArea?: number;
  /** Leave one-pixel background lines between touching particles (default true). */
  lines?: boolean;
  /**
   * The low-confidence counts: particles whose split or merge flips when the threshold moves by
   * this much either way ('threshold'; default 0.15), or when h is doubled or halved ('maxima').
   */
  confidenceStep?: number;
}

/**
 * Instances from class probabilities [3, H, W] and a predicted normalised distance to the
 * particle outline [H, W] (the distance head of a U-Net, seg/targets.ts: 1 at every particle's
 * centre, 0 on its outline and where it touches another particle):
 * 1. foreground = P(background) < `background`;
 * 2. markers, by `seeds`:
 *    - 'core' (default): core = foreground with P(contour) < `contour` and a predicted distance
 *      above `relative` x the image's typical predicted centre value (typicalPeak); then
 *      instancesFromProbabilities' distance watershed of that core (markers = core distance
 *      maxima of prominence `coreH` px, flooding the foreground, `minCore`); the predicted
 *      distance dips where particles touch, so the core comes apart there even where the
 *      contour class is faint and the union has no waist;
 *    - 'threshold': the foreground pixels whose predicted distance exceeds `threshold`
 *      (4-connected pieces of at least `minSeed` px);
 *    - 'maxima': the predicted distance's maxima of prominence > `h`;
 *    for these two:
 * 3. the foreground is flooded from the markers on the inverted predicted distance (4-connected,
 *    one-pixel lines where two particles meet when `lines`);
 * 4. particles smaller than `minArea` px are dropped; foreground without a marker stays background.
 * Returns instances numbered 1..count in raster order.
 */
export function instancesFromDistance(
  probabilities: ArrayLike<number>,
  distance: ArrayLike<number>,
  width: number,
  height: number,
  options: DistanceInstanceOptions = {},
): Labelled & { lowConfidence: LowConfidence } {
  const n = width * height;
  checkShape(probabilities.length, 3 * width, height, 'class probabilities (3 classes)');
  checkShape(distance.length, width, height, 'predicted distance');
  const { background = 0.5, seeds = 'core', relative = 0.5, contour = 0.5, coreH = 1, minCore = 10, threshold = 0.5, h = 0.2, minSeed = 4, minArea = 50, lines = true, confidenceStep = 0.15 } = options;
  if (seeds !== 'core' && seeds !== 'threshold' && seeds !== 'maxima') throw new UserError(`instancesFromDistance: seeds must be 'core', 'threshold' or 'maxima' (got ${String(seeds)})`);
  const fg = new Uint8Array(n);
  for (let i = 0; i < n; i++) fg[i] = probabilities[i] < background ? 1 : 0;
  if (seeds === 'core') {
    const level = relative * typicalPeak(distance, fg, width, height);
    const core = new Uint8Array(n);
    for (let i = 0; i < n; i++) core[i] = fg[i] && probabilities[2 * n + i] < contour && distance[i] > level ? 1 : 0;
    return coreWatershed(fg, core, width, height, coreH, minCore, minArea, lines);
  }
  const markers = seeds === 'threshold' ? thresholdSeeds(distance, fg, width, height, threshold, minSeed) : findMaxima(distance, width, height, { mask: fg, h, connectivity: 4 }).labels;
  const cost = new Float32Array(n);
  for (let i = 0; i < n; i++) cost[i] = -distance[i];
  const labels = markerWatershed(cost, markers, width, height, { mask: fg, connectivity: 4, lines });
  const out = removeSmallComponents(labels, minArea);
  const lowConfidence =
    seeds === 'threshold'
      ? seedLevelConfidence(out, distance, fg, width, height, threshold, confidenceStep, minSeed)
      : lowConfidenceCounts(out, Float32Array.from(distance), fg, width, height, h);
  return { ...out, lowConfidence };
}

/** The median of the maxima (prominence 0.05) of `distance` inside `fg`; 0 when there are none. */
export function typicalPeak(distance: ArrayLike<number>, fg: Uint8Array, width: number, height: number): number {
  const peaks = findMaxima(distance, width, height, { mask: fg, h: 0.05, connectivity: 4 }).labels;
  const values: number[] = [];
  for (let i = 0; i < peaks.length; i++) if (peaks[i]) values.push(distance[i]);
  if (values.length === 0) return 0;
  values.sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)];
}

/** 4-connected pieces of the foreground where `distance` > `threshold`, of at least `minSeed` px. */
function thresholdSeeds(distance: ArrayLike<number>, fg: Uint8Array, width: number, height: number, threshold: number, minSeed: number): Int32Array {
  const seed = new Uint8Array(fg.length);
  for (let i = 0; i < fg.length; i++) seed[i] = fg[i] && distance[i] > threshold ? 1 : 0;
  return removeSmallComponents(connectedComponents(seed, width, height, 4).labels, minSeed).labels;
}

/**
 * Low-confidence splits and merges of threshold seeds: a particle is a low-confidence merge when
 * the seeds at `threshold + step` put two or more markers in it (it would split at that level);
 * particles are low-confidence splits when one seed at `threshold - step` reaches into two or
 * more of them (they would merge).
 */
function seedLevelConfidence(inst: Labelled, distance: ArrayLike<number>, fg: Uint8Array, width: number, height: number, threshold: number, step: number, minSeed: number): LowConfidence {
  const high = thresholdSeeds(distance, fg, width, height, threshold + step, minSeed);
  const low = thresholdSeeds(distance, fg, width, height, Math.max(0, threshold - step), minSeed);
  const highIn = new Map<number, Set<number>>();
  const lowHits = new Map<number, Set<number>>();
  for (let i = 0; i < inst.labels.length; i++) {
    const l = inst.labels[i];
    if (!l) continue;
    if (high[i]) (highIn.get(l) ?? highIn.set(l, new Set()).get(l)!).add(high[i]);
    if (low[i]) (lowHits.get(low[i]) ?? lowHits.set(low[i], new Set()).get(low[i])!).add(l);
  }
  let merges = 0;
  for (const set of highIn.values()) if (set.size >= 2) merges++;
  const split = new Set<number>();
  for (const set of lowHits.values()) if (set.size >= 2) for (const l of set) split.add(l);
  return { splits: split.size, merges };
}

/**
 * Sets to 1 every background region (4-connected, so that diagonal gaps do not leak) that does
 * not touch the image border and has fewer than `maxArea` pixels. Returns a new mask of 0 / 1.
 */
export function fillHoles(mask: ArrayLike<number>, width: number, height: number, maxArea = Infinity): Uint8Array {
  checkShape(mask.length, width, height, 'mask');
  const n = width * height;
  const out = new Uint8Array(n);
  const bg = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = mask[i] ? 1 : 0;
    bg[i] = 1 - out[i];
  }
  const holes = connectedComponents(bg, width, height, 4);
  const area = new Int32Array(holes.count + 1);
  const border = new Uint8Array(holes.count + 1);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const l = holes.labels[y * width + x];
      area[l]++;
      if (x === 0 || y === 0 || x === width - 1 || y === height - 1) border[l] = 1;
    }
  }
  for (let i = 0; i < n; i++) {
    const l = holes.labels[i];
    if (l && !border[l] && area[l] < maxArea) out[i] = 1;
  }
  return out;
}

export interface OtsuInstancesOptions {
  /** Gaussian smoothing of the image before thresholding, px (default 1: tames SEM shot noise). */
  sigma?: number;
  /** Particles are darker than the background (default false: bright particles, as in SEM). */
  invert?: boolean;
  /** Enclosed background holes smaller than this are filled (default 100 px). */
  maxHoleArea?: number;
  /** Prominence of a watershed marker in px of distance (default 0.5, ImageJ's value). */
  h?: number;
  /** Gaussian smoothing of the distance map before the markers are found (default 0). */
  distanceSigma?: number;
  /** Minimum distance between markers (default 0: off). */
  minDistance?: number;
  /** Instances smaller than this are removed at the end (default 50 px, as in the paper). */
  minArea?: number;
}

/** The instances `otsuInstances` found, with the Otsu threshold it chose (for reporting). */
export interface OtsuInstancesResult extends Labelled {
  threshold: number;
}

/**
 * The classical baseline: (Gaussian smoothing) -> Otsu threshold -> fill small holes ->
 * distance-transform watershed (ImageJ style, one-pixel lines between split particles) ->
 * removal of instances smaller than `minArea`. `image` is a [0, 1] greyscale image.
 * The defaults were fixed a priori (ImageJ's and the paper's values), not tuned on any split.
 */
export function otsuInstances(
  image: ArrayLike<number>,
  width: number,
  height: number,
  options: OtsuInstancesOptions = {},
): OtsuInstancesResult {
  checkShape(image.length, width, height, 'image');
  const { sigma = 1, invert = false, maxHoleArea = 100, h = 0.5, distanceSigma = 0, minDistance = 0, minArea = 50 } = options;
  let img = gaussianBlur(image, width, height, sigma);
  if (invert) img = img.map((v) => 1 - v);
  const threshold = otsuThreshold(img);
  const mask = fillHoles(applyThreshold(img, threshold), width, height, maxHoleArea);
  const split = distanceWatershed(mask, width, height, { h, sigma: distanceSigma, minDistance, lines: true });
  return { ...removeSmallComponents(split.labels, minArea), threshold };
}
