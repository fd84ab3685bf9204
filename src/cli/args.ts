/**
 * A small, strict flag parser: every command declares its flags; unknown flags, missing values,
 * wrong types and values outside the allowed choices are UserErrors that name the flag and what
 * it accepts. `--help` is always accepted.
 */
import { UserError, ExitCode } from '../errors.js';
import { PRESETS, PRESET_NAMES } from '../render/presets/index.js';

export type FlagType = 'string' | 'number' | 'int' | 'boolean' | 'strings';

export interface FlagSpec {
  name: string;
  type: FlagType;
  help: string;
  default?: string | number | boolean | string[];
  choices?: readonly string[];
  min?: number;
  max?: number;
  /** Placeholder shown in help, e.g. DIR. */
  meta?: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  flags: FlagSpec[];
  /** Names of positional arguments accepted (documentation only); undefined = none accepted. */
  positionals?: string;
}

export type ParsedFlags = Record<string, string | number | boolean | string[] | undefined> & { _: string[]; help?: boolean };

export function parseFlags(spec: CommandSpec, argv: string[]): ParsedFlags {
  const byName = new Map(spec.flags.map((f) => [f.name, f]));
  const out: ParsedFlags = { _: [] };
  for (const f of spec.flags) if (f.default !== undefined) out[f.name] = f.default;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      out.help = true;
      continue;
    }
    if (!arg.startsWith('--')) {
      if (spec.positionals === undefined) throw new UserError(`${spec.name}: unexpected argument '${arg}'. See 'diffrendergan ${spec.name} --help'.`, ExitCode.usage);
      out._.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const f = byName.get(name);
    if (!f) {
      const allowed = spec.flags.map((s) => `--${s.name}`).join(', ');
      throw new UserError(`${spec.name}: unknown flag --${name}. Allowed: ${allowed || '(none)'}, --help.`, ExitCode.usage);
    }
    if (f.type === 'boolean') {
      if (eq >= 0) {
        const v = arg.slice(eq + 1);
        if (v !== 'true' && v !== 'false') throw new UserError(`--${name} takes true or false, got '${v}'`, ExitCode.usage);
        out[name] = v === 'true';
      } else out[name] = true;
      continue;
    }
    let raw: string;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else {
      if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) throw new UserError(`--${name} needs a value (${describeType(f)})`, ExitCode.usage);
      raw = argv[++i];
    }
    if (f.type === 'strings') {
      // Collect following non-flag arguments too: --real a.tif b.tif
      const list = [raw];
      while (i + 1 < argv.length && !argv[i + 1].startsWith('--')) list.push(argv[++i]);
      const prev = out[name];
      out[name] = Array.isArray(prev) && prev !== f.default ? [...prev, ...list] : list;
      continue;
    }
    out[name] = convert(f, raw);
  }
  return out;
}

/**
 * The largest value of an integer flag that declares no max of its own: 2^31 - 1. Every integer
 * flag is a count, a size or a seed; none is meaningful above this, and larger values lose
 * precision (99999999999999999999 reads as 100000000000000000000) or overflow allocations.
 */
export const INT_FLAG_MAX = 2 ** 31 - 1;

function maxOf(f: FlagSpec): number | undefined {
  return f.max ?? (f.type === 'int' ? INT_FLAG_MAX : undefined);
}

function describeType(f: FlagSpec): string {
  if (f.choices) return `one of ${f.choices.join(', ')}`;
  const max = maxOf(f);
  const range = f.min !== undefined || max !== undefined ? ` in [${f.min ?? '-inf'}, ${max ?? 'inf'}]` : '';
  switch (f.type) {
    case 'int':
      return `an integer${range}`;
    case 'number':
      return `a number${range}`;
    case 'strings':
      return 'one or more values';
    default:
      return f.meta ?? 'a value';
  }
}

function convert(f: FlagSpec, raw: string): string | number {
  if (f.type === 'string') {
    if (f.choices && !f.choices.includes(raw)) throw new UserError(`--${f.name} must be ${describeType(f)}, got '${raw}'`, ExitCode.usage);
    return raw;
  }
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || (f.type === 'int' && !Number.isInteger(v)) || (f.min !== undefined && v < f.min) || (maxOf(f) !== undefined && v > maxOf(f)!)) {
    throw new UserError(`--${f.name} must be ${describeType(f)}, got '${raw}'`, ExitCode.usage);
  }
  return v;
}

export function helpText(spec: CommandSpec): string {
  const lines = [`diffrendergan ${spec.name}: ${spec.summary}`, '', `Usage: ${spec.usage}`, ''];
  if (spec.flags.length) {
    lines.push('Flags:');
    for (const f of spec.flags) {
      const left = `  --${f.name}${f.type === 'boolean' ? '' : ` ${f.meta ?? f.type.toUpperCase()}`}`;
      const def = f.default !== undefined && f.default !== false ? ` (default: ${Array.isArray(f.default) ? f.default.join(' ') : f.default})` : '';
      const choices = f.choices ? ` [${f.choices.join('|')}]` : '';
      lines.push(`${left.padEnd(30)} ${f.help}${choices}${def}`);
    }
  }
  lines.push('  --help                       show this help');
  return lines.join('\n');
}

/** The value of an auto|on|off flag: undefined for auto (the default decides), else on. */
export function onOffAuto(v: unknown): boolean | undefined {
  return v === 'on' ? true : v === 'off' ? false : undefined;
}

/** The presets' window margins for the flag's help: "tio2-sem 0.35, tio2-tsem 0.35, others 0". */
function presetMargins(): string {
  const set = PRESET_NAMES.filter((n) => (PRESETS[n].windowMargin ?? 0) > 0).map((n) => `${n} ${PRESETS[n].windowMargin}`);
  return set.length === PRESET_NAMES.length ? set.join(', ') : [...set, 'others 0'].join(', ');
}

/**
 * `--window-margin auto|M` of train and pipeline: the calibrated scene rendered as a window into a
 * larger field (src/render/scene-window.ts); auto: the preset's margin.
 */
export function windowMarginFlag(command: string): FlagSpec {
  return { name: 'window-margin', type: 'string', default: 'auto', meta: 'auto|M', help: `render the calibrated scene as a window into a larger field: particle centres up to M x the image side beyond each edge, counts scaled by the grown area, so objects are cut by the frame as in a tile of a micrograph; M in [0, 1], 0 = off, auto = the preset's (${presetMargins()})${command === 'pipeline' ? " (train's flag)" : ''}; docs/realism.md` };
}

/** `--radius-last auto|on|off` of train and pipeline: where the second radius step runs (see TrainOptions.radiusLast). */
export function radiusLastFlag(command: string): FlagSpec {
  return { name: 'radius-last', type: 'string', default: 'auto', choices: ['auto', 'on', 'off'], help: `on: run the upper-quartile radius step again after the second agglomerate pass, on the scene the pairs are rendered from (before the window); off: before that pass; auto = the preset's (off)${command === 'pipeline' ? " (train's flag)" : ''}; docs/realism.md` };
}

/** `--window-calibrated auto|on|off` of train and pipeline: where the window is applied (see TrainOptions.windowCalibrated). */
export function windowCalibratedFlag(command: string): FlagSpec {
  return { name: 'window-calibrated', type: 'string', default: 'auto', choices: ['auto', 'on', 'off'], help: `on: apply the window before the second agglomerate pass, which then chooses counts and agglomerates on frame-cut renders; off: scale the calibrated counts by the grown area after every calibration; auto = the preset's (off)${command === 'pipeline' ? " (train's flag)" : ''}; docs/realism.md` };
}

/** `--window-counts auto|area|coverage` of train and pipeline: how the window's counts are set (see TrainOptions.windowCounts). */
export function windowCountsFlag(command: string): FlagSpec {
  return { name: 'window-counts', type: 'string', default: 'auto', choices: ['auto', 'area', 'coverage'], help: `how the window's particle counts are set after the calibrations: area = the calibrated counts times the grown area (1 + 2M)^2; coverage = times a factor calibrated so that windowed noiseless renders cover as much as the real patches; auto = the preset's (area)${command === 'pipeline' ? " (train's flag)" : ''}; docs/realism.md` };
}

/** `--window-field auto|bounded|periodic` of train and pipeline: the field the window looks into (see TrainOptions.windowField). */
export function windowFieldFlag(command: string): FlagSpec {
  return { name: 'window-field', type: 'string', default: 'auto', choices: ['auto', 'bounded', 'periodic'], help: `the field the window looks into: bounded = growth steps beyond the grown area are rejected (its edges pull agglomerates into the window); periodic = a torus, growth wraps around its edges and overlaps are tested at the periodic distance, so the field is the same everywhere; auto = the preset's (bounded)${command === 'pipeline' ? " (train's flag)" : ''}; docs/realism.md` };
}

/** `--size-spread auto|off|calibrated|coverage` of train and pipeline: whether and how the upper size spread is calibrated (see TrainOptions.sizeSpread). */
export function sizeSpreadFlag(command: string): FlagSpec {
  return { name: 'size-spread', type: 'string', default: 'auto', choices: ['auto', 'off', 'calibrated', 'coverage'], help: `calibrated: once the GAN's epochs are done, the upper spread of the lognormal particle sizes (a split lognormal, the 75th percentile radius kept) is matched to the real patches' median local thickness on windowed noiseless renders at the chosen epoch's mean image formation, and generate renders it; coverage: as calibrated, but the median size and the counts kept and the real patches' Otsu coverage matched; off: the preset's sizes; auto = the preset's (tio2-sem: coverage; the others: off)${command === 'pipeline' ? " (train's flag)" : ''}; docs/realism.md` };
}

/** `--recalibrate-agglomerates auto|off|on|trained` of train and pipeline (see TrainOptions.recalibrateAgglomerates). */
export function recalibrateAgglomeratesFlag(command: string): FlagSpec {
  return {
    name: 'recalibrate-agglomerates', type: 'string', default: 'auto', choices: ['auto', 'off', 'on', 'trained'],
    help: `whether the agglomerate calibration runs again: on: after the image formation calibration, on renders with the calibrated image formation and radius; trained: as on, and once more after the GAN's epochs, on windowed noiseless renders of the run's scene at the chosen epoch's mean image formation (generate renders its counts and agglomerates); off: once only; auto = the preset's choice${command === 'pipeline' ? " (train's flag)" : ''}; docs/realism.md`,
  };
}

/** The value of --recalibrate-agglomerates: undefined for auto. */
export function parseRecalibrateAgglomerates(v: unknown): 'off' | 'on' | 'trained' | undefined {
  return v === 'off' || v === 'on' || v === 'trained' ? v : undefined;
}

/** The value of --size-spread: undefined for auto. */
export function parseSizeSpread(v: unknown): 'off' | 'calibrated' | 'coverage' | undefined {
  return v === 'off' || v === 'calibrated' || v === 'coverage' ? v : undefined;
}

/** The value of --window-field: undefined for auto. */
export function parseWindowField(v: unknown): 'bounded' | 'periodic' | undefined {
  return v === 'bounded' || v === 'periodic' ? v : undefined;
}

/** `--learn-size on|off` of train and pipeline: whether the GAN fits the size distribution's median and spread (TrainOptions.learnSize). */
export function learnSizeFlag(command: string): FlagSpec {
  return { name: 'learn-size', type: 'string', default: 'off', choices: ['on', 'off'], help: `on: the GAN also fits the particle sizes' median and spread (a log-size shift and a log-spread factor, through the rasterizer's vertex gradients; lognormal sizes, orthographic camera); off: the calibrated sizes${command === 'pipeline' ? " (train's flag)" : ''}; docs/realism.md "Learned size distribution"` };
}

/** The value of --window-counts: undefined for auto. */
export function parseWindowCounts(v: unknown): 'area' | 'coverage' | undefined {
  return v === 'area' || v === 'coverage' ? v : undefined;
}

/** The value of --window-margin: undefined for auto, else the margin (a usage error names the flag). */
export function parseWindowMargin(v: unknown): number | undefined {
  if (v === undefined || v === 'auto') return undefined;
  const m = Number(v);
  if (String(v).trim() === '' || !Number.isFinite(m) || m < 0 || m > 1) throw new UserError(`--window-margin must be auto or a number in [0, 1], got '${String(v)}'`, ExitCode.usage);
  return m;
}

/**
 * `--polarity auto|bright|dark`: whether particles are brighter or darker than the background
 * (src/particles/polarity.ts); the commands that analyse images by brightness share this one flag.
 */
export function polarityFlag(auto: string): FlagSpec {
  return { name: 'polarity', type: 'string', default: 'auto', choices: ['auto', 'bright', 'dark'], help: `particles brighter or darker than the background (auto: ${auto})` };
}
