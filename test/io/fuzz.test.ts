/**
 * Fuzzing: random bytes, and byte mutations / truncations of valid PNG, TIFF, PLY and OBJ files,
 * must give either a result or an InputError naming the file, never another exception. Fixed
 * seeds keep failures reproducible. (Hangs and memory are watched by `npm run fuzz`, whose child
 * processes can be killed; no wall-clock bound here, where the cores are shared.)
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { decodeImage, decodeMesh } from '../../src/io/decode.js';
import { zlibInflate } from '../../src/io/inflate.js';
import { encodePngGrey16, encodePngGrey8, encodePngRgb8 } from '../../src/io/png.js';
import { pattern } from './helpers/common.js';
import { buildPng, fixPngCrcs } from './helpers/png-builder.js';
import { CUBE_QUADS, CUBE_VERTICES, writePly } from './helpers/ply-writer.js';
import { encodeTiff } from './helpers/tiff-writer.js';

/** For a longer hunt: IO_FUZZ_SCALE=50 IO_FUZZ_SEED=123 npx vitest run test/io/fuzz.test.ts */
const SCALE = Number(process.env.IO_FUZZ_SCALE ?? 1);
const SEED = process.env.IO_FUZZ_SEED === undefined ? undefined : Number(process.env.IO_FUZZ_SEED);
const opts = (numRuns: number, seed: number): { numRuns: number; seed: number } => ({ numRuns: Math.round(numRuns * SCALE), seed: SEED ?? seed });

/** Runs `decode` and fails the property on anything but success or an InputError naming `name`. */
function survives(decode: () => unknown, name: string): void {
  try {
    decode();
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    if (!e.message.startsWith(`${name}: `)) throw new Error(`InputError without the file name: ${e.message}`);
  }
}

const mutation = fc.record({
  edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
  truncateTo: fc.option(fc.nat(), { nil: undefined }),
  fixCrc: fc.boolean(),
});

function mutate(seed: Uint8Array, m: { edits: [number, number][]; truncateTo?: number }): Uint8Array {
  const b = seed.slice();
  for (const [pos, v] of m.edits) b[pos % b.length] = v;
  return m.truncateTo === undefined ? b : b.subarray(0, m.truncateTo % (b.length + 1));
}

const W = 9;
const H = 6;
const PNG_SEEDS: Uint8Array[] = [
  encodePngGrey8(W, H, new Uint8Array(pattern(W * H, 255))),
  encodePngGrey16(W, H, new Uint16Array(pattern(W * H, 65535))),
  encodePngRgb8(W, H, new Uint8Array(pattern(W * H * 3, 255))),
  buildPng({ width: W, height: H, bitDepth: 2, colorType: 3, interlace: 1, samples: pattern(W * H, 3), palette: pattern(12, 255) }),
  buildPng({ width: W, height: H, bitDepth: 16, colorType: 6, interlace: 1, samples: pattern(W * H * 4, 65535) }),
  buildPng({ width: W, height: H, bitDepth: 1, colorType: 0, samples: pattern(W * H, 1) }),
];
const grey = pattern(W * H, 255);
const ramp = [...Array(256).keys()].map((v) => v * 257);
const TIFF_SEEDS: Uint8Array[] = [
  encodeTiff({ width: W, height: H, samples: grey, bits: 8, photometric: 1, rowsPerStrip: 2 }),
  encodeTiff({ width: W, height: H, samples: grey, bits: 8, photometric: 1, compression: 32773, bigEndian: true }),
  encodeTiff({ width: W, height: H, samples: pattern(W * H, 65535), bits: 16, photometric: 1, compression: 5, predictor: 2 }),
  encodeTiff({ width: W, height: H, samples: grey, bits: 8, photometric: 3, colorMap: [...ramp, ...ramp, ...ramp], compression: 8 }),
  encodeTiff({ width: W, height: H, samples: pattern(W * H * 3, 255), bits: 8, photometric: 2, tile: [16, 16], compression: 5, pages: 3 }),
  encodeTiff({ width: W, height: H, samples: grey.map((v) => v / 255), bits: 32, float: true, photometric: 1, compression: 8, predictor: 3 }),
  encodeTiff({ width: W, height: H, samples: pattern(W * H * 3, 255), bits: 8, photometric: 2, planar: 2, rowsPerStrip: 4 }),
  encodeTiff({ width: W, height: H, samples: pattern(W * H, 1), bits: 1, photometric: 0 }),
];
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const cubeElements = [
  { name: 'vertex', props: ['x', 'y', 'z'].map((n) => ({ name: n, type: 'float' as const })), rows: CUBE_VERTICES },
  { name: 'face', props: [{ name: 'vertex_indices', type: 'int' as const, countType: 'uchar' as const }], rows: CUBE_QUADS.map((q) => [q]) },
];
const MESH_SEEDS: [string, Uint8Array][] = [
  ['cube.ply', writePly('ascii', cubeElements)],
  ['cube.ply', writePly('binary_little_endian', cubeElements)],
  ['cube.ply', writePly('binary_big_endian', cubeElements)],
  ['cube.obj', enc(CUBE_VERTICES.map((v) => `v ${v.join(' ')}`).join('\n') + '\n' + CUBE_QUADS.map((q) => `f ${q.map((i) => `${i + 1}/1/${i - 8}`).join(' ')}`).join('\n') + '\n')],
];

describe('fuzzing: decoders raise only InputError', () => {
  it('the seeds themselves decode', () => {
    for (const s of [...PNG_SEEDS, ...TIFF_SEEDS]) expect(decodeImage(s, 'seed').width).toBe(W);
    for (const [n, s] of MESH_SEEDS) expect(decodeMesh(s, n).faces.length).toBe(36);
  });

  it('random bytes, with and without an image or mesh signature', () => {
    const prefixes = [[], [137, 80, 78, 71, 13, 10, 26, 10], [0x49, 0x49, 42, 0], [0x4d, 0x4d, 0, 42], [...enc('ply\n')]];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: prefixes.length - 1 }), fc.uint8Array({ maxLength: 600 }), (k, body) => {
        const bytes = new Uint8Array([...prefixes[k]!, ...body]);
        survives(() => decodeImage(bytes, 'r.bin'), 'r.bin');
        survives(() => decodeMesh(bytes, 'r.ply'), 'r.ply');
        survives(() => decodeMesh(bytes, 'r.obj'), 'r.obj');
        survives(() => zlibInflate(bytes, 'r.z', 'data', 1 << 16), 'r.z');
      }),
      opts(300, 11),
    );
  });

  it('mutated and truncated PNG files', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: PNG_SEEDS.length - 1 }), mutation, (k, m) => {
        let bytes = mutate(PNG_SEEDS[k]!, m);
        if (m.fixCrc) bytes = fixPngCrcs(bytes.slice());
        survives(() => decodeImage(bytes, 'm.png'), 'm.png');
      }),
      opts(400, 12),
    );
  });

  it('mutated and truncated TIFF files', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: TIFF_SEEDS.length - 1 }), mutation, (k, m) => {
        const bytes = mutate(TIFF_SEEDS[k]!, m);
        survives(() => decodeImage(bytes, 'm.tif'), 'm.tif');
      }),
      opts(500, 13),
    );
  });

  it('TIFF header fields set to extreme values', () => {
    // Overwrite a value inside the IFD (where the tags live) with 0, 1, 0xffff or 0xffffffff-ish bytes.
    fc.assert(
      fc.property(fc.integer({ min: 0, max: TIFF_SEEDS.length - 1 }), fc.nat(), fc.constantFrom(0, 1, 0x7f, 0xff), fc.integer({ min: 1, max: 4 }), (k, at, v, n) => {
        const seed = TIFF_SEEDS[k]!;
        const le = seed[0] === 0x49;
        const ifd = new DataView(seed.buffer, seed.byteOffset).getUint32(4, le);
        const bytes = seed.slice();
        const start = ifd + (at % Math.max(1, seed.length - ifd));
        for (let i = 0; i < n && start + i < bytes.length; i++) bytes[start + i] = v;
        survives(() => decodeImage(bytes, 'x.tif'), 'x.tif');
      }),
      opts(400, 14),
    );
  });

  it('mutated and truncated PLY and OBJ files', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MESH_SEEDS.length - 1 }), mutation, (k, m) => {
        const [name, seed] = MESH_SEEDS[k]!;
        const bytes = mutate(seed, m);
        survives(() => decodeMesh(bytes, name), name);
      }),
      opts(500, 15),
    );
  });

  it('textual mutations of mesh files (digits, signs, keywords)', () => {
    const tokens = ['-', '0', '9', '/', ' ', '\n', 'e', '.', 'nan', 'f ', 'v ', '99999999999', 'list', 'uint'];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MESH_SEEDS.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.constantFrom(...tokens)), { minLength: 1, maxLength: 5 }), (k, edits) => {
        const [name, seed] = MESH_SEEDS[k]!;
        let text = new TextDecoder('latin1').decode(seed);
        for (const [pos, tok] of edits) {
          const p = pos % (text.length + 1);
          text = text.slice(0, p) + tok + text.slice(p + 1);
        }
        const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0) & 255);
        survives(() => decodeMesh(bytes, name), name);
      }),
      opts(400, 16),
    );
  });
});
