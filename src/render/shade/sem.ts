/**
 * Image formation on the soft-rasterized channels, composed from engine ops (so every parameter
 * gets its gradient from the tape) plus the custom blur and texture ops.
 *
 * Inputs: raster [5, H, W] = blended normal (nx, ny, nz), blended particle indicator m, alpha.
 * SEM ('sem'):
 *   cos   = clamp(nz, 0.05, 1)                         (clamped cosine of the tilt theta)
 *   yield = particleBrightness * cos^(-tiltExponent)   (SE yield, rises with tilt: edge effect)
 *   det   = 1 + detectorStrength (2 relu(n . d) - 1)   (side detector at azimuth/elevation d)
 *   P     = yield * det + edgeGain * E                 (E: fixed rim map from alpha, width ~2 px)
 *   Sub   = substrateBrightness (1 + textureAmplitude (2 T(textureScale) - 1))
 *           * (1 - shadowStrength * Sh)               (Sh: fixed soft shadow map, cast away from
 *                                                        the detector)
 *   I     = m P + (1 - m) Sub
 * HIM ('him'): P = particleBrightness * cos^(-tiltExponent) * ((1 - diffuse) + diffuse relu(n . l))
 *   + specular relu(n . h)^shininess + edgeGain * E, light l from above-left, no shadow term.
 * Then: blur with blurSigma (gaussianBlur), clamp [0, 1], noise
 *   I' = clamp(I + (noiseGaussian + noiseShot sqrt(max(I, 1e-4))) R, 0, 1), R ~ N(0, 1) fixed
 * per image (reparameterisation: the noise amplitudes get gradients).
 */
import * as ops from '../../autodiff/ops/index.js';
import { Tensor, allocData, type DType } from '../../autodiff/tensor.js';
import { noGrad } from '../../autodiff/tape.js';
import { gaussianBlur, blurRaw } from './blur.js';
import { substrateTexture } from './texture.js';
import { PARAM_INDEX } from './params.js';

export type ShadingModel = 'sem' | 'him';

export interface ShadingContext {
  model: ShadingModel;
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
}

function constant(data: ArrayLike<number>, H: number, W: number, dtype: DType): Tensor {
  const d = allocData(dtype, H * W);
  d.set(data);
  return new Tensor(d, [H, W]);
}

/** Fixed rim map from the (detached) alpha: 2 relu(alpha - blur(alpha)), in [0, 1]. */
export function edgeMap(alpha: ArrayLike<number>, H: number, W: number, width = 2): Float64Array {
  const b = blurRaw(alpha, H, W, width / 2);
  const e = new Float64Array(H * W);
  for (let i = 0; i < e.length; i++) e[i] = Math.min(1, Math.max(0, 2 * (alpha[i] - b[i])));
  return e;
}

/** Fixed shadow map: blurred alpha shifted away from the detector by `len` pixels. */
export function shadowMap(alpha: ArrayLike<number>, H: number, W: number, azimuthDeg: number, len = 4): Float64Array {
  const b = blurRaw(alpha, H, W, len / 2);
  const a = (azimuthDeg * Math.PI) / 180;
  const dx = -Math.round(Math.cos(a) * len), dy = -Math.round(Math.sin(a) * len);
  const s = new Float64Array(H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const sx = x - dx, sy = y - dy;
      if (sx >= 0 && sx < W && sy >= 0 && sy < H) s[y * W + x] = b[sy * W + sx];
    }
  }
  return s;
}

export function formImage(raster: Tensor, params: Tensor, ctx: ShadingContext): Tensor {
  const H = ctx.height, W = ctx.width, HW = H * W;
  const dtype = raster.dtype === 'float64' || params.dtype === 'float64' ? 'float64' : 'float32';
  const chan = (c: number): Tensor => ops.reshape(ops.slice(raster, [[c, c + 1]]), [H, W]);
  const p = (name: string): Tensor => ops.slice(params, [[PARAM_INDEX[name], PARAM_INDEX[name] + 1]]);
  const nx = chan(0), ny = chan(1), nz = chan(2), m = chan(3);
  const alpha = raster.data.subarray(4 * HW, 5 * HW);
  const { E, Sh } = noGrad(() => ({
    E: constant(edgeMap(alpha, H, W, ctx.edgeWidth), H, W, dtype),
    Sh: constant(shadowMap(alpha, H, W, ctx.detectorAzimuthDeg, ctx.shadowLength), H, W, dtype),
  }));
  const az = (ctx.detectorAzimuthDeg * Math.PI) / 180, el = (ctx.detectorElevationDeg * Math.PI) / 180;
  const dx = Math.cos(az) * Math.cos(el), dy = Math.sin(az) * Math.cos(el), dz = Math.sin(el);
  const ndotd = ops.relu(ops.add(ops.add(ops.mul(nx, dx), ops.mul(ny, dy)), ops.mul(nz, dz)));
  const cos = ops.clamp(nz, 0.05, 1);
  // cos^(-n) = exp(-n log cos)
  const yieldT = ops.mul(p('particleBrightness'), ops.exp(ops.mul(ops.neg(p('tiltExponent')), ops.log(cos))));
  let P: Tensor;
  if (ctx.model === 'sem') {
    const det = ops.add(1, ops.mul(p('detectorStrength'), ops.sub(ops.mul(ndotd, 2), 1)));
    P = ops.add(ops.mul(yieldT, det), ops.mul(p('edgeGain'), E));
  } else {
    // half vector between the light and the beam (0, 0, 1)
    let hx = dx, hy = dy, hz = dz + 1;
    const hl = Math.hypot(hx, hy, hz);
    hx /= hl; hy /= hl; hz /= hl;
    const ndoth = ops.relu(ops.add(ops.add(ops.mul(nx, hx), ops.mul(ny, hy)), ops.mul(nz, hz)));
    const kd = p('diffuse');
    const diffuse = ops.add(ops.sub(1, kd), ops.mul(kd, ndotd));
    const spec = ops.mul(p('specular'), ops.pow(ops.clamp(ndoth, 1e-6, 1), p('shininess')));
    P = ops.add(ops.add(ops.mul(yieldT, diffuse), spec), ops.mul(p('edgeGain'), E));
  }
  const T = substrateTexture(p('textureScale'), { width: W, height: H, seed: ctx.textureSeed });
  let Sub = ops.mul(p('substrateBrightness'), ops.add(1, ops.mul(p('textureAmplitude'), ops.sub(ops.mul(T, 2), 1))));
  if (ctx.model === 'sem') Sub = ops.mul(Sub, ops.sub(1, ops.mul(p('shadowStrength'), Sh)));
  const I = ops.add(ops.mul(m, P), ops.mul(ops.sub(1, m), Sub));
  let img = ops.clamp(gaussianBlur(I, p('blurSigma')), 0, 1);
  if (ctx.noise) {
    const R = constant(ctx.noise, H, W, dtype);
    const std = ops.add(p('noiseGaussian'), ops.mul(p('noiseShot'), ops.sqrt(ops.maximum(img, 1e-4))));
    img = ops.clamp(ops.add(img, ops.mul(std, R)), 0, 1);
  }
  return ops.reshape(img, [1, 1, H, W]);
}
