/**
 * The `realism` command's work: reads real micrographs and synthetic images, cuts both into the
 * same patches (the GAN's empty-patch rule, src/gan/patches.ts), runs the classifier two-sample
 * test (src/gan/c2st.ts) and the annotation-free scene statistics (src/gan/scene-stats.ts).
 */
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { listImageFiles, readImageFile } from './files.js';
import { extractPatches, type Grey } from '../gan/patches.js';
import { classifierTwoSampleTest, type C2stResult, type C2stSeedResult, type C2stSource } from '../gan/c2st.js';
import { sceneStatistics, type SceneStatistics } from '../gan/scene-stats.js';
import { bodyProfile, type BodyProfile } from '../gan/body-profile.js';
import { InputError, UserError, ExitCode } from '../errors.js';
import { detectPolarity, type Polarity, type PolaritySetting } from '../particles/polarity.js';

export interface RealismOptions {
  real: string[];
  synth: string[];
  cropBottom: number;
  patch: number;
  seeds: number;
  epochs?: number;
  maxPerClass?: number;
  seed: number;
  /** Particles brighter or darker than the stage, or 'auto' to detect it from the real images. */
  polarity?: PolaritySetting;
  /** Skip the classifier test (statistics only). */
  statsOnly?: boolean;
  /** Also the median local thickness in the scene statistics (src/gan/scene-stats.ts). */
  thickness?: boolean;
  onSeed?: (r: C2stSeedResult, index: number) => void;
  log?: (line: string) => void;
}

export interface RealismReport {
  c2st: C2stResult | null;
  stats: { real: SceneStatistics; synthetic: SceneStatistics; tile: number };
  /**
   * The lone particles' body profile on the same tiles (src/gan/body-profile.ts: grey 1-8 px
   * inside the outline over the centre's), bright particles only; null on a side without any.
   */
  bodyProfile: { real: BodyProfile | null; synthetic: BodyProfile | null } | null;
  polarity: Polarity;
  files: { real: number; synthetic: number };
}

/**
 * A synthetic-data folder as `generate` writes it holds the images in images/ (png, coco) or
 * imagesTr/ (nnunet); any other folder or file list is taken as given.
 */
export function synthImageFiles(args: string[]): string[] {
  const expanded = args.map((a) => {
    for (const sub of ['images', 'imagesTr']) {
      const d = join(a, sub);
      if (existsSync(d) && statSync(d).isDirectory()) return d;
    }
    return a;
  });
  return listImageFiles(expanded);
}

interface Loaded {
  name: string;
  image: Grey;
}

function load(files: string[], cropBottom: number): Loaded[] {
  return files.map((f) => {
    const img = readImageFile(f);
    if (cropBottom >= img.height) throw new InputError(f, `cannot crop ${cropBottom} rows from an image ${img.height} px high (--crop-bottom)`);
    const height = img.height - cropBottom;
    return { name: f, image: { width: img.width, height, data: img.data.slice(0, img.width * height) } };
  });
}

/**
 * Kept patches of `size` px per image (sources with none are dropped); with `trainStride`, also
 * the overlapping patches at that stride for the classifier's training side.
 */
function patchSources(images: Loaded[], size: number, polarity: Polarity, trainStride?: number): C2stSource[] {
  return images
    .map(({ name, image }) => ({
      name: basename(name),
      patches: extractPatches(image, name, { patch: size, polarity }).kept.map((p) => p.data),
      trainPatches: trainStride && trainStride < size ? extractPatches(image, name, { patch: size, stride: trainStride, polarity }).kept.map((p) => p.data) : undefined,
    }))
    .filter((s) => s.patches.length > 0);
}

export function runRealism(opts: RealismOptions): RealismReport {
  const log = opts.log ?? (() => {});
  const realFiles = listImageFiles(opts.real);
  const synthFiles = synthImageFiles(opts.synth);
  const real = load(realFiles, opts.cropBottom);
  const synth = load(synthFiles, 0);
  const setting = opts.polarity ?? 'auto';
  const polarity = setting === 'auto' ? detectPolarity(real.map((r) => r.image)).polarity : setting;
  log(`contrast polarity: ${polarity} particles${setting === 'auto' ? ' (detected from the real images; override with --polarity)' : ''}`);
  // Scene statistics over the same field of view: real micrographs cut into tiles of the
  // synthetic images' size.
  const tile = synth[0].image.width;
  for (const s of synth) {
    if (s.image.width !== tile || s.image.height !== tile) throw new InputError(s.name, `synthetic images must all be square and of one size (${tile} x ${tile} like ${synth[0].name}), got ${s.image.width} x ${s.image.height}`);
  }
  for (const r of real) {
    if (r.image.width < opts.patch || r.image.height < opts.patch || r.image.width < tile || r.image.height < tile) {
      throw new InputError(r.name, `image of ${r.image.width} x ${r.image.height} px (after --crop-bottom) is smaller than the ${Math.max(opts.patch, tile)} px patches`);
    }
  }
  if (tile < opts.patch) throw new UserError(`--patch ${opts.patch} is larger than the ${tile} px synthetic images`, ExitCode.usage);
  const realTiles = patchSources(real, tile, polarity).flatMap((s) => s.patches.map((data) => ({ width: tile, height: tile, data })));
  const synthTiles = patchSources(synth, tile, polarity).flatMap((s) => s.patches.map((data) => ({ width: tile, height: tile, data })));
  if (realTiles.length === 0 || synthTiles.length === 0) throw new UserError(`no ${tile} px tile holds particles by the empty-patch rule (real ${realTiles.length}, synthetic ${synthTiles.length})`, ExitCode.badInput);
  const stats = { real: sceneStatistics(realTiles, polarity, { thickness: opts.thickness }), synthetic: sceneStatistics(synthTiles, polarity, { thickness: opts.thickness }), tile };
  const bodies = polarity === 'bright' ? { real: bodyProfile(realTiles), synthetic: bodyProfile(synthTiles) } : null;
  let c2st: C2stResult | null = null;
  if (!opts.statsOnly) {
    const realSources = patchSources(real, opts.patch, polarity, opts.patch / 2);
    const synthSources = patchSources(synth, opts.patch, polarity, opts.patch / 2);
    log(`C2ST: ${realSources.reduce((a, s) => a + s.patches.length, 0)} real patches from ${realSources.length} images, ${synthSources.reduce((a, s) => a + s.patches.length, 0)} synthetic patches from ${synthSources.length} images (${opts.patch} px)`);
    c2st = classifierTwoSampleTest(realSources, synthSources, { patch: opts.patch, seeds: opts.seeds, epochs: opts.epochs, maxPerClass: opts.maxPerClass, seed: opts.seed, onSeed: opts.onSeed });
  }
  return { c2st, stats, bodyProfile: bodies, polarity, files: { real: realFiles.length, synthetic: synthFiles.length } };
}
