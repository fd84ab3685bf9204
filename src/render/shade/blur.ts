/**
 * Separable Gaussian blur of an [H, W] image as one custom op, differentiable w.r.t. the image
 * and the standard deviation sigma (a one-element tensor, pixels). Kernel radius
 * ceil(4 sigma) + 1 taps (truncation below e^-8 of the centre weight), normalised to sum 1;
 * borders replicate the edge pixel. sigma is floored at 1e-3 px (below it the kernel is a delta).
 *   k_i = exp(-i^2 / (2 s^2)) / Z,  dk_i/ds = k_i (i^2 - sum_j k_j j^2) / s^3
 */
import { record } from '../../autodiff/tape.js';
import { Tensor, allocData } from '../../autodiff/tensor.js';

export const MIN_BLUR_SIGMA = 1e-3;

function kernels(s: number): { k: Float64Array; dk: Float64Array; R: number } {
  const R = Math.ceil(4 * s) + 1;
  const k = new Float64Array(2 * R + 1);
  let Z = 0;
  for (let i = -R; i <= R; i++) Z += k[i + R] = Math.exp(-(i * i) / (2 * s * s));
  let m2 = 0;
  for (let i = -R; i <= R; i++) {
    k[i + R] /= Z;
    m2 += k[i + R] * i * i;
  }
  const dk = new Float64Array(2 * R + 1);
  const s3 = s * s * s;
  for (let i = -R; i <= R; i++) dk[i + R] = (k[i + R] * (i * i - m2)) / s3;
  return { k, dk, R };
}

/** out[y, x] = sum_i k[i] in[clampY(y + i), x] (vertical) or in[y, clampX(x + i)] (horizontal). */
function pass(src: Float64Array, H: number, W: number, k: Float64Array, R: number, vertical: boolean): Float64Array {
  const out = new Float64Array(H * W);
  if (vertical) {
    for (let y = 0; y < H; y++) {
      const row = y * W;
      for (let i = -R; i <= R; i++) {
        const yy = Math.min(H - 1, Math.max(0, y + i)) * W;
        const w = k[i + R];
        for (let x = 0; x < W; x++) out[row + x] += w * src[yy + x];
      }
    }
  } else {
    for (let y = 0; y < H; y++) {
      const row = y * W;
      for (let x = 0; x < W; x++) {
        let acc = 0;
        for (let i = -R; i <= R; i++) {
          const xx = x + i;
          acc += k[i + R] * src[row + (xx < 0 ? 0 : xx >= W ? W - 1 : xx)];
        }
        out[row + x] = acc;
      }
    }
  }
  return out;
}

/** The adjoint of pass(): scatters g back through the clamped taps. */
function passT(g: Float64Array, H: number, W: number, k: Float64Array, R: number, vertical: boolean): Float64Array {
  const out = new Float64Array(H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const gv = g[y * W + x];
      if (gv === 0) continue;
      for (let i = -R; i <= R; i++) {
        const src = vertical ? Math.min(H - 1, Math.max(0, y + i)) * W + x : y * W + Math.min(W - 1, Math.max(0, x + i));
        out[src] += k[i + R] * gv;
      }
    }
  }
  return out;
}

/** Gaussian blur of x ([H, W] or [1, 1, H, W]) with standard deviation sigma (tensor [1] or []). */
export function gaussianBlur(x: Tensor, sigma: Tensor): Tensor {
  const H = x.shape[x.ndim - 2], W = x.shape[x.ndim - 1];
  if (x.size !== H * W) throw new Error(`gaussianBlur: expects one image, got shape [${x.shape}]`);
  const sRaw = sigma.data[0];
  const s = Math.max(sRaw, MIN_BLUR_SIGMA);
  const { k, dk, R } = kernels(s);
  const xd = Float64Array.from(x.data);
  const tmp = pass(xd, H, W, k, R, false);
  const res = pass(tmp, H, W, k, R, true);
  const out = allocData(x.dtype, H * W);
  out.set(res);
  return record('gaussianBlur', new Tensor(out, x.shape), [x, sigma], (g) => {
    const gd = g.data;
    const gt = passT(Float64Array.from(gd), H, W, k, R, true);
    const gx = passT(gt, H, W, k, R, false);
    let gs = 0;
    if (sigma.requiresGrad && sRaw >= MIN_BLUR_SIGMA) {
      const a = pass(tmp, H, W, dk, R, true);
      const b = pass(xd, H, W, dk, R, false);
      for (let i = 0; i < H * W; i++) gs += gd[i] * a[i] + gt[i] * b[i];
    }
    const gsT = allocData(sigma.dtype, sigma.size);
    gsT[0] = gs;
    const gxT = allocData(x.dtype, x.size);
    gxT.set(gx);
    return [new Tensor(gxT, x.shape), new Tensor(gsT, sigma.shape)];
  });
}

/** Plain (no-tape) blur of raw data, used for fixed maps (edge and shadow cues). */
export function blurRaw(src: ArrayLike<number>, H: number, W: number, sigma: number): Float64Array {
  const { k, R } = kernels(Math.max(sigma, MIN_BLUR_SIGMA));
  return pass(pass(Float64Array.from(src), H, W, k, R, false), H, W, k, R, true);
}
