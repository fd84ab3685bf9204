/**
 * What an image-formation model is. The shading stage turns the raster's fragments into the
 * pre-blur image I = w P + (1 - w) Sub per pixel: w the coverage (alpha / ALPHA_FULL, at most 1),
 * P the particle term and Sub the substrate term, both the model's. A model is one module in
 * this folder (sem.ts, him.ts) registered in models.ts; shade-op.ts runs it as one fused autodiff
 * op whose row kernels may run on the raster lanes (lanes.ts), so they are plain functions over
 * plain data (typed arrays and numbers), self-contained but for the model's `helpers`, which the
 * lanes' workers declare beside them.
 */
import type { ParamName } from '../params.js';
import type { Polarity } from '../../particles/polarity.js';
import type { ProximityMaps } from './proximity.js';

/** How the SEM edge and rim terms meet the particle's own brightness factor (SceneConfig shading.edgeScale). */
export const EDGE_SCALES = ['additive', 'particle'] as const;
export type EdgeScale = (typeof EDGE_SCALES)[number];

export interface ShadingContext {
  /** The image-formation model's name (models.ts). */
  model: string;
  width: number;
  height: number;
  /** Detector (SEM) / light (HIM) direction: azimuth in the image plane from +x towards +y, elevation above the stage. */
  detectorAzimuthDeg: number;
  detectorElevationDeg: number;
  /** Seed of the substrate texture. */
  textureSeed: number;
  /** Fixed standard-normal noise image (H * W), or null for no noise. */
  noise: Float64Array | Float32Array | null;
  /** Rim width (px) of the edge map and length (px) of the shadow offset. */
  edgeWidth?: number;
  shadowLength?: number;
  /** SEM: the edge and rim terms added as they are ('additive', the default) or scaled by the particle's brightness factor ('particle'). */
  edgeScale?: EdgeScale;
  /**
   * Samples per pixel along each axis (supersample.ts; default 1). formImage's context gives the
   * output size and its raster is s times larger; the shading op's context gives the raster's
   * size, and its surface grain is the output grid's, repeated over each pixel's samples.
   */
  supersample?: number;
  /**
   * Distances outside the silhouettes and to the contact pixels (proximity.ts), from the exact
   * instance map; required by models that read them (ImageFormationModel.proximity).
   */
  proximity?: ProximityMaps | null;
}

type Data = Float32Array | Float64Array;

/**
 * One lane's rows [rowLo, rowHi) of a model's forward: out[i] = I at each pixel i of the rows,
 * and at each covered pixel (w > 0) the log-cosine L of the tilt and the yield factor Y / y0 into
 * LY[2 i], LY[2 i + 1] for the backward.
 */
export interface ShadeRowsJob<K> {
  normalX: Data; normalY: Data; normalZ: Data; alpha: Data;
  /** Blended per-particle brightness factor u in [-1, 1] (raster channel 'variation'). */
  variation: Data;
  /** Substrate texture T, edge map E, wide rim map E2, shadow map Sh (null when the model casts none). */
  T: Data; E: Float64Array; E2: Float64Array; Sh: Float64Array | null;
  /** The particles' surface grain g (grain.ts), or null for a model without it. */
  Gr: Float64Array | null;
  /** Distance outside the silhouettes Dh and to the contact pixels Dc (proximity.ts), or null for a model without the halo / crease. */
  Dh: Float64Array | null; Dc: Float64Array | null;
  LY: Float64Array; out: Data;
  k: K; alphaFull: number; W: number; rowLo: number; rowHi: number;
}

/**
 * One lane's rows of a model's backward: the raster gradient's channels (when wanted), the
 * texture gradient gT, and per row y the partial sums of the parameter gradients, in the
 * model's `grads` order, at sums[grads.length * y + j]. Every output element of the rows is
 * written with `=` (a redo gives the same arrays).
 */
export interface ShadeBackRowsJob<K> {
  G: Data; normalX: Data; normalY: Data; normalZ: Data; alpha: Data; variation: Data;
  T: Data; E: Float64Array; E2: Float64Array; Sh: Float64Array | null; Gr: Float64Array | null;
  Dh: Float64Array | null; Dc: Float64Array | null; LY: Float64Array;
  /** Gradients of the raster's normal and alpha channels, or null (no raster gradient wanted). */
  gNormalX: Data | null; gNormalY: Data | null; gNormalZ: Data | null; gAlpha: Data | null;
  /** Gradient of the variation channel, or null (with the others); models that do not read it leave it 0. */
  gVariation: Data | null;
  gT: Data; sums: Float64Array;
  k: K; alphaFull: number; W: number; rowLo: number; rowHi: number;
}

export interface ImageFormationModel<K = unknown, Name extends string = string> {
  readonly name: Name;
  /** The autodiff op's name on the tape. */
  readonly opName: string;
  /** Particles brighter or darker than the substrate in this model's images (render/polarity.ts). */
  readonly polarity: Polarity;
  /** Whether the model darkens the substrate by the fixed shadow map (fixed-maps.ts). */
  readonly castsShadow: boolean;
  /** Whether the model reads the particles' surface grain (grain.ts). */
  readonly grain: boolean;
  /** Whether the model reads the proximity maps (the SE collection halo and contact crease). */
  readonly proximity: boolean;
  /** The numbers one shading pass uses, from the parameter vector (table order) and the context. */
  constants(params: ArrayLike<number>, ctx: ShadingContext): K;
  /** The parameters the backward kernel sums gradients of, in its sums' order; the others get 0. */
  readonly grads: readonly ParamName[];
  /** The forward and backward row kernels, by the names the lanes know them under. */
  readonly rows: string;
  readonly backRows: string;
  readonly kernels: Readonly<Record<string, (job: never) => number>>;
  /** Functions the kernels call (declared in the lanes' workers by their own names). */
  readonly helpers: readonly ((...args: never[]) => unknown)[];
}

/** Unit vector towards the detector (SEM) / light (HIM) from the context's azimuth and elevation. */
export function detectorDirection(ctx: ShadingContext): { dx: number; dy: number; dz: number } {
  const az = (ctx.detectorAzimuthDeg * Math.PI) / 180, el = (ctx.detectorElevationDeg * Math.PI) / 180;
  return { dx: Math.cos(az) * Math.cos(el), dy: Math.sin(az) * Math.cos(el), dz: Math.sin(el) };
}
