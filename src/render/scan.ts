/**
 * Scan artifacts of an SEM frame, added to the blurred image before the sensor noise:
 *   out = b + scanNoise R[y] + brightnessGradient G[y, x]
 *  - R: one standard-normal offset per scan line (row), fixed per render: the line-to-line
 *    brightness offsets of a scanned frame (row-correlated noise, unlike the per-pixel sensor
 *    noise). Only when the render has noise (scene shading.noise); otherwise R = 0.
 *  - G: a slow brightness gradient, fixed per render: a linear ramp in a random direction plus a
 *    random curvature, over the image normalised to coordinates in [-1, 1] and scaled to
 *    max |G| = 1 (charging, detector drift and uneven illumination across a frame).
 * Both fields come from the render's texture seed. One op with its vector-Jacobian product below
 * the forward (the parameters enter linearly); checked in float64 by the renderImage gradcheck
 * (src/render/gradcheck-cases.ts), which covers every parameter.
 */
import { Tensor, allocData } from '../autodiff/tensor.js';
import { record } from '../autodiff/tape.js';
import { Rng } from '../autodiff/rng.js';
import { PARAM_INDEX } from './params.js';
import { lanesInstalled } from './lanes/lanes.js';
import { allocOut } from './lanes/shared.js';
/** The fixed fields: R [H, 1] (zeros without noise) and G [H, W]. */
export function scanFields(width: number, height: number, seed: number, noise: boolean): { R: Float64Array; G: Float64Array } {
  const rng = new Rng((seed ^ 0x5ca7) >>> 0);
  const R = new Float64Array(height);
  if (noise) for (let y = 0; y < height; y++) R[y] = rng.normal();
  const a = rng.range(0, 2 * Math.PI), c = rng.range(-0.5, 0.5);
  const ux = Math.cos(a), uy = Math.sin(a);
  const G = new Float64Array(width * height);
  let peak = 0;
  for (let y = 0; y < height; y++) {
    const v = height > 1 ? (2 * y) / (height - 1) - 1 : 0;
    for (let x = 0; x < width; x++) {
      const u = width > 1 ? (2 * x) / (width - 1) - 1 : 0;
      const g = ux * u + uy * v + c * (u * u + v * v - 2 / 3);
      G[y * width + x] = g;
      peak = Math.max(peak, Math.abs(g));
    }
  }
  if (peak > 0) for (let i = 0; i < G.length; i++) G[i] /= peak;
  return { R, G };
}

/**
 * b [H, W] plus the scan artifacts, as one op differentiable w.r.t. b and the parameter vector
 * (scanNoise, brightnessGradient). The output lives in shared memory when raster lanes are
 * installed, so that the noise op after it can still run on them.
 */
export function scanArtifacts(b: Tensor, params: Tensor, seed: number, noise: boolean): Tensor {
  const [H, W] = b.shape;
  const { R, G } = scanFields(W, H, seed, noise);
  const kr = params.data[PARAM_INDEX.scanNoise], kg = params.data[PARAM_INDEX.brightnessGradient];
  const X = b.data;
  const out = allocOut(b.dtype === 'float64' || params.dtype === 'float64' ? 'float64' : 'float32', H * W, lanesInstalled());
  for (let y = 0; y < H; y++) {
    const off = kr * R[y];
    for (let i = y * W, i1 = i + W; i < i1; i++) out[i] = X[i] + off + kg * G[i];
  }
  return record('scanArtifacts', new Tensor(out, [H, W]), [b, params], (gOut: Tensor) => {
    const g = gOut.data;
    let sr = 0, sg = 0;
    for (let y = 0; y < H; y++) {
      let row = 0;
      for (let i = y * W, i1 = i + W; i < i1; i++) {
        row += g[i];
        sg += g[i] * G[i];
      }
      sr += row * R[y];
    }
    const gp = allocData(params.dtype, params.size);
    gp[PARAM_INDEX.scanNoise] = sr;
    gp[PARAM_INDEX.brightnessGradient] = sg;
    return [gOut, new Tensor(gp, params.shape)];
  });
}
