/**
 * Transmission image formation (TEM / STEM bright field, transmission SEM): dark particles on a
 * bright, mottled support film. Composed from engine ops (each gradient-checked with its op), so
 * every parameter gets its gradient from the tape; no hand-written backward.
 *
 * Input: the raster of a transmission scene [5, H, W], whose first two channels are the blended
 * per-vertex path lengths (thickness.ts): t, the material the beam crosses at the pixel, and
 * t_d, the same weighted by each particle's diffraction strength u_k in [0, 1] (pixels).
 *
 *   film(x, y) = filmBrightness (1 + filmGradientX (x / W - 1/2) + filmGradientY (y / H - 1/2))
 *                               (1 - filmMottle T(x, y)) (1 - filmResidue B(x, y))
 *   I          = film exp(-massAttenuation t - diffractionContrast t_d)
 *
 * - mass-thickness contrast: the unscattered fraction of the beam falls off exponentially with
 *   the path length through the particle (Beer-Lambert with an effective attenuation per pixel
 *   of path, which folds in the material's density and the objective aperture);
 * - diffraction contrast: a crystalline particle oriented near a Bragg condition scatters more
 *   out of the aperture than its mass thickness says, so particles of one material differ in
 *   darkness (per-particle u_k, drawn with the scene; diffractionContrast 0 turns it off);
 * - the support film (amorphous carbon): the transmitted brightness filmBrightness, its mottle
 *   (T: the band-passed noise pattern of texture.ts, from textureScale / textureWidth /
 *   textureLevel, darkening by up to filmMottle), grey patches of residue on it (contamination,
 *   thicker film: B, a fixed large-scale blotch pattern of the same noise, RESIDUE_PATTERN, darkening
 *   by up to filmResidue; some TiO2-TSEM micrographs show them, and a segmenter that never saw
 *   them takes them for particles) and a linear brightness gradient across the field (uneven
 *   illumination / film thickness);
 * then the common stages: Gaussian blur (blurSigma) and Gaussian + shot noise (noise.ts). The
 * film term multiplies the particles too: the beam crosses the film under them as well.
 * t -> 0 towards a silhouette (the chords shrink), so particle edges are soft but exact where the
 * masks put them; the coverage alpha is not needed.
 */
import * as ops from '../../autodiff/ops/index.js';
import { Tensor, allocData, type DType } from '../../autodiff/tensor.js';
import { substrateTexture } from './texture.js';
import type { ParamName } from '../params.js';

/** The transmission model's record (models.ts). */
export const transmissionModel = { name: 'transmission', polarity: 'dark' } as const;

/**
 * The raster channels of a transmission scene: the renderer rasterizes per-vertex attributes
 * (t, t_d, 0, 1) instead of the shaded models' (normal x, y, z, 1), so of its [5, H, W] raster
 * channel 0 holds t, channel 1 t_d (the Fragments names normalX / normalY do not apply) and
 * channel 4 the coverage alpha (unused here).
 */
export const TRANSMISSION_CHANNELS = { thickness: 0, diffractionThickness: 1 } as const;

/**
 * The residue pattern B: texture.ts's noise with fixed settings that give large soft blotches with
 * darker rims (about 50 px across) rather than thin lines; its own seed, so it does not follow the
 * mottle.
 */
export const RESIDUE_PATTERN = { scale: 0.02, width: 0.12, level: 0.7, octaves: 3, seedXor: 0x2c1b3c6d } as const;

/**
 * The residue pattern B [H, W] in (0, 1] of a scene (a constant: its settings are fixed), in the
 * parameters' dtype: a float64 constant would turn a float32 render into float64 (and every
 * discriminator convolution after it onto the slow float64 path).
 */
export function residuePattern(W: number, H: number, textureSeed: number, dtype: DType): Tensor {
  const c = (v: number): Tensor => new Tensor(allocData(dtype, 1).fill(v), [1]);
  const r = RESIDUE_PATTERN;
  return substrateTexture(c(r.scale), c(r.width), c(r.level), { width: W, height: H, seed: (textureSeed ^ r.seedXor) | 0, octaves: r.octaves });
}

/** x / W - 1/2 (column) or y / H - 1/2 (row) at pixel centres, as an [H, W] constant. */
function ramp(W: number, H: number, axis: 'x' | 'y', dtype: 'float32' | 'float64'): Tensor {
  const d = allocData(dtype, W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) d[y * W + x] = axis === 'x' ? (x + 0.5) / W - 0.5 : (y + 0.5) / H - 0.5;
  return new Tensor(d, [H, W]);
}

/**
 * The pre-blur transmission image [H, W]. `p(name)` gives a parameter as a [1] tensor (a slice of
 * the parameter vector), `T` the film's mottle pattern and `B` its residue pattern, [H, W] in [0, 1].
 */
export function transmissionImage(raster: Tensor, p: (name: ParamName) => Tensor, T: Tensor, B: Tensor): Tensor {
  const [, H, W] = raster.shape;
  const channel = (c: number): Tensor => ops.reshape(ops.slice(raster, [[c, c + 1]]), [H, W]);
  const t = channel(TRANSMISSION_CHANNELS.thickness);
  const td = channel(TRANSMISSION_CHANNELS.diffractionThickness);
  const dtype = raster.dtype === 'float64' || p('filmBrightness').dtype === 'float64' ? 'float64' : 'float32';
  const gradient = ops.add(ops.add(ops.mul(p('filmGradientX'), ramp(W, H, 'x', dtype)), ops.mul(p('filmGradientY'), ramp(W, H, 'y', dtype))), 1);
  const film = ops.mul(ops.mul(ops.mul(p('filmBrightness'), gradient), ops.sub(1, ops.mul(p('filmMottle'), T))), ops.sub(1, ops.mul(p('filmResidue'), B)));
  const attenuation = ops.add(ops.mul(p('massAttenuation'), t), ops.mul(p('diffractionContrast'), td));
  return ops.mul(film, ops.exp(ops.neg(attenuation)));
}
