/**
 * Builds PNG files with full control over the header (every colour type and bit depth, Adam7
 * interlacing, palette, each of the five row filters) so the decoder can be checked against known
 * pixels. Compression is Node's zlib, independent of the project's own deflate.
 */
import zlib from 'node:zlib';
import { crc32, PNG_SIGNATURE } from '../../../src/io/png.js';

export interface PngSpec {
  width: number;
  height: number;
  bitDepth: number;
  colorType: 0 | 2 | 3 | 4 | 6;
  interlace?: 0 | 1;
  /** Samples per pixel in channel order, width * height * channels values. */
  samples: ArrayLike<number>;
  /** r, g, b bytes. */
  palette?: number[];
  /** Extra chunks inserted before IDAT: [type, data]. */
  extraChunks?: [string, Uint8Array][];
}

const CHANNELS = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as const;
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const c = new Uint8Array(12 + data.length);
  const dv = new DataView(c.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) c[4 + i] = type.charCodeAt(i);
  c.set(data, 8);
  dv.setUint32(8 + data.length, crc32(c, 4, 8 + data.length));
  return c;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

export function buildPng(spec: PngSpec): Uint8Array {
  const { width, height, bitDepth, colorType } = spec;
  const ch = CHANNELS[colorType];
  const bpp = Math.max(1, (ch * bitDepth) >> 3);
  const passes = spec.interlace ? ADAM7 : [[0, 0, 1, 1]];
  const raw: number[] = [];
  let rowIndex = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const xs: number[] = [];
    for (let x = x0!; x < width; x += dx!) xs.push(x);
    if (xs.length === 0) continue;
    let prev = new Uint8Array(Math.ceil((xs.length * ch * bitDepth) / 8));
    for (let y = y0!; y < height; y += dy!) {
      const row = new Uint8Array(prev.length);
      xs.forEach((x, k) => {
        for (let c = 0; c < ch; c++) {
          const v = spec.samples[(y * width + x) * ch + c]!;
          const idx = k * ch + c;
          if (bitDepth === 16) {
            row[2 * idx] = v >> 8;
            row[2 * idx + 1] = v & 255;
          } else if (bitDepth === 8) row[idx] = v;
          else {
            const bit = idx * bitDepth;
            row[bit >> 3]! |= v << (8 - bitDepth - (bit & 7));
          }
        }
      });
      const filter = rowIndex++ % 5;
      raw.push(filter);
      for (let i = 0; i < row.length; i++) {
        const a = i >= bpp ? row[i - bpp]! : 0;
        const b = prev[i]!;
        const c = i >= bpp ? prev[i - bpp]! : 0;
        const pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][filter]!;
        raw.push((row[i]! - pred) & 255);
      }
      prev = row;
    }
  }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = bitDepth;
  ihdr[9] = colorType;
  ihdr[12] = spec.interlace ?? 0;
  const parts = [PNG_SIGNATURE, pngChunk('IHDR', ihdr)];
  if (spec.palette) parts.push(pngChunk('PLTE', new Uint8Array(spec.palette)));
  for (const [t, d] of spec.extraChunks ?? []) parts.push(pngChunk(t, d));
  const z = new Uint8Array(zlib.deflateSync(new Uint8Array(raw)));
  // Split the data over two IDAT chunks to exercise their concatenation.
  const half = z.length >> 1;
  parts.push(pngChunk('IDAT', z.subarray(0, half)), pngChunk('IDAT', z.subarray(half)), pngChunk('IEND', new Uint8Array(0)));
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Rewrites every PNG chunk CRC so that mutations reach the stages behind the CRC check. */
export function fixPngCrcs(b: Uint8Array): Uint8Array {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let p = 8;
  while (p + 12 <= b.length) {
    const len = dv.getUint32(p);
    if (p + 12 + len > b.length) break;
    dv.setUint32(p + 8 + len, crc32(b, p + 4, p + 8 + len));
    p += 12 + len;
  }
  return b;
}
