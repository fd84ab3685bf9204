/**
 * Valid seed files for fuzzing the decoders (test/io/fuzz.test.ts and `npm run fuzz`): every PNG
 * colour type / depth / interlace and TIFF layout / compression the decoders support, and a cube as
 * ASCII / binary PLY and as OBJ. All images are SEED_W x SEED_H; every mesh has 36 face indices.
 */
import { encodePngGrey16, encodePngGrey8, encodePngRgb8 } from '../../../src/io/png.js';
import { pattern } from './common.js';
import { buildPng } from './png-builder.js';
import { CUBE_QUADS, CUBE_VERTICES, writePly } from './ply-writer.js';
import { encodeTiff } from './tiff-writer.js';

export const SEED_W = 9;
export const SEED_H = 6;
const W = SEED_W, H = SEED_H;

export function pngSeeds(): Uint8Array[] {
  return [
    encodePngGrey8(W, H, new Uint8Array(pattern(W * H, 255))),
    encodePngGrey16(W, H, new Uint16Array(pattern(W * H, 65535))),
    encodePngRgb8(W, H, new Uint8Array(pattern(W * H * 3, 255))),
    buildPng({ width: W, height: H, bitDepth: 2, colorType: 3, interlace: 1, samples: pattern(W * H, 3), palette: pattern(12, 255) }),
    buildPng({ width: W, height: H, bitDepth: 16, colorType: 6, interlace: 1, samples: pattern(W * H * 4, 65535) }),
    buildPng({ width: W, height: H, bitDepth: 1, colorType: 0, samples: pattern(W * H, 1) }),
  ];
}

export function tiffSeeds(): Uint8Array[] {
  const grey = pattern(W * H, 255);
  const ramp = [...Array(256).keys()].map((v) => v * 257);
  return [
    encodeTiff({ width: W, height: H, samples: grey, bits: 8, photometric: 1, rowsPerStrip: 2 }),
    encodeTiff({ width: W, height: H, samples: grey, bits: 8, photometric: 1, compression: 32773, bigEndian: true }),
    encodeTiff({ width: W, height: H, samples: pattern(W * H, 65535), bits: 16, photometric: 1, compression: 5, predictor: 2 }),
    encodeTiff({ width: W, height: H, samples: grey, bits: 8, photometric: 3, colorMap: [...ramp, ...ramp, ...ramp], compression: 8 }),
    encodeTiff({ width: W, height: H, samples: pattern(W * H * 3, 255), bits: 8, photometric: 2, tile: [16, 16], compression: 5, pages: 3 }),
    encodeTiff({ width: W, height: H, samples: grey.map((v) => v / 255), bits: 32, float: true, photometric: 1, compression: 8, predictor: 3 }),
    encodeTiff({ width: W, height: H, samples: pattern(W * H * 3, 255), bits: 8, photometric: 2, planar: 2, rowsPerStrip: 4 }),
    encodeTiff({ width: W, height: H, samples: pattern(W * H, 1), bits: 1, photometric: 0 }),
  ];
}

const cubeElements = [
  { name: 'vertex', props: ['x', 'y', 'z'].map((n) => ({ name: n, type: 'float' as const })), rows: CUBE_VERTICES },
  { name: 'face', props: [{ name: 'vertex_indices', type: 'int' as const, countType: 'uchar' as const }], rows: CUBE_QUADS.map((q) => [q]) },
];

export function plySeeds(): Uint8Array[] {
  return [writePly('ascii', cubeElements), writePly('binary_little_endian', cubeElements), writePly('binary_big_endian', cubeElements)];
}

export function objSeed(): Uint8Array {
  const text = CUBE_VERTICES.map((v) => `v ${v.join(' ')}`).join('\n') + '\n' + CUBE_QUADS.map((q) => `f ${q.map((i) => `${i + 1}/1/${i - 8}`).join(' ')}`).join('\n') + '\n';
  return new TextEncoder().encode(text);
}
