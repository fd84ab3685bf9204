/**
 * What a built-in preset is: one data record. Its `scene` and `params` are a patch over
 * BASE_SCENE (base.ts) merged by mergeSceneConfig, exactly as a user's --config file is merged
 * over a preset, so a preset is validated like any user config. To add a preset: one file in this
 * folder exporting a Preset, and its line in index.ts.
 */
import type { SceneConfig } from '../config.js';
import type { ParamName } from '../params.js';

/** Every field optional, recursively (arrays and typed arrays are given whole). */
export type DeepPartial<T> = T extends ArrayLike<unknown> ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/** How `train` estimates the particle base radius from real images (src/gan/calibrate.ts). */
/** How the window's particle counts are set (PresetSpec.windowCounts). */
export type WindowCountsMethod = 'area' | 'coverage';
/** The field the window looks into (PresetSpec.windowField; PlacementSpec.field). */
export type WindowField = 'bounded' | 'periodic';
export type RadiusCalibrationMethod = 'median' | 'upper-quartile';
/** Whether `train` calibrates the upper spread of the particle sizes (PresetSpec.sizeSpread). */
export type SizeSpreadMethod = 'off' | 'calibrated' | 'coverage';
/**
 * How often train's agglomerate calibration runs again after the first pass: 'off' (never), 'on'
 * (once, after the image formation calibration, on renders at the calibrated image formation and
 * radius) or 'trained' (as 'on', and once more after the GAN's epochs, on renders of the scene the
 * pairs are rendered from, the window applied, at the chosen epoch's mean learned image formation;
 * docs/realism.md "The agglomerates calibrated again after the GAN").
 */
export type AgglomerateRecalibration = 'off' | 'on' | 'trained';

export interface Preset<Name extends string = string> {
  readonly name: Name;
  /** One line for docs and --help. */
  readonly description: string;
  /** The scene fields that differ from BASE_SCENE (base.ts). */
  readonly scene: DeepPartial<Omit<SceneConfig, 'params'>>;
  /** The value of every image-formation parameter (src/render/params.ts), the GAN's starting point. */
  readonly params: Readonly<Record<ParamName, number>>;
  /** The parameters the GAN learns for this preset; the rest stay at `params`. */
  readonly learned: readonly ParamName[];
  /**
   * Settings of the segmenter's training augmentation (src/seg/augment.ts AugmentOptions) that
   * differ for this modality, by name; the pipeline trains its U-Nets with the augmentation
   * defaults overridden by these. `interior` (the particle interiors' re-shading from the exact
   * instance maps) applies to the synthetic U-Net only: Model-Real's masks have no instance maps
   * of their own. `--set seg.interiorAugmentPercent=N` overrides it. Absent: the defaults.
   */
  readonly segAugment?: { readonly fgContrast?: number; readonly interior?: number };
  /** How the base radius is calibrated from the real images (src/gan/calibrate.ts). Absent: 'median'. */
  readonly radiusCalibration?: RadiusCalibrationMethod;
  /**
   * Whether train runs the agglomerate calibration (src/gan/calibrate.ts) again: after the image
   * formation calibration ('on'), and also after the GAN's epochs ('trained'; AgglomerateRecalibration).
   * Absent: 'off'.
   */
  readonly recalibrateAgglomerates?: AgglomerateRecalibration;
  /**
   * After every calibration, train renders the scene as a window into a larger field of the same
   * particles (src/render/scene-window.ts): centres up to this fraction of the image side beyond
   * each edge, counts scaled by the grown area, so objects are cut by the frame as in a tile of a
   * micrograph. Absent: 0 (every centre inside the image).
   */
  readonly windowMargin?: number;
  /**
   * Whether the upper-quartile radius step (the second, at the calibrated image formation) runs
   * after the second agglomerate pass, on the scene the pairs are rendered from, instead of before
   * it. Ignored where windowCalibrated applies the window before that pass. Absent: false.
   */
  readonly radiusLast?: boolean;
  /**
   * Whether the window is applied before the second agglomerate pass (recalibrateAgglomerates),
   * so that pass chooses the counts (coverage-matched), seeds, contact and growth on frame-cut
   * renders, instead of scaling the whole-object calibration's counts by the grown area after
   * every calibration. Absent: false.
   */
  readonly windowCalibrated?: boolean;
  /**
   * How the window's counts are set when it is applied after every calibration: 'area' scales the
   * calibrated counts by the field's area (1 + 2 margin)^2; 'coverage' by a factor calibrated so
   * that windowed noiseless renders cover as much as the real patches (calibrateWindowCounts).
   * Absent: 'area'.
   */
  readonly windowCounts?: WindowCountsMethod;
  /**
   * The field the window looks into: 'bounded' (growth steps beyond it are rejected, so its
   * edges pull agglomerates inwards) or 'periodic' (a torus, the same everywhere;
   * PlacementSpec.field). Absent: 'bounded'.
   */
  readonly windowField?: WindowField;
  /**
   * 'calibrated': the upper spread of the lognormal sizes is matched to the real patches' median
   * local thickness on windowed renders, the 75th percentile kept (src/gan/calibrate-size-spread.ts);
   * 'coverage': matched to the real patches' Otsu coverage, the median and the counts kept.
   * Absent: 'off' (the preset's size distribution).
   */
  readonly sizeSpread?: SizeSpreadMethod;
}
