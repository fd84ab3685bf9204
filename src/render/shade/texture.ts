/**
 * Procedural substrate texture: the thin, bright, worm-like ridge lines and small loops of the
 * carbon / polymer film that SEM stubs carry, as iso-lines of band-passed noise. A custom op,
 * differentiable w.r.t. its spatial frequency `scale`, its line half-width `width` and the
 * iso-level `level`:
 *
 *   n(x, y) = sum_o a^o v_o(R_o (x, y) * scale * 2^o) / sum_o a^o    (a = 0.5, `octaves` octaves)
 *   T(x, y) = exp(-(n - level)^2 / (2 width^2))                      (bright where n ~ level)
 *
 * v_o is value noise: smoothstep-bilinear interpolation of hashed lattice values in [0, 1]; R_o is
 * a fixed rotation per octave (so the lattice axes do not show). The sum of octaves is a smooth,
 * band-passed field around 1/2 (range about 0.05-0.9), and T is near 1 only on a thin band
 * around its `level` iso-line. At level 1/2 the lines form a connected network; above it they
 * break up into closed loops around the field's maxima and short squiggles (the film's rings
 * and blobs; about 0.6-0.65 resembles the TiO2-SEM stubs), and fewer of them the higher the
 * level. width is in noise units (the line's pixel width is about
 * width / |grad n|), so larger widths give thicker lines and, where the field is flat, blobs.
 * Values lie in (0, 1].
 *
 * Backward (e = n - level): dT/dscale = -T e / width^2 * dn/dscale with
 * dn/dscale = sum_o a^o grad v_o . R_o (x, y) 2^o / sum_o a^o, dT/dwidth = T e^2 / width^3 and
 * dT/dlevel = T e / width^2. The per-pixel derivatives are kept only when a gradient
 * is wanted.
 */
import { record, isGradEnabled } from '../../autodiff/tape.js';
import { Tensor, allocData } from '../../autodiff/tensor.js';
import { lanesInstalled } from '../lanes/lanes.js';
import { allocOut } from '../lanes/shared.js';
import { RecentResults } from './recent.js';

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
  /** Octaves of the band-passed field (default 3). */
  octaves?: number;
}

/** Rotation angle (radians) of octave o's lattice: irrational steps, so no two octaves align. */
const octaveAngle = (o: number): number => 0.61 + 1.37 * o;

/**
 * The band-passed field n and, when asked, dn/dscale, per pixel (row-major H x W). Not an op:
 * substrateTexture below wraps it.
 */
export function bandNoise(s: number, W: number, H: number, seed: number, octaves = 3, withGrad = false): { n: Float64Array; dn: Float64Array | null } {
  const n = new Float64Array(W * H);
  const dn = withGrad ? new Float64Array(W * H) : null;
  bandNoiseInto(n, dn, s, W, H, seed, octaves);
  return { n, dn };
}

/**
 * bandNoise memoised per (scale, size, seed, octaves): the field depends on nothing else, and a
 * render with a fixed (not learned, or not yet updated) textureScale asks for the same field
 * again. The returned arrays are shared with the cache: read only.
 */
interface NoiseEntry {
  s: number;
  W: number;
  H: number;
  seed: number;
  octaves: number;
  n: Float64Array;
  dn: Float64Array | null;
}
const noiseCache = new RecentResults<NoiseEntry>(4);
/** Empties the noise memo (tests compare memoised against fresh results). */
export function clearNoiseCache(): void {
  noiseCache.clear();
  ridgeCache.clear();
}

function bandNoiseCached(s: number, W: number, H: number, seed: number, octaves: number, withGrad: boolean): { n: Float64Array; dn: Float64Array | null } {
  const sameField = (e: NoiseEntry) => e.s === s && e.W === W && e.H === H && e.seed === seed && e.octaves === octaves;
  // An entry without the derivative does not serve a call that needs it: recomputed below, and replaced.
  const e = noiseCache.find((c) => sameField(c) && (!withGrad || c.dn !== null));
  if (e) return { n: e.n, dn: withGrad ? e.dn : null };
  const r = bandNoise(s, W, H, seed, octaves, withGrad);
  noiseCache.add({ s, W, H, seed, octaves, n: r.n, dn: r.dn }, sameField);
  return r;
}

function bandNoiseInto(n: Float64Array, dn: Float64Array | null, s: number, W: number, H: number, seed: number, octaves: number): void {
  let norm = 0;
  for (let o = 0; o < octaves; o++) norm += Math.pow(0.5, o);
  for (let o = 0; o < octaves; o++) {
    const amp = Math.pow(0.5, o) / norm;
    const f2 = Math.pow(2, o);
    const f = s * f2;
    const ca = Math.cos(octaveAngle(o)), sa = Math.sin(octaveAngle(o));
    for (let y = 0; y < H; y++) {
      const py = y + 0.5;
      for (let x = 0; x < W; x++) {
        const px = x + 0.5;
        // rotated lattice coordinates (u, v) = R (px, py) f; du/ds = R (px, py) 2^o
        const ru = ca * px - sa * py, rv = sa * px + ca * py;
        const u = ru * f, v = rv * f;
        const iu = Math.floor(u), iv = Math.floor(v);
        const tu = u - iu, tv = v - iv;
        const su = tu * tu * (3 - 2 * tu), sv = tv * tv * (3 - 2 * tv);
        const a = hash(iu, iv, o, seed), b = hash(iu + 1, iv, o, seed);
        const c = hash(iu, iv + 1, o, seed), d = hash(iu + 1, iv + 1, o, seed);
        const top = a + (b - a) * su, bot = c + (d - c) * su;
        const p = y * W + x;
        n[p] += amp * (top + (bot - top) * sv);
        if (dn) {
          const dvdu = ((b - a) + ((d - c) - (b - a)) * sv) * 6 * tu * (1 - tu);
          const dvdv = (bot - top) * 6 * tv * (1 - tv);
          dn[p] += amp * (dvdu * ru + dvdv * rv) * f2;
        }
      }
    }
  }
}

/**
 * T = exp(-(n - level)^2 / (2 width^2)) in float64, memoised per (field array, width, level): a
 * render with fixed texture parameters gets the same field array from the noise memo and the
 * same T here. Read only (shared with the memo).
 */
interface RidgeEntry {
  n: Float64Array;
  w: number;
  L: number;
  t: Float64Array;
}
const ridgeCache = new RecentResults<RidgeEntry>(4);
function ridge(n: Float64Array, w: number, L: number): Float64Array {
  const hit = ridgeCache.find((e) => e.n === n && e.w === w && e.L === L);
  if (hit) return hit.t;
  const t = new Float64Array(n.length);
  const inv2w2 = 1 / (2 * w * w);
  for (let i = 0; i < n.length; i++) {
    const e = n[i] - L;
    t[i] = Math.exp(-e * e * inv2w2);
  }
  ridgeCache.add({ n, w, L, t });
  return t;
}

/** Gradients (scale, width, level) of <g, T> (see the header); a named function, not the tape closure. */
function textureBackward(gd: ArrayLike<number>, n: Float64Array, dn: Float64Array | null, t: Float64Array, w: number, L: number): [number, number, number] {
  // the sums of g T e dn, g T e^2 and g T e; the divisions by width^2 / width^3 once at the end
  let ss = 0, sw = 0, sl = 0;
  for (let i = 0; i < n.length; i++) {
    const gi = gd[i];
    if (gi === 0) continue;
    const e = n[i] - L;
    const ge = gi * t[i] * e;
    if (dn) ss += ge * dn[i];
    sw += ge * e;
    sl += ge;
  }
  const w2 = w * w, w3 = w2 * w;
  return [-ss / w2, sw / w3, sl / w2];
}

/** The ridge texture T (see the header), [H, W], differentiable w.r.t. scale, width and level (each [1]). */
export function substrateTexture(scale: Tensor, width: Tensor, level: Tensor, opts: TextureOptions): Tensor {
  const { width: W, height: H } = opts;
  const s = scale.data[0], w = width.data[0], L = level.data[0];
  const needGrad = (scale.requiresGrad || width.requiresGrad || level.requiresGrad) && isGradEnabled();
  const { n, dn } = bandNoiseCached(s, W, H, opts.seed, opts.octaves ?? 3, needGrad && scale.requiresGrad);
  const t = ridge(n, w, L);
  // shared memory when raster lanes are installed (the shading op's rows may run on them)
  const val = allocOut(scale.dtype, W * H, lanesInstalled());
  val.set(t);
  return record('substrateTexture', new Tensor(val, [H, W]), [scale, width, level], (g) => {
    const [gs, gw, gl] = textureBackward(g.data, n, dn, t, w, L);
    const one = (v: number, like: Tensor): Tensor => {
      const d = allocData(like.dtype, 1);
      d[0] = v;
      return new Tensor(d, like.shape);
    };
    return [one(gs, scale), one(gw, width), one(gl, level)];
  });
}
