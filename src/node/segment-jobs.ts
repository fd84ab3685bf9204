/**
 * One image through a trained U-Net, as segment.ts computes it for `segment predict` / `eval`
 * and as a task-worker job (task-workers.ts): the job names the model folder (the worker loads
 * it) and holds the pixels and the settings, all plain data, so the pipeline's predict stage can
 * segment its test images side by side, one image per worker.
 */
import type { GreyImage } from '../io/grey-image.js';
import type { Labelled } from '../particles/labels.js';
import type { LowConfidence } from '../particles/instances.js';
import type { Polarity } from '../particles/polarity.js';
import type { Normalisation } from '../seg/augment.js';
import { segmentImage, type InstanceMethod, type OutlinePlacement } from '../seg/infer.js';
import type { UNet } from '../seg/unet.js';
import { applyBatchNormStats, type BatchNormStats } from '../seg/adapt-bn.js';
import { loadEnsemble } from './seg-checkpoint.js';

export interface SegmentFlags {
  normalisation: Normalisation;
  /** The model's polarity, or for Otsu the given / detected one. */
  polarity: Polarity;
  flips: boolean;
  outlines?: OutlinePlacement;
  /** undefined: the model's default ('distance' with a distance head, else 'watershed'). */
  instances?: InstanceMethod;
  /** Options of the star-convex polygon instances (instances 'stardist'; seg/stardist.ts). */
  stardist?: { prob?: number; nms?: number; relative?: number };
  /** The model's working scale (ModelInfo.scale; seg/working-scale.ts); absent = 1. */
  scale?: number;
}

export interface ImageSegmentation {
  instances: Labelled;
  classes: Uint8Array;
  lowConfidence?: LowConfidence;
}

/** `img` through the U-Net, or the ensemble of `models`: probabilities (with flips as `sf` says), then the particles. */
export function segmentWithModel(models: UNet | readonly UNet[], img: GreyImage, tile: number, minArea: number, sf: SegmentFlags): ImageSegmentation {
  const s = segmentImage(models, img.data, img.width, img.height, { tile, minArea, normalisation: sf.normalisation, polarity: sf.polarity, flips: sf.flips, instances: sf.instances, outlines: sf.outlines, ...(sf.stardist ? { stardist: sf.stardist } : {}), ...(sf.scale ? { scale: sf.scale } : {}) });
  return { instances: s.instances, classes: s.classes, lowConfidence: s.lowConfidence };
}

export interface SegmentImageJob {
  /** The model folder (segment train's output), or an ensemble's folders (seg-checkpoint.ts loadEnsemble). */
  models: string[];
  image: GreyImage;
  tile: number;
  minArea: number;
  flags: SegmentFlags;
  /** Batch norm statistics that replace the model's (--adapt-bn; seg/adapt-bn.ts), if any. */
  batchNorm?: BatchNormStats;
}

/** A job's segmentation, and the seconds it took. */
export function runSegmentImageJob(job: SegmentImageJob): { segmentation: ImageSegmentation; seconds: number } {
  const t0 = performance.now();
  const { models } = loadEnsemble(job.models, 'the job');
  // --adapt-bn's statistics: one model's (segment.ts refuses them for an ensemble).
  if (job.batchNorm) applyBatchNormStats(models[0], job.batchNorm);
  const segmentation = segmentWithModel(models, job.image, job.tile, job.minArea, job.flags);
  return { segmentation, seconds: (performance.now() - t0) / 1000 };
}
