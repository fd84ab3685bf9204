/**
 * Synthetic-dataset export: one annotated sample per index, reproducible from (seed, index)
 * alone so that any number of workers can share the work and a rerun skips finished samples.
 * A sample is a new configuration phi drawn from the layout distribution, rendered with the
 * parameters the trained ParamNet gives it (eval mode: no dropout), with exact masks from the
 * hard z-buffer and the reference rejection rules; a rejected draw is replaced by the next one.
 */
import { Rng } from '../autodiff/rng.js';
import { noGrad } from '../autodiff/tape.js';
import type { SceneConfig } from '../render/config.js';
import { sampleScene, renderScene } from '../render/scene.js';
import type { ParamNet } from './models.js';
import { featureBatch, refreshStochastics, type ParamMapping } from './generator.js';
import { ExitCode, UserError } from '../errors.js';
import { refineImage, type Refiner } from './refiner.js';

export interface SyntheticSample {
  index: number;
  width: number;
  height: number;
  /** Image in [0, 1]. */
  image: Float32Array;
  /** 0 background, 1 particle, 2 contour. */
  classes: Uint8Array;
  /** Instance ids (0 background). */
  instances: Uint16Array;
  /** Learned parameters of this sample, physical units. */
  params: Record<string, number>;
  /** Draws rejected before this one was kept, with their reasons. */
  rejected: string[];
}

/** Tries per sample before giving up (a config that never passes the rules is a user error). */
export const MAX_DRAWS = 50;

/**
 * `refiner` (a run's learned refiner, refiner.ts) changes the image only: the masks and instances
 * are the render's, and the rejection rules judge the render.
 */
export function generateSample(index: number, seed: number, scene: SceneConfig, fcn: ParamNet, mapping: ParamMapping, refiner: Refiner | null = null): SyntheticSample {
  return noGrad(() => {
    fcn.eval();
    // A generator per sample index: results do not depend on how samples are split up.
    const rng = new Rng((seed * 1_000_003 + index) >>> 0);
    const rejected: string[] = [];
    for (let draw = 0; draw < MAX_DRAWS; draw++) {
      const s = sampleScene(scene, rng);
      refreshStochastics(s, rng);
      const unit = fcn.forward(featureBatch([s]));
      const r = renderScene(s, mapping.map(unit).data.subarray(0, mapping.base.size), { masks: true });
      if (r.rejected) {
        rejected.push(r.rejected);
        continue;
      }
      return {
        index,
        width: scene.width,
        height: scene.height,
        image: refiner ? refineImage(refiner, r.image.data as Float32Array, scene.width) : Float32Array.from(r.image.data),
        classes: r.classes!,
        instances: r.instances!,
        params: mapping.physical(unit.data),
        rejected,
      };
    }
    throw new UserError(`sample ${index}: all ${MAX_DRAWS} draws were rejected by the dataset rules (last: ${rejected[rejected.length - 1]}); check the scene config (particle sizes vs masks.minArea) and the learned parameters`, ExitCode.badConfig);
  });
}

/**
 * COCO run-length encoding of a binary mask (uncompressed RLE: counts of alternating 0 / 1 runs
 * in column-major order, starting with zeros), as pycocotools expects for "iscrowd": 0 masks
 * given as {size: [h, w], counts: [...]}.
 */
export function cocoRle(mask: (i: number) => boolean, width: number, height: number): { size: [number, number]; counts: number[] } {
  const counts: number[] = [];
  let current = false;
  let run = 0;
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      const v = mask(y * width + x);
      if (v !== current) {
        counts.push(run);
        run = 0;
        current = v;
      }
      run++;
    }
  }
  counts.push(run);
  return { size: [height, width], counts };
}

/** COCO annotations of one sample's instances: RLE, area, bbox [x, y, w, h]. */
export function cocoAnnotations(sample: SyntheticSample, imageId: number, firstId: number): { id: number; image_id: number; category_id: number; segmentation: ReturnType<typeof cocoRle>; area: number; bbox: number[]; iscrowd: 0 }[] {
  const { width: W, height: H, instances } = sample;
  const stats = new Map<number, { area: number; x0: number; y0: number; x1: number; y1: number }>();
  for (let i = 0; i < instances.length; i++) {
    const id = instances[i];
    if (!id) continue;
    const x = i % W;
    const y = (i - x) / W;
    const s = stats.get(id);
    if (!s) stats.set(id, { area: 1, x0: x, y0: y, x1: x, y1: y });
    else {
      s.area++;
      s.x0 = Math.min(s.x0, x);
      s.y0 = Math.min(s.y0, y);
      s.x1 = Math.max(s.x1, x);
      s.y1 = Math.max(s.y1, y);
    }
  }
  let next = firstId;
  return [...stats.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([id, s]) => ({
      id: next++,
      image_id: imageId,
      category_id: 1,
      segmentation: cocoRle((i) => instances[i] === id, W, H),
      area: s.area,
      bbox: [s.x0, s.y0, s.x1 - s.x0 + 1, s.y1 - s.y0 + 1],
      iscrowd: 0 as const,
    }));
}
