/**
 * The sensor-noise stage f_noise, last in the formula G = f_noise(f_r(f_fcn(phi), theta), sigma):
 * reparameterised noise on the blurred image, with R ~ N(0, 1) a fixed standard-normal image per
 * render (the scene's), so that the noise amplitudes noiseGaussian and noiseShot get gradients.
 * One fused op, forward and hand-written backward side by side.
 */
import { Tensor, allocData } from '../autodiff/tensor.js';
import { record } from '../autodiff/tape.js';
import { PARAM_INDEX } from './params.js';
import { takeF64Dirty, takeF64Shared, giveF64, releasingBackward } from './scratch.js';
import { imageLanes, lanesInstalled, runBands, sumRows } from './lanes/lanes.js';
import { allShared, allocOut } from './lanes/shared.js';

/**
 * Clamp, then reparameterised noise, then clamp, as one op:
 *   y = clamp(b, 0, 1);  out = clamp(y + (noiseGaussian + noiseShot sqrt(max(y, 1e-4))) R, 0, 1)
 * (clamp gradients pass on the closed interval, as the engine's clamp). Rows over the raster lanes
 * as the shading's (lanes/lanes.ts).
 */
export interface NoiseRowsJob {
  X: Float32Array | Float64Array; N: ArrayLike<number> | null; S: Float64Array | null; out: Float32Array | Float64Array;
  ng: number; ns: number; W: number; rowLo: number; rowHi: number;
}

/** One lane's rows of the noise forward; sqrt(max(y, 1e-4)) per pixel into S for the backward. */
export function noiseRows(job: NoiseRowsJob): number {
  const { X, N, S, out, ng, ns, W, rowLo, rowHi } = job;
  for (let i = rowLo * W, i1 = rowHi * W; i < i1; i++) {
    const y = X[i] < 0 ? 0 : X[i] > 1 ? 1 : X[i];
    if (!N || !S) {
      out[i] = y;
      continue;
    }
    const s = Math.sqrt(y > 1e-4 ? y : 1e-4);
    S[i] = s;
    const z = y + (ng + ns * s) * N[i];
    out[i] = z < 0 ? 0 : z > 1 ? 1 : z;
  }
  return 0;
}

export function sensorNoise(x: Tensor, params: Tensor, noise: ArrayLike<number> | null): Tensor {
  const n = x.size, W = x.shape[x.ndim - 1], H = n / W;
  const ng = params.data[PARAM_INDEX.noiseGaussian], ns = params.data[PARAM_INDEX.noiseShot];
  const X = x.data;
  const lanes = imageLanes(n) && allShared(X) ? imageLanes(n) : null;
  const take = lanes ? takeF64Shared : takeF64Dirty;
  // the noise image: with lanes a shared copy (the scene's array may change in place later)
  let N: ArrayLike<number> | null = noise;
  if (noise && lanes) {
    const c = take(n);
    c.set(noise);
    N = c;
  }
  const out = allocOut(x.dtype, n, lanesInstalled());
  const S = noise ? take(n) : null;
  runBands(lanes, 'noiseRows', { X, N, S, out, ng, ns, W, rowLo: 0, rowHi: H }, H, noiseRows);
  const rec = record('sensorNoise', new Tensor(out, x.shape), [x, params], releasingBackward('sensorNoise', (gOut: Tensor) => noiseBackward(gOut, x, params, ng, ns, N, S, N !== noise)));
  if (!rec.node) giveF64(S, N !== noise ? (N as Float64Array) : null);
  return rec;
}

/** One lane's rows of the noise backward: gx, and per row y the partial sums sums[2 y], sums[2 y + 1] (ng, ns). */
export interface NoiseBackRowsJob {
  G: Float32Array | Float64Array; X: Float32Array | Float64Array; N: ArrayLike<number> | null; S: Float64Array | null;
  gx: Float32Array | Float64Array; sums: Float64Array; ng: number; ns: number; W: number; rowLo: number; rowHi: number;
}

export function noiseBackRows(job: NoiseBackRowsJob): number {
  const { G, X, N, S, gx, sums, ng, ns, W, rowLo, rowHi } = job;
  for (let yr = rowLo; yr < rowHi; yr++) {
    let gng = 0, gns = 0;
    for (let i = yr * W, i1 = i + W; i < i1; i++) {
      const b = X[i];
      const y = b < 0 ? 0 : b > 1 ? 1 : b;
      const dy = b >= 0 && b <= 1 ? 1 : 0;
      if (!N || !S) {
        gx[i] = G[i] * dy;
        continue;
      }
      const s = S[i]; // sqrt(max(y, 1e-4)), from the forward
      const z = y + (ng + ns * s) * N[i];
      const gz = z >= 0 && z <= 1 ? G[i] : 0;
      gng += gz * N[i];
      gns += gz * s * N[i];
      const ds = y > 1e-4 ? 0.5 / s : 0;
      gx[i] = gz * (1 + ns * ds * N[i]) * dy;
    }
    sums[2 * yr] = gng;
    sums[2 * yr + 1] = gns;
  }
  return 0;
}

/** The backward of noiseOp; a named function rather than the per-call tape closure (V8 keeps its optimised code). */
function noiseBackward(gOut: Tensor, x: Tensor, params: Tensor, ng: number, ns: number, N: ArrayLike<number> | null, S: Float64Array | null, ownN: boolean): Tensor[] {
  const n = x.size, W = x.shape[x.ndim - 1], H = n / W;
  const X = x.data;
  let G = gOut.data;
  const lanes = imageLanes(n) && allShared(X, S, N as ArrayBufferView | null) ? imageLanes(n) : null;
  // the upstream gradient: with lanes a shared copy when it is not shared already
  const Gc = lanes && !allShared(G) ? takeF64Shared(n) : null;
  if (Gc) {
    Gc.set(G);
    G = Gc;
  }
  const gx = allocOut(x.dtype, n, lanes !== null);
  const sums = lanes ? takeF64Shared(2 * H) : takeF64Dirty(2 * H);
  runBands(lanes, 'noiseBackRows', { G, X, N, S, gx, sums, ng, ns, W, rowLo: 0, rowHi: H }, H, noiseBackRows);
  const tot = sumRows(sums, H, 2);
  const gp = allocData(params.dtype, params.size);
  gp[PARAM_INDEX.noiseGaussian] = tot[0];
  gp[PARAM_INDEX.noiseShot] = tot[1];
  giveF64(S, sums, Gc, ownN ? (N as Float64Array) : null);
  return [new Tensor(gx, x.shape), new Tensor(gp, params.shape)];
}

/** The lane kernels of this stage. */
export const NOISE_KERNELS = { noiseRows, noiseBackRows } as const;
