/**
 * A user's particle mesh (PLY / OBJ, read on the Node side by src/node/scene-config.ts) as scene
 * config data: normalised once (unused vertices dropped, centred on its bounding-box centre,
 * scaled to bounding radius 1 like the built-in shapes, faces turned outwards), then stored in
 * the config itself (`particles.mesh`), so that a run's saved config.json, `generate` workers
 * and the browser render the same particles without the file. The layout's scale and rotation
 * apply as for the built-in shapes. Pure: no Node modules.
 */
import { ConfigError } from '../../errors.js';
import type { Mesh } from './types.js';

/** The `particles.mesh` config value. */
export interface UserMeshData {
  /** Where it came from (shown in reports and errors; not read again). */
  source: string;
  /** x, y, z per vertex, normalised (bounding radius 1, centred). */
  positions: number[];
  /** Three vertex indices per triangle, counter-clockwise seen from outside. */
  faces: number[];
}

/** Most triangles a particle mesh may have (every particle of a scene copies it). */
export const MAX_USER_MESH_FACES = 20_000;

export interface NormalisedMesh extends Mesh {
  /** What normalising did (for the user): turned faces, dropped vertices, original size. */
  notes: string[];
}

/**
 * Centres (bounding-box centre) and scales (farthest vertex at distance 1) a triangle mesh,
 * keeping only the vertices its faces use; turns every face around when the enclosed signed
 * volume is negative (inward-facing), since culling and shading expect outward faces. Throws
 * Error with a plain-language problem (the caller adds the file name) when there is nothing to
 * render: no faces, more than MAX_USER_MESH_FACES, non-finite or coincident vertices.
 */
export function normaliseMesh(positions: ArrayLike<number>, faces: ArrayLike<number>): NormalisedMesh {
  const nf = faces.length / 3;
  if (!(nf >= 1) || !Number.isInteger(nf)) throw new Error('the mesh has no triangles');
  if (nf > MAX_USER_MESH_FACES) throw new Error(`the mesh has ${nf} triangles; at most ${MAX_USER_MESH_FACES} are allowed for a particle (every particle copies it): simplify it`);
  const nvIn = positions.length / 3;
  // keep the used vertices in their original order
  const remap = new Int32Array(nvIn).fill(-1);
  for (let i = 0; i < faces.length; i++) {
    const v = faces[i];
    if (!Number.isInteger(v) || v < 0 || v >= nvIn) throw new Error(`triangle ${Math.floor(i / 3)} refers to vertex ${v}, but there are ${nvIn}`);
    remap[v] = 0;
  }
  const order: number[] = [];
  for (let v = 0; v < nvIn; v++) if (remap[v] === 0) remap[v] = order.push(v) - 1;
  const outFaces = new Uint32Array(faces.length);
  for (let i = 0; i < faces.length; i++) outFaces[i] = remap[faces[i]];
  const nv = order.length;
  let lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
  for (const v of order) {
    for (let k = 0; k < 3; k++) {
      const x = positions[3 * v + k];
      if (!Number.isFinite(x)) throw new Error(`vertex ${v} has a non-finite coordinate`);
      if (x < lo[k]) lo[k] = x;
      if (x > hi[k]) hi[k] = x;
    }
  }
  const c = [0, 1, 2].map((k) => (lo[k] + hi[k]) / 2);
  let r2 = 0;
  for (const v of order) {
    const dx = positions[3 * v] - c[0], dy = positions[3 * v + 1] - c[1], dz = positions[3 * v + 2] - c[2];
    r2 = Math.max(r2, dx * dx + dy * dy + dz * dz);
  }
  const r = Math.sqrt(r2);
  if (!(r > 0) || !Number.isFinite(r)) throw new Error('all vertices coincide (the mesh has no size)');
  const out = new Float32Array(3 * nv);
  for (let i = 0; i < nv; i++) for (let k = 0; k < 3; k++) out[3 * i + k] = (positions[3 * order[i] + k] - c[k]) / r;
  // signed volume (divergence theorem): positive for outward counter-clockwise faces
  let vol = 0;
  for (let f = 0; f < outFaces.length; f += 3) {
    const a = 3 * outFaces[f], b = 3 * outFaces[f + 1], d = 3 * outFaces[f + 2];
    vol += out[a] * (out[b + 1] * out[d + 2] - out[b + 2] * out[d + 1])
      - out[a + 1] * (out[b] * out[d + 2] - out[b + 2] * out[d])
      + out[a + 2] * (out[b] * out[d + 1] - out[b + 1] * out[d]);
  }
  const notes = [`normalised: centre (${c.map((v) => +v.toPrecision(4)).join(', ')}) moved to the origin, bounding radius ${+r.toPrecision(4)} scaled to 1`];
  if (nv < nvIn) notes.push(`${nvIn - nv} vertex(es) used by no triangle dropped`);
  if (vol < 0) {
    for (let f = 0; f < outFaces.length; f += 3) {
      const t = outFaces[f + 1];
      outFaces[f + 1] = outFaces[f + 2];
      outFaces[f + 2] = t;
    }
    notes.push('the triangles faced inwards (negative enclosed volume): turned around');
  }
  return { positions: out, faces: outFaces, notes };
}

/** The config value for a normalised mesh (plain arrays: it goes into JSON). */
export function userMeshData(source: string, m: Mesh): UserMeshData {
  return { source, positions: Array.from(m.positions), faces: Array.from(m.faces) };
}

/**
 * Validates a `particles.mesh` config value (the field path is `path`). A string is a file path
 * that only the Node side can read (src/node/scene-config.ts does it for --config files).
 */
export function checkUserMesh(path: string, v: unknown): UserMeshData {
  if (typeof v === 'string') {
    throw new ConfigError(path, `got the path ${JSON.stringify(v)}: a mesh file is read by the command-line --config reader (paths relative to the config file); in the library pass {source, positions, faces} (normaliseMesh, userMeshData)`);
  }
  const o = v as Record<string, unknown>;
  if (typeof v !== 'object' || v === null || Array.isArray(v) || typeof o.source !== 'string' || !Array.isArray(o.positions) || !Array.isArray(o.faces)) {
    throw new ConfigError(path, 'must be a mesh file path (in a --config file) or an object {source, positions, faces}');
  }
  for (const k of Object.keys(o)) if (!['source', 'positions', 'faces'].includes(k)) throw new ConfigError(`${path}.${k}`, 'unknown field; allowed: source, positions, faces');
  const p = o.positions as unknown[], f = o.faces as unknown[];
  if (p.length === 0 || p.length % 3 !== 0 || !p.every((x) => typeof x === 'number' && Number.isFinite(x) && Math.abs(x) <= 1.0001)) {
    throw new ConfigError(`${path}.positions`, 'must be x, y, z triples of finite numbers in [-1, 1] (a normalised mesh)');
  }
  const nv = p.length / 3;
  if (f.length === 0 || f.length % 3 !== 0 || f.length / 3 > MAX_USER_MESH_FACES || !f.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < nv)) {
    throw new ConfigError(`${path}.faces`, `must be 1 to ${MAX_USER_MESH_FACES} triples of vertex indices in [0, ${nv - 1}]`);
  }
  return { source: o.source, positions: p as number[], faces: f as number[] };
}

const meshCache = new WeakMap<UserMeshData, Mesh>();
/** The render mesh of a config value (typed arrays, built once per value). */
export function userMesh(d: UserMeshData): Mesh {
  let m = meshCache.get(d);
  if (!m) meshCache.set(d, (m = { positions: Float32Array.from(d.positions), faces: Uint32Array.from(d.faces) }));
  return m;
}
