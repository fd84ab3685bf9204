/**
 * The built-in presets: one record per file in this folder (preset.ts says what a record holds),
 * registered in PRESETS below. presetConfig merges a record over BASE_SCENE with
 * mergeSceneConfig, the same validation a user's --config file gets.
 */
import { ConfigError } from '../../errors.js';
import { mergeSceneConfig, type SceneConfig } from '../config.js';
import { PARAMETER_TABLE, paramsVector, type ParamName } from '../params.js';
import { BASE_SCENE } from './base.js';
import type { Preset } from './preset.js';
import { tio2Sem } from './tio2-sem.js';
import { tio2Him } from './tio2-him.js';
import { sio2Him } from './sio2-him.js';
import { agnwSem } from './agnw-sem.js';
import { tio2Tsem } from './tio2-tsem.js';
import { temSpheres } from './tem-spheres.js';

export type { Preset } from './preset.js';
export { BASE_SCENE } from './base.js';

/** Every built-in preset; a new one is added here (and in its own file). */
const PRESET_LIST = [tio2Sem, tio2Him, sio2Him, agnwSem, tio2Tsem, temSpheres] as const;

export type PresetName = (typeof PRESET_LIST)[number]['name'];
export const PRESET_NAMES: readonly PresetName[] = PRESET_LIST.map((p) => p.name);
export const PRESETS = Object.fromEntries(PRESET_LIST.map((p) => [p.name, p as Preset<PresetName>])) as Readonly<Record<PresetName, Preset<PresetName>>>;

function presetRecord(name: PresetName): Preset<PresetName> {
  if (!PRESET_NAMES.includes(name)) throw new ConfigError('preset', `got ${JSON.stringify(name)}; must be one of ${PRESET_NAMES.join(', ')}`);
  return PRESETS[name];
}

/** A preset's full scene configuration (a new object every call). */
export function presetConfig(name: PresetName): SceneConfig {
  const p = presetRecord(name);
  return mergeSceneConfig({ ...structuredClone(BASE_SCENE), params: {} as SceneConfig['params'] }, { ...p.scene, params: p.params });
}

/** A preset's parameter values in table order (src/render/params.ts). */
export function defaultParams(name: PresetName): Float64Array {
  return paramsVector({ params: presetRecord(name).params });
}

/** The parameters the GAN learns, per preset (the records' `learned` lists). */
export const LEARNED_BY_PRESET = Object.fromEntries(PRESET_LIST.map((p) => [p.name, [...p.learned]])) as Record<PresetName, ParamName[]>;

/** The parameter table with every preset's values, as markdown (for docs/parameters.md). */
export function parameterTableMarkdown(): string {
  const rows = PARAMETER_TABLE.map((p) => `| ${p.name} | ${p.meaning} | ${p.min} | ${p.max} | ${PRESET_LIST.map((r) => r.params[p.name]).join(' / ')} |`);
  return ['| name | meaning | min | max | defaults (' + PRESET_NAMES.join(' / ') + ') |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}
