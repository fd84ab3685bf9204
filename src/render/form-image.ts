/**
 * The image formation f_r after the rasterizer: shade (the scene's image-formation model,
 * shade/models.ts, over the fixed maps and the substrate texture) -> blur -> sensor noise.
 */
import * as ops from '../autodiff/ops/index.js';
import type { Tensor } from '../autodiff/tensor.js';
import { PARAM_INDEX, type ParamName } from './params.js';
import { toFragments } from './raster/fragments.js';
import { gaussianBlur } from './shade/blur.js';
import { substrateTexture, clearNoiseCache } from './shade/texture.js';
import { fixedMaps, clearFixedMapCache } from './shade/fixed-maps.js';
import { imageFormationModel } from './shade/models.js';
import type { ShadingContext } from './shade/model.js';
import { shade } from './shade/shade-op.js';
import { sensorNoise } from './noise.js';

/** Empties the memos of the fixed maps and of the texture noise (tests compare them with fresh results). */
export function clearShadeCaches(): void {
  clearFixedMapCache();
  clearNoiseCache();
}

/** The image [1, 1, H, W] from the raster [5, H, W] (fragments.ts) and the parameter vector [P]. */
export function formImage(raster: Tensor, params: Tensor, ctx: ShadingContext): Tensor {
  const H = ctx.height, W = ctx.width;
  const p = (name: ParamName): Tensor => ops.slice(params, [[PARAM_INDEX[name], PARAM_INDEX[name] + 1]]);
  const model = imageFormationModel(ctx.model);
  const fr = toFragments(raster);
  const maps = fixedMaps(fr.alpha, {
    width: W, height: H, edgeWidth: ctx.edgeWidth,
    shadow: model.castsShadow ? { azimuthDeg: ctx.detectorAzimuthDeg, length: ctx.shadowLength } : null,
  });
  const T = substrateTexture(p('textureScale'), p('textureWidth'), p('textureLevel'), { width: W, height: H, seed: ctx.textureSeed });
  const I = shade(model, fr, params, T, maps, ctx);
  const img = sensorNoise(gaussianBlur(I, p('blurSigma')), params, ctx.noise);
  return ops.reshape(img, [1, 1, H, W]);
}
