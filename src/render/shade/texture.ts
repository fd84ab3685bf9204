/**
 * Procedural substrate texture as a custom op differentiable w.r.t. its spatial frequency:
 * T(x, y) = sum_o a^o [ 0.5 n_o + 0.5 (1 - |2 n_o - 1|)^4 ] / sum_o a^o, with value noise
 * n_o = smooth-bilinear interpolation of hashed lattice values at (x, y) * scale * 2^o (a = 0.5,
 * `octaves` octaves). The ridged half makes thin bright worm-like lines as on real SEM stubs.
 * dT/dscale = sum_o grad n_o . (x, y) 2^o (chain rule through the ridge). Values lie in [0, 1].
 * Lattice values are hashed once per lattice point of each octave (the image spans few cells) and
 * the per-column / per-row smoothstep weights are tabulated; dT/dscale is formed only when the
 * scale needs a gradient.
 */
import { record, isGradEnabled } from '../../autodiff/tape.js';
import { Tensor, allocData } from '../../autodiff/tensor.js';

function hash(ix: number, iy: number, o: number, seed: number): number {
  let h = Math.imul(ix | 0, 0x27d4eb2d) ^ Math.imul(iy | 0, 0x165667b1) ^ Math.imul(o + 1, 0x9e3779b9) ^ seed;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

export interface TextureOptions {
  width: number;
  height: number;
  seed: number;
  octaves?: number;
}

export function substrateTexture(scale: Tensor, opts: TextureOptions): Tensor {
  const { width: W, height: H } = opts;
  const octaves = opts.octaves ?? 4;
  const s = scale.data[0];
  const seed = opts.seed;
  const val = allocData(scale.dtype, W * H);
  const needGrad = scale.requiresGrad && isGradEnabled();
  const dval = needGrad ? new Float64Array(W * H) : null;
  let norm = 0;
  for (let o = 0; o < octaves; o++) norm += Math.pow(0.5, o);
  // per-column / per-row lattice coordinates and smoothstep weights, and the hashed lattice
  // values of the cells the image touches (hashed once per lattice point, not per pixel)
  const cix = new Int32Array(W), csx = new Float64Array(W), cdsx = new Float64Array(W);
  const riy = new Int32Array(H), rsy = new Float64Array(H), rdsy = new Float64Array(H);
  for (let o = 0; o < octaves; o++) {
    const amp = Math.pow(0.5, o) / norm;
    const f = s * Math.pow(2, o);
    const f2 = Math.pow(2, o);
    for (let x = 0; x < W; x++) {
      const u = (x + 0.5) * f;
      const ix = Math.floor(u), tx = u - ix;
      cix[x] = ix; csx[x] = tx * tx * (3 - 2 * tx); cdsx[x] = 6 * tx * (1 - tx);
    }
    for (let y = 0; y < H; y++) {
      const v = (y + 0.5) * f;
      const iy = Math.floor(v), ty = v - iy;
      riy[y] = iy; rsy[y] = ty * ty * (3 - 2 * ty); rdsy[y] = 6 * ty * (1 - ty);
    }
    const ix0 = Math.min(cix[0], cix[W - 1]), ix1 = Math.max(cix[0], cix[W - 1]) + 1;
    const iy0 = Math.min(riy[0], riy[H - 1]), iy1 = Math.max(riy[0], riy[H - 1]) + 1;
    const nx = ix1 - ix0 + 1, ny = iy1 - iy0 + 1;
    const lat = new Float64Array(nx * ny);
    for (let b = 0; b < ny; b++) for (let a = 0; a < nx; a++) lat[b * nx + a] = hash(ix0 + a, iy0 + b, o, seed);
    for (let y = 0; y < H; y++) {
      const sy = rsy[y], dsy = rdsy[y];
      const lrow = (riy[y] - iy0) * nx - ix0;
      const yy = (y + 0.5) * f2;
      for (let x = 0; x < W; x++) {
        const sx = csx[x];
        const li = lrow + cix[x];
        const a = lat[li], b = lat[li + 1], c = lat[li + nx], d = lat[li + nx + 1];
        const top = a + (b - a) * sx, bot = c + (d - c) * sx;
        const n = top + (bot - top) * sy;
        const q = 1 - Math.abs(2 * n - 1);
        const q2 = q * q;
        const p = y * W + x;
        val[p] += amp * (0.5 * n + 0.5 * q2 * q2);
        if (dval) {
          const dndu = ((b - a) + ((d - c) - (b - a)) * sy) * cdsx[x];
          const dndv = (bot - top) * dsy;
          const dRidge = 4 * q2 * q * (2 * n - 1 >= 0 ? -2 : 2);
          const dn_ds = dndu * (x + 0.5) * f2 + dndv * yy;
          dval[p] += amp * (0.5 + 0.5 * dRidge) * dn_ds;
        }
      }
    }
  }
  return record('substrateTexture', new Tensor(val, [H, W]), [scale], (g) => {
    let gs = 0;
    const gd = g.data;
    if (dval) for (let i = 0; i < W * H; i++) gs += gd[i] * dval[i];
    const out = allocData(scale.dtype, scale.size);
    out[0] = gs;
    return [new Tensor(out, scale.shape)];
  });
}
