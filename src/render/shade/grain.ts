/**
 * The particles' surface grain g (SEM, particleGrain): a fixed field of 1-2 px features with zero
 * mean and unit standard deviation over the image, per texture seed. Real TiO2 particle bodies
 * are finely mottled (surface roughness below the resolved scale tilts the surface from pixel to
 * pixel); the shading multiplies the particle yield by 1 + particleGrain g. Value noise
 * (texture.ts's field, one octave) at GRAIN_SCALE cycles / pixel, normalised: neighbouring pixels
 * correlate by about 0.66, pixels 2 apart by 0.18 (the dev-pool micrographs' fine residual: 0.31
 * and 0.09 after their blur-free detector noise is mixed in). A first version at 0.25 and 0.5
 * cycles / pixel (4-8 px blotches) let the GAN paint a coarse camouflage mottle. Fixed (no
 * gradient): only its amplitude is learned. Memoised per (size, seed); in shared memory when the
 * raster lanes are installed (the shading's rows may run on them). Read only.
 */
import { bandNoise } from './texture.js';
import { lanesInstalled } from '../lanes/lanes.js';
import { allShared, copyShared } from '../lanes/shared.js';
import { RecentResults } from './recent.js';

/** Spatial frequency of the grain's lattice (cycles / pixel: a new value every 2 px). */
export const GRAIN_SCALE = 0.5;
/** Mixed into the texture seed, so the grain is not the substrate's field at another scale. */
const GRAIN_SEED_XOR = 0x5a17c3e1;

interface GrainEntry {
  W: number;
  H: number;
  seed: number;
  g: Float64Array;
}
const grainCache = new RecentResults<GrainEntry>(4);

/** Empties the memo (tests compare it with fresh results). */
export function clearGrainCache(): void {
  grainCache.clear();
}

/** The grain field (row-major H x W), memoised. */
export function grainField(W: number, H: number, seed: number): Float64Array {
  const e = grainCache.find((c) => c.W === W && c.H === H && c.seed === seed);
  if (e) {
    if (lanesInstalled() && !allShared(e.g)) e.g = copyShared(e.g); // made before the lanes were installed
    return e.g;
  }
  const { n } = bandNoise(GRAIN_SCALE, W, H, (seed ^ GRAIN_SEED_XOR) | 0, 1);
  let s = 0;
  for (let i = 0; i < n.length; i++) s += n[i];
  const m = s / n.length;
  let v = 0;
  for (let i = 0; i < n.length; i++) v += (n[i] - m) ** 2;
  const inv = v > 0 ? 1 / Math.sqrt(v / n.length) : 0;
  for (let i = 0; i < n.length; i++) n[i] = (n[i] - m) * inv;
  const g = lanesInstalled() ? copyShared(n) : n;
  grainCache.add({ W, H, seed, g });
  return g;
}
