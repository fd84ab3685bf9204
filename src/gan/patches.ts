/**
 * Real training patches for the discriminator: crop the microscope's data bar, tile each image
 * into patch x patch squares, drop the patches that show no particle, and augment a patch by one
 * of the 8 symmetries of the square. Pure: runs in a browser.
 *
 * The "empty patch" rule needs no annotation. Per source image (after the crop), Otsu's threshold
 * t splits the pixels into particle-like and background ones, on the side the images' contrast
 * polarity says (particles/polarity.ts): SEM particles and their rims are brighter than the stage,
 * transmission (TSEM / TEM) particles darker than the film. A patch is kept when
 *   - its particle fraction lies in [minParticle, maxParticle] = [1 %, 95 %]: below 1 % it holds at
 *     most a sliver of a particle cut by the tile edge or a speck of debris; above 95 % it is the
 *     inside of an agglomerate with no background in it;
 *   - and the standard deviation of its grey values is at least minStd = 0.035 (grey units in
 *     [0, 1]): a second guard against flat or smoothly shaded stage whose particle fraction passes.
 * Checked on the 24 dev-pool TiO2-SEM images (data bar cropped to 1024 x 704; 256 px tiles,
 * non-overlapping, the last column / row aligned to the edge: 12 tiles per image, 288 in all),
 * with the dev-pool masks read only to report this statistic. 215 tiles hold >= 1 % particle
 * pixels by the masks, 56 hold none. The rule keeps 215 tiles (75 %): 214 with >= 1 % particle
 * and one with 0.96 %; no kept tile has less than 0.5 %; mean particle fraction of the kept
 * tiles 14 %. It drops 73: 72 with < 1 % particle (56 empty) and one with 1.9 %. The std floor
 * lies between the largest std of an empty tile (0.029) and the smallest of a kept one (0.041);
 * on this data the particle-fraction test alone already decides every tile. The highest particle
 * fraction of any tile is 0.49, so the upper bound never binds here (it matters for dense HIM
 * agglomerates).
 */
import { InputError, UserError } from '../errors.js';
import type { Rng } from '../autodiff/rng.js';
import { otsuThreshold } from '../particles/otsu.js';
import { brightParticleView, particleFractionAt, type Polarity } from '../particles/polarity.js';

/** A greyscale image: row-major, values in [0, 1]. `GreyImage` from src/io satisfies it. */
export interface Grey {
  width: number;
  height: number;
  data: Float32Array;
}

export interface PatchFilter {
  /** Lowest accepted fraction of pixels on the particle side of the image's Otsu threshold. */
  minParticle: number;
  /** Highest accepted fraction of such pixels. */
  maxParticle: number;
  /** Lowest accepted standard deviation of the patch's grey values. */
  minStd: number;
}

/** Defaults of the empty-patch rule; the numbers are justified in the module comment. */
export const DEFAULT_PATCH_FILTER: PatchFilter = { minParticle: 0.01, maxParticle: 0.95, minStd: 0.035 };

export interface PatchOptions {
  /** Whether particles are brighter or darker than the background (detected or given; particles/polarity.ts). */
  polarity: Polarity;
  /** Side of the square patches (default 256). */
  patch?: number;
  /** Step between patch origins (default = patch: non-overlapping). */
  stride?: number;
  /** Rows removed from the bottom of every image first (the data bar; TiO2-SEM: 64). Default 0. */
  cropBottom?: number;
  /** The empty-patch rule; `false` keeps every tile. Default DEFAULT_PATCH_FILTER. */
  filter?: Partial<PatchFilter> | false;
}

export interface Patch {
  /** Name of the source image. */
  source: string;
  /** Top-left corner in the (cropped) source image. */
  x: number;
  y: number;
  size: number;
  /** size * size grey values, row-major. */
  data: Float32Array;
  /** Fraction of pixels on the particle side of the source image's Otsu threshold. */
  particleFraction: number;
  /** Standard deviation of the grey values. */
  std: number;
}

export interface PatchSet {
  kept: Patch[];
  /** Tiles dropped by the empty-patch rule, each with the reason. */
  skipped: { patch: Patch; reason: string }[];
}

/** The image without its bottom `rows` rows (a view-free copy). */
export function cropBottom(image: Grey, rows: number, name = 'image'): Grey {
  if (!Number.isInteger(rows) || rows < 0) throw new UserError(`cropBottom must be an integer >= 0 (got ${rows})`);
  if (rows >= image.height) {
    throw new UserError(`${name}: cannot crop ${rows} rows from an image ${image.height} px high`);
  }
  const height = image.height - rows;
  return { width: image.width, height, data: image.data.slice(0, image.width * height) };
}

/**
 * Origins 0, stride, 2 stride, ... of tiles of `patch` px along a side of `size` px, plus one
 * tile aligned to the far edge when the regular grid leaves pixels uncovered.
 */
export function tileOrigins(size: number, patch: number, stride: number): number[] {
  if (size < patch) return [];
  const out: number[] = [];
  for (let o = 0; o + patch <= size; o += stride) out.push(o);
  if (out[out.length - 1] + patch < size) out.push(size - patch);
  return out;
}

function checkPositiveInt(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 1) throw new UserError(`${what} must be an integer >= 1 (got ${v})`);
}

/** Mean and standard deviation (population) of a patch. */
function meanStd(d: Float32Array): { mean: number; std: number } {
  let s = 0;
  for (let i = 0; i < d.length; i++) s += d[i];
  const mean = s / d.length;
  let v = 0;
  for (let i = 0; i < d.length; i++) v += (d[i] - mean) ** 2;
  return { mean, std: Math.sqrt(v / d.length) };
}

/** Why a patch fails the rule, or null when it is kept. */
export function rejectReason(particleFraction: number, std: number, filter: PatchFilter): string | null {
  if (particleFraction < filter.minParticle) return `particle fraction ${particleFraction.toFixed(4)} < ${filter.minParticle}`;
  if (particleFraction > filter.maxParticle) return `particle fraction ${particleFraction.toFixed(4)} > ${filter.maxParticle}`;
  if (std < filter.minStd) return `std ${std.toFixed(4)} < ${filter.minStd}`;
  return null;
}

/** Tiles one image (after cropping its data bar) and splits the tiles into kept and skipped. */
export function extractPatches(image: Grey, name: string, options: PatchOptions): PatchSet {
  const patch = options.patch ?? 256;
  const stride = options.stride ?? patch;
  checkPositiveInt(patch, 'patch');
  checkPositiveInt(stride, 'stride');
  if (image.data.length !== image.width * image.height) {
    throw new UserError(`${name}: ${image.data.length} pixels for a ${image.width} x ${image.height} image`);
  }
  const img = options.cropBottom ? cropBottom(image, options.cropBottom, name) : image;
  if (img.width < patch || img.height < patch) {
    // The file is what does not fit: an input error (exit code 3), naming it.
    throw new InputError(
      name,
      `image of ${img.width} x ${img.height} px` +
        (options.cropBottom ? ` (after cropping ${options.cropBottom} rows)` : '') +
        ` is smaller than the ${patch} x ${patch} patch (use a smaller --patch)`,
    );
  }
  const filter = options.filter === false ? null : { ...DEFAULT_PATCH_FILTER, ...options.filter };
  const threshold = otsuThreshold(brightParticleView(img.data, options.polarity));
  const out: PatchSet = { kept: [], skipped: [] };
  for (const y of tileOrigins(img.height, patch, stride)) {
    for (const x of tileOrigins(img.width, patch, stride)) {
      const data = new Float32Array(patch * patch);
      for (let r = 0; r < patch; r++) {
        const o = (y + r) * img.width + x;
        data.set(img.data.subarray(o, o + patch), r * patch);
      }
      const particleFraction = particleFractionAt(data, threshold, options.polarity);
      const { std } = meanStd(data);
      const p: Patch = { source: name, x, y, size: patch, data, particleFraction, std };
      const reason = filter ? rejectReason(particleFraction, std, filter) : null;
      if (reason) out.skipped.push({ patch: p, reason });
      else out.kept.push(p);
    }
  }
  return out;
}

/** extractPatches over many images; the kept patches in image order, then row-major. */
export function extractPatchesFromImages(images: { name: string; image: Grey }[], options: PatchOptions): PatchSet {
  const all: PatchSet = { kept: [], skipped: [] };
  for (const { name, image } of images) {
    const s = extractPatches(image, name, options);
    all.kept.push(...s.kept);
    all.skipped.push(...s.skipped);
  }
  return all;
}

/**
 * The 8 symmetries of the square (the dihedral group D4), as an index 0..7:
 *   bit 0: flip left-right, bit 1: flip top-bottom, bit 2: transpose (applied first).
 * 0 identity, 1 flip x, 2 flip y, 3 rotate 180, 4 transpose, 5 rotate 90 clockwise,
 * 6 rotate 90 counter-clockwise, 7 anti-transpose.
 */
export type Dihedral = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7;

/** Applies symmetry k to a size x size image (returns a new array). */
export function dihedral(data: Float32Array, size: number, k: Dihedral): Float32Array {
  if (data.length !== size * size) throw new UserError(`dihedral: ${data.length} values for a ${size} x ${size} patch`);
  if (!Number.isInteger(k) || k < 0 || k > 7) throw new UserError(`dihedral: transform ${k} is not in 0..7`);
  const flipX = (k & 1) !== 0;
  const flipY = (k & 2) !== 0;
  const transpose = (k & 4) !== 0;
  const out = new Float32Array(size * size);
  const last = size - 1;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      // Output (x, y) reads source (sx, sy): first undo the flips, then the transpose.
      const fx = flipX ? last - x : x;
      const fy = flipY ? last - y : y;
      const sx = transpose ? fy : fx;
      const sy = transpose ? fx : fy;
      out[y * size + x] = data[sy * size + sx];
    }
  }
  return out;
}

/** One of the 8 symmetries drawn uniformly from `rng`, applied to the patch. */
export function augment(patch: { data: Float32Array; size: number }, rng: Rng): { data: Float32Array; transform: Dihedral } {
  const transform = rng.int(8) as Dihedral;
  return { data: dihedral(patch.data, patch.size, transform), transform };
}
