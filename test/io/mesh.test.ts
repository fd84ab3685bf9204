import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { decodeMesh } from '../../src/io/decode.js';
import { type Mesh, validateMesh } from '../../src/io/mesh.js';
import { decodeObj } from '../../src/io/obj.js';
import { decodePly } from '../../src/io/ply.js';
import { expectInputError } from './helpers/common.js';
import { CUBE_QUADS, CUBE_VERTICES, type PlyFormat, type PlyType, writePly } from './helpers/ply-writer.js';

const FORMATS: PlyFormat[] = ['ascii', 'binary_little_endian', 'binary_big_endian'];
const fan = (quads: number[][]): number[] => quads.flatMap((q) => [q[0]!, q[1]!, q[2]!, q[0]!, q[2]!, q[3]!]);
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function cubePly(format: PlyFormat, coordType: PlyType = 'float', countType: PlyType = 'uchar', indexType: PlyType = 'int', name = 'vertex_indices'): Uint8Array {
  return writePly(format, [
    {
      name: 'vertex',
      props: [
        { name: 'x', type: coordType },
        { name: 'nx', type: 'double' },
        { name: 'y', type: coordType },
        { name: 'tags', type: 'short', countType: 'ushort' },
        { name: 'z', type: coordType },
        { name: 'red', type: 'uchar' },
      ],
      rows: CUBE_VERTICES.map((v, i) => [v[0]!, 0.5, v[1]!, [i, -i], v[2]!, 200]),
    },
    { name: 'material', props: [{ name: 'k', type: 'float' }, { name: 'ids', type: 'uint', countType: 'uint' }], rows: [[1.5, [1, 2, 3]]] },
    { name: 'face', props: [{ name: 'flags', type: 'uchar' }, { name, type: indexType, countType }], rows: CUBE_QUADS.map((q) => [7, q]) },
    { name: 'edge', props: [{ name: 'vertex1', type: 'int' }, { name: 'vertex2', type: 'int' }], rows: [[0, 1]] },
  ]);
}

const bad = (fn: () => unknown, re: RegExp, file = 'm'): void => expectInputError(fn, file, re);

describe('PLY', () => {
  for (const format of FORMATS) {
    it(`${format}: a cube with extra properties, lists and elements skipped`, () => {
      const m = decodePly(cubePly(format), 'cube.ply');
      expect([...m.positions]).toEqual(CUBE_VERTICES.flat());
      expect([...m.faces]).toEqual(fan(CUBE_QUADS));
      expect(m.warnings).toEqual([]);
    });
  }

  it('any coordinate, count and index types; vertex_index as the list name', () => {
    const combos: [PlyType, PlyType, PlyType][] = [
      ['double', 'uint', 'uint'],
      ['char', 'ushort', 'uchar'],
      ['int16', 'uint8', 'int32'],
      ['uint32', 'int', 'ushort'],
      ['float64', 'char', 'short'],
    ];
    for (const format of FORMATS) {
      for (const [c, n, i] of combos) {
        const m = decodePly(cubePly(format, c, n, i, 'vertex_index'), 'cube.ply');
        expect([...m.positions]).toEqual(CUBE_VERTICES.flat());
        expect([...m.faces]).toEqual(fan(CUBE_QUADS));
      }
    }
  });

  it('an open surface gives a warning; degenerate triangles are removed with a count', () => {
    const verts = [[0, 0, 0], [1, 0, 0], [0, 1, 0], [2, 2, 2]];
    const ply = writePly('ascii', [
      { name: 'vertex', props: ['x', 'y', 'z'].map((n) => ({ name: n, type: 'float' as const })), rows: verts },
      {
        name: 'face',
        props: [{ name: 'vertex_indices', type: 'int', countType: 'uchar' }],
        rows: [[[0, 1, 2]], [[0, 0, 1]], [[0, 1, 1]], [[1, 1, 1]], [[0, 1, 0]]],
      },
    ]);
    const m = decodePly(ply, 'tri.ply');
    expect([...m.faces]).toEqual([0, 1, 2]);
    expect(m.warnings).toEqual([
      'removed 4 degenerate triangle(s) (repeated vertex or zero area)',
      expect.stringMatching(/not a closed manifold surface: 3 edge\(s\) belong to one triangle only and 0 to more than two/),
    ]);
  });

  it('CRLF header, comments and obj_info are accepted', () => {
    const text = 'ply\r\nformat ascii 1.0\r\ncomment hi\r\nobj_info x\r\nelement vertex 3\r\nproperty float x\r\nproperty float y\r\nproperty float z\r\nelement face 1\r\nproperty list uchar int vertex_indices\r\nend_header\r\n0 0 0\r\n1 0 0\r\n0 1 0\r\n3 0 1 2\r\n';
    const m = decodeMesh(enc(text), 't.ply');
    expect(m.faces.length).toBe(3);
  });

  it('refusals name the file', () => {
    const head = 'ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n';
    bad(() => decodePly(enc(head + '0 0 0\n1 0 0\n0 1 0\n3 0 1 3\n'), 'm'), /face 0 refers to vertex 3, but the mesh has 3 vertices/);
    bad(() => decodePly(enc(head + '0 0 0\n1 0 0\n0 1 nan\n3 0 1 2\n'), 'm'), /vertex 2 has a non-finite coordinate/);
    bad(() => decodePly(enc(head + '0 0 0\n1 0 0\n0 1 0\n3 0 1\n'), 'm'), /truncated PLY/);
    bad(() => decodePly(enc(head + '0 0 0\n1 0 0\n0 1 0\n2 0 1\n'), 'm'), /face 0 has 2 vertices/);
    bad(() => decodePly(enc(head + '0 0 0\n1 x 0\n0 1 0\n3 0 1 2\n'), 'm'), /'x' in vertex 1 property y is not a number/);
    bad(() => decodePly(enc(head + '0 0 0\n1 0 0\n0 1 0\n3 0 1.5 2\n'), 'm'), /not an integer/);
    bad(() => decodePly(enc(head + '0 0 0\n1 0 0\n0 1 0\n3 0 -1 2\n'), 'm'), /vertex index -1/);
    bad(() => decodePly(enc(head.replace('vertex 3', 'vertex 99999999999') + '0 0 0\n'), 'm'), /do not fit/);
    bad(() => decodePly(enc(head.replace('end_header\n', '')), 'm'), /no end_header/);
    bad(() => decodePly(enc(head.replace('ascii', 'binary_middle_endian')), 'm'), /unknown format/);
    bad(() => decodePly(enc(head.replace('property float z\n', '')), 'm'), /lacks scalar x, y and z/);
    bad(() => decodePly(enc(head.replace('vertex_indices', 'corners')), 'm'), /no 'face' element with a vertex_indices list/);
    bad(() => decodePly(enc(head.replace('float x', 'float128 x')), 'm'), /bad property/);
    bad(() => decodePly(enc(head.replace('element face 1', 'element face 0') + '0 0 0\n1 0 0\n0 1 0\n'), 'm'), /mesh has no faces/);
    const bin = cubePly('binary_little_endian');
    bad(() => decodePly(bin.subarray(0, bin.length - 20), 'm'), /truncated PLY/);
    // A huge list count is refused before looping over it.
    const huge = writePly('binary_big_endian', [
      { name: 'vertex', props: ['x', 'y', 'z'].map((n) => ({ name: n, type: 'float' as const })), rows: [[0, 0, 0]] },
      { name: 'face', props: [{ name: 'vertex_indices', type: 'int', countType: 'uint' }], rows: [[[0, 0, 0]]] },
    ]);
    new DataView(huge.buffer).setUint32(huge.length - 16, 0xfffffff0, false);
    bad(() => decodePly(huge, 'm'), /list of 4294967280 items/);
  });
});

describe('OBJ', () => {
  const cubeObj = (corner: (i: number, k: number) => string): string =>
    '# cube\nmtllib x.mtl\no cube\n' +
    CUBE_VERTICES.map((v) => `v ${v.join(' ')}`).join('\n') +
    '\nvt 0 0\nvn 0 0 1\ns off\nusemtl m\n' +
    CUBE_QUADS.map((q, k) => 'f ' + q.map((i) => corner(i, k)).join(' ')).join('\n') +
    '\nl 1 2\n';

  for (const [label, corner] of [
    ['i', (i: number) => `${i + 1}`],
    ['i/t', (i: number) => `${i + 1}/1`],
    ['i//n', (i: number) => `${i + 1}//1`],
    ['i/t/n', (i: number) => `${i + 1}/1/1`],
    ['negative', (i: number) => `${i - 8}`],
    ['negative i/t/n', (i: number) => `${i - 8}/-1/-1`],
  ] as const) {
    it(`a cube with ${label} face corners`, () => {
      const m = decodeObj(enc(cubeObj(corner)), 'cube.obj');
      expect([...m.positions]).toEqual(CUBE_VERTICES.flat());
      expect([...m.faces]).toEqual(fan(CUBE_QUADS));
      expect(m.warnings).toEqual([]);
    });
  }

  it('relative indices count from the vertices read so far; CRLF, comments, w and colours', () => {
    const text = 'v 0 0 0 1\r\nv 1 0 0\r\nv 0 1 0 0.5 0.5 0.5 # coloured\r\nf -3 -2 -1\r\nv 5 5 5\r\nv 6 5 5\r\nv 5 6 5\r\nf -3 -2 -1 # second\r\n';
    const m = decodeObj(enc(text), 't.obj');
    expect([...m.faces]).toEqual([0, 1, 2, 3, 4, 5]);
    expect(m.positions.length).toBe(18);
  });

  it('a pentagon is fan-triangulated', () => {
    const m = decodeObj(enc('v 0 0 0\nv 1 0 0\nv 2 1 0\nv 1 2 0\nv 0 1 0\nf 1 2 3 4 5\n'), 'p.obj');
    expect([...m.faces]).toEqual([0, 1, 2, 0, 2, 3, 0, 3, 4]);
  });

  it('refusals name the file and the line', () => {
    bad(() => decodeObj(enc('v 0 0 0\nv 1 0 0\nf 1 2 0\n'), 'm'), /^m: line 3: vertex index 0/);
    bad(() => decodeObj(enc('v 0 0 0\nf -2 -1 -1\n'), 'm'), /line 2: relative vertex index -2 points before/);
    bad(() => decodeObj(enc('v 0 0\n'), 'm'), /line 1: vertex with 2 coordinate/);
    bad(() => decodeObj(enc('v 0 zero 0\n'), 'm'), /line 1: vertex coordinate 'zero'/);
    bad(() => decodeObj(enc('v 0 0 0\nf 1 2\n'), 'm'), /line 2: face with 2 vertex/);
    bad(() => decodeObj(enc('v 0 0 0\nf 1 a 2\n'), 'm'), /line 2: bad face corner 'a'/);
    bad(() => decodeObj(enc('v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n'), 'm'), /face 0 refers to vertex 3/);
    bad(() => decodeObj(enc('# nothing\n'), 'm'), /mesh has no vertices/);
    bad(() => decodeObj(enc('v 0 0 0\n'), 'm'), /mesh has no faces/);
    bad(() => decodeObj(enc('v 0 0 0\nv 1 0 0\nv 2 0 0\nf 1 2 3\n'), 'm'), /all 1 triangles are degenerate/);
    bad(() => decodeObj(enc('v 1e39 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n'), 'm'), /non-finite/);
  });
});

describe('validateMesh and decodeMesh', () => {
  it('leaves a valid closed mesh untouched and keeps unused vertices', () => {
    const positions = new Float32Array([...CUBE_VERTICES.flat(), 9, 9, 9]);
    const faces = new Uint32Array(fan(CUBE_QUADS));
    const m: Mesh = validateMesh({ positions, faces, warnings: ['from reader'] }, 'c');
    expect(m.faces).toBe(faces);
    expect(m.warnings).toEqual(['from reader']);
  });

  it('reports edges shared by more than two triangles', () => {
    const positions = new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0, 0, -1, 0, 0, 0, 1]);
    const m = validateMesh({ positions, faces: new Uint32Array([0, 1, 2, 1, 0, 3, 0, 1, 4]), warnings: [] }, 'x');
    expect(m.warnings[0]).toMatch(/and 1 to more than two/);
  });

  it('zero area is judged relative to the size of the triangle', () => {
    const tiny = new Float32Array([0, 0, 0, 1e-6, 0, 0, 0, 1e-6, 0]);
    expect(validateMesh({ positions: tiny, faces: new Uint32Array([0, 1, 2]), warnings: [] }, 't').faces.length).toBe(3);
    const sliver = new Float32Array([0, 0, 0, 1, 0, 0, 2, 0, 0]);
    bad(() => validateMesh({ positions: sliver, faces: new Uint32Array([0, 1, 2]), warnings: [] }, 's'), /degenerate/, 's');
  });

  it('dispatches on content and name', () => {
    expect(decodeMesh(cubePly('binary_little_endian'), 'whatever.bin').faces.length).toBe(36);
    expect(decodeMesh(enc('v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n'), 'T.OBJ').faces.length).toBe(3);
    bad(() => decodeMesh(enc('hello'), 'a.ply'), /not a PLY file/, 'a.ply');
    bad(() => decodeMesh(enc('hello'), 'a.stl'), /not a PLY or OBJ mesh/, 'a.stl');
  });
});

describe('OBJ and PLY agree (property)', () => {
  it('one random polygon mesh written as OBJ (any corner form) and as PLY (any format and types) decodes the same', () => {
    const types: PlyType[] = ['char', 'short', 'int', 'float', 'double'];
    const indexTypes: PlyType[] = ['ushort', 'int', 'uint'];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: -50, max: 50 }), fc.integer({ min: -50, max: 50 }), fc.integer({ min: -50, max: 50 })), { minLength: 3, maxLength: 30 }),
        fc.array(fc.array(fc.nat(), { minLength: 3, maxLength: 6 }), { minLength: 1, maxLength: 20 }),
        fc.constantFrom(...FORMATS),
        fc.constantFrom(...types),
        fc.constantFrom(...indexTypes),
        fc.nat(3),
        (verts, polys, format, coordType, indexType, form) => {
          const faces = polys.map((p) => p.map((i) => i % verts.length));
          const corner = (i: number): string => [`${i + 1}`, `${i + 1}/2`, `${i + 1}//3`, `${i - verts.length}/1/1`][form]!;
          const obj = verts.map((v) => `v ${v.join(' ')}`).join('\n') + '\n' + faces.map((f) => `f ${f.map(corner).join(' ')}`).join('\n') + '\n';
          const ply = writePly(format, [
            { name: 'vertex', props: ['x', 'y', 'z'].map((n) => ({ name: n, type: coordType })), rows: verts },
            { name: 'face', props: [{ name: 'vertex_indices', type: indexType, countType: 'uchar' }], rows: faces.map((f) => [f]) },
          ]);
          let a: Mesh | Error;
          let b: Mesh | Error;
          try {
            a = decodeObj(enc(obj), 'm');
          } catch (e) {
            a = e as Error;
          }
          try {
            b = decodePly(ply, 'm');
          } catch (e) {
            b = e as Error;
          }
          if (a instanceof Error || b instanceof Error) {
            // Only "everything degenerate" may fail, and then both fail the same way.
            expect(a).toBeInstanceOf(InputError);
            expect((a as Error).message).toMatch(/degenerate/);
            expect((b as Error).message).toBe((a as Error).message);
            return;
          }
          expect([...a.positions]).toEqual(verts.flat());
          expect(b).toEqual(a);
        },
      ),
      { numRuns: 120, seed: 23 },
    );
  });
});
