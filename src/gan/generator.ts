/**
 * The generator G(phi) = f_noise(f_r(f_fcn(phi), theta_other), sigma) (METHOD.md): the ParamNet
 * maps a scene's layout features to the learned parameters in (0, 1), which are mapped linearly
 * into their [min, max] ranges and joined with the fixed ones (theta_other); the renderer (with
 * the noise stage inside its image formation) turns each scene into an image.
 */
import { Tensor, allocData, type DType } from '../autodiff/tensor.js';
import { add, matmul, reshape, slice, concat } from '../autodiff/ops/index.js';
import type { Rng } from '../autodiff/rng.js';
import { PARAMETER_TABLE, PARAM_NAMES, isParamName, paramIndex, paramsVector } from '../render/params.js';
import { layoutFeatures } from '../render/layout.js';
import { renderScene, type Scene } from '../render/scene.js';
import { ConfigError } from '../errors.js';

/** Number of particles whose features the ParamNet sees (zero-padded; see layoutFeatures). */
export const FEATURE_PARTICLES = 32;
export const FEATURE_SIZE = 5 * FEATURE_PARTICLES + 1;

export function validateLearned(names: readonly string[]): string[] {
  for (const n of names) if (!isParamName(n)) throw new ConfigError('learned', `unknown parameter '${n}'; allowed: ${PARAM_NAMES.join(', ')}`);
  if (names.length === 0) throw new ConfigError('learned', 'at least one parameter must be learned');
  if (new Set(names).size !== names.length) throw new ConfigError('learned', 'a parameter is listed twice');
  return [...names];
}

/**
 * The affine map from the ParamNet's outputs s [B, L] to full parameter vectors [B, P]:
 * params = base + s @ S, where S holds (max - min) at (l, index of learned parameter l) and base
 * holds the fixed values and the minima of the learned ones.
 */
export class ParamMapping {
  readonly base: Tensor;
  readonly scale: Tensor;
  /**
   * `ranges` narrows the [min, max] of some learned parameters (a run's GanConfig.ranges: bounds
   * around the values calibrated from the real images); the others keep the parameter table's.
   */
  constructor(readonly learned: readonly string[], fixedValues: Record<string, number>, dtype: DType = 'float32', readonly ranges: Readonly<Record<string, readonly [number, number]>> = {}) {
    const P = PARAMETER_TABLE.length;
    const base = allocData(dtype, P);
    const S = allocData(dtype, learned.length * P);
    base.set(paramsVector({ params: fixedValues }));
    learned.forEach((name, l) => {
      const i = paramIndex(name);
      const [lo, hi] = this.range(name);
      base[i] = lo;
      S[l * P + i] = hi - lo;
    });
    this.base = new Tensor(base, [P]);
    this.scale = new Tensor(S, [learned.length, P]);
  }

  map(s: Tensor): Tensor {
    return add(matmul(s, this.scale), this.base);
  }

  /** Learned parameters in physical units from s (no tape). */
  physical(s: ArrayLike<number>): Record<string, number> {
    const out: Record<string, number> = {};
    this.learned.forEach((name, l) => {
      const [lo, hi] = this.range(name);
      out[name] = lo + s[l] * (hi - lo);
    });
    return out;
  }

  /** The [min, max] a learned parameter is mapped into. */
  range(name: string): [number, number] {
    return learnedRange(name, this.ranges);
  }
}

/**
 * The [min, max] a learned parameter is mapped into: its entry in a run's GanConfig.ranges (the
 * calibrated bounds), else the parameter table's. The generator maps into it, and the best-epoch
 * rule and the report measure spreads against it.
 */
export function learnedRange(name: string, ranges: Readonly<Record<string, readonly [number, number]>> = {}): [number, number] {
  const r = ranges[name];
  if (r) return [r[0], r[1]];
  const p = PARAMETER_TABLE[paramIndex(name)];
  return [p.min, p.max];
}

/** Layout features of several scenes as one batch [B, FEATURE_SIZE]. */
export function featureBatch(scenes: readonly Scene[], dtype: DType = 'float32'): Tensor {
  const data = allocData(dtype, scenes.length * FEATURE_SIZE);
  scenes.forEach((s, b) => data.set(layoutFeatures(s.layout, FEATURE_PARTICLES), b * FEATURE_SIZE));
  return new Tensor(data, [scenes.length, FEATURE_SIZE]);
}

/**
 * Fresh noise and substrate texture for each rendering, so the discriminator cannot memorise a
 * scene's fixed noise image (the reference draws new Monte-Carlo and sensor noise every render).
 */
export function refreshStochastics(scene: Scene, rng: Rng): void {
  const n = scene.noise;
  for (let i = 0; i < n.length; i++) n[i] = rng.normal();
  scene.textureSeed = rng.nextUint32() | 0;
}

/**
 * Renders a batch: params [B, P] (on the tape) -> images [B, 1, H, W]. Given `verts`, each
 * scene's projected vertices are made a leaf that requires gradients and pushed there (the
 * learned size reads their gradients; learned-size.ts).
 */
export function renderBatch(scenes: readonly Scene[], params: Tensor, rng: Rng | null, verts?: Tensor[]): Tensor {
  const images = scenes.map((scene, b) => {
    if (rng) refreshStochastics(scene, rng);
    const p = reshape(slice(params, [[b, b + 1]]), [params.shape[1]]);
    if (verts) {
      const r = renderScene(scene, p, { masks: false, vertsRequireGrad: true });
      verts.push(r.verts);
      return r.image;
    }
    // Geometry is fixed per configuration, so its soft raster is computed once and reused.
    return renderScene(scene, p, { masks: false, cacheRaster: true }).image;
  });
  return images.length === 1 ? images[0] : concat(images, 0);
}
