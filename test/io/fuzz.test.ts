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
import { fixPngCrcs } from './helpers/png-builder.js';
import { objSeed, plySeeds, pngSeeds, SEED_W, tiffSeeds } from './helpers/seed-corpus.js';

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

const PNG_SEEDS = pngSeeds();
const TIFF_SEEDS = tiffSeeds();
const MESH_SEEDS: [string, Uint8Array][] = [...plySeeds().map((b): [string, Uint8Array] => ['cube.ply', b]), ['cube.obj', objSeed()]];

describe('fuzzing: decoders raise only InputError', () => {
  it('the seeds themselves decode', () => {
    for (const s of [...PNG_SEEDS, ...TIFF_SEEDS]) expect(decodeImage(s, 'seed').width).toBe(SEED_W);
    for (const [n, s] of MESH_SEEDS) expect(decodeMesh(s, n).faces.length).toBe(36);
  });

  it('random bytes, with and without an image or mesh signature', () => {
    const prefixes = [[], [137, 80, 78, 71, 13, 10, 26, 10], [0x49, 0x49, 42, 0], [0x4d, 0x4d, 0, 42], [...new TextEncoder().encode('ply\n')]];
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
