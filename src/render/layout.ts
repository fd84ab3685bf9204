/**
 * Particle layouts: the latent configuration phi of one synthetic image. A layout lists, per
 * particle, its centre (x, y, z) in scene units (pixels, see camera.ts), its bounding radius
 * `scale` (the mesh, normalised to bounding radius 1, is scaled by it), a unit rotation
 * quaternion and a per-particle shape seed. Everything is drawn from a seeded Rng.
 *
 * Sizes: scale = baseRadius * s, s ~ lognormal(mu, sigma) | gaussian(mean, std) |
 * bimodal mixture of gaussians (clamped to >= minRelative). The lognormal may be split at its
 * median (`sigmaLow`): ln s = mu + z * (z < 0 ? sigmaLow : sigma), z ~ N(0, 1), so the sizes below
 * the median spread by sigmaLow and those above by sigma (half the particles each side; the
 * quartiles of ln s are mu -/+ 0.674 sigmaLow / sigma). sigmaLow > sigma skews the sizes towards
 * small particles, as real powders' are (docs/realism.md "The shape of the size distribution").
 * Placement:
 *  - uniform: centres uniform over the image, resting on the stage (z = scale); overlaps allowed
 *    (wires may cross).
 *  - packed: up to maxAgglomerates seeds uniform over the image; every further particle picks an
 *    agglomerate and an existing member and is put in contact with it (bounding spheres touch:
 *    |c_new - c_j| = r_new + r_j) in a random direction (in the stage plane for dims 2, on the
 *    upper hemisphere-ish for dims 3, never below the stage), rejected and redrawn if its
 *    bounding sphere would overlap any other particle (tolerance 1e-6 relative). With
 *    `contact` c < 1 both distances shrink by c: touching particles interpenetrate and partly
 *    stack (sintered / pressed agglomerates; bounding spheres of irregular particles also leave
 *    visible gaps at c = 1), and no two particles come closer than c (r_i + r_j). `attach`
 *    'size' picks the host among all particles (agglomerates grow in proportion to their size)
 *    instead of an agglomerate first.
 * Frame: by default agglomerate seeds lie in the central 80 % of the image and every centre inside
 * it, so particles are rarely cut by the image border. With `outside` o > 0 the image is a window
 * into a larger field: seeds (and uniform centres) are drawn over the image grown by o times its
 * side on every edge, and grown particles may lie anywhere in that area, so objects are cut by
 * the frame as in a tile of a micrograph. That grown area is bounded by default: growth steps
 * beyond it are rejected, so agglomerates seeded near its edge grow inwards and the central
 * window holds more than its share of the particles. With `field` 'periodic' it is a torus
 * instead: growth steps wrap around its edges and the overlap test uses the periodic distance, so
 * the placement is the same at every point of the field (stationary) and the window holds the
 * share of its area (docs/realism.md, "A stationary field for the window").
 */
import type { Rng } from '../autodiff/rng.js';
import type { Quat } from './mesh/types.js';
import { randomRotation, zRotation } from './layout-math.js';

export type SizeDistribution =
  | { type: 'lognormal'; mu: number; sigma: number; sigmaLow?: number }
  | { type: 'gaussian'; mean: number; std: number }
  | { type: 'bimodal'; components: { mean: number; std: number; weight: number }[] };

export interface PlacementSpec {
  type: 'uniform' | 'packed';
  dims: 2 | 3;
  maxAgglomerates: number;
  /**
   * Packed placement: centre distance of touching particles as a fraction of the sum of their
   * bounding radii (default 1: bounding spheres touch; smaller: denser, stacked agglomerates).
   */
  contact?: number;
  /**
   * Packed placement: which agglomerate a new particle joins. 'uniform' (default): each
   * agglomerate equally often, so they grow to similar sizes; 'size': in proportion to its size
   * (a random existing particle is the host; a Polya urn), so a few agglomerates grow large and
   * others stay small, as in real powders where one dense cluster sits among small ones.
   */
  attach?: 'uniform' | 'size';
  /**
   * How far beyond the image, as a fraction of its width / height on every side, seeds and
   * particle centres may lie (default 0: seeds in the central 80 %, centres inside the image).
   */
  outside?: number;
  /**
   * With `outside` > 0: the grown area is 'bounded' (default; growth steps beyond it are
   * rejected) or 'periodic' (a torus: growth wraps around its edges, overlaps are tested at the
   * periodic distance). Ignored where `outside` is 0.
   */
  field?: 'bounded' | 'periodic';
  /** Rotation: full uniform random (particles) or about z only (wires lying on the stage). */
  rotation: 'uniform' | 'z';
}

/**
 * Particles per image: min..max, each count equally likely ('uniform', default) or log-uniform
 * ('logUniform': n = floor(exp(U(ln max(1, min), ln(max + 1)))), clamped to [min, max]: many
 * sparse images and a few crowded ones, as patches of real micrographs are, at the same range).
 */
export interface CountSpec {
  min: number;
  max: number;
  dist?: 'uniform' | 'logUniform';
}

export interface LayoutSpec {
  width: number;
  height: number;
  count: CountSpec;
  baseRadius: number;
  size: SizeDistribution;
  placement: PlacementSpec;
  /** Smallest allowed relative size (guards gaussian tails). */
  minRelative?: number;
}

export interface Particle {
  x: number;
  y: number;
  z: number;
  /** Bounding radius in scene units. */
  scale: number;
  rotation: Quat;
  /** Index of the agglomerate (0 for uniform placement). */
  group: number;
  /** Seed for this particle's random shape. */
  shapeSeed: number;
}

export interface Layout {
  width: number;
  height: number;
  particles: Particle[];
}

/** The smallest relative size sampleSize keeps when the layout spec names none (guards gaussian tails). */
export const DEFAULT_MIN_RELATIVE = 0.05;

export function sampleSize(d: SizeDistribution, rng: Rng, minRelative = DEFAULT_MIN_RELATIVE): number {
  let s: number;
  if (d.type === 'lognormal') s = Math.exp(d.sigmaLow === undefined ? rng.normal(d.mu, d.sigma) : splitNormal(d.mu, d.sigmaLow, d.sigma, rng));
  else if (d.type === 'gaussian') s = rng.normal(d.mean, d.std);
  else {
    const total = d.components.reduce((a, c) => a + c.weight, 0);
    let u = rng.uniform() * total;
    let c = d.components[d.components.length - 1];
    for (const comp of d.components) {
      if (u < comp.weight) {
        c = comp;
        break;
      }
      u -= comp.weight;
    }
    s = rng.normal(c.mean, c.std);
  }
  return Math.max(s, minRelative);
}

/** mu + z * (z < 0 ? low : high), z ~ N(0, 1): a normal whose halves spread by `low` and `high` (median mu). */
export function splitNormal(mu: number, low: number, high: number, rng: Rng): number {
  const z = rng.normal();
  return mu + z * (z < 0 ? low : high);
}

/** One draw of the particle count (CountSpec). */
export function sampleCount(c: CountSpec, rng: Rng): number {
  if (c.dist !== 'logUniform' || c.max <= c.min) return c.min + rng.int(c.max - c.min + 1);
  const n = Math.floor(Math.exp(rng.range(Math.log(Math.max(1, c.min)), Math.log(c.max + 1))));
  return Math.min(c.max, Math.max(c.min, n));
}

function rotationFor(spec: PlacementSpec, rng: Rng): Quat {
  return spec.rotation === 'z' ? zRotation(rng.range(0, 2 * Math.PI)) : randomRotation(rng);
}

export function sampleLayout(spec: LayoutSpec, rng: Rng): Layout {
  const { width: W, height: H } = spec;
  const n = sampleCount(spec.count, rng);
  const particles: Particle[] = [];
  const pl = spec.placement;
  const newParticle = (x: number, y: number, z: number, scale: number, group: number): Particle => ({
    x, y, z, scale, group, rotation: rotationFor(pl, rng), shapeSeed: rng.nextUint32(),
  });
  const out = pl.outside ?? 0;
  // The area centres may occupy: the image, grown by `outside` on every side.
  const x0 = -out * W, x1 = (1 + out) * W, y0 = -out * H, y1 = (1 + out) * H;
  if (pl.type === 'uniform') {
    for (let i = 0; i < n; i++) {
      const s = spec.baseRadius * sampleSize(spec.size, rng, spec.minRelative);
      particles.push(newParticle(rng.range(x0, x1), rng.range(y0, y1), s, s, 0));
    }
    return { width: W, height: H, particles };
  }
  const k = Math.max(1, Math.min(n, 1 + rng.int(pl.maxAgglomerates)));
  const contact = pl.contact ?? 1;
  // A periodic field's sides (0: bounded): offsets are taken to the nearest periodic copy.
  const periodX = out > 0 && pl.field === 'periodic' ? x1 - x0 : 0;
  const periodY = periodX > 0 ? y1 - y0 : 0;
  const overlaps = (x: number, y: number, z: number, r: number): boolean => {
    for (const p of particles) {
      const d = Math.hypot(periodicOffset(x - p.x, periodX), periodicOffset(y - p.y, periodY), z - p.z);
      if (d < contact * (r + p.scale) * (1 - 1e-6)) return true;
    }
    return false;
  };
  // Seeds: the central 80 % of the image, or with `outside` the whole grown area.
  const inset = 0.1;
  const sx0 = out > 0 ? x0 : W * inset, sx1 = out > 0 ? x1 : W * (1 - inset);
  const sy0 = out > 0 ? y0 : H * inset, sy1 = out > 0 ? y1 : H * (1 - inset);
  for (let g = 0; g < k && particles.length < n; g++) {
    const s = spec.baseRadius * sampleSize(spec.size, rng, spec.minRelative);
    for (let attempt = 0; attempt < 50; attempt++) {
      const x = rng.range(sx0, sx1), y = rng.range(sy0, sy1);
      if (!overlaps(x, y, s, s)) {
        // group ids stay contiguous when a seed finds no free place (the growth loop below
        // picks a group by index and needs every one to have a member)
        particles.push(newParticle(x, y, s, s, particles.length));
        break;
      }
    }
  }
  const groups = particles.length;
  while (particles.length < n) {
    const s = spec.baseRadius * sampleSize(spec.size, rng, spec.minRelative);
    let placed = false;
    for (let attempt = 0; attempt < 60 && !placed; attempt++) {
      let host: Particle;
      if (pl.attach === 'size') host = particles[rng.int(particles.length)];
      else {
        const g = rng.int(groups);
        const members = particles.filter((p) => p.group === g);
        host = members[rng.int(members.length)];
      }
      const g = host.group;
      let dx: number, dy: number, dz: number;
      if (pl.dims === 2) {
        const a = rng.range(0, 2 * Math.PI);
        dx = Math.cos(a); dy = Math.sin(a); dz = 0;
      } else {
        dx = rng.normal(); dy = rng.normal(); dz = Math.abs(rng.normal()) * 0.7;
        const l = Math.hypot(dx, dy, dz) || 1;
        dx /= l; dy /= l; dz /= l;
      }
      const d = contact * (host.scale + s);
      const x = host.x + dx * d, y = host.y + dy * d;
      // 2-D: everything rests on the stage (z = own radius); contact is then measured in 3-D,
      // so differing radii are placed at the in-plane distance that makes the spheres touch.
      let z = host.z + dz * d;
      let px = x, py = y;
      if (pl.dims === 2) {
        z = s;
        const dzz = host.z - s;
        const planar = Math.sqrt(Math.max(d * d - dzz * dzz, 0));
        px = host.x + dx * planar;
        py = host.y + dy * planar;
      }
      if (z < s) continue; // never below the stage
      if (periodX > 0) {
        px = wrapInto(px, x0, periodX);
        py = wrapInto(py, y0, periodY);
      } else if (px < x0 || px > x1 || py < y0 || py > y1) continue;
      if (overlaps(px, py, z, s)) continue;
      particles.push(newParticle(px, py, z, s, g));
      placed = true;
    }
    if (!placed) break;
  }
  return { width: W, height: H, particles };
}

/** The offset d taken to the nearest periodic copy, in [-period / 2, period / 2] (period 0: d). */
export function periodicOffset(d: number, period: number): number {
  return period > 0 ? d - period * Math.round(d / period) : d;
}

/** v wrapped into [start, start + period). */
export function wrapInto(v: number, start: number, period: number): number {
  const u = (v - start) % period;
  const w = u < 0 ? u + period : u;
  return start + (w < period ? w : 0); // u + period rounds to period for tiny negative u
}

/**
 * The layout as a fixed-length feature vector for the generator's FCN: `maxParticles` slots of
 * (x / width, y / height, z / width, scale / width, present) in layout order, zero-padded; then
 * the particle count / maxParticles. Length 5 * maxParticles + 1.
 */
export function layoutFeatures(layout: Layout, maxParticles = 32): Float32Array {
  const f = new Float32Array(5 * maxParticles + 1);
  const n = Math.min(layout.particles.length, maxParticles);
  for (let i = 0; i < n; i++) {
    const p = layout.particles[i];
    f.set([p.x / layout.width, p.y / layout.height, p.z / layout.width, p.scale / layout.width, 1], 5 * i);
  }
  f[5 * maxParticles] = layout.particles.length / maxParticles;
  return f;
}
