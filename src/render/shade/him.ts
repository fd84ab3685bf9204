/**
 * HIM image formation (helium-ion microscope: secondary electrons, Blinn-Phong-like lighting
 * from one light), per pixel with normal n (yield Y, edge map E, texture T, coverage w as in
 * sem.ts; no shadow term):
 *   P     = Y ((1 - diffuse) + diffuse relu(n . l)) + specular relu(n . h)^shininess + edgeGain E
 *           (l: towards the light, h: the half vector between l and the beam)
 *   Sub   = substrateBrightness + textureAmplitude T
 *   I     = w P + (1 - w) Sub
 * Forward and vector-Jacobian product side by side (model.ts says how the kernels are run).
 */
import { PARAM_INDEX } from '../params.js';
import { detectorDirection, type ImageFormationModel, type ShadeBackRowsJob, type ShadeRowsJob, type ShadingContext } from './model.js';

export interface HimConstants {
  n: number; eg: number; sb: number; ta: number; kd: number; ks: number; shin: number;
  /** Flat-face yield: the substrate's plus the particle's positive contrast. */
  y0: number;
  /** Towards the light, and the half vector between it and the beam. */
  dx: number; dy: number; dz: number; hx: number; hy: number; hz: number;
}

function himConstants(Pv: ArrayLike<number>, ctx: ShadingContext): HimConstants {
  const ix = PARAM_INDEX;
  const sb = Pv[ix.substrateBrightness];
  const { dx, dy, dz } = detectorDirection(ctx);
  const hl = Math.hypot(dx, dy, dz + 1);
  return {
    n: Pv[ix.tiltExponent], eg: Pv[ix.edgeGain], sb, ta: Pv[ix.textureAmplitude],
    kd: Pv[ix.diffuse], ks: Pv[ix.specular], shin: Pv[ix.shininess], y0: sb + Pv[ix.particleBrightness],
    dx, dy, dz, hx: dx / hl, hy: dy / hl, hz: (dz + 1) / hl,
  };
}

/** P at one pixel given the yield Y = y0 c^-n. */
export function himParticleY(k: HimConstants, Y: number, nx: number, ny: number, nz: number, e: number): number {
  const nd = nx * k.dx + ny * k.dy + nz * k.dz;
  const r = nd > 0 ? nd : 0;
  const nh = nx * k.hx + ny * k.hy + nz * k.hz;
  const q = nh < 1e-6 ? 1e-6 : nh > 1 ? 1 : nh;
  return Y * (1 - k.kd + k.kd * r) + k.ks * Math.pow(q, k.shin) + k.eg * e;
}

/** P at one pixel with normal (nx, ny, nz) and edge-map value e. */
export function himParticle(k: HimConstants, nx: number, ny: number, nz: number, e: number): number {
  const c = nz < 0.05 ? 0.05 : nz > 1 ? 1 : nz;
  // c = 1 (flat faces, the background's normal): exp(-n log 1) = 1 exactly, skip the transcendentals
  return himParticleY(k, c === 1 ? k.y0 : k.y0 * Math.exp(-k.n * Math.log(c)), nx, ny, nz, e);
}

export function himRows(job: ShadeRowsJob<HimConstants>): number {
  const { normalX, normalY, normalZ, alpha, T, E, LY, out, k, alphaFull, W, rowLo, rowHi } = job;
  const { sb, ta } = k;
  for (let i = rowLo * W, i1 = rowHi * W; i < i1; i++) {
    const a = alpha[i], m = a >= alphaFull ? 1 : a / alphaFull;
    const Sub = sb + ta * T[i];
    if (m === 0) {
      // pure substrate (no face reaches the pixel): the particle term is multiplied by 0
      out[i] = Sub;
      continue;
    }
    const nx = normalX[i], ny = normalY[i], nz = normalZ[i];
    const c = nz < 0.05 ? 0.05 : nz > 1 ? 1 : nz;
    // c = 1 (flat faces): exp(-n log 1) = 1 exactly, skip the transcendentals
    const L = c === 1 ? 0 : Math.log(c);
    const Yn = c === 1 ? 1 : Math.exp(-k.n * L);
    LY[2 * i] = L;
    LY[2 * i + 1] = Yn;
    out[i] = m * himParticleY(k, k.y0 * Yn, nx, ny, nz, E[i]) + (1 - m) * Sub;
  }
  return 0;
}

/** The gradients himBackRows sums per row, in its order. */
const HIM_GRADS = ['particleBrightness', 'tiltExponent', 'edgeGain', 'substrateBrightness', 'textureAmplitude', 'diffuse', 'specular', 'shininess'] as const;

export function himBackRows(job: ShadeBackRowsJob<HimConstants>): number {
  const { G, normalX, normalY, normalZ, alpha, T, E, LY, gNormalX, gNormalY, gNormalZ, gAlpha, gT, sums, k, alphaFull, W, rowLo, rowHi } = job;
  const { n, eg, sb, ta, kd, ks, shin, y0, dx, dy, dz, hx, hy, hz } = k;
  const needR = gAlpha !== null;
  for (let y = rowLo; y < rowHi; y++) {
    let gpb = 0, gn = 0, geg = 0, gsb = 0, gta = 0, gkd = 0, gks = 0, gshin = 0;
    for (let i = y * W, i1 = i + W; i < i1; i++) {
      const g = G[i];
      if (g === 0) continue;
      const a = alpha[i], m = a >= alphaFull ? 1 : a / alphaFull;
      // substrate terms, weighted by (1 - m)
      const gSub = g * (1 - m);
      const Sub = sb + ta * T[i];
      gsb += gSub;
      gta += gSub * T[i];
      gT[i] = gSub * ta;
      if (m === 0 && !needR) continue; // pure substrate, no raster gradient wanted
      const nx = normalX[i], ny = normalY[i], nz = normalZ[i];
      if (m === 0) {
        // pure substrate with a raster gradient: only the coverage's, g (P - Sub) / alphaFull
        // (every other term below is multiplied by g m = 0)
        let r4 = 0;
        r4 += (g * (himParticle(k, nx, ny, nz, E[i]) - Sub)) / alphaFull;
        gAlpha![i] = r4;
        continue;
      }
      const inRange = nz >= 0.05 && nz <= 1;
      const c = nz < 0.05 ? 0.05 : nz > 1 ? 1 : nz;
      const L = LY[2 * i], Yn = LY[2 * i + 1]; // log c and Y / y0, from the forward
      const Y = y0 * Yn;
      const nd = nx * dx + ny * dy + nz * dz;
      const r = nd > 0 ? nd : 0;
      const gP = g * m;
      // the raster gradient's normal channels, summed as the terms come
      let r0 = 0, r1 = 0, r2 = 0;
      const nh = nx * hx + ny * hy + nz * hz;
      const qIn = nh >= 1e-6 && nh <= 1;
      const q = nh < 1e-6 ? 1e-6 : nh > 1 ? 1 : nh;
      const qs = Math.pow(q, shin);
      const diff = 1 - kd + kd * r;
      const P = Y * diff + ks * qs + eg * E[i];
      const gFac = gP * diff; // dI/dY
      gkd += gP * Y * (r - 1);
      const gr = nd > 0 ? gP * Y * kd : 0;
      gks += gP * qs;
      gshin += gP * ks * qs * Math.log(q);
      if (needR) {
        const gq = qIn ? gP * ks * shin * Math.pow(q, shin - 1) : 0;
        r0 += gq * hx;
        r1 += gq * hy;
        r2 += gq * hz;
      }
      geg += gP * E[i];
      gpb += gFac * Yn;
      gsb += gFac * Yn; // y0 = sb + pb
      gn -= gFac * Y * L;
      if (!needR) continue;
      r0 += gr * dx;
      r1 += gr * dy;
      r2 += gr * dz + (inRange ? (gFac * Y * -n) / c : 0);
      gNormalX![i] = r0;
      gNormalY![i] = r1;
      gNormalZ![i] = r2;
      if (a < alphaFull) {
        let r4 = 0;
        r4 += (g * (P - Sub)) / alphaFull;
        gAlpha![i] = r4;
      }
    }
    const o = 8 * y;
    sums[o] = gpb; sums[o + 1] = gn; sums[o + 2] = geg; sums[o + 3] = gsb; sums[o + 4] = gta;
    sums[o + 5] = gkd; sums[o + 6] = gks; sums[o + 7] = gshin;
  }
  return 0;
}

export const himModel: ImageFormationModel<HimConstants, 'him'> = {
  name: 'him',
  opName: 'shadeHIM',
  polarity: 'bright',
  castsShadow: false,
  grain: false,
  proximity: false,
  constants: himConstants,
  grads: HIM_GRADS,
  rows: 'himRows',
  backRows: 'himBackRows',
  kernels: { himRows, himBackRows },
  helpers: [himParticle, himParticleY],
};
