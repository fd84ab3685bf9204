/**
 * The fixed maps of the image formation: the edge (rim) map E and the shadow map Sh, both made
 * from the raster's soft coverage alpha and the scene's geometry settings, never from the
 * parameters, so they carry no gradient and are memoised: a few recent alphas are kept as copies
 * and a new alpha reuses an entry only when it is equal element by element (exact, so the results
 * are the same as recomputing; a mismatch usually stops at the first few pixels).
 */
import { blurRaw } from './blur.js';
import { lanesInstalled } from '../lanes/lanes.js';
import { allShared, copyShared } from '../lanes/shared.js';
import { RecentResults } from './recent.js';

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

/** What the maps depend on besides alpha. */
export interface FixedMapSettings {
  width: number;
  height: number;
  /** Rim width (px) of the edge map (default 2). */
  edgeWidth?: number;
  /** The shadow map's length (px, default 4) and direction (cast away from the detector at this azimuth); null: no shadow map. */
  shadow: { azimuthDeg: number; length?: number } | null;
}

export interface FixedMaps {
  E: Float64Array;
  /** The wide rim map: the edge map at 3 x the rim width (fades over a longer distance to the silhouette). */
  E2: Float64Array;
  /** null when the settings ask for no shadow map. */
  Sh: Float64Array | null;
}

interface CacheEntry extends FixedMaps {
  key: string;
  alpha: Float64Array;
}
const fixedCache = new RecentResults<CacheEntry>(4);

/** Empties the memo (tests compare it with fresh results). */
export function clearFixedMapCache(): void {
  fixedCache.clear();
}

function sameAlpha(a: Float64Array, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The maps of a raster's alpha channel (memoised; in shared memory when raster lanes are installed). */
export function fixedMaps(alphaRaw: ArrayLike<number>, s: FixedMapSettings): FixedMaps {
  const H = s.height, W = s.width;
  const key = `${H},${W},${s.edgeWidth},${s.shadow ? `${s.shadow.length},${s.shadow.azimuthDeg}` : 'none'}`;
  const c = fixedCache.find((e) => e.key === key && sameAlpha(e.alpha, alphaRaw));
  if (c) {
    if (lanesInstalled() && !allShared(c.E, c.E2, c.Sh)) {
      // made before the lanes were installed: move to shared memory (same values)
      c.E = copyShared(c.E);
      c.E2 = copyShared(c.E2);
      c.Sh = c.Sh && copyShared(c.Sh);
    }
    return c;
  }
  const alpha = coverage(alphaRaw);
  // in shared memory when raster lanes are installed (the shading op's rows may run on them)
  const sh = (a: Float64Array): Float64Array => (lanesInstalled() ? copyShared(a) : a);
  const E = sh(edgeMap(alpha, H, W, s.edgeWidth));
  const E2 = sh(edgeMap(alpha, H, W, 3 * (s.edgeWidth ?? 2)));
  const Sh = s.shadow ? sh(shadowMap(alpha, H, W, s.shadow.azimuthDeg, s.shadow.length)) : null;
  fixedCache.add({ key, alpha: Float64Array.from(alphaRaw), E, E2, Sh });
  return { E, E2, Sh };
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
