/**
 * A calibrated scene rendered as a window into a larger field of the same particles
 * (docs/realism.md, "What in the silhouettes? Objects cut by the frame").
 *
 * A real training patch is a tile of a large micrograph, so most of its objects are cut by the
 * tile's edge (83 % of the Otsu components of 128 px TiO2-SEM dev-pool tiles); the layouts keep
 * every centre inside the image and the agglomerate seeds in its central 80 %, so half of a
 * render's objects are whole, and a classifier reads that. The calibrations measure sizes and
 * agglomerates on whole objects, so they run on the scene without the window; this turns their
 * result into a window afterwards: centres and seeds drawn over the image grown by `margin` times
 * its side on every edge (placement.outside), and the particle counts scaled by the grown area
 * (1 + 2 margin)^2, so that the particles per area of the field stay the calibrated ones (or
 * by a calibrated factor: calibrateWindowCounts in src/gan/calibrate.ts, which matches the
 * windowed renders' coverage to the real patches').
 */
import { mergeSceneConfig, type SceneConfig } from './config.js';
import type { WindowField } from './presets/preset.js';

/** The area of the field a window with `margin` looks into, in image areas: (1 + 2 margin)^2. */
export function windowFieldArea(margin: number): number {
  return (1 + 2 * margin) ** 2;
}

/**
 * The scene as a window with `margin` in [0, 1] (0: the scene unchanged); the counts are scaled by
 * `countScale` (default the field's area, windowFieldArea) and capped at `maxCount` (the caller's
 * limit, e.g. the generator's particle slots). `field` 'periodic' makes the field a torus
 * (placement.field; docs/realism.md "A stationary field for the window"); 'bounded' (default)
 * leaves the scene's placement.field as it is.
 */
export function asWindowIntoField(scene: SceneConfig, margin: number, maxCount = 1000, countScale = windowFieldArea(margin), field: WindowField = 'bounded'): SceneConfig {
  if (!(margin >= 0 && margin <= 1)) throw new Error(`window margin must be in [0, 1], got ${margin}`);
  if (!(countScale > 0 && Number.isFinite(countScale))) throw new Error(`window count scale must be a positive number, got ${countScale}`);
  if (margin === 0) return scene;
  const scaled = (n: number) => Math.min(maxCount, Math.max(1, Math.round(n * countScale)));
  const { min, max } = scene.particles.count;
  const placement = field === 'periodic' ? { outside: margin, field } : { outside: margin };
  return mergeSceneConfig(scene, { particles: { count: { min: scaled(min), max: scaled(max) }, placement } });
}
