/**
 * SEM image formation (secondary electrons, side detector), per pixel with normal n:
 *   c     = clamp(n_z, tiltFloor, 1)                   (clamped cosine of the tilt theta: beyond
 *                                                       acos(tiltFloor) the yield stops rising)
 *   Y     = (substrateBrightness + particleBrightness) * c^(-tiltExponent)
 *                                                      (SE yield, rises with tilt: edge effect;
 *                                                       the particle emits more than the
 *                                                       substrate by a positive contrast)
 *   det   = 1 + detectorStrength (2 relu(n . d) - 1)   (side detector at azimuth / elevation d)
 *   P     = Y det (1 + particleVariation u)            (u in [-1, 1]: the particle's own
 *           (1 + particleGrain g)                       brightness factor, fixed per particle,
 *           + f_e (edgeGain E + rimGain E2)             blended by the rasterizer; g: the fixed
 *                                                       surface grain, zero mean, unit std,
 *                                                       grain.ts; E: fixed rim map,
 *                                                       fixed-maps.ts; E2: the same at 3 x
 *                                                       the width, fading over the escape depth;
 *                                                       f_e = 1, or 1 + particleVariation u with
 *                                                       shading.edgeScale 'particle': a dim
 *                                                       particle's rims as dim as its body)
 *   P    *= 1 - creaseStrength q(Dc / creaseWidth)   (Dc: distance to the nearest pixel
 *                                                       where two particles meet, proximity.ts:
 *                                                       the dark contact crease; q(t) =
 *                                                       (1 - t)^2 for t < 1, else 0)
 *   Sub   = (substrateBrightness + textureAmplitude T) (T: the film's ridge lines, texture.ts;
 *           * (1 - shadowStrength Sh)                  Sh: fixed soft shadow map, cast away
 *           * (1 - haloStrength h(Dh / haloWidth))    from the detector; Dh: distance outside
 *                                                       the silhouettes, proximity.ts: the
 *                                                       symmetric dark halo, SE collection
 *                                                       shadowed by the neighbouring particle;
 *                                                       h(t) = exp(-t^2 / 2), long-tailed)
 *   I     = w P + (1 - w) Sub                          (w = min(1, alpha / ALPHA_FULL): the
 *                                                       soft coverage, saturated so that seams
 *                                                       between a mesh's triangles vanish. Not
 *                                                       the blended indicator: blending
 *                                                       normalises by the faces' weights, so it
 *                                                       is ~1 a pixel or two beyond the
 *                                                       silhouette and would draw particles
 *                                                       about 1 px larger than their masks)
 * Forward and vector-Jacobian product side by side (model.ts says how the kernels are run).
 */
import { PARAM_INDEX } from '../params.js';
import { detectorDirection, type ImageFormationModel, type ShadeBackRowsJob, type ShadeRowsJob, type ShadingContext } from './model.js';

export interface SemConstants {
  n: number; eg: number; eg2: number; kdet: number; ksh: number; sb: number; ta: number; kv: number; kg: number;
  /** 1 when the edge and rim terms are scaled by the particle's brightness factor (shading.edgeScale 'particle'), else 0. */
  ev: number;
  /** The tilt law's floor on cos(theta) (tiltFloor). */
  cmin: number;
  /** Halo and crease: strengths and inverse widths (1 / px). */
  kh: number; ih: number; kc: number; ic: number;
  /** Flat-face yield: the substrate's plus the particle's positive contrast. */
  y0: number;
  /** Towards the detector. */
  dx: number; dy: number; dz: number;
}

function semConstants(Pv: ArrayLike<number>, ctx: ShadingContext): SemConstants {
  const ix = PARAM_INDEX;
  const sb = Pv[ix.substrateBrightness];
  return {
    n: Pv[ix.tiltExponent], eg: Pv[ix.edgeGain], eg2: Pv[ix.rimGain], kdet: Pv[ix.detectorStrength], ksh: Pv[ix.shadowStrength], sb,
    ta: Pv[ix.textureAmplitude], kv: Pv[ix.particleVariation], kg: Pv[ix.particleGrain], y0: sb + Pv[ix.particleBrightness], ...detectorDirection(ctx),
    kh: Pv[ix.haloStrength], ih: 1 / Pv[ix.haloWidth], kc: Pv[ix.creaseStrength], ic: 1 / Pv[ix.creaseWidth],
    cmin: Pv[ix.tiltFloor], ev: ctx.edgeScale === 'particle' ? 1 : 0,
  };
}

/** P at one pixel given the yield Y = y0 c^-n, the particle's brightness factor u and the grain g. */
export function semParticleY(k: SemConstants, Y: number, nx: number, ny: number, nz: number, e: number, e2: number, u: number, g: number): number {
  const nd = nx * k.dx + ny * k.dy + nz * k.dz;
  const r = nd > 0 ? nd : 0;
  const f = 1 + k.kv * u;
  // fe = 1 (edgeScale 'additive'): fe * eg * e = eg * e exactly, the image as before the option
  const fe = k.ev === 1 ? f : 1;
  // particleGrain 0 (the other presets): a factor of exactly 1, the image as without the term
  return Y * f * (1 + k.kg * g) * (1 + k.kdet * (2 * r - 1)) + fe * k.eg * e + fe * k.eg2 * e2;
}

/** P at one pixel with normal (nx, ny, nz), edge-map values e (narrow) and e2 (wide), brightness factor u and grain g. */
export function semParticle(k: SemConstants, nx: number, ny: number, nz: number, e: number, e2: number, u: number, g: number): number {
  const c = nz < k.cmin ? k.cmin : nz > 1 ? 1 : nz;
  // c = 1 (flat faces, the background's normal): exp(-n log 1) = 1 exactly, skip the transcendentals
  return semParticleY(k, c === 1 ? k.y0 : k.y0 * Math.exp(-k.n * Math.log(c)), nx, ny, nz, e, e2, u, g);
}

/**
 * The crease's profile over the distance d (px) for an inverse width iw:
 * (1 - d iw)^2 inside the width, 0 beyond (smooth at the width; a ring of finite extent, and
 * the pixels far from every particle cost one comparison).
 */
export function proximityProfile(d: number, iw: number): number {
  const t = 1 - d * iw;
  return t > 0 ? t * t : 0;
}

/** d proximityProfile / d width: 2 (1 - d / w) d / w^2. */
export function proximityProfileDw(d: number, iw: number): number {
  const t = 1 - d * iw;
  return t > 0 ? 2 * t * d * iw * iw : 0;
}

/**
 * The halo's profile over the distance d (px) outside the silhouettes for an inverse width iw:
 * exp(-(d iw)^2 / 2). Flat near the particles and long-tailed: on the TiO2-SEM micrographs the
 * film stays dark from 2 px to beyond 12 px outside the particles and reaches its far level only
 * 25-30 px out (docs/realism.md); the crease's compact (1 - d / w)^2 was darkest at 2-3 px and
 * back by 10-12 px.
 */
export function haloProfile(d: number, iw: number): number {
  const t = d * iw;
  return Math.exp(-0.5 * t * t);
}

/** d haloProfile / d width: exp(-(d / w)^2 / 2) d^2 / w^3. */
export function haloProfileDw(d: number, iw: number): number {
  const t = d * iw;
  return Math.exp(-0.5 * t * t) * t * t * iw;
}

export function semRows(job: ShadeRowsJob<SemConstants>): number {
  const { normalX, normalY, normalZ, alpha, variation: V, T, E, E2, Sh, Gr, Dh, Dc, LY, out, k, alphaFull, W, rowLo, rowHi } = job;
  const { ksh, sb, ta, kh, ih, kc, ic } = k;
  const S = Sh!, Gn = Gr!, H0 = Dh!, C0 = Dc!;
  for (let i = rowLo * W, i1 = rowHi * W; i < i1; i++) {
    const a = alpha[i], m = a >= alphaFull ? 1 : a / alphaFull;
    // the substrate term (not needed under full coverage)
    // haloStrength 0 (every preset's default): a factor of exactly 1, without an exp per pixel
    const Sub = m === 1 ? 0 : (sb + ta * T[i]) * (1 - ksh * S[i]) * (kh === 0 ? 1 : 1 - kh * haloProfile(H0[i], ih));
    if (m === 0) {
      // pure substrate (no face reaches the pixel): the particle term is multiplied by 0
      out[i] = Sub;
      continue;
    }
    const nx = normalX[i], ny = normalY[i], nz = normalZ[i];
    const c = nz < k.cmin ? k.cmin : nz > 1 ? 1 : nz;
    // c = 1 (flat faces): exp(-n log 1) = 1 exactly, skip the transcendentals
    const L = c === 1 ? 0 : Math.log(c);
    const Yn = c === 1 ? 1 : Math.exp(-k.n * L);
    LY[2 * i] = L;
    LY[2 * i + 1] = Yn;
    const cf = 1 - kc * proximityProfile(C0[i], ic);
    out[i] = m * cf * semParticleY(k, k.y0 * Yn, nx, ny, nz, E[i], E2[i], V[i], Gn[i]) + (1 - m) * Sub;
  }
  return 0;
}

/** The gradients semBackRows sums per row, in its order. */
const SEM_GRADS = [
  'particleBrightness', 'tiltExponent', 'edgeGain', 'detectorStrength', 'shadowStrength', 'substrateBrightness', 'textureAmplitude', 'rimGain', 'particleVariation', 'particleGrain',
  'haloStrength', 'haloWidth', 'creaseStrength', 'creaseWidth', 'tiltFloor',
] as const;

export function semBackRows(job: ShadeBackRowsJob<SemConstants>): number {
  const { G, normalX, normalY, normalZ, alpha, variation: V, T, E, E2, Sh, Gr, Dh, Dc, LY, gNormalX, gNormalY, gNormalZ, gAlpha, gVariation, gT, sums, k, alphaFull, W, rowLo, rowHi } = job;
  const { n, eg, eg2, kdet, ksh, sb, ta, kv, kg, y0, dx, dy, dz, kh, ih, kc, ic, cmin, ev } = k;
  const S = Sh!, Gn = Gr!, H0 = Dh!, C0 = Dc!;
  const needR = gAlpha !== null;
  for (let y = rowLo; y < rowHi; y++) {
    let gpb = 0, gn = 0, geg = 0, gkdet = 0, gksh = 0, gsb = 0, gta = 0, geg2 = 0, gkv = 0, gkg = 0, gkh = 0, gwh = 0, gkc = 0, gwc = 0, gcmin = 0;
    for (let i = y * W, i1 = i + W; i < i1; i++) {
      const g = G[i];
      if (g === 0) continue;
      const a = alpha[i], m = a >= alphaFull ? 1 : a / alphaFull;
      // substrate terms, weighted by (1 - m)
      const gSub = g * (1 - m);
      const sh = 1 - ksh * S[i], sub0 = sb + ta * T[i];
      const dh = H0[i], eh = haloProfile(dh, ih), hf = 1 - kh * eh;
      gT[i] = gSub * ta * sh * hf;
      if (gSub !== 0) {
        gsb += gSub * sh * hf;
        gta += gSub * T[i] * sh * hf;
        gksh -= gSub * sub0 * S[i] * hf;
        gkh -= gSub * sub0 * sh * eh;
        gwh -= gSub * sub0 * sh * kh * haloProfileDw(dh, ih);
      }
      if (m === 0 && !needR) continue; // pure substrate, no raster gradient wanted
      const nx = normalX[i], ny = normalY[i], nz = normalZ[i];
      const Sub = sub0 * sh * hf;
      const dc = C0[i], ec = proximityProfile(dc, ic), cf = 1 - kc * ec;
      if (m === 0) {
        // pure substrate with a raster gradient: only the coverage's, g (P - Sub) / alphaFull
        // (every other term below is multiplied by g m = 0)
        let r4 = 0;
        r4 += (g * (cf * semParticle(k, nx, ny, nz, E[i], E2[i], V[i], Gn[i]) - Sub)) / alphaFull;
        gAlpha![i] = r4;
        continue;
      }
      const inRange = nz >= cmin && nz <= 1;
      const c = nz < cmin ? cmin : nz > 1 ? 1 : nz;
      const L = LY[2 * i], Yn = LY[2 * i + 1]; // log c and Y / y0, from the forward
      const Y = y0 * Yn;
      const u = V[i], f = 1 + kv * u; // the particle's brightness factor
      const gr0 = Gn[i], fg = 1 + kg * gr0; // the grain's factor
      const Yf = Y * f * fg;
      const nd = nx * dx + ny * dy + nz * dz;
      const r = nd > 0 ? nd : 0;
      const det = 1 + kdet * (2 * r - 1);
      const fe = ev === 1 ? f : 1; // the edge terms' factor (edgeScale)
      const P0 = Yf * det + fe * eg * E[i] + fe * eg2 * E2[i]; // before the crease factor
      gkc -= g * m * P0 * ec;
      gwc -= g * m * P0 * kc * proximityProfileDw(dc, ic);
      const gP = g * m * cf; // dI/dP0
      const P = cf * P0;
      const gFac = gP * det * f * fg; // dI/dY
      gkdet += gP * Yf * (2 * r - 1);
      gkv += gP * Y * fg * det * u;
      // edgeScale 'particle': the edge terms depend on u and particleVariation through fe = f
      const gEdge = ev === 1 ? gP * (eg * E[i] + eg2 * E2[i]) : 0;
      if (ev === 1) gkv += gEdge * u;
      gkg += gP * Y * f * det * gr0;
      const gr = nd > 0 ? gP * Yf * kdet * 2 : 0;
      geg += gP * fe * E[i];
      geg2 += gP * fe * E2[i];
      gpb += gFac * Yn;
      gsb += gFac * Yn; // y0 = sb + pb
      gn -= gFac * Y * L;
      // below the floor Y = y0 tiltFloor^-n: dY / d tiltFloor = -n Y / tiltFloor
      if (nz < cmin) gcmin -= (gFac * n * Y) / cmin;
      if (!needR) continue;
      // the raster gradient's normal channels, summed as the terms come
      let r0 = 0, r1 = 0, r2 = 0;
      r0 += gr * dx;
      r1 += gr * dy;
      r2 += gr * dz + (inRange ? (gFac * Y * -n) / c : 0);
      gNormalX![i] = r0;
      gNormalY![i] = r1;
      gNormalZ![i] = r2;
      gVariation![i] = ev === 1 ? gP * Y * fg * det * kv + gEdge * kv : gP * Y * fg * det * kv;
      if (a < alphaFull) {
        let r4 = 0;
        r4 += (g * (P - Sub)) / alphaFull;
        gAlpha![i] = r4;
      }
    }
    const o = 15 * y;
    sums[o] = gpb; sums[o + 1] = gn; sums[o + 2] = geg; sums[o + 3] = gkdet; sums[o + 4] = gksh;
    sums[o + 5] = gsb; sums[o + 6] = gta; sums[o + 7] = geg2; sums[o + 8] = gkv; sums[o + 9] = gkg;
    sums[o + 10] = gkh; sums[o + 11] = gwh; sums[o + 12] = gkc; sums[o + 13] = gwc; sums[o + 14] = gcmin;
  }
  return 0;
}

export const semModel: ImageFormationModel<SemConstants, 'sem'> = {
  name: 'sem',
  opName: 'shadeSEM',
  polarity: 'bright',
  castsShadow: true,
  grain: true,
  proximity: true,
  constants: semConstants,
  grads: SEM_GRADS,
  rows: 'semRows',
  backRows: 'semBackRows',
  kernels: { semRows, semBackRows },
  helpers: [semParticle, semParticleY, proximityProfile, proximityProfileDw, haloProfile, haloProfileDw],
};
