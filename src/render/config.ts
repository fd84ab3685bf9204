/**
 * The scene configuration and its validating JSON merge. Every field has a schema entry (type,
 * range or allowed values); a wrong field throws ConfigError(field, problem) naming the dotted
 * field path and what is allowed. A built-in preset (src/render/presets/) and a user's --config
 * file are both patches merged by mergeSceneConfig. Scene units are pixels (camera.ts).
 */
import { ConfigError } from '../errors.js';
import type { SizeDistribution, PlacementSpec, CountSpec } from './layout.js';
import { PARAMETER_TABLE, type ParamName } from './params.js';
import { SHADING_MODELS, type ShadingModel } from './shade/models.js';
import { EDGE_SCALES, type EdgeScale } from './shade/model.js';
import type { CameraKind } from './camera.js';
import { checkUserMesh, type UserMeshData } from './mesh/user.js';

export interface SceneConfig {
  width: number;
  height: number;
  camera: { kind: CameraKind; fovDeg: number };
  particles: {
    shape: 'sphere' | 'polyhedron' | 'wire' | 'mesh';
    /** shape 'mesh': the user's particle mesh, normalised (mesh/user.ts; --config reads a file path). */
    mesh?: UserMeshData;
    count: CountSpec;
    /** Bounding radius (px) of a particle of relative size 1 (wires: the wire radius). */
    baseRadius: number;
    size: SizeDistribution;
    placement: PlacementSpec;
    /** Geodesic frequency of spheres / polyhedra (20 freq^2 faces each). */
    freq: number;
    polyhedron: { facets: number; irregularity: number; roundness: number; elongation: number; sphericity?: number };
    wire: { length: number; lengthJitter: number; sides: number; ends: 'rounded' | 'flat'; segments: number };
  };
  /**
   * supersample (optional, default 1): the soft raster and the shading run on an s x s finer grid
   * and the pre-blur image is box-filtered back (scene.ts: anti-aliased silhouettes); sigma is
   * in pixels^2 of that finer grid. Masks stay at the pixel centres of the output grid.
   */
  raster: { sigma: number; gamma: number; cutoff: number; supersample?: number };
  /**
   * edgeScale (optional, default 'additive'; SEM only): 'particle' multiplies the edge and rim terms
   * (edgeGain, rimGain) by the particle's own brightness factor 1 + particleVariation u, so a dim
   * particle has dim rims, as on the micrographs; 'additive' adds them at the same brightness to
   * every particle (a dark particle then shows a bright ring around a body below the Otsu
   * threshold: docs/realism.md "Why the statistic cuts pieces off synthetic frame-cut particles").
   */
  shading: { model: ShadingModel; detectorAzimuthDeg: number; detectorElevationDeg: number; edgeWidth: number; shadowLength: number; noise: boolean; edgeScale?: EdgeScale };
  masks: { minArea: number; contourDilation: number; minBackground: number; contrastFactor: number };
  /** Every image-formation parameter's value (src/render/params.ts). */
  params: Record<ParamName, number>;
}

// ---------------------------------------------------------------------------------------------
// Schema

type Field =
  | { kind: 'number'; min: number; max: number; integer?: boolean }
  | { kind: 'enum'; values: readonly (string | number)[] }
  | { kind: 'boolean' }
  | { kind: 'object'; fields: Record<string, Field> }
  | { kind: 'size' }
  | { kind: 'mesh' };

const num = (min: number, max: number, integer = false): Field => ({ kind: 'number', min, max, integer });
const en = (...values: (string | number)[]): Field => ({ kind: 'enum', values });
const obj = (fields: Record<string, Field>): Field => ({ kind: 'object', fields });

/** Size-distribution fields that may be left out (lognormal sigmaLow: symmetric when absent). */
const OPTIONAL_SIZE_FIELDS = new Set(['sigmaLow']);

const SIZE_VARIANTS: Record<string, Record<string, Field>> = {
  lognormal: { type: en('lognormal'), mu: num(-3, 3), sigma: num(0, 2), sigmaLow: num(0, 2) },
  gaussian: { type: en('gaussian'), mean: num(0.01, 10), std: num(0, 5) },
  bimodal: { type: en('bimodal'), components: { kind: 'size' } },
};

export const SCENE_SCHEMA: Field = obj({
  width: num(8, 2048, true),
  height: num(8, 2048, true),
  camera: obj({ kind: en('orthographic', 'perspective'), fovDeg: num(1, 120) }),
  particles: obj({
    shape: en('sphere', 'polyhedron', 'wire', 'mesh'),
    mesh: { kind: 'mesh' },
    count: obj({ min: num(0, 1000, true), max: num(0, 1000, true), dist: en('uniform', 'logUniform') }),
    baseRadius: num(0.5, 1000),
    size: { kind: 'size' },
    placement: obj({ type: en('uniform', 'packed'), dims: en(2, 3), maxAgglomerates: num(1, 100, true), contact: num(0.3, 1), attach: en('uniform', 'size'), outside: num(0, 1), field: en('bounded', 'periodic'), rotation: en('uniform', 'z') }),
    freq: num(1, 16, true),
    polyhedron: obj({ facets: num(4, 64, true), irregularity: num(0, 0.9), roundness: num(0, 1), elongation: num(1, 4), sphericity: num(0, 1) }),
    wire: obj({ length: num(1, 10000), lengthJitter: num(0, 0.9), sides: num(3, 32, true), ends: en('rounded', 'flat'), segments: num(1, 64, true) }),
  }),
  raster: obj({ sigma: num(1e-8, 100), gamma: num(1e-8, 1000), cutoff: num(1e-12, 0.1), supersample: num(1, 4, true) }),
  shading: obj({
    model: en(...SHADING_MODELS),
    detectorAzimuthDeg: num(-360, 360),
    detectorElevationDeg: num(0, 90),
    edgeWidth: num(0.1, 20),
    shadowLength: num(0, 50),
    noise: { kind: 'boolean' },
    edgeScale: en(...EDGE_SCALES),
  }),
  masks: obj({ minArea: num(0, 1e6, true), contourDilation: num(0, 10, true), minBackground: num(0, 1), contrastFactor: num(0, 10) }),
  params: obj(Object.fromEntries(PARAMETER_TABLE.map((p) => [p.name, num(p.min, p.max)]))),
});

function describe(f: Field): string {
  switch (f.kind) {
    case 'number':
      return `${f.integer ? 'an integer' : 'a number'} in [${f.min}, ${f.max}]`;
    case 'enum':
      return `one of ${f.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'boolean':
      return 'true or false';
    case 'object':
      return `an object with fields ${Object.keys(f.fields).join(', ')}`;
    case 'mesh':
      return 'a PLY or OBJ file path (in a --config file) or {source, positions, faces}';
    case 'size':
      return `a size distribution {type: "lognormal", mu, sigma[, sigmaLow]} | {type: "gaussian", mean, std} | {type: "bimodal", components: [{mean, std, weight}, ...]}`;
  }
}

function checkLeaf(path: string, f: Field, v: unknown): void {
  if (f.kind === 'number') {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < f.min || v > f.max || (f.integer && !Number.isInteger(v))) {
      throw new ConfigError(path, `got ${JSON.stringify(v)}; must be ${describe(f)}`);
    }
  } else if (f.kind === 'enum') {
    if (!f.values.includes(v as string | number)) throw new ConfigError(path, `got ${JSON.stringify(v)}; must be ${describe(f)}`);
  } else if (f.kind === 'boolean') {
    if (typeof v !== 'boolean') throw new ConfigError(path, `got ${JSON.stringify(v)}; must be ${describe(f)}`);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validateSize(path: string, v: unknown): SizeDistribution {
  if (!isPlainObject(v) || typeof v.type !== 'string' || !hasField(SIZE_VARIANTS, v.type)) {
    throw new ConfigError(`${path}.type`, `got ${JSON.stringify(isPlainObject(v) ? v.type : v)}; must be one of "lognormal", "gaussian", "bimodal"`);
  }
  const fields = SIZE_VARIANTS[v.type];
  for (const k of Object.keys(v)) if (!hasField(fields, k)) throw new ConfigError(`${path}.${k}`, `unknown field for a ${v.type} size distribution; allowed: ${Object.keys(fields).join(', ')}`);
  for (const [k, f] of Object.entries(fields)) {
    if (!hasField(v, k)) {
      if (OPTIONAL_SIZE_FIELDS.has(k)) continue;
      throw new ConfigError(`${path}.${k}`, `missing; must be ${describe(f)}`);
    }
    if (f.kind !== 'size') checkLeaf(`${path}.${k}`, f, v[k]);
  }
  if (v.type === 'bimodal') {
    const comps = v.components;
    if (!Array.isArray(comps) || comps.length < 1 || comps.length > 8) throw new ConfigError(`${path}.components`, 'must be an array of 1 to 8 {mean, std, weight} objects');
    comps.forEach((c, i) => {
      const cp = `${path}.components[${i}]`;
      if (!isPlainObject(c)) throw new ConfigError(cp, 'must be an object {mean, std, weight}');
      const cf: Record<string, Field> = { mean: num(0.01, 10), std: num(0, 5), weight: num(0, 1e6) };
      for (const k of Object.keys(c)) if (!hasField(cf, k)) throw new ConfigError(`${cp}.${k}`, 'unknown field; allowed: mean, std, weight');
      for (const [k, f] of Object.entries(cf)) checkLeaf(`${cp}.${k}`, f, c[k]);
    });
    if (!comps.some((c) => (c as { weight: number }).weight > 0)) throw new ConfigError(`${path}.components`, 'at least one weight must be > 0');
  }
  return structuredClone(v) as unknown as SizeDistribution;
}

/**
 * How deep a config may nest (objects and arrays). The schema's deepest field is 4 levels down
 * (particles.size.components[i].mean); anything far deeper is not a scene config, and is refused
 * before any recursive step could overflow the stack on it.
 */
export const MAX_CONFIG_DEPTH = 16;

/** The dotted path of the first value nested deeper than `limit` levels in `v`, or null (iterative). */
export function tooDeep(v: unknown, limit: number): string | null {
  const stack: [unknown, number, string][] = [[v, 0, '']];
  while (stack.length > 0) {
    const [x, depth, path] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    if (depth >= limit) return path || '(root)';
    for (const [k, y] of Object.entries(x)) stack.push([y, depth + 1, path ? `${path}.${k}` : k]);
  }
  return null;
}

/** Whether `key` is one of `fields`' own names (never an inherited one such as __proto__ or toString). */
function hasField(fields: object, key: string): boolean {
  return Object.hasOwn(fields, key);
}

function mergeInto(path: string, schema: Field, base: unknown, patch: unknown): unknown {
  if (schema.kind === 'size') return validateSize(path, patch);
  if (schema.kind === 'mesh') return checkUserMesh(path, patch);
  if (schema.kind !== 'object') {
    checkLeaf(path, schema, patch);
    return patch;
  }
  if (!isPlainObject(patch)) throw new ConfigError(path || '(root)', `got ${JSON.stringify(patch)}; must be ${describe(schema)}`);
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch)) {
    const sub = path ? `${path}.${k}` : k;
    if (!hasField(schema.fields, k)) throw new ConfigError(sub, `unknown field; allowed: ${Object.keys(schema.fields).join(', ')}`);
    out[k] = mergeInto(sub, schema.fields[k], out[k], v);
  }
  return out;
}

/**
 * Merges a JSON patch (parsed object) over a base config, validating every field it sets and the
 * cross-field rules (count.min <= count.max). Returns a new config; the base is not changed.
 */
export function mergeSceneConfig(base: SceneConfig, patch: unknown): SceneConfig {
  const deep = tooDeep(patch, MAX_CONFIG_DEPTH);
  if (deep !== null) throw new ConfigError(deep, `nested more than ${MAX_CONFIG_DEPTH} levels deep; a scene config is at most a few levels deep`);
  const merged = mergeInto('', SCENE_SCHEMA, structuredClone(base), patch) as SceneConfig;
  // a mesh given without a shape means: use it
  const pp = isPlainObject(patch) && hasField(patch, 'particles') && isPlainObject(patch.particles) ? patch.particles : {};
  if (hasField(pp, 'mesh') && !hasField(pp, 'shape')) merged.particles.shape = 'mesh';
  if (merged.particles.shape === 'mesh' && !merged.particles.mesh) {
    throw new ConfigError('particles.mesh', 'missing: particles.shape "mesh" needs a mesh file (particles.mesh: "grain.ply")');
  }
  for (const p of PARAMETER_TABLE) {
    if (!(p.name in merged.params)) throw new ConfigError(`params.${p.name}`, `missing; must be a number in [${p.min}, ${p.max}]`);
  }
  if (merged.particles.count.min > merged.particles.count.max) {
    throw new ConfigError('particles.count.min', `${merged.particles.count.min} is larger than particles.count.max (${merged.particles.count.max})`);
  }
  if ((merged.raster.supersample ?? 1) > 1 && merged.shading.model === 'transmission') {
    throw new ConfigError('raster.supersample', `got ${merged.raster.supersample}; the transmission model renders at 1 sample per pixel only (supersampling is for the shaded models)`);
  }
  return merged;
}
