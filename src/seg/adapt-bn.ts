/**
 * Test-time batch-norm adaptation (AdaBN: Li et al., "Revisiting Batch Normalization For
 * Practical Domain Adaptation", 2016) of a trained U-Net to a set of unannotated images (pure,
 * no Node modules).
 *
 * A U-Net trained on rendered pairs normalises every layer with the running mean / variance of
 * its activations on augmented crops of renders; on whole real micrographs those activations may
 * sit elsewhere. AdaBN replaces every batch
 * norm layer's running mean and variance by the statistics of the same layer's input on the
 * target images; the learned weights (convolutions, the norms' affine weight / bias) are kept.
 * No labels and no training: only the images' pixels are read.
 *
 * The images are seen as inference sees them: normalised with the model's normalisation and
 * polarity (infer.ts normaliseImage) and cut into the same tiles (infer.ts tileStarts: side
 * `tile`, at least `overlap` px shared, the image side if smaller). The network runs forward with
 * every norm on its batch's statistics (training-mode batch norm, AdaBN's forward), in batches
 * of `batch` tiles drawn in turn from the images (tile 1 of every image, then tile 2, ...), so
 * that each batch mixes images. Each layer's statistics are pooled over all pixels of all tiles
 * exactly: per batch a mean and a sum of squared deviations (two passes, float64), combined by
 * Chan et al.'s pairwise formula; the variance is unbiased (divided by count - 1), as batch norm's
 * running variance is (ops/norm.ts). It is not a momentum average: every tile weighs the same.
 *
 * The statistics are plain data ({ layer name: mean, variance }), so a worker thread can apply
 * them to its own copy of the model (applyBatchNormStats); flips-averaged inference then uses the
 * adapted statistics for the image and its mirror images alike (one model, one set of statistics;
 * estimated on the unmirrored tiles).
 */
import { BatchNorm2d, Tensor, batchNorm2d, noGrad, type Module, type NormActivation } from '../autodiff/index.js';
import type { UNet } from './unet.js';
import { normaliseImage, tileStarts } from './infer.js';
import type { Normalisation } from './augment.js';
import type { Polarity } from '../particles/polarity.js';
import { checkShape } from '../particles/labels.js';

/** One batch norm layer's adapted statistics (float64; `variance` unbiased). */
export interface LayerStats {
  mean: Float64Array;
  variance: Float64Array;
}

export interface BatchNormStats {
  /** By the layer's dotted module name ("enc0.norm1", "dec2.norm2", ...: checkpoint names without ".running_mean"). */
  layers: Record<string, LayerStats>;
  /** Images, tiles and pixels per channel at full resolution the statistics were estimated from. */
  images: number;
  tiles: number;
  pixels: number;
}

export interface AdaptOptions {
  /** Tile side in px (default 256, as infer.ts; the CLI passes the inference tile). */
  tile?: number;
  /** Minimum overlap of neighbouring tiles (default tile / 4, as infer.ts). */
  overlap?: number;
  /** Tiles per forward pass (default 8). */
  batch?: number;
  /** The model's input normalisation and polarity (ModelInfo), as for segmentImage. */
  normalisation?: Normalisation;
  polarity?: Polarity;
}

export interface AdaptImage {
  data: ArrayLike<number>;
  width: number;
  height: number;
}

/** Every BatchNorm2d of `model` with running statistics, by dotted module name, in forward order of registration. */
export function batchNormLayers(model: Module, prefix = ''): [string, BatchNorm2d][] {
  const out: [string, BatchNorm2d][] = [];
  for (const [name, child] of model.children()) {
    if (child instanceof BatchNorm2d) {
      if (child.state) out.push([prefix + name, child]);
    } else out.push(...batchNormLayers(child, `${prefix}${name}.`));
  }
  return out;
}

/** A running pooled mean / sum of squared deviations per channel (Chan et al.'s combination). */
class PooledMoments {
  count = 0;
  readonly mean: Float64Array;
  readonly m2: Float64Array;

  constructor(channels: number) {
    this.mean = new Float64Array(channels);
    this.m2 = new Float64Array(channels);
  }

  /** Adds every value of x [N, C, H, W], per channel (two passes over the batch, then combined). */
  add(x: Tensor): void {
    const [n, c, h, w] = x.shape;
    const hw = h * w;
    const m = n * hw;
    const d = x.data;
    for (let ch = 0; ch < c; ch++) {
      let s = 0;
      for (let i = 0; i < n; i++) for (let k = (i * c + ch) * hw, e = k + hw; k < e; k++) s += d[k];
      const mb = s / m;
      let q = 0;
      for (let i = 0; i < n; i++) {
        for (let k = (i * c + ch) * hw, e = k + hw; k < e; k++) {
          const v = d[k] - mb;
          q += v * v;
        }
      }
      const total = this.count + m;
      const delta = mb - this.mean[ch];
      this.mean[ch] += (delta * m) / total;
      this.m2[ch] += q + (delta * delta * this.count * m) / total;
    }
    this.count += m;
  }

  stats(): LayerStats {
    const variance = new Float64Array(this.m2.length);
    for (let ch = 0; ch < variance.length; ch++) variance[ch] = this.m2[ch] / (this.count - 1);
    return { mean: Float64Array.from(this.mean), variance };
  }
}

/** The tiles of one image as inference cuts them: [x0, y0] with the tile's width and height. */
function imageTiles(img: AdaptImage, tile: number, overlap: number): { x0: number; y0: number; tw: number; th: number }[] {
  const tw = Math.min(tile, img.width);
  const th = Math.min(tile, img.height);
  const out: { x0: number; y0: number; tw: number; th: number }[] = [];
  for (const y0 of tileStarts(img.height, tile, overlap)) for (const x0 of tileStarts(img.width, tile, overlap)) out.push({ x0, y0, tw, th });
  return out;
}

/**
 * The statistics of every batch norm layer's input on `images` (see the module comment). The
 * model is left as it was: its running statistics, weights and training flag.
 */
export function estimateBatchNormStats(model: UNet, images: readonly AdaptImage[], opts: AdaptOptions = {}): BatchNormStats {
  if (batchNormLayers(model).length === 0) throw new Error('batch norm adaptation: the model has no batch norm layers (a model trained with instance norm needs none)');
  if (images.length === 0) throw new Error('batch norm adaptation: no images');
  const tile = opts.tile ?? 256;
  const overlap = opts.overlap ?? Math.floor(tile / 4);
  const batch = Math.max(1, opts.batch ?? 8);
  const normalised = images.map((img) => {
    checkShape(img.data.length, img.width, img.height, 'image');
    return normaliseImage(img.data, opts.normalisation, opts.polarity);
  });
  // Tile k of every image, then tile k + 1: consecutive tiles come from different images.
  const perImage = images.map((img) => imageTiles(img, tile, overlap));
  const order: { img: number; x0: number; y0: number; tw: number; th: number }[] = [];
  for (let k = 0; k < Math.max(...perImage.map((t) => t.length)); k++) {
    perImage.forEach((tiles, img) => {
      if (k < tiles.length) order.push({ img, ...tiles[k] });
    });
  }
  const batches = function* (): Generator<Tensor> {
    let start = 0;
    while (start < order.length) {
      // A batch holds tiles of one shape (images smaller than the tile give smaller tiles).
      const { tw, th } = order[start];
      let end = start + 1;
      while (end < order.length && end - start < batch && order[end].tw === tw && order[end].th === th) end++;
      const group = order.slice(start, end);
      const plane = tw * th;
      const input = new Float32Array(group.length * plane);
      group.forEach((t, b) => {
        const x = normalised[t.img];
        const w = images[t.img].width;
        for (let y = 0; y < th; y++) input.set(x.subarray((t.y0 + y) * w + t.x0, (t.y0 + y) * w + t.x0 + tw), b * plane + y * tw);
      });
      yield new Tensor(input, [group.length, 1, th, tw]);
      start = end;
    }
  };
  const pooled = poolBatchNormStats(model, batches());
  return { layers: pooled.layers, images: images.length, tiles: order.length, pixels: pooled.pixels };
}

/**
 * The statistics of every batch norm layer's input over `batches` (network inputs [N, 1, H, W]),
 * each layer pooled exactly over all pixels of all batches (see the module comment), with every
 * norm normalising by its batch's statistics as in training. Used for AdaBN on tiles of target
 * images (estimateBatchNormStats) and for "precise BN" of averaged weights on training crops
 * (train.ts, weight-average.ts). The model is left as it was. `pixels`: input pixels seen.
 */
export function poolBatchNormStats(model: UNet, batches: Iterable<Tensor>): { layers: Record<string, LayerStats>; pixels: number } {
  const layers = batchNormLayers(model);
  if (layers.length === 0) throw new Error('batch norm statistics: the model has no batch norm layers (a model trained with instance norm needs none)');
  const moments = layers.map(([, bn]) => new PooledMoments(bn.numFeatures));
  // While estimating, each norm records its input and normalises with its batch's statistics
  // (no running update: state null); the instance fields shadow the class's methods and are
  // deleted afterwards.
  const wasTraining = model.training;
  layers.forEach(([, bn], i) => {
    const record = (x: Tensor, activation?: NormActivation): Tensor => {
      moments[i].add(x);
      return batchNorm2d(x, bn.weight, bn.bias, null, { training: true, eps: bn.eps, activation });
    };
    Object.assign(bn, { forward: (x: Tensor) => record(x), forwardAct: record });
  });
  let pixels = 0;
  try {
    model.eval();
    for (const x of batches) {
      noGrad(() => model.forward(x));
      pixels += x.size;
    }
  } finally {
    for (const [, bn] of layers) {
      delete (bn as unknown as Record<string, unknown>).forward;
      delete (bn as unknown as Record<string, unknown>).forwardAct;
    }
    model.train(wasTraining);
  }
  for (const m of moments) {
    if (m.count < 2) throw new Error('batch norm statistics: a layer saw fewer than 2 values; give larger images');
  }
  return { layers: Object.fromEntries(layers.map(([name], i) => [name, moments[i].stats()])), pixels };
}

/**
 * Writes `stats` into the model's running means and variances (all its batch norm layers, each
 * named in `stats`); nothing else of the model changes. Throws before writing anything when a
 * layer is missing or has another channel count.
 */
export function applyBatchNormStats(model: Module, stats: BatchNormStats): void {
  const layers = batchNormLayers(model);
  for (const [name, bn] of layers) {
    const s = stats.layers[name];
    if (!s || s.mean.length !== bn.numFeatures || s.variance.length !== bn.numFeatures) throw new Error(`batch norm adaptation: no statistics of ${bn.numFeatures} channels for layer ${name}`);
  }
  for (const [name, bn] of layers) {
    bn.state!.runningMean.data.set(stats.layers[name].mean);
    bn.state!.runningVar.data.set(stats.layers[name].variance);
  }
}
