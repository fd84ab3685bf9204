/**
 * Whole-micrograph inference with a trained U-Net (pure, no Node modules).
 *
 * An image of any size is cut into overlapping square tiles (side `tile`, or the image side if
 * smaller; neighbours overlap by at least `overlap` px; the last tile of a row / column is
 * aligned to the image edge). Each tile's softmax probabilities are weighted by a separable
 * window that is 1 in the middle and rises as sin^2 over `overlap` px on every side that borders
 * another tile (sides on the image border are not tapered), so that in a regular overlap two
 * neighbours' weights sum to 1 (sin^2 + cos^2) and seams blend smoothly; the weighted sum is
 * divided by the sum of weights. With `flips` (segmentImage's default), the whole image is also
 * predicted mirrored in x, in y and in both, and the four probability maps (mirrored back) are
 * averaged (test-time augmentation, as nnU-Net does; 4x the forward passes). argmax gives the 3-class map, and
 * src/particles/instances.ts turns the probabilities into particles: by default
 * `instancesFromProbabilities` (foreground = not background, split by a distance-map watershed
 * of the contour-free core), or with `instances: 'seeds'` `instancesFromClassMap` (class-1 seeds
 * of the argmax map, grown back over the contour). Last, the outlines are moved out to the
 * half level of the image's own edge (seg/edge-outline.ts; `outlines: 'network'` keeps them).
 *
 * An ensemble of U-Nets (`segmentImage` with several models; `predictEnsemble`) averages its
 * members' flips-averaged probabilities and distance plane before the particles are found.
 *
 * The image is normalised first as in training (`normalisation` and `polarity`, the model's
 * ModelInfo fields: dark-particle images are inverted, as training inverted them).
 */
import { Tensor, noGrad, sigmoid, slice, softmax, concat, mul } from '../autodiff/index.js';
import { outputChannels, RAY_SCALE, type UNet } from './unet.js';
import { mirroredRayIndex, polygonInstances, type StarInstanceOptions } from './stardist.js';
import { normalisationStats, type Normalisation } from './augment.js';
import { brightParticleView, type Polarity } from '../particles/polarity.js';
import { growToHalfLevel } from './edge-outline.js';
import { instancesFromClassMap, instancesFromDistance, instancesFromProbabilities, type DistanceInstanceOptions, type LowConfidence, type ProbabilityInstanceOptions } from '../particles/instances.js';
import type { Labelled } from '../particles/labels.js';
import { checkShape } from '../particles/labels.js';
import { UserError } from '../errors.js';
import { checkWorkingScale, resampleBilinear, workingSize } from './working-scale.js';

export interface InferOptions {
  /** Tile side in px (default 256). */
  tile?: number;
  /** Minimum overlap of neighbouring tiles in px (default tile / 4). */
  overlap?: number;
  /** Tiles per forward pass (default 4). */
  batch?: number;
  /** Particles smaller than this are dropped (default 50 px). */
  minArea?: number;
  /** The input normalisation the model was trained with (ModelInfo; default 'fixed', the training default). */
  normalisation?: Normalisation;
  /** The contrast polarity the model was trained on (ModelInfo; default 'bright', models of bright-particle pairs). */
  polarity?: Polarity;
  /**
   * Average the predictions of the image and its three mirror images: segmentImage's default
   * true (docs/segmentation.md: AP50 / PQ / DSC higher on both seeds of the standard pipeline for
   * ~3.6x the time); predictWithFlips does so only when true.
   */
  flips?: boolean;
  /**
   * From probabilities to particles: 'distance' (the default for a model with a distance head:
   * markers from its predicted distance map), 'watershed' (the default otherwise) or 'seeds' (see
   * the module comment).
   */
  instances?: InstanceMethod;
  /**
   * Where the particles' outlines go: 'half-level' (default) grows each particle over the
   * neighbouring pixels brighter than the half level of the image's edge (seg/edge-outline.ts,
   * at most 2 px), as annotators draw; 'network' keeps the outlines the network drew.
   */
  outlines?: OutlinePlacement;
  /** Options of the watershed post-processing (instancesFromProbabilities). */
  watershed?: Omit<ProbabilityInstanceOptions, 'minArea'>;
  /** Options of the distance post-processing (instancesFromDistance). */
  distance?: Omit<DistanceInstanceOptions, 'minArea'>;
  /** Options of the star-convex polygon instances (stardist.ts polygonInstances). */
  stardist?: Omit<StarInstanceOptions, 'minArea'>;
  /**
   * The model's working scale (ModelInfo.scale; default 1): predictWithFlips resamples the image
   * by it, predicts there (tiles of `tile` working px) and resamples the probabilities back to
   * the image's grid, where the instances are extracted (see predictWithFlips).
   */
  scale?: number;
}

export type InstanceMethod = 'distance' | 'stardist' | 'watershed' | 'seeds';
export type OutlinePlacement = 'half-level' | 'network';
export const OUTLINE_PLACEMENTS: readonly OutlinePlacement[] = ['half-level', 'network'];
export const INSTANCE_METHODS: readonly InstanceMethod[] = ['distance', 'stardist', 'watershed', 'seeds'];

/** Start offsets of tiles of length `tile` covering [0, size) with at least `overlap` shared px. */
export function tileStarts(size: number, tile: number, overlap: number): number[] {
  if (size <= tile) return [0];
  const stride = Math.max(1, tile - overlap);
  const starts: number[] = [];
  for (let s = 0; s + tile < size; s += stride) starts.push(s);
  starts.push(size - tile);
  return starts;
}

/** The 1-D blending window of a tile of length `len` (see the module comment). */
export function blendWindow(len: number, overlap: number, taperStart: boolean, taperEnd: boolean): Float32Array {
  const w = new Float32Array(len).fill(1);
  const r = Math.min(overlap, Math.floor(len / 2));
  for (let j = 0; j < r; j++) {
    const v = Math.sin((Math.PI / 2) * ((j + 0.5) / r)) ** 2;
    if (taperStart) w[j] = Math.min(w[j], v);
    if (taperEnd) w[len - 1 - j] = Math.min(w[len - 1 - j], v);
  }
  return w;
}

/**
 * Normalises a whole image as training did: dark-particle images inverted first (`polarity`),
 * then `normalisation` (default 'fixed', the training default).
 */
export function normaliseImage(image: ArrayLike<number>, normalisation: Normalisation = 'fixed', polarity: Polarity = 'bright'): Float32Array {
  const out = brightParticleView(image, polarity);
  const { mean, std } = normalisationStats(out, normalisation);
  for (let i = 0; i < out.length; i++) out[i] = (out[i] - mean) / std;
  return out;
}

/**
 * Class probabilities [C, H, W] (row-major per class) of an already-normalised image, by blended
 * overlapping tiles; a model with a distance head adds one plane after the classes, the
 * predicted normalised distance (the sigmoid of its channel). The model must be in eval mode for
 * batch norm to use its running statistics.
 */
export function predictNormalised(model: UNet, x: Float32Array, width: number, height: number, opts: InferOptions = {}): Float32Array {
  checkShape(x.length, width, height, 'image');
  const tile = opts.tile ?? 256;
  const overlap = opts.overlap ?? Math.floor(tile / 4);
  const batch = Math.max(1, opts.batch ?? 4);
  const th = Math.min(tile, height);
  const tw = Math.min(tile, width);
  const ys = tileStarts(height, tile, overlap);
  const xs = tileStarts(width, tile, overlap);
  const tiles: [number, number][] = [];
  for (const y0 of ys) for (const x0 of xs) tiles.push([x0, y0]);
  const c = outputChannels(model.config);
  const classes = model.config.classes;
  const n = width * height;
  const acc = new Float32Array(c * n);
  const wsum = new Float32Array(n);
  const plane = th * tw;
  for (let t0 = 0; t0 < tiles.length; t0 += batch) {
    const group = tiles.slice(t0, t0 + batch);
    const input = new Float32Array(group.length * plane);
    group.forEach(([x0, y0], b) => {
      for (let y = 0; y < th; y++) input.set(x.subarray((y0 + y) * width + x0, (y0 + y) * width + x0 + tw), b * plane + y * tw);
    });
    const probs = noGrad(() => {
      const out = model.forward(new Tensor(input, [group.length, 1, th, tw]));
      if (c === classes) return softmax(out, 1);
      const parts = [softmax(slice(out, [null, [0, classes]]), 1), sigmoid(slice(out, [null, [classes, classes + 1]]))];
      // Rays in px (the network predicts them in units of RAY_SCALE px).
      if (c > classes + 1) parts.push(mul(slice(out, [null, [classes + 1, c]]), RAY_SCALE));
      return concat(parts, 1);
    });
    const pd = probs.data;
    group.forEach(([x0, y0], b) => {
      const wy = blendWindow(th, overlap, y0 > 0, y0 + th < height);
      const wx = blendWindow(tw, overlap, x0 > 0, x0 + tw < width);
      for (let y = 0; y < th; y++) {
        for (let xx = 0; xx < tw; xx++) {
          const w = wy[y] * wx[xx];
          const i = (y0 + y) * width + x0 + xx;
          wsum[i] += w;
          for (let k = 0; k < c; k++) acc[k * n + i] += w * pd[(b * c + k) * plane + y * tw + xx];
        }
      }
    });
  }
  for (let i = 0; i < n; i++) {
    const inv = 1 / wsum[i];
    for (let k = 0; k < c; k++) acc[k * n + i] *= inv;
  }
  return acc;
}

/** Mirrors a row-major plane in x and / or y into a new array. */
function mirrorPlane(a: Float32Array, width: number, height: number, fx: boolean, fy: boolean): Float32Array {
  const out = new Float32Array(a.length);
  for (let y = 0; y < height; y++) {
    const sy = fy ? height - 1 - y : y;
    for (let x = 0; x < width; x++) out[y * width + x] = a[sy * width + (fx ? width - 1 - x : x)];
  }
  return out;
}

/**
 * `predictNormalised`, averaged over the image and its mirror images in x, y and both (each
 * prediction mirrored back) when `opts.flips`; for a model with a working scale (`opts.scale` > 1,
 * working-scale.ts) at that scale: the normalised image is resampled up (bilinear, as training
 * resampled its pairs), predicted, and every plane resampled back down to width x height
 * (bilinear; rays divided by the scale, back to original px). The probabilities come back, not
 * the instances, so that the instance extraction runs on the original grid with every setting
 * meaning what it means at scale 1: the 50 px minimum area, the marker prominence of 1 px, the
 * one-pixel separation lines the manual masks draw and the half-level outline growth of at most
 * 2 px. Instances extracted at the working scale and mapped back would draw their separation
 * lines 1 working px wide (2 / 3 of an original px at S = 1.5, lost or doubled by the mapping back).
 */
export function predictWithFlips(model: UNet, x: Float32Array, width: number, height: number, opts: InferOptions = {}): Float32Array {
  const scale = opts.scale ?? 1;
  if (scale === 1) return predictFlipped(model, x, width, height, opts);
  checkWorkingScale(scale, 'the model\'s scale');
  const [w, h] = workingSize(width, height, scale);
  const c = outputChannels(model.config);
  const back = resampleBilinear(predictFlipped(model, resampleBilinear(x, 1, width, height, w, h), w, h, opts), c, w, h, width, height);
  const rays = model.config.rays ?? 0;
  for (let i = (c - rays) * width * height; i < back.length; i++) back[i] /= scale;
  return back;
}

/** predictWithFlips at the working scale (see there). */
function predictFlipped(model: UNet, x: Float32Array, width: number, height: number, opts: InferOptions): Float32Array {
  const acc = predictNormalised(model, x, width, height, opts);
  if (!opts.flips) return acc;
  const n = width * height;
  const c = outputChannels(model.config);
  const rays = model.config.rays ?? 0;
  const firstRay = c - rays;
  for (const [fx, fy] of [[true, false], [false, true], [true, true]] as const) {
    const p = predictNormalised(model, mirrorPlane(x, width, height, fx, fy), width, height, opts);
    // Ray k of the mirrored image is ray perm[k] of the image (stardist.ts).
    const perm = rays > 0 ? mirroredRayIndex(rays, fx, fy) : null;
    for (let k = 0; k < c; k++) {
      const back = mirrorPlane(p.subarray(k * n, (k + 1) * n), width, height, fx, fy);
      const to = perm && k >= firstRay ? firstRay + perm[k - firstRay] : k;
      for (let i = 0; i < n; i++) acc[to * n + i] += back[i];
    }
  }
  for (let i = 0; i < acc.length; i++) acc[i] *= 0.25;
  return acc;
}

/**
 * The ensemble's prediction: each member's `predictWithFlips` (its own test-time flips), averaged
 * over the members. One member: its prediction as is (no arithmetic added). The members are
 * predicted one after the other into one accumulator, so the memory is two predictions whatever
 * their number. Their outputs must have the same channels (checkSameOutputs).
 */
export function predictEnsemble(models: readonly UNet[], x: Float32Array, width: number, height: number, opts: InferOptions = {}): Float32Array {
  checkSameOutputs(models);
  const acc = predictWithFlips(models[0], x, width, height, opts);
  if (models.length === 1) return acc;
  for (let m = 1; m < models.length; m++) {
    const p = predictWithFlips(models[m], x, width, height, opts);
    for (let i = 0; i < acc.length; i++) acc[i] += p[i];
  }
  const inv = 1 / models.length;
  for (let i = 0; i < acc.length; i++) acc[i] *= inv;
  return acc;
}

/**
 * Throws a UserError when the members' outputs cannot be averaged channel by channel: none, or a
 * member whose classes, distance head or rays differ from the first's. (Which models make a
 * sensible ensemble, the same architecture, normalisation and polarity, is the caller's check:
 * node/seg-checkpoint.ts loadEnsemble.)
 */
export function checkSameOutputs(models: readonly UNet[]): void {
  if (models.length === 0) throw new UserError('an ensemble needs at least one model');
  const layout = (m: UNet) => `classes ${m.config.classes}, distance head ${Boolean(m.config.distanceHead)}, rays ${m.config.rays ?? 0}`;
  models.forEach((m, k) => {
    if (layout(m) !== layout(models[0])) throw new UserError(`ensemble member ${k + 1} has other outputs than member 1: ${layout(m)} vs ${layout(models[0])}`);
  });
}

/** argmax over classes of probabilities [C, H*W] (ties: the lower class). */
export function argmaxClasses(probs: Float32Array, classes: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bv = probs[i];
    for (let k = 1; k < classes; k++) {
      const v = probs[k * n + i];
      if (v > bv) {
        bv = v;
        best = k;
      }
    }
    out[i] = best;
  }
  return out;
}

export interface Segmentation {
  width: number;
  height: number;
  /** [C, H, W] probabilities (+ the predicted distance plane of a model with a distance head). */
  probabilities: Float32Array;
  /** 0 background, 1 particle, 2 contour. */
  classes: Uint8Array;
  instances: Labelled;
  /** Particles split or merged at low confidence (watershed instances only; see instances.ts). */
  lowConfidence?: LowConfidence;
}

/**
 * Segments one greyscale image (values in [0, 1]) into classes and particle instances, with one
 * U-Net or an ensemble of them (predictEnsemble: their probabilities averaged before the
 * instances are found).
 */
export function segmentImage(models: UNet | readonly UNet[], image: ArrayLike<number>, width: number, height: number, opts: InferOptions = {}): Segmentation {
  checkShape(image.length, width, height, 'image');
  const members = Array.isArray(models) ? (models as readonly UNet[]) : [models as UNet];
  const model = members[0];
  const wasTraining = members.map((m) => m.training);
  for (const m of members) m.eval();
  try {
    const probabilities = predictEnsemble(members, normaliseImage(image, opts.normalisation, opts.polarity), width, height, { ...opts, flips: opts.flips ?? true });
    const classes = argmaxClasses(probabilities, model.config.classes, width * height);
    const minArea = opts.minArea ?? 50;
    const n = width * height;
    const method = opts.instances ?? (model.config.distanceHead ? 'distance' : 'watershed');
    const place = (l: Labelled): Labelled => {
      if ((opts.outlines ?? 'half-level') === 'network') return l;
      return { labels: growToHalfLevel(l.labels, brightParticleView(image, opts.polarity ?? 'bright'), width, height), count: l.count };
    };
    if (method === 'seeds' || model.config.classes !== 3) {
      return { width, height, probabilities, classes, instances: place(instancesFromClassMap(classes, width, height, { minArea })) };
    }
    if (method === 'distance' && !model.config.distanceHead) throw new UserError("instances 'distance' needs a model trained with a distance head (segment train --instance-target distance)");
    if (method === 'stardist') {
      const rays = model.config.rays ?? 0;
      if (!rays) throw new UserError("instances 'stardist' needs a model trained with rays (segment train --instance-target stardist)");
      const star = polygonInstances(probabilities.subarray(0, 3 * n), probabilities.subarray(3 * n, 4 * n), probabilities.subarray(4 * n, (4 + rays) * n), width, height, { ...opts.stardist, minArea });
      return { width, height, probabilities, classes, instances: place(star) };
    }
    const { lowConfidence, ...instances } =
      method === 'distance'
        ? instancesFromDistance(probabilities.subarray(0, 3 * n), probabilities.subarray(3 * n, 4 * n), width, height, { ...opts.distance, minArea })
        : instancesFromProbabilities(probabilities.subarray(0, 3 * n), width, height, { ...opts.watershed, minArea });
    return { width, height, probabilities, classes, instances: place(instances), lowConfidence };
  } finally {
    members.forEach((m, k) => m.train(wasTraining[k]));
  }
}
