/**
 * Wavefront OBJ reader for geometry only: `v x y z [w | r g b]` and `f` with `i`, `i/t`, `i//n`
 * or `i/t/n` corners, 1-based or negative (relative to the vertices read so far) indices;
 * polygons are fan-triangulated. Comments (#) and every other statement (vt, vn, g, o, s,
 * usemtl, mtllib, l, ...) are ignored. The result goes through validateMesh. Every fault raises
 * InputError naming the file and line. Pure: no Node modules.
 */
import { InputError } from '../errors.js';
import { type Mesh, TriangleList, validateMesh } from './mesh.js';

export function decodeObj(bytes: Uint8Array, name: string): Mesh {
  const text = new TextDecoder('utf-8').decode(bytes);
  const coords: number[] = [];
  const tris = new TriangleList();
  const corners: number[] = [];
  const lines = text.split(/\r\n|\n|\r/);
  for (let ln = 0; ln < lines.length; ln++) {
    let line = lines[ln]!;
    const lineNo = ln + 1;
    // A trailing backslash continues the statement on the next line.
    while (line.endsWith('\\') && ln + 1 < lines.length) line = line.slice(0, -1) + ' ' + lines[++ln]!;
    const hash = line.indexOf('#');
    if (hash >= 0) line = line.slice(0, hash);
    const words = line.trim().split(/\s+/);
    const fail = (problem: string): never => {
      throw new InputError(name, `line ${lineNo}: ${problem}`);
    };
    if (words[0] === 'v') {
      if (words.length < 4) fail(`vertex with ${words.length - 1} coordinate(s), 3 needed`);
      for (let c = 1; c <= 3; c++) {
        const v = Number(words[c]);
        if (!Number.isFinite(v) || words[c] === '') fail(`vertex coordinate '${words[c]!.slice(0, 40)}' is not a finite number`);
        coords.push(v);
      }
    } else if (words[0] === 'f') {
      if (words.length < 4) fail(`face with ${words.length - 1} vertex(es), at least 3 needed`);
      const nv = coords.length / 3;
      corners.length = 0;
      for (let c = 1; c < words.length; c++) {
        const ref = words[c]!;
        if (!/^[+-]?\d+(\/[+-]?\d*)?(\/[+-]?\d*)?$/.test(ref)) fail(`bad face corner '${ref.slice(0, 40)}'`);
        const i = Number(ref.split('/')[0]);
        if (i === 0) fail('vertex index 0 (OBJ indices start at 1)');
        const idx = i > 0 ? i - 1 : nv + i;
        if (idx < 0) fail(`relative vertex index ${i} points before the first vertex`);
        if (idx > 0xffffffff) fail(`vertex index ${i} is too large`);
        corners.push(idx);
      }
      tris.addPolygon(corners, corners.length);
    }
  }
  return validateMesh({ positions: new Float32Array(coords), faces: tris.toArray(), warnings: [] }, name);
}
