/**
 * Scene-config files (--config): read, parse and merged into a base config, with errors that
 * name the file and where in it: a JSON syntax error gives line and column, a wrong field gives
 * the field, its allowed values and the file. Shared by every command that takes --config.
 * A particle mesh file (`"particles": {"mesh": "grain.ply"}`, PLY or OBJ, a path relative to
 * the config file) is read and normalised here, and goes into the config as data
 * (src/render/mesh/user.ts); a bad mesh file is an InputError naming it (exit 3).
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { InputError, ConfigError } from '../errors.js';
import { readInputFile, readMeshFile } from './files.js';
import { MAX_CONFIG_DEPTH, mergeSceneConfig, type SceneConfig } from '../render/config.js';
import { normaliseMesh, userMeshData } from '../render/mesh/user.js';

/**
 * Offset of the first bracket nested deeper than `limit` in JSON text (strings skipped), or -1:
 * checked before parsing, so that neither the parser's error locator (recursive) nor the merge
 * ever sees a 100,000-level document.
 */
export function jsonDepthExceeded(text: string, limit: number): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return i;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return -1;
}

/** Offset of the first JSON syntax error in text (JSON.parse does not always say where). */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') { i++; return; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        str();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return; }
        fail();
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') { i++; return; }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return; }
        fail();
      }
    } else if (c === '"') str();
    else {
      const m = /^(-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
      if (!m) fail();
      i += m![0].length;
    }
  };
  const str = (): void => {
    i++;
    while (i < text.length) {
      const c = text[i];
      if (c === '"') { i++; return; }
      if (c === '\\') {
        i++;
        if (text[i] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail();
          i += 5;
        } else if ('"\\/bfnrt'.includes(text[i] ?? '')) i++;
        else fail();
      } else if (c < ' ') fail();
      else i++;
    }
    fail();
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return -1;
  } catch (pos) {
    return pos as number;
  }
}

/**
 * Reads a particle mesh file (PLY ascii / binary little or big endian, or OBJ) for a scene
 * config: validated by the reader, then normalised (centred, bounding radius 1, faces turned
 * outwards). `warn` gets the reader's and the normalisation's notes, each prefixed by the file.
 */
export function loadParticleMesh(path: string, warn: (line: string) => void = () => {}): ReturnType<typeof userMeshData> {
  const m = readMeshFile(path);
  let n;
  try {
    n = normaliseMesh(m.positions, m.faces);
  } catch (e) {
    throw new InputError(path, (e as Error).message);
  }
  for (const w of [...m.warnings, ...n.notes]) warn(`${path}: ${w}`);
  return userMeshData(resolve(path), n);
}

/**
 * The scene config in `file` merged over `base` (fields of the file win). `warn` gets notes
 * about a particle mesh file (default: stderr).
 */
export function applySceneConfigFile(base: SceneConfig, file: string, warn: (line: string) => void = (l) => process.stderr.write(`note: ${l}\n`)): SceneConfig {
  const text = new TextDecoder().decode(readInputFile(file));
  const deep = jsonDepthExceeded(text, MAX_CONFIG_DEPTH);
  if (deep >= 0) throw new InputError(file, `nested more than ${MAX_CONFIG_DEPTH} levels deep (at offset ${deep}); a scene config is at most a few levels deep`);
  let patch: unknown;
  try {
    patch = JSON.parse(text);
  } catch (e) {
    const at = Math.max(0, jsonErrorOffset(text));
    const before = text.slice(0, at).split('\n');
    const line = before.length, col = before[before.length - 1].length + 1;
    const near = at < text.length ? `near ${JSON.stringify(text.slice(at, at + 12))}` : 'at the end of the file';
    throw new InputError(file, `invalid JSON at line ${line}, column ${col} (offset ${at}), ${near}: ${(e as Error).message.split('\n')[0]}`);
  }
  // Own fields only: a "__proto__" key is an unknown field for the merge to refuse, never a source of inherited ones.
  const own = (o: unknown, k: string): unknown => (o !== null && typeof o === 'object' && Object.hasOwn(o, k) ? (o as Record<string, unknown>)[k] : undefined);
  const parts = own(patch, 'particles');
  if (parts && typeof parts === 'object' && typeof own(parts, 'mesh') === 'string') {
    const rel = (parts as { mesh: string }).mesh;
    const path = isAbsolute(rel) ? rel : resolve(dirname(file), rel);
    patch = { ...(patch as object), particles: { ...parts, mesh: loadParticleMesh(path, warn) } };
  }
  try {
    return mergeSceneConfig(base, patch);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(e.field, `${e.message.replace(/^config field '[^']*': /, '')} (in ${file})`);
    throw e;
  }
}
