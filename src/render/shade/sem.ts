/**
 * Image formation on the soft-rasterized channels, composed from engine ops (so every parameter
 * gets its gradient from the tape) plus the custom blur and texture ops.
 *
 * Inputs: raster [5, H, W] = blended normal (nx, ny, nz), blended particle indicator m (unused), alpha.
 * SEM ('sem'):
 *   cos   = clamp(nz, 0.05, 1)                         (clamped cosine of the tilt theta)
 *   yield = (substrateBrightness + particleBrightness) * cos^(-tiltExponent)
 *                                                      (SE yield, rises with tilt: edge effect;
 *                                                       the particle emits more than the
 *                                                       substrate by a positive contrast)
 *   det   = 1 + detectorStrength (2 relu(n . d) - 1)   (side detector at azimuth/elevation d)
 *   P     = yield * det + edgeGain * E                 (E: fixed rim map from alpha, width ~2 px)
 *   Sub   = (substrateBrightness + textureAmplitude T) (T: the film's ridge lines, texture.ts,
 *           * (1 - shadowStrength * Sh)                 from textureScale / Width / Level;
 *                                                       Sh: fixed soft shadow map, cast away
 *                                                       from the detector)
 *   I     = w P + (1 - w) Sub                        (w = min(1, alpha / 0.75): the soft coverage
 *                                                       alpha, raster channel 4, saturated so that
 *                                                       seams between a mesh's triangles vanish.
 *                                                       Not the blended indicator m: blending
 *                                                       normalises by the faces' weights, so m is
 *                                                       ~1 a pixel or two beyond the silhouette
 *                                                       and mixing by it drew particles about 1 px
 *                                                       larger than their exact masks)
 * HIM ('him'): P = yield * ((1 - diffuse) + diffuse relu(n . l))
 *   + specular relu(n . h)^shininess + edgeGain * E, light l from above-left, no shadow term.
 * Then: blur with blurSigma (gaussianBlur), clamp [0, 1], noise
 *   I' = clamp(I + (noiseGaussian + noiseShot sqrt(max(I, 1e-4))) R, 0, 1), R ~ N(0, 1) fixed
 * per image (reparameterisation: the noise amplitudes get gradients).
 */
import * as ops from '../../autodiff/ops/index.js';
import { Tensor, allocData } from '../../autodiff/tensor.js';
import { record } from '../../autodiff/tape.js';
import { gaussianBlur, blurRaw } from './blur.js';
import { substrateTexture, clearNoiseCache } from './texture.js';
import { PARAM_INDEX } from './params.js';
import { takeF64Dirty, takeF64Shared, giveF64, releasingBackward } from '../scratch.js';
import { imageLanes, allShared, allocOut, lanesInstalled, runBands, sumRows } from './lanes.js';

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

/**
 * Soft coverage alpha = 1 - prod_f (1 - D_f) dips to 0.75 on the shared edge of two triangles of
 * one mesh (each covers it with D = 1/2), so mixing or edge maps taken from alpha draw the mesh's
 * wireframe inside particles. Coverage w = min(1, alpha / ALPHA_FULL) is 1 everywhere inside a
 * watertight silhouette and falls to 2/3 on its outline (the half-level moves outwards by
 * sqrt(0.51 sigma) px, 0.23 px at the tio2-sem preset's sigma 0.1).
 */
export const ALPHA_FULL = 0.75;
function coverage(alpha: ArrayLike<number>): Float64Array {
  const n = alpha.length;
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const a = alpha[i];
    w[i] = a >= ALPHA_FULL ? 1 : a / ALPHA_FULL;
  }
  return w;
}

/**
 * The fixed maps (edge E, shadow Sh) depend only on the raster's alpha channel and the context's
 * geometry settings, never on the parameters, so they are memoised: a few recent alphas are kept
 * as copies and a new alpha reuses an entry only when it is equal element by element (exact, so
 * the results are the same as recomputing; a mismatch usually stops at the first few pixels).
 */
interface FixedMaps {
  key: string;
  alpha: Float64Array;
  E: Float64Array;
  Sh: Float64Array;
}
const fixedCache: FixedMaps[] = [];
const FIXED_CACHE_SIZE = 4;
/** Empties the memos of the fixed maps and of the texture noise (tests compare them with fresh results). */
export function clearShadeCaches(): void {
  fixedCache.length = 0;
  clearNoiseCache();
}

function sameAlpha(a: Float64Array, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function copyShared(a: Float64Array): Float64Array {
  const c = new Float64Array(new SharedArrayBuffer(8 * a.length));
  c.set(a);
  return c;
}

function fixedMaps(alphaRaw: ArrayLike<number>, ctx: ShadingContext): { E: Float64Array; Sh: Float64Array } {
  const H = ctx.height, W = ctx.width;
  const key = `${H},${W},${ctx.model},${ctx.edgeWidth},${ctx.shadowLength},${ctx.detectorAzimuthDeg}`;
  for (let j = 0; j < fixedCache.length; j++) {
    const c = fixedCache[j];
    if (c.key === key && sameAlpha(c.alpha, alphaRaw)) {
      if (j > 0) {
        fixedCache.splice(j, 1);
        fixedCache.unshift(c);
      }
      if (lanesInstalled() && !allShared(c.E, c.Sh)) {
        // made before the lanes were installed: move to shared memory (same values)
        c.E = copyShared(c.E);
        c.Sh = copyShared(c.Sh);
      }
      return c;
    }
  }
  const alpha = coverage(alphaRaw);
  // in shared memory when raster lanes are installed (the shading op's rows may run on them)
  const sh = (a: Float64Array): Float64Array => (lanesInstalled() ? copyShared(a) : a);
  const E = sh(edgeMap(alpha, H, W, ctx.edgeWidth));
  const Sh = sh(ctx.model === 'sem' ? shadowMap(alpha, H, W, ctx.detectorAzimuthDeg, ctx.shadowLength) : new Float64Array(H * W));
  fixedCache.unshift({ key, alpha: Float64Array.from(alphaRaw), E, Sh });
  if (fixedCache.length > FIXED_CACHE_SIZE) fixedCache.pop();
  return { E, Sh };
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

/**
 * One lane's rows [rowLo, rowHi) of the shading forward (plain data: see lanes.ts): I = m P +
 * (1 - m) Sub per pixel, and per covered pixel the yield's log-cosine L and Y / y0 = exp(-n L)
 * into LY (2 i, 2 i + 1) for the backward, which then needs no transcendental of its own there.
 * Self-contained but for particleTermY (declared beside it in the lanes' workers).
 */
export interface ShadeRowsJob {
  R: Float32Array | Float64Array; Td: Float32Array | Float64Array; E: Float64Array; Sh: Float64Array;
  LY: Float64Array; out: Float32Array | Float64Array;
  k: ShadeConstants; alphaFull: number; HW: number; W: number; rowLo: number; rowHi: number;
}

export function shadeRows(job: ShadeRowsJob): number {
  const { R, Td, E, Sh, LY, out, k, alphaFull, HW, W, rowLo, rowHi } = job;
  const { ksh, sb, ta, sem } = k;
  for (let i = rowLo * W, i1 = rowHi * W; i < i1; i++) {
    const a = R[4 * HW + i], m = a >= alphaFull ? 1 : a / alphaFull;
    // substrate: (sb + ta T) (1 - ksh Sh); HIM has no shadow term
    const Sub = (sb + ta * Td[i]) * (sem ? 1 - ksh * Sh[i] : 1);
    if (m === 0) {
      // pure substrate (no face reaches the pixel): the particle term is multiplied by 0
      out[i] = Sub;
      continue;
    }
    const nx = R[i], ny = R[HW + i], nz = R[2 * HW + i];
    const c = nz < 0.05 ? 0.05 : nz > 1 ? 1 : nz;
    // c = 1 (flat faces): exp(-n log 1) = 1 exactly, skip the transcendentals
    const L = c === 1 ? 0 : Math.log(c);
    const Yn = c === 1 ? 1 : Math.exp(-k.n * L);
    LY[2 * i] = L;
    LY[2 * i + 1] = Yn;
    out[i] = m * particleTermY(k, k.y0 * Yn, nx, ny, nz, E[i]) + (1 - m) * Sub;
  }
  return 0;
}

/**
 * The pre-blur image I (see the header) as one fused op over raw arrays, differentiable w.r.t.
 * the raster channels (normals, indicator m), the parameter vector and the texture T. With raster
 * lanes installed, an image of 128 x 128 or more and every input in shared memory, the rows are
 * split over the lanes (lanes.ts); the results do not depend on the number of lanes.
 */
function shadeOp(raster: Tensor, params: Tensor, T: Tensor, E: Float64Array, Sh: Float64Array, ctx: ShadingContext): Tensor {
  const H = ctx.height, W = ctx.width, HW = H * W;
  const R = raster.data, Td = T.data;
  // The constants of this forward, also the backward's: parameter values as they are now.
  const k = shadeConstants(params.data, ctx);
  const shared = lanesInstalled();
  const lanes = imageLanes(HW) && allShared(R, Td, E, Sh) ? imageLanes(HW) : null;
  const out = allocOut(raster.dtype === 'float64' || params.dtype === 'float64' ? 'float64' : 'float32', HW, shared);
  // per covered pixel (coverage m > 0): L and Y / y0 (pixel i at 2 i, 2 i + 1; the rest unset)
  const LY = lanes ? takeF64Shared(2 * HW) : takeF64Dirty(2 * HW);
  runBands(lanes, 'shadeRows', { R, Td, E, Sh, LY, out, k, alphaFull: ALPHA_FULL, HW, W, rowLo: 0, rowHi: H }, H, shadeRows);
  const rec = record('shadeSEM', new Tensor(out, [H, W]), [raster, params, T], releasingBackward('shadeSEM', (gOut: Tensor) => shadeBackward(gOut, raster, params, k, T, E, Sh, ctx, LY)));
  if (!rec.node) giveF64(LY);
  return rec;
}

/** Parameter values and light directions one shading pass uses (a plain object of numbers). */
interface ShadeConstants {
  n: number; eg: number; kdet: number; ksh: number; sb: number; ta: number; kd: number; ks: number; shin: number;
  /** Flat-face yield: the substrate's plus the particle's positive contrast. */
  y0: number;
  /** Detector (SEM) / light (HIM) direction and the HIM half vector between it and the beam. */
  dx: number; dy: number; dz: number; hx: number; hy: number; hz: number;
  sem: boolean;
}

function shadeConstants(Pv: ArrayLike<number>, ctx: ShadingContext): ShadeConstants {
  const ix = PARAM_INDEX;
  const pb = Pv[ix.particleBrightness], sb = Pv[ix.substrateBrightness];
  const az = (ctx.detectorAzimuthDeg * Math.PI) / 180, el = (ctx.detectorElevationDeg * Math.PI) / 180;
  const dx = Math.cos(az) * Math.cos(el), dy = Math.sin(az) * Math.cos(el), dz = Math.sin(el);
  const hl = Math.hypot(dx, dy, dz + 1);
  return {
    n: Pv[ix.tiltExponent], eg: Pv[ix.edgeGain], kdet: Pv[ix.detectorStrength], ksh: Pv[ix.shadowStrength], sb,
    ta: Pv[ix.textureAmplitude], kd: Pv[ix.diffuse], ks: Pv[ix.specular], shin: Pv[ix.shininess],
    y0: sb + pb,
    dx, dy, dz, hx: dx / hl, hy: dy / hl, hz: (dz + 1) / hl,
    sem: ctx.model === 'sem',
  };
}

/** The particle term P at one pixel with normal (nx, ny, nz) and edge-map value e. */
function particleTerm(k: ShadeConstants, nx: number, ny: number, nz: number, e: number): number {
  const c = nz < 0.05 ? 0.05 : nz > 1 ? 1 : nz;
  // c = 1 (flat faces, the background's normal): exp(-n log 1) = 1 exactly, skip the transcendentals
  return particleTermY(k, c === 1 ? k.y0 : k.y0 * Math.exp(-k.n * Math.log(c)), nx, ny, nz, e);
}

/** particleTerm given the yield Y = y0 cos^-n. */
function particleTermY(k: ShadeConstants, Y: number, nx: number, ny: number, nz: number, e: number): number {
  const nd = nx * k.dx + ny * k.dy + nz * k.dz;
  const r = nd > 0 ? nd : 0;
  if (k.sem) return Y * (1 + k.kdet * (2 * r - 1)) + k.eg * e;
  const nh = nx * k.hx + ny * k.hy + nz * k.hz;
  const q = nh < 1e-6 ? 1e-6 : nh > 1 ? 1 : nh;
  return Y * (1 - k.kd + k.kd * r) + k.ks * Math.pow(q, k.shin) + k.eg * e;
}

/** Per-row partial sums of the shading backward: the parameters in this order. */
const SHADE_SUMS = ['particleBrightness', 'tiltExponent', 'edgeGain', 'detectorStrength', 'shadowStrength', 'substrateBrightness', 'textureAmplitude', 'diffuse', 'specular', 'shininess'] as const;

/**
 * One lane's rows of the shading backward: the raster gradient gR (when wanted), the texture
 * gradient gT, and per row y the parameter gradients' partial sums (sums[10 y + j], SHADE_SUMS
 * order). Every output element of the rows is written with `=` (a redo gives the same arrays).
 * Self-contained but for particleTerm / particleTermY.
 */
export interface ShadeBackRowsJob {
  G: Float32Array | Float64Array; R: Float32Array | Float64Array; Td: Float32Array | Float64Array;
  E: Float64Array; Sh: Float64Array; LY: Float64Array;
  gR: Float32Array | Float64Array | null; gT: Float32Array | Float64Array; sums: Float64Array;
  k: ShadeConstants; alphaFull: number; HW: number; W: number; rowLo: number; rowHi: number;
}

export function shadeBackRows(job: ShadeBackRowsJob): number {
  const { G, R, Td, E, Sh, LY, gR, gT, sums, k, alphaFull, HW, W, rowLo, rowHi } = job;
  const { n, eg, kdet, ksh, sb, ta, kd, ks, shin, y0, dx, dy, dz, hx, hy, hz, sem } = k;
  const needR = gR !== null;
  for (let y = rowLo; y < rowHi; y++) {
    let gpb = 0, gn = 0, geg = 0, gkdet = 0, gksh = 0, gsb = 0, gta = 0, gkd = 0, gks = 0, gshin = 0;
    for (let i = y * W, i1 = i + W; i < i1; i++) {
      const g = G[i];
      if (g === 0) continue;
      const a = R[4 * HW + i], m = a >= alphaFull ? 1 : a / alphaFull;
      // substrate terms, weighted by (1 - m)
      const gSub = g * (1 - m);
      const sh = (sem ? 1 - ksh * Sh[i] : 1), sub0 = sb + ta * Td[i];
      gsb += gSub * sh;
      gta += gSub * Td[i] * sh;
      gT[i] = gSub * ta * sh;
      if (sem) gksh -= gSub * sub0 * Sh[i];
      if (m === 0 && !needR) continue; // pure substrate, no raster gradient wanted
      const nx = R[i], ny = R[HW + i], nz = R[2 * HW + i];
      const Sub = sub0 * sh;
      if (m === 0) {
        // pure substrate with a raster gradient: only the coverage's, g (P - Sub) / alphaFull
        // (every other term below is multiplied by g m = 0)
        let r4 = 0;
        r4 += (g * (particleTerm(k, nx, ny, nz, E[i]) - Sub)) / alphaFull;
        gR![4 * HW + i] = r4;
        continue;
      }
      const inRange = nz >= 0.05 && nz <= 1;
      const c = nz < 0.05 ? 0.05 : nz > 1 ? 1 : nz;
      const L = LY[2 * i], Yn = LY[2 * i + 1]; // log c and Y / y0, from the forward
      const Y = y0 * Yn;
      const nd = nx * dx + ny * dy + nz * dz;
      const r = nd > 0 ? nd : 0;
      let P: number, gFac: number, gr: number;
      const gP = g * m;
      // the raster gradient's channels 0-2 of this pixel, summed as the terms come
      let r0 = 0, r1 = 0, r2 = 0;
      if (sem) {
        const det = 1 + kdet * (2 * r - 1);
        P = Y * det + eg * E[i];
        gFac = gP * det; // dI/dY
        gkdet += gP * Y * (2 * r - 1);
        gr = nd > 0 ? gP * Y * kdet * 2 : 0;
      } else {
        const nh = nx * hx + ny * hy + nz * hz;
        const qIn = nh >= 1e-6 && nh <= 1;
        const q = nh < 1e-6 ? 1e-6 : nh > 1 ? 1 : nh;
        const qs = Math.pow(q, shin);
        const diff = 1 - kd + kd * r;
        P = Y * diff + ks * qs + eg * E[i];
        gFac = gP * diff;
        gkd += gP * Y * (r - 1);
        gr = nd > 0 ? gP * Y * kd : 0;
        gks += gP * qs;
        gshin += gP * ks * qs * Math.log(q);
        if (needR) {
          const gq = qIn ? gP * ks * shin * Math.pow(q, shin - 1) : 0;
          r0 += gq * hx;
          r1 += gq * hy;
          r2 += gq * hz;
        }
      }
      geg += gP * E[i];
      gpb += gFac * Yn;
      gsb += gFac * Yn; // y0 = sb + pb
      gn -= gFac * Y * L;
      if (!gR) continue;
      r0 += gr * dx;
      r1 += gr * dy;
      r2 += gr * dz + (inRange ? (gFac * Y * -n) / c : 0);
      gR[i] = r0;
      gR[HW + i] = r1;
      gR[2 * HW + i] = r2;
      if (a < alphaFull) {
        let r4 = 0;
        r4 += (g * (P - Sub)) / alphaFull;
        gR[4 * HW + i] = r4;
      }
    }
    const o = 10 * y;
    sums[o] = gpb; sums[o + 1] = gn; sums[o + 2] = geg; sums[o + 3] = gkdet; sums[o + 4] = gksh;
    sums[o + 5] = gsb; sums[o + 6] = gta; sums[o + 7] = gkd; sums[o + 8] = gks; sums[o + 9] = gshin;
  }
  return 0;
}

/**
 * The backward of shadeOp (its vector-Jacobian product). A top-level function rather than the
 * tape closure itself: a closure created anew on every render keeps losing its optimised code
 * (V8 deoptimises it on fresh type feedback), a named function keeps it.
 */
function shadeBackward(gOut: Tensor, raster: Tensor, params: Tensor, k: ShadeConstants, T: Tensor, E: Float64Array, Sh: Float64Array, ctx: ShadingContext, LY: Float64Array): (Tensor | null)[] {
  const H = ctx.height, W = ctx.width, HW = H * W;
  const R = raster.data, Td = T.data, G = gOut.data;
  const lanes = imageLanes(HW) && allShared(G, R, Td, E, Sh, LY) ? imageLanes(HW) : null;
  // the raster's gradient only when it needs one (not for a cached raster: the GAN's case)
  const gR = raster.requiresGrad ? allocOut(raster.dtype, raster.size, lanes !== null) : null;
  const gT = allocOut(T.dtype, HW, lanes !== null);
  const sums = lanes ? takeF64Shared(10 * H) : takeF64Dirty(10 * H);
  runBands(lanes, 'shadeBackRows', { G, R, Td, E, Sh, LY, gR, gT, sums, k, alphaFull: ALPHA_FULL, HW, W, rowLo: 0, rowHi: H }, H, shadeBackRows);
  const tot = sumRows(sums, H, 10);
  const gPv = allocData(params.dtype, params.size);
  SHADE_SUMS.forEach((name, j) => (gPv[PARAM_INDEX[name]] = tot[j]));
  giveF64(LY, sums);
  return [gR ? new Tensor(gR, raster.shape) : null, new Tensor(gPv, params.shape), new Tensor(gT, T.shape)];
}

/**
 * Clamp, then reparameterised noise, then clamp, as one op:
 *   y = clamp(b, 0, 1);  out = clamp(y + (noiseGaussian + noiseShot sqrt(max(y, 1e-4))) R, 0, 1)
 * (clamp gradients pass on the closed interval, as the engine's clamp). Rows over the lanes as
 * shadeOp's.
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

function noiseOp(x: Tensor, params: Tensor, noise: ArrayLike<number> | null): Tensor {
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

/** The lane kernels of this file, and the helpers their source calls (declared in the workers). */
export const SHADE_KERNELS = { shadeRows, shadeBackRows, noiseRows, noiseBackRows } as const;
export const SHADE_HELPERS = [particleTerm, particleTermY] as const;

export function formImage(raster: Tensor, params: Tensor, ctx: ShadingContext): Tensor {
  const H = ctx.height, W = ctx.width, HW = H * W;
  const p = (name: string): Tensor => ops.slice(params, [[PARAM_INDEX[name], PARAM_INDEX[name] + 1]]);
  const { E, Sh } = fixedMaps(raster.data.subarray(4 * HW, 5 * HW), ctx);
  const T = substrateTexture(p('textureScale'), p('textureWidth'), p('textureLevel'), { width: W, height: H, seed: ctx.textureSeed });
  const I = shadeOp(raster, params, T, E, Sh, ctx);
  const img = noiseOp(gaussianBlur(I, p('blurSigma')), params, ctx.noise);
  return ops.reshape(img, [1, 1, H, W]);
}
