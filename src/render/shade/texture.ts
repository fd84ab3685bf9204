/**
 * Procedural substrate texture as a custom op differentiable w.r.t. its spatial frequency:
 * T(x, y) = sum_o a^o [ 0.5 n_o + 0.5 (1 - |2 n_o - 1|)^4 ] / sum_o a^o, with value noise
 * n_o = smooth-bilinear interpolation of hashed lattice values at (x, y) * scale * 2^o (a = 0.5,
 * `octaves` octaves). The ridged half makes thin bright worm-like lines as on real SEM stubs.
 * dT/dscale = sum_o grad n_o . (x, y) 2^o (chain rule through the ridge). Values lie in [0, 1].
 */
import { record } from '../../autodiff/tape.js';
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
  const val = allocData(scale.dtype, W * H);
  const dval = new Float64Array(W * H);
  let norm = 0;
  for (let o = 0; o < octaves; o++) norm += Math.pow(0.5, o);
  for (let o = 0; o < octaves; o++) {
    const amp = Math.pow(0.5, o) / norm;
    const f = s * Math.pow(2, o);
    const f2 = Math.pow(2, o);
    for (let y = 0; y < H; y++) {
      const v = (y + 0.5) * f;
      const iy = Math.floor(v), ty = v - iy;
      const sy = ty * ty * (3 - 2 * ty), dsy = 6 * ty * (1 - ty);
      for (let x = 0; x < W; x++) {
        const u = (x + 0.5) * f;
        const ix = Math.floor(u), tx = u - ix;
        const sx = tx * tx * (3 - 2 * tx), dsx = 6 * tx * (1 - tx);
        const a = hash(ix, iy, o, opts.seed), b = hash(ix + 1, iy, o, opts.seed);
        const c = hash(ix, iy + 1, o, opts.seed), d = hash(ix + 1, iy + 1, o, opts.seed);
        const top = a + (b - a) * sx, bot = c + (d - c) * sx;
        const n = top + (bot - top) * sy;
        const dndu = ((b - a) + ((d - c) - (b - a)) * sy) * dsx;
        const dndv = (bot - top) * dsy;
        const q = 1 - Math.abs(2 * n - 1);
        const ridge = q * q * q * q;
        const dRidge = 4 * q * q * q * (2 * n - 1 >= 0 ? -2 : 2);
        const p = y * W + x;
        val[p] += amp * (0.5 * n + 0.5 * ridge);
        const dn_ds = dndu * (x + 0.5) * f2 + dndv * (y + 0.5) * f2;
        dval[p] += amp * (0.5 + 0.5 * dRidge) * dn_ds;
      }
    }
  }
  return record('substrateTexture', new Tensor(val, [H, W]), [scale], (g) => {
    let gs = 0;
    for (let i = 0; i < W * H; i++) gs += g.data[i] * dval[i];
    const out = allocData(scale.dtype, scale.size);
    out[0] = gs;
    return [new Tensor(out, scale.shape)];
  });
}
