/**
 * The image formation f_r after the rasterizer: the scene's image-formation model (shade/models.ts:
 * a shaded model over the fixed maps and the substrate texture, or the transmission model over
 * the rasterized path lengths) -> blur -> scan artifacts
 * (scan.ts) -> sensor noise.
 */
import * as ops from '../autodiff/ops/index.js';
import type { Tensor } from '../autodiff/tensor.js';
import { PARAM_INDEX, type ParamName } from './params.js';
import { toFragments } from './raster/fragments.js';
import { gaussianBlur } from './shade/blur.js';
import { substrateTexture, clearNoiseCache } from './shade/texture.js';
import { fixedMaps, clearFixedMapCache } from './shade/fixed-maps.js';
import { clearGrainCache } from './shade/grain.js';
import { imageFormationModel, isTransmission } from './shade/models.js';
import { residuePattern, transmissionImage } from './shade/transmission.js';
import type { ShadingContext } from './shade/model.js';
import { shade } from './shade/shade-op.js';
import { repeatProximity } from './shade/supersample.js';
import { farProximityMaps } from './shade/proximity.js';
import { sensorNoise } from './noise.js';
import { scanArtifacts } from './scan.js';

/** Empties the memos of the fixed maps, the texture noise and the grain (tests compare them with fresh results). */
export function clearShadeCaches(): void {
  clearFixedMapCache();
  clearNoiseCache();
  clearGrainCache();
}

/** The image [1, 1, H, W] from the raster [5, H, W] (fragments.ts) and the parameter vector [P]. */
export function formImage(raster: Tensor, params: Tensor, ctx: ShadingContext): Tensor {
  const H = ctx.height, W = ctx.width;
  const p = (name: ParamName): Tensor => ops.slice(params, [[PARAM_INDEX[name], PARAM_INDEX[name] + 1]]);
  const T = substrateTexture(p('textureScale'), p('textureWidth'), p('textureLevel'), { width: W, height: H, seed: ctx.textureSeed });
  let I: Tensor;
  if (isTransmission(ctx.model)) I = transmissionImage(raster, p, T, residuePattern(W, H, ctx.textureSeed, params.dtype));
  else I = shadedImage(raster, params, T, ctx);
  const blurred = scanArtifacts(gaussianBlur(I, p('blurSigma')), params, ctx.textureSeed, ctx.noise !== null);
  const img = sensorNoise(blurred, params, ctx.noise);
  return ops.reshape(img, [1, 1, H, W]);
}

/**
 * The pre-blur image [H, W] of a shaded model (sem, him) on the raster's fragments. Supersampled
 * (ctx.supersample = s > 1, raster [5, sH, sW]): shaded on the raster's grid with the texture
 * repeated over each pixel's samples, then the mean of each s x s block (supersample.ts).
 */
function shadedImage(raster: Tensor, params: Tensor, T: Tensor, ctx: ShadingContext): Tensor {
  const model = imageFormationModel(ctx.model);
  const fr = toFragments(raster);
  const s = ctx.supersample ?? 1;
  const H = ctx.height, W = ctx.width;
  if (fr.width !== s * W || fr.height !== s * H) throw new Error(`formImage: a ${W} x ${H} image at ${s} x ${s} samples needs a raster of ${s * W} x ${s * H}, got ${fr.width} x ${fr.height}`);
  const fine: ShadingContext = s === 1 ? ctx : {
    ...ctx, width: s * W, height: s * H, edgeWidth: s * (ctx.edgeWidth ?? 2), shadowLength: s * (ctx.shadowLength ?? 4),
    // the far maps (halo and crease off) are all one value: the finer grid's own far maps
    proximity: ctx.proximity && (ctx.proximity === farProximityMaps(W, H) ? farProximityMaps(s * W, s * H) : repeatProximity(ctx.proximity, W, H, s)),
  };
  const maps = fixedMaps(fr.alpha, {
    width: fine.width, height: fine.height, edgeWidth: fine.edgeWidth,
    shadow: model.castsShadow ? { azimuthDeg: ctx.detectorAzimuthDeg, length: fine.shadowLength } : null,
  });
  if (s === 1) return shade(model, fr, params, T, maps, ctx);
  const Tf = ops.reshape(ops.upsampleNearest(ops.reshape(T, [1, 1, H, W]), { scale: s }), [s * H, s * W]);
  const I = shade(model, fr, params, Tf, maps, fine);
  return ops.reshape(ops.avgPool2d(ops.reshape(I, [1, 1, s * H, s * W]), s), [H, W]);
}
