/**
 * The learned size distribution (train --learn-size on; docs/realism.md "Learned size
 * distribution"): two global scalars the GAN fits through the rasterizer's vertex gradients,
 * a log-size shift `a` and a log-spread factor `b`. A particle's relative size, lognormal in the
 * scene config (layout.ts: ln s = mu + sigma z, z ~ N(0, 1); sigmaLow below the median), becomes
 *
 *   ln s = (mu + a) + e^b sigma z,   i.e.  s = s0 exp(a + (e^b - 1) sigma z),
 *
 * the scene config's size at a = b = 0. Folding a and b into the config's lognormal (mu + a,
 * sigma e^b, sigmaLow e^b) draws the same deviates z from the same random stream, and the
 * placement then uses the new sizes, so the masks stay exact (they are rasterized from the same
 * meshes). Sizes clamped to the smallest relative size (layout.ts) do not move with a and b.
 *
 * The gradient: a particle's mesh is its unit mesh scaled by s_i about its centre c_i
 * (scene.ts: transformMesh), so with the centre held, dv/ds_i = (v - c_i) / s_i for each of its
 * vertices v, and with an orthographic camera the projected vertices are the world ones. Hence
 *   dL/da = sum_i sum_{v of i} dL/dv . (v - c_i)            (ds_i/da = s_i)
 *   dL/db = sum_i [sum_{v of i} dL/dv . (v - c_i)] (ln(s_i / R) - mu')   (ds_i/db = s_i e^b sigma z_i)
 * with R the base radius and mu' = mu + a the folded median. How the placement moves the centres
 * when the sizes change is not differentiated (the centres are redrawn with the sizes).
 */
import type { SceneConfig } from '../render/config.js';
import type { Scene } from '../render/scene.js';
import { DEFAULT_MIN_RELATIVE } from '../render/layout.js';

export interface LearnedSize {
  /** Log-size shift: every unclamped size times e^a (the median too). */
  a: number;
  /** Log-spread factor: the lognormal's sigma (and sigmaLow) times e^b. */
  b: number;
}

export const NO_SIZE_CHANGE: LearnedSize = { a: 0, b: 0 };

/**
 * The range a and b are clamped to after each update: sizes x0.61 to x1.65 and spreads x0.50 to
 * x2.0. Wider than any gap between the calibrated scene and the real images measured so far
 * (the statistic's median particle area -23 / -26 %, a ~ +0.13-0.15 in log-size; the exact
 * sizes' -13 / -7 %, a ~ +0.04-0.07; the area quartile ratios within 10 %), narrow enough that a
 * runaway GAN cannot make particles vanish or fill the patch.
 */
export const SIZE_SHIFT_RANGE: readonly [number, number] = [-0.5, 0.5];
export const SIZE_SPREAD_RANGE: readonly [number, number] = [-0.7, 0.7];

/**
 * Adam's learning rate for a and b: Adam moves each by about lr per step at most, so a log-size
 * change of at most 0.5 % per step (the brief's <= 1 %): a gap of ~0.13 takes >= 26 steps of a
 * consistent gradient, a 480-step standard run could cross the whole shift range twice, and one
 * noisy step (batch 1) changes the sizes by at most 0.5 %.
 */
export const SIZE_LR = 0.005;

/** Why the learned size cannot be used with this scene (naming what to change), or null. */
export function learnSizeProblem(scene: SceneConfig): string | null {
  if (scene.particles.size.type !== 'lognormal') return `--learn-size needs a lognormal particle size distribution (this scene's is ${scene.particles.size.type})`;
  if (scene.particles.shape === 'wire') return "--learn-size does not support particles.shape 'wire' (a wire's length does not scale with its radius)";
  if (scene.camera.kind !== 'orthographic') return `--learn-size needs the orthographic camera (this scene's is ${scene.camera.kind}; the size gradient assumes projected = world vertices)`;
  return null;
}

/** The scene config with a and b folded into its lognormal size distribution (the same object at a = b = 0). */
export function withLearnedSize(scene: SceneConfig, size: LearnedSize): SceneConfig {
  if (size.a === 0 && size.b === 0) return scene;
  const d = scene.particles.size;
  if (d.type !== 'lognormal') throw new Error(learnSizeProblem(scene) ?? 'not a lognormal size distribution');
  const f = Math.exp(size.b);
  const folded = { type: 'lognormal' as const, mu: d.mu + size.a, sigma: d.sigma * f, ...(d.sigmaLow !== undefined ? { sigmaLow: d.sigmaLow * f } : {}) };
  return { ...scene, particles: { ...scene.particles, size: folded } };
}

/** The particle each vertex of the scene's merged mesh belongs to (from its faces' owners). */
export function vertexOwners(scene: Scene): Int32Array {
  const owner = new Int32Array(scene.mesh.positions.length / 3).fill(-1);
  const faces = scene.mesh.faces;
  for (let f = 0; f < scene.faceOwner.length; f++) {
    for (let k = 0; k < 3; k++) owner[faces[3 * f + k]] = scene.faceOwner[f];
  }
  return owner;
}

/**
 * dL/da and dL/db of a loss L of the scene's rendering, from dL/dv of its projected vertices
 * (renderScene's `verts` with vertsRequireGrad, [nv, 3]); the scene must have been sampled from
 * a config with a and b folded in (withLearnedSize), whose lognormal gives mu' = mu + a.
 */
export function sizeGradient(scene: Scene, vertsGrad: ArrayLike<number>): LearnedSize {
  const problem = learnSizeProblem(scene.config);
  if (problem) throw new Error(problem);
  const pos = scene.mesh.positions;
  if (vertsGrad.length !== pos.length) throw new Error(`sizeGradient: ${vertsGrad.length / 3} vertex gradients for ${pos.length / 3} vertices`);
  const particles = scene.layout.particles;
  // sum over each particle's vertices of dL/dv . (v - c_i)
  const q = new Float64Array(particles.length);
  const owner = vertexOwners(scene);
  for (let v = 0; v < owner.length; v++) {
    const i = owner[v];
    if (i < 0) continue;
    const p = particles[i];
    q[i] += vertsGrad[3 * v] * (pos[3 * v] - p.x) + vertsGrad[3 * v + 1] * (pos[3 * v + 1] - p.y) + vertsGrad[3 * v + 2] * (pos[3 * v + 2] - p.z);
  }
  const { baseRadius } = scene.config.particles;
  const mu = (scene.config.particles.size as { mu: number }).mu;
  let da = 0, db = 0;
  particles.forEach((p, i) => {
    // A clamped size is the constant baseRadius * minRelative: neither a nor b moves it.
    if (p.scale <= baseRadius * DEFAULT_MIN_RELATIVE * (1 + 1e-9)) return;
    da += q[i];
    db += q[i] * (Math.log(p.scale / baseRadius) - mu);
  });
  return { a: da, b: db };
}

/** a and b clamped to their ranges. */
export function clampLearnedSize(size: LearnedSize): LearnedSize {
  const clamp = (v: number, [lo, hi]: readonly [number, number]) => Math.min(hi, Math.max(lo, v));
  return { a: clamp(size.a, SIZE_SHIFT_RANGE), b: clamp(size.b, SIZE_SPREAD_RANGE) };
}

/** "size shift a +0.0123 (sizes x1.012), spread b -0.0040 (x0.996)" for logs. */
export function formatLearnedSize(size: LearnedSize): string {
  const sign = (v: number) => (v >= 0 ? '+' : '') + v.toFixed(4);
  return `size shift a ${sign(size.a)} (sizes x${Math.exp(size.a).toFixed(3)}), spread b ${sign(size.b)} (x${Math.exp(size.b).toFixed(3)})`;
}
