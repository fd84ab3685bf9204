/**
 * Broken meshes through readMeshFile (the path every mesh input takes): each one is either
 * refused with an InputError naming the file and the fault, or repaired / accepted with a warning
 * that says what was done.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readMeshFile } from '../../src/node/files.js';
import { ExitCode, InputError } from '../../src/errors.js';
import { removeTempDirs, tempDir } from './helpers.js';
import { CUBE_QUADS, CUBE_VERTICES, writePly } from '../io/helpers/ply-writer.js';

let dir = '';
beforeAll(() => {
  dir = tempDir('mesh');
});
afterAll(removeTempDirs);

const TETRA_V = 'v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\n';
const TETRA_F = 'f 1 3 2\nf 1 2 4\nf 2 3 4\nf 1 4 3\n';

function obj(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

function refused(file: string, re: RegExp): void {
  let err: unknown;
  try {
    readMeshFile(file);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(InputError);
  expect((err as InputError).exitCode).toBe(ExitCode.badInput);
  expect((err as InputError).message.startsWith(`${file}: `)).toBe(true);
  expect((err as InputError).message).toMatch(re);
}

describe('readMeshFile on broken meshes', () => {
  it('a closed tetrahedron reads without warnings (the baseline)', () => {
    const m = readMeshFile(obj('tetra.obj', TETRA_V + TETRA_F));
    expect(m.faces.length).toBe(12);
    expect(m.warnings).toEqual([]);
  });

  it('empty file: refused (no vertices)', () => refused(obj('empty.obj', ''), /no vertices/));
  it('vertices but no faces: refused', () => refused(obj('nofaces.obj', TETRA_V), /no faces/));
  it('an empty PLY (0 vertices, 0 faces): refused', () => {
    const f = join(dir, 'empty.ply');
    writeFileSync(f, writePly('binary_little_endian', [
      { name: 'vertex', props: [{ name: 'x', type: 'float' }, { name: 'y', type: 'float' }, { name: 'z', type: 'float' }], rows: [] },
      { name: 'face', props: [{ name: 'vertex_indices', type: 'int', countType: 'uchar' }], rows: [] },
    ] ));
    refused(f, /no vertices|no faces|PLY/);
  });

  it('NaN / Inf coordinates: refused, naming the vertex (binary PLY) or the line (OBJ text)', () => {
    const ply = (name: string, bad: number, v: number): string => {
      const verts = CUBE_VERTICES.map((r) => [...r]);
      verts[bad][1] = v;
      const f = join(dir, name);
      writeFileSync(f, writePly('binary_little_endian', [
        { name: 'vertex', props: [{ name: 'x', type: 'float' }, { name: 'y', type: 'float' }, { name: 'z', type: 'float' }], rows: verts },
        { name: 'face', props: [{ name: 'vertex_indices', type: 'int', countType: 'uchar' }], rows: CUBE_QUADS.map((q) => [q]) },
      ]));
      return f;
    };
    refused(ply('nan.ply', 1, NaN), /vertex 1 has a non-finite coordinate \(NaN\)/);
    refused(ply('inf.ply', 3, -Infinity), /vertex 3 has a non-finite coordinate \(-Infinity\)/);
    refused(obj('nan.obj', TETRA_V.replace('v 1 0 0', 'v nan 0 0') + TETRA_F), /line 2|nan|non-finite/i);
  });

  it('an index out of range: refused, naming the face and vertex', () => {
    refused(obj('range.obj', TETRA_V + 'f 1 2 9\n'), /vertex|index/);
  });

  it('degenerate triangles (repeated vertex, zero area) are removed, and the warning says how many', () => {
    const text = TETRA_V + 'v 2 0 0\n' + TETRA_F + 'f 1 1 2\nf 1 2 5\n'; // repeated index; 1,2,5 collinear
    const m = readMeshFile(obj('degenerate.obj', text));
    expect(m.faces.length).toBe(12);
    expect(m.warnings).toContain('removed 2 degenerate triangle(s) (repeated vertex or zero area)');
  });

  it('only degenerate triangles: refused', () => refused(obj('alldegenerate.obj', 'v 0 0 0\nv 1 0 0\nv 2 0 0\nf 1 2 3\nf 1 1 2\n'), /all 2 triangles are degenerate/));

  it('an open surface (a hole) is accepted with a warning saying so', () => {
    const m = readMeshFile(obj('open.obj', TETRA_V + TETRA_F.split('\n').slice(0, 3).join('\n') + '\n'));
    expect(m.faces.length).toBe(9);
    expect(m.warnings.join('\n')).toMatch(/not a closed manifold surface: 3 edge\(s\) belong to one triangle only and 0 to more than two/);
  });

  it('a non-manifold edge (three triangles on one edge) is accepted with a warning saying so', () => {
    const m = readMeshFile(obj('nonmanifold.obj', TETRA_V + 'v 1 1 1\n' + TETRA_F + 'f 2 3 5\n'));
    expect(m.warnings.join('\n')).toMatch(/not a closed manifold surface: \d+ edge\(s\) belong to one triangle only and 1 to more than two/);
  });

  it('a PLY cube of quads reads closed (fan-triangulated), the same file truncated is refused', () => {
    const bytes = writePly('binary_little_endian', [
      { name: 'vertex', props: [{ name: 'x', type: 'float' }, { name: 'y', type: 'float' }, { name: 'z', type: 'float' }], rows: CUBE_VERTICES },
      { name: 'face', props: [{ name: 'vertex_indices', type: 'int', countType: 'uchar' }], rows: CUBE_QUADS.map((q) => [q]) },
    ] );
    const f = join(dir, 'cube.ply');
    writeFileSync(f, bytes);
    const m = readMeshFile(f);
    expect(m.faces.length).toBe(36);
    expect(m.warnings).toEqual([]);
    const t = join(dir, 'cube-truncated.ply');
    writeFileSync(t, bytes.subarray(0, bytes.length - 10));
    refused(t, /./);
  });
});
