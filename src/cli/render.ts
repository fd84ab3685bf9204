/**
 * `diffrendergan render`: renders samples of a scene preset (optionally patched by a JSON config)
 * with the preset's / config's rendering parameters, and writes per sample a folder NNNN/ with
 *   image.png      8-bit grey, the rendered micrograph (values in [0, 1] scaled to 0..255)
 *   instances.png  16-bit grey, 0 = background, k = particle k (unscaled ids)
 *   classes.png    8-bit grey, the class mask stored UNSCALED as 0 = background, 1 = particle,
 *                  2 = contour (as segmentation tools expect label values; it looks black in an
 *                  image viewer)
 *   scene.json     the merged config, the layout, the parameter values, the rejection verdict
 * Sample i depends only on (--seed, i). Each folder is written into a hidden temporary folder
 * next to it and renamed into place, so an interrupted or failed run never leaves a half-written
 * sample folder; an existing sample folder of the same name is replaced, anything else in the
 * way is an error. One progress line per sample goes to stderr.
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../autodiff/rng.js';
import { noGrad } from '../autodiff/tape.js';
import { ExitCode, UserError } from '../errors.js';
import { fsErrorText, makeOutputDir, removeIfEmpty, writeFileAtomic, writePngGrey16, writePngGrey8 } from '../node/files.js';
import { mergeSceneConfig, presetConfig, renderScene, sampleScene, sceneParams, type SceneConfig } from '../render/index.js';
import { PARAMETER_TABLE } from '../render/params.js';
import { PRESET_NAMES, type PresetName } from '../render/presets/index.js';
import type { CommandSpec, ParsedFlags } from './args.js';
import { applySceneConfigFile } from '../node/scene-config.js';
export { jsonErrorOffset } from '../node/scene-config.js';

export const renderCommand: CommandSpec = {
  name: 'render',
  summary: 'render synthetic micrographs with exact masks from a scene preset (no training)',
  usage: 'diffrendergan render --preset tio2-sem [--config scene.json] [--seed 7] [--n 16] [--size 256] --out DIR',
  flags: [
    { name: 'preset', type: 'string', default: 'tio2-sem', choices: PRESET_NAMES, help: 'scene preset (one of the four paper cases)' },
    { name: 'config', type: 'string', meta: 'FILE', help: 'JSON object merged over the preset (field names as in scene.json "config")' },
    { name: 'seed', type: 'int', min: 0, max: 2 ** 31 - 1, default: 1, meta: 'S', help: 'seed; sample i depends only on the seed and i' },
    { name: 'n', type: 'int', min: 1, max: 100000, default: 16, meta: 'N', help: 'number of samples' },
    { name: 'size', type: 'int', min: 8, max: 2048, meta: 'PX', help: 'image width and height (overrides the config)' },
    { name: 'out', type: 'string', meta: 'DIR', help: 'output folder (created if needed)' },
    { name: 'quiet', type: 'boolean', help: 'no progress lines' },
  ],
};

export interface RenderIO {
  /** Progress lines (default: stderr). */
  error: (line: string) => void;
}

/** Reads and validates a --config file into a merged SceneConfig. */
export function loadSceneConfig(preset: PresetName, file: string | undefined, size: number | undefined): SceneConfig {
  let cfg = presetConfig(preset);
  if (file !== undefined) cfg = applySceneConfigFile(cfg, file);
  if (size !== undefined) cfg = mergeSceneConfig(cfg, { width: size, height: size });
  return cfg;
}

export async function renderMain(flags: ParsedFlags, io: RenderIO = { error: (l) => console.error(l) }): Promise<number> {
  if (!flags.out) throw new UserError('render: --out DIR is required', ExitCode.usage);
  const preset = String(flags.preset) as PresetName;
  const out = String(flags.out);
  const n = Number(flags.n), seed = Number(flags.seed);
  const config = loadSceneConfig(preset, flags.config as string | undefined, flags.size === undefined ? undefined : Number(flags.size));
  const made = makeOutputDir(out);
  try {
    return renderSamples(flags, io, preset, config, out, n, seed);
  } catch (e) {
    removeIfEmpty(made, out); // a folder this run created and never wrote a sample into
    throw e;
  }
}

function renderSamples(flags: ParsedFlags, io: RenderIO, preset: PresetName, config: SceneConfig, out: string, n: number, seed: number): number {
  const W = config.width, H = config.height;
  let kept = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const name = String(i).padStart(4, '0');
    const final = join(out, name);
    if (existsSync(final) && !statSync(final).isDirectory()) {
      throw new UserError(`${final}: exists and is not a sample folder; not replacing it`, ExitCode.badOutput);
    }
    const scene = sampleScene(config, new Rng(seed * 1_000_003 + i));
    const params = sceneParams(scene, 'float64');
    const res = noGrad(() => renderScene(scene, params, { masks: true }));
    const tmp = join(out, `.${name}.${process.pid}.tmp`);
    try {
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp);
      writePngGrey8(join(tmp, 'image.png'), W, H, Float32Array.from(res.image.data));
      writePngGrey16(join(tmp, 'instances.png'), W, H, res.instances!);
      writePngGrey8(join(tmp, 'classes.png'), W, H, res.classes!);
      const sceneJson = {
        preset,
        seed,
        index: i,
        classes: 'classes.png stores 0 = background, 1 = particle, 2 = contour (unscaled)',
        rejected: res.rejected ?? null,
        faces: scene.mesh.faces.length / 3,
        params: Object.fromEntries(PARAMETER_TABLE.map((p, k) => [p.name, params.data[k]])),
        config,
        layout: scene.layout,
      };
      writeFileAtomic(join(tmp, 'scene.json'), JSON.stringify(sceneJson, null, 1) + '\n');
      if (existsSync(final)) rmSync(final, { recursive: true, force: true });
      renameSync(tmp, final);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      // Name the sample folder, not the hidden temporary one (gone now): writeFileAtomic's
      // message starts with the temporary path.
      if (e instanceof UserError) throw new UserError(e.message.split(tmp).join(final), e.exitCode);
      throw new UserError(`${final}: cannot write the sample: ${fsErrorText(e)}`, ExitCode.badOutput);
    }
    if (!res.rejected) kept++;
    if (!flags.quiet) {
      const ms = performance.now() - t0;
      io.error(`render: ${i + 1}/${n} ${final} (${scene.layout.particles.length} particles, ${ms.toFixed(0)} ms)${res.rejected ? ` [fails the rejection rules: ${res.rejected}]` : ''}`);
    }
  }
  if (!flags.quiet) io.error(`render: wrote ${n} samples to ${out} (${kept} pass the rejection rules)`);
  return ExitCode.ok;
}
