/**
 * A baseline TIFF reader written by hand (no Node modules), returning the first page as a
 * GreyImage.
 *
 * Supported: little- and big-endian files; strips and tiles; compression none (1), PackBits
 * (32773), LZW (5) and Deflate (8, 32946), with horizontal (2) or floating-point (3) predictor;
 * PhotometricInterpretation 0 (min-is-white), 1 (min-is-black), 2 (RGB, chunky or planar) and
 * 3 (palette via ColorMap); unsigned samples of 1, 2, 4, 8, 16 or 32 bits and floating-point
 * samples of 32 or 64 bits; extra samples (alpha etc.) are ignored; FillOrder 2.
 * Colour is converted to grey with Rec. 601 luma. Floating-point images whose values leave [0, 1]
 * are rescaled from [min, max] to [0, 1] (with a warning); NaN / Inf become 0.
 *
 * Refused with InputError: BigTIFF, JPEG and other compressions, CMYK / YCbCr / Lab, signed
 * integers, images above MAX_IMAGE_PIXELS / MAX_IMAGE_SIDE (checked before allocating), and any
 * offset or count that points outside the file. The IFD chain is followed only to count pages,
 * with cycle detection; a multi-page file yields the first page and a warning.
 */
import { InputError } from '../errors.js';
import {
  COLOUR_WARNING,
  type GreyImage,
  LUMA_B,
  LUMA_G,
  LUMA_R,
  MAX_IMAGE_PIXELS,
  MAX_IMAGE_SIDE,
  checkImageSize,
} from './grey-image.js';
import { DEFLATE_MAX_RATIO, zlibInflate } from './inflate.js';

export function isTiff(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const [a, b, c, d] = bytes;
  return (a === 0x49 && b === 0x49 && (c === 42 || c === 43) && d === 0) || (a === 0x4d && b === 0x4d && c === 0 && (d === 42 || d === 43));
}

/** The most bytes TIFF LZW can expand to per input byte (a string of up to 3839 bytes per 9-bit code, generously rounded). */
const LZW_MAX_RATIO = 3700;
/** Most samples per pixel accepted (colour + extra samples). */
const MAX_SAMPLES = 16;
/** Largest decompressed strip or tile accepted, in bytes. */
const MAX_BLOCK_BYTES = 2 ** 30;

const TAG = {
  width: 256,
  height: 257,
  bitsPerSample: 258,
  compression: 259,
  photometric: 262,
  fillOrder: 266,
  stripOffsets: 273,
  orientation: 274,
  samplesPerPixel: 277,
  rowsPerStrip: 278,
  stripByteCounts: 279,
  planarConfig: 284,
  predictor: 317,
  colorMap: 320,
  tileWidth: 322,
  tileLength: 323,
  tileOffsets: 324,
  tileByteCounts: 325,
  sampleFormat: 339,
} as const;

/** Byte size of each TIFF field type (0 = unknown type). */
const TYPE_SIZE = [0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4];

interface Entry {
  type: number;
  count: number;
  /** Absolute position of the first value in the file. */
  pos: number;
}

class Reader {
  readonly dv: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly le: boolean,
    readonly name: string,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  fail(problem: string): never {
    throw new InputError(this.name, problem);
  }
  need(pos: number, size: number, what: string): void {
    if (pos < 0 || size < 0 || pos + size > this.bytes.length) {
      this.fail(`truncated or corrupt TIFF: ${what} at byte ${pos} (${size} bytes) lies outside the ${this.bytes.length}-byte file`);
    }
  }
  u16(p: number): number {
    return this.dv.getUint16(p, this.le);
  }
  u32(p: number): number {
    return this.dv.getUint32(p, this.le);
  }
}

function readIfd(r: Reader, offset: number): Map<number, Entry> {
  r.need(offset, 2, 'IFD');
  const n = r.u16(offset);
  r.need(offset, 2 + 12 * n + 4, 'IFD');
  const tags = new Map<number, Entry>();
  for (let i = 0; i < n; i++) {
    const e = offset + 2 + 12 * i;
    const tag = r.u16(e);
    const type = r.u16(e + 2);
    const count = r.u32(e + 4);
    const size = TYPE_SIZE[type] ?? 0;
    if (size === 0) continue; // unknown field type: ignored, as the specification asks
    const pos = size * count <= 4 ? e + 8 : r.u32(e + 8);
    tags.set(tag, { type, count, pos });
  }
  return tags;
}

function nextIfdOffset(r: Reader, offset: number): number {
  return r.u32(offset + 2 + 12 * r.u16(offset));
}

function readValues(r: Reader, e: Entry, what: string): number[] {
  const size = TYPE_SIZE[e.type]!;
  r.need(e.pos, size * e.count, `${what} values`);
  const out = new Array<number>(e.count);
  const { dv, le } = r;
  for (let i = 0; i < e.count; i++) {
    const p = e.pos + i * size;
    switch (e.type) {
      case 1:
      case 2:
      case 7:
        out[i] = dv.getUint8(p);
        break;
      case 6:
        out[i] = dv.getInt8(p);
        break;
      case 3:
        out[i] = dv.getUint16(p, le);
        break;
      case 8:
        out[i] = dv.getInt16(p, le);
        break;
      case 4:
      case 13:
        out[i] = dv.getUint32(p, le);
        break;
      case 9:
        out[i] = dv.getInt32(p, le);
        break;
      case 5:
        out[i] = dv.getUint32(p, le) / dv.getUint32(p + 4, le);
        break;
      case 10:
        out[i] = dv.getInt32(p, le) / dv.getInt32(p + 4, le);
        break;
      case 11:
        out[i] = dv.getFloat32(p, le);
        break;
      default:
        out[i] = dv.getFloat64(p, le);
    }
  }
  return out;
}

/** Counts the pages by walking the IFD chain; stops (with a warning) at a loop or a bad offset. */
function countPages(r: Reader, first: number, warnings: string[]): number {
  const seen = new Set<number>([first]);
  let offset = nextIfdOffset(r, first);
  let pages = 1;
  while (offset !== 0) {
    if (seen.has(offset)) {
      warnings.push(`IFD chain loops back to byte ${offset} after page ${pages}; later pages ignored`);
      break;
    }
    if (offset + 6 > r.bytes.length || offset + 6 + 12 * r.u16(offset) > r.bytes.length) {
      warnings.push(`IFD chain points outside the file after page ${pages}; later pages ignored`);
      break;
    }
    seen.add(offset);
    pages++;
    offset = nextIfdOffset(r, offset);
  }
  return pages;
}

export function decodeTiff(bytes: Uint8Array, name: string): GreyImage {
  if (bytes.length < 8 || !isTiff(bytes)) throw new InputError(name, 'not a TIFF file (bad header)');
  const r: Reader = new Reader(bytes, bytes[0] === 0x49, name);
  if (r.u16(2) === 43) r.fail('BigTIFF (version 43) is not supported; save the image as a classic TIFF or PNG');
  const first = r.u32(4);
  if (first < 8) r.fail(`corrupt TIFF: first IFD offset ${first} is inside the header`);
  const tags = readIfd(r, first);
  const warnings: string[] = [];
  const pages = countPages(r, first, warnings);
  if (pages > 1) warnings.push(`multi-page TIFF: using the first of ${pages} pages`);

  const tagName = (tag: number): string => Object.entries(TAG).find(([, v]) => v === tag)?.[0] ?? `tag ${tag}`;
  const values = (tag: number, maxCount: number): number[] | undefined => {
    const e = tags.get(tag);
    if (!e) return undefined;
    if (e.count === 0 || e.count > maxCount) r.fail(`corrupt TIFF: ${tagName(tag)} has ${e.count} values`);
    const v = readValues(r, e, tagName(tag));
    if (v.some((x) => !Number.isFinite(x))) r.fail(`corrupt TIFF: ${tagName(tag)} holds a non-finite value`);
    return v;
  };
  const one = (tag: number, def?: number): number => {
    const v = values(tag, MAX_SAMPLES)?.[0] ?? def;
    if (v === undefined) r.fail(`corrupt TIFF: required tag ${tagName(tag)} (${tag}) is missing`);
    return v;
  };
  const allEqual = (tag: number, spp: number, def: number): number => {
    const v = values(tag, Math.max(spp, 1)) ?? [def];
    if (v.some((x) => x !== v[0])) r.fail(`unsupported TIFF: ${tagName(tag)} differs between samples (${v.join(', ')})`);
    return v[0]!;
  };

  const width = one(TAG.width);
  const height = one(TAG.height);
  checkImageSize(name, width, height);
  const compression = one(TAG.compression, 1);
  const spp = one(TAG.samplesPerPixel, 1);
  if (!Number.isInteger(spp) || spp < 1 || spp > MAX_SAMPLES) r.fail(`unsupported TIFF: ${spp} samples per pixel`);
  const bits = allEqual(TAG.bitsPerSample, spp, 1);
  const format = allEqual(TAG.sampleFormat, spp, 1);
  const planar = one(TAG.planarConfig, 1);
  const predictor = one(TAG.predictor, 1);
  const fillOrder = one(TAG.fillOrder, 1);
  let photometric = tags.has(TAG.photometric) ? one(TAG.photometric) : -1;
  if (photometric === -1) {
    photometric = spp >= 3 ? 2 : 1;
    warnings.push(`PhotometricInterpretation missing; assumed ${photometric === 2 ? 'RGB' : 'min-is-black'}`);
  }
  const orientation = one(TAG.orientation, 1);
  if (orientation !== 1) warnings.push(`Orientation ${orientation} ignored (pixels read in stored order)`);

  if (compression === 6 || compression === 7 || compression === 34892) {
    r.fail('JPEG-compressed TIFF is not supported; save the image uncompressed, with LZW / Deflate, or as PNG');
  }
  if (![1, 5, 8, 32946, 32773].includes(compression)) r.fail(`unsupported TIFF compression ${compression}`);
  if (![0, 1, 2, 3].includes(photometric)) {
    r.fail(`unsupported TIFF PhotometricInterpretation ${photometric} (only min-is-white, min-is-black, RGB and palette)`);
  }
  const colourSamples = photometric === 2 ? 3 : 1;
  if (spp < colourSamples) r.fail(`corrupt TIFF: RGB image with ${spp} samples per pixel`);
  if (spp > colourSamples) warnings.push(`${spp - colourSamples} extra sample(s) per pixel (e.g. alpha) ignored`);
  if (format === 2) r.fail('unsupported TIFF: signed integer samples');
  if (format === 3) {
    if (bits !== 32 && bits !== 64) r.fail(`unsupported TIFF: ${bits}-bit floating-point samples`);
  } else if (format === 1 || format === 4) {
    if (![1, 2, 4, 8, 16, 32].includes(bits)) r.fail(`unsupported TIFF: ${bits} bits per sample`);
  } else {
    r.fail(`unsupported TIFF SampleFormat ${format}`);
  }
  const isFloat = format === 3;
  if (photometric === 3 && (isFloat || bits > 16)) r.fail(`corrupt TIFF: palette image with ${bits}-bit samples`);
  if (planar !== 1 && planar !== 2) r.fail(`corrupt TIFF: PlanarConfiguration ${planar}`);
  if (predictor !== 1 && predictor !== 2 && predictor !== 3) r.fail(`unsupported TIFF Predictor ${predictor}`);
  if (predictor === 2 && bits < 8) r.fail(`corrupt TIFF: horizontal predictor with ${bits}-bit samples`);
  if (predictor === 3 && !isFloat) r.fail('corrupt TIFF: floating-point predictor on integer samples');

  // Palette: grey value of every index; which entries are coloured (warned about only if used).
  let palette: Float32Array | undefined;
  let paletteColoured: Uint8Array | undefined;
  let paletteUsed: Uint8Array | undefined;
  let paletteDepth = 8;
  let colour = false;
  if (photometric === 3) {
    const n = 2 ** bits;
    const map = values(TAG.colorMap, 3 * 65536);
    if (!map) r.fail('corrupt TIFF: palette image without ColorMap');
    if (map.length !== 3 * n) r.fail(`corrupt TIFF: ColorMap has ${map.length} values, expected ${3 * n}`);
    palette = new Float32Array(n);
    paletteColoured = new Uint8Array(n);
    paletteUsed = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const [cr, cg, cb] = [map[i]!, map[n + i]!, map[2 * n + i]!];
      palette[i] = (LUMA_R * cr + LUMA_G * cg + LUMA_B * cb) / 65535;
      if (cr !== cg || cg !== cb) paletteColoured[i] = 1;
      if (cr % 257 || cg % 257 || cb % 257) paletteDepth = 16;
    }
  }

  // Block (strip or tile) layout.
  const tiled = tags.has(TAG.tileWidth) || tags.has(TAG.tileOffsets);
  let blockW: number;
  let blockH: number;
  let offsetsTag: number;
  let countsTag: number;
  if (tiled) {
    blockW = one(TAG.tileWidth);
    blockH = one(TAG.tileLength);
    if (!Number.isInteger(blockW) || !Number.isInteger(blockH) || blockW < 1 || blockH < 1 || blockW > MAX_IMAGE_SIDE || blockH > MAX_IMAGE_SIDE) {
      r.fail(`corrupt TIFF: tile size ${blockW} x ${blockH}`);
    }
    offsetsTag = TAG.tileOffsets;
    countsTag = TAG.tileByteCounts;
  } else {
    blockW = width;
    const rps = one(TAG.rowsPerStrip, 2 ** 32 - 1);
    if (!Number.isInteger(rps) || rps < 1) r.fail(`corrupt TIFF: RowsPerStrip ${rps}`);
    blockH = Math.min(rps, height);
    offsetsTag = TAG.stripOffsets;
    countsTag = TAG.stripByteCounts;
  }
  if (blockW * blockH > MAX_IMAGE_PIXELS) r.fail(`corrupt TIFF: ${blockW} x ${blockH} tiles are too large`);
  const across = Math.ceil(width / blockW);
  const down = Math.ceil(height / blockH);
  const planes = planar === 2 ? spp : 1;
  const nBlocks = across * down * planes;
  const samplesInBlock = planar === 2 ? 1 : spp;
  const rowBytes = Math.ceil((blockW * samplesInBlock * bits) / 8);
  if (rowBytes * blockH > MAX_BLOCK_BYTES) r.fail(`corrupt TIFF: strips or tiles of ${rowBytes * blockH} bytes are too large`);
  const offsets = values(offsetsTag, nBlocks);
  if (!offsets) r.fail(`corrupt TIFF: no ${tiled ? 'TileOffsets' : 'StripOffsets'}`);
  if (offsets.length !== nBlocks) r.fail(`corrupt TIFF: ${offsets.length} ${tiled ? 'tile' : 'strip'} offsets, expected ${nBlocks}`);
  let counts = values(countsTag, nBlocks);
  if (!counts) {
    if (compression !== 1) r.fail(`corrupt TIFF: no ${tiled ? 'TileByteCounts' : 'StripByteCounts'}`);
    warnings.push('StripByteCounts missing; assumed uncompressed sizes');
    counts = offsets.map((_, i) => rowBytes * rowsOfBlock(i));
  }
  if (counts.length !== nBlocks) r.fail(`corrupt TIFF: ${counts.length} byte counts, expected ${nBlocks}`);

  function rowsOfBlock(i: number): number {
    if (tiled) return blockH;
    return Math.min(blockH, height - (i % down) * blockH);
  }
  // Every block must lie inside the file and be able to hold its pixels, checked before allocating.
  const maxRatio = compression === 1 ? 1 : compression === 32773 ? 64 : compression === 5 ? LZW_MAX_RATIO : DEFLATE_MAX_RATIO;
  for (let b = 0; b < nBlocks; b++) {
    const what = `${tiled ? 'tile' : 'strip'} ${b}`;
    r.need(offsets[b]!, counts[b]!, what);
    const expected = rowBytes * rowsOfBlock(b);
    if (compression === 1 && counts[b]! < expected) r.fail(`truncated or corrupt TIFF: ${what} holds ${counts[b]} of ${expected} bytes`);
    if (counts[b]! * maxRatio + 256 < expected) {
      r.fail(`truncated or corrupt TIFF: ${what} has ${counts[b]} compressed bytes, too few for its ${expected} bytes of pixels`);
    }
  }

  const out = new Float32Array(width * height);
  const maxVal = 2 ** bits - 1;
  const bytesPerSample = bits >> 3;
  const reverseBits = fillOrder === 2 ? REVERSED_BITS : undefined;
  // Planar RGB: the red plane, kept to tell whether the green and blue planes differ from it.
  const redPlane = photometric === 2 && planar === 2 ? new Float32Array(width * height) : undefined;
  for (let b = 0; b < nBlocks; b++) {
    const plane = Math.floor(b / (across * down));
    if (plane >= colourSamples) break; // planar extra samples (alpha, ...) come last and are ignored
    const within = b % (across * down);
    const bx = (within % across) * blockW;
    const by = Math.floor(within / across) * blockH;
    const rows = rowsOfBlock(b);
    const expected = rowBytes * rows;
    const what = `${tiled ? 'tile' : 'strip'} ${b}`;
    let src = bytes.subarray(offsets[b]!, offsets[b]! + counts[b]!);
    if (reverseBits) src = src.map((v) => reverseBits[v]!);
    const data = decompress(src, compression, expected, r, what);
    if (data.length < expected) r.fail(`truncated or corrupt TIFF: ${what} holds ${data.length} of ${expected} bytes`);
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (predictor === 2) undoHorizontalPredictor(data, dv, rows, rowBytes, blockW, samplesInBlock, bytesPerSample, r.le);
    if (predictor === 3) undoFloatPredictor(data, rows, rowBytes, samplesInBlock, blockW * samplesInBlock, bytesPerSample, r.le);

    // Reads sample s of block pixel (x, y) as a number: ints scaled to [0, 1], floats raw.
    const sample = (x: number, y: number, s: number): number => {
      const idx = x * samplesInBlock + s;
      const rowStart = y * rowBytes;
      if (isFloat) return bits === 32 ? dv.getFloat32(rowStart + 4 * idx, r.le) : dv.getFloat64(rowStart + 8 * idx, r.le);
      let v: number;
      if (bits === 8) v = data[rowStart + idx]!;
      else if (bits === 16) v = dv.getUint16(rowStart + 2 * idx, r.le);
      else if (bits === 32) v = dv.getUint32(rowStart + 4 * idx, r.le);
      else {
        const bit = idx * bits;
        v = (data[rowStart + (bit >> 3)]! >> (8 - bits - (bit & 7))) & maxVal;
      }
      return photometric === 3 ? v : v / maxVal;
    };

    const xEnd = Math.min(blockW, width - bx);
    const yEnd = Math.min(rows, height - by);
    if (bits === 8 && !isFloat && photometric !== 2) {
      // Fast path for the common 8-bit grey / palette case (e.g. SEM micrographs and masks).
      for (let y = 0; y < yEnd; y++) {
        const o = (by + y) * width + bx;
        const row = y * rowBytes;
        for (let x = 0; x < xEnd; x++) {
          const v = data[row + x * samplesInBlock]!;
          if (palette) {
            out[o + x] = palette[v]!;
            paletteUsed![v] = 1;
          } else out[o + x] = v / 255;
        }
      }
      continue;
    }
    for (let y = 0; y < yEnd; y++) {
      const o = (by + y) * width + bx;
      for (let x = 0; x < xEnd; x++) {
        if (palette) {
          const v = sample(x, y, 0);
          out[o + x] = palette[v]!;
          paletteUsed![v] = 1;
        } else if (photometric !== 2) {
          out[o + x] = sample(x, y, 0);
        } else if (planar === 1) {
          const red = sample(x, y, 0);
          const green = sample(x, y, 1);
          const blue = sample(x, y, 2);
          if (red !== green || green !== blue) colour = true;
          out[o + x] = LUMA_R * red + LUMA_G * green + LUMA_B * blue;
        } else if (plane < 3) {
          const v = sample(x, y, 0);
          out[o + x] += [LUMA_R, LUMA_G, LUMA_B][plane]! * v;
          if (plane === 0) redPlane![o + x] = v;
          else if (redPlane![o + x] !== Math.fround(v)) colour = true;
        }
      }
    }
  }
  if (paletteUsed?.some((u, i) => u === 1 && paletteColoured![i] === 1)) colour = true;
  if (colour) warnings.push(COLOUR_WARNING);
  if (isFloat) normaliseFloats(out, warnings);
  if (photometric === 0) for (let i = 0; i < out.length; i++) out[i] = 1 - out[i]!;
  else if (!isFloat) for (let i = 0; i < out.length; i++) if (out[i]! > 1) out[i] = 1; // luma rounding
  return { width, height, data: out, bitDepth: palette ? paletteDepth : bits, warnings };
}

const REVERSED_BITS: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    let v = 0;
    for (let k = 0; k < 8; k++) v |= ((i >> k) & 1) << (7 - k);
    t[i] = v;
  }
  return t;
})();

function normaliseFloats(out: Float32Array, warnings: string[]): void {
  let lo = Infinity;
  let hi = -Infinity;
  let bad = 0;
  for (let i = 0; i < out.length; i++) {
    const v = out[i]!;
    if (!Number.isFinite(v)) {
      bad++;
      out[i] = 0;
    } else {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (bad > 0) warnings.push(`${bad} NaN / infinite pixel value(s) set to 0`);
  if (lo < 0 || hi > 1) {
    const span = hi - lo;
    warnings.push(`floating-point values span [${lo}, ${hi}]; rescaled to [0, 1]`);
    for (let i = 0; i < out.length; i++) out[i] = span > 0 && Number.isFinite(span) ? (out[i]! - lo) / span : 0;
    for (let i = 0; i < out.length; i++) out[i] = Math.min(1, Math.max(0, out[i]!));
  }
}

function decompress(src: Uint8Array, compression: number, expected: number, r: Reader, what: string): Uint8Array {
  switch (compression) {
    case 1:
      return src.subarray(0, expected);
    case 32773:
      return unpackBits(src, expected);
    case 5:
      return lzwDecode(src, expected, r, what);
    default:
      return zlibInflate(src, r.name, `TIFF ${what} (Deflate)`, expected, expected, true);
  }
}

/** PackBits (Apple / TIFF 32773) run-length decoding, stopping once `expected` bytes are out. */
export function unpackBits(src: Uint8Array, expected: number): Uint8Array {
  const out = new Uint8Array(expected);
  let o = 0;
  let i = 0;
  while (i < src.length && o < expected) {
    const n = src[i++]!;
    if (n < 128) {
      const len = Math.min(n + 1, expected - o, src.length - i);
      out.set(src.subarray(i, i + len), o);
      o += len;
      i += n + 1;
    } else if (n > 128) {
      if (i >= src.length) break;
      const len = Math.min(257 - n, expected - o);
      out.fill(src[i++]!, o, o + len);
      o += len;
    }
  }
  return out.subarray(0, o);
}

/** TIFF LZW (MSB-first codes, 9-12 bits, early change), stopping once `expected` bytes are out. */
function lzwDecode(src: Uint8Array, expected: number, r: Reader, what: string): Uint8Array {
  if (src.length >= 2 && src[0] === 0 && (src[1]! & 1) === 1) {
    r.fail(`unsupported TIFF: ${what} uses the old-style (pre-6.0) LZW coding`);
  }
  const CLEAR = 256;
  const EOI = 257;
  const prefix = new Int16Array(4096);
  const suffix = new Uint8Array(4096);
  const first = new Uint8Array(4096);
  const length = new Uint16Array(4096);
  for (let i = 0; i < 256; i++) {
    suffix[i] = i;
    first[i] = i;
    length[i] = 1;
    prefix[i] = -1;
  }
  const out = new Uint8Array(expected);
  let o = 0;
  let next = 258;
  let width = 9;
  let prev = -1;
  let bitPos = 0;
  const totalBits = src.length * 8;
  while (o < expected && bitPos + width <= totalBits) {
    // Read `width` bits MSB-first.
    let code = 0;
    for (let k = 0; k < width; k++, bitPos++) code = (code << 1) | ((src[bitPos >> 3]! >> (7 - (bitPos & 7))) & 1);
    if (code === EOI) break;
    if (code === CLEAR) {
      next = 258;
      width = 9;
      prev = -1;
      continue;
    }
    let entry: number;
    if (code < next && (code < 256 || code >= 258)) {
      entry = code;
      if (prev >= 0 && next < 4096) {
        prefix[next] = prev;
        suffix[next] = first[code]!;
        first[next] = first[prev]!;
        length[next] = length[prev]! + 1;
        next++;
      }
    } else if (code === next && prev >= 0 && next < 4096) {
      prefix[next] = prev;
      suffix[next] = first[prev]!;
      first[next] = first[prev]!;
      length[next] = length[prev]! + 1;
      entry = next++;
    } else {
      r.fail(`corrupt TIFF: invalid LZW code ${code} in ${what}`);
    }
    // Write the string of `entry`, back to front, clipped to the output.
    const len = length[entry]!;
    let e = entry;
    for (let k = len - 1; k >= 0; k--) {
      if (o + k < expected) out[o + k] = suffix[e]!;
      e = prefix[e]!;
    }
    o = Math.min(expected, o + len);
    prev = entry;
    if (next + 1 >= 1 << width && width < 12) width++;
  }
  return out.subarray(0, o);
}

function undoHorizontalPredictor(
  data: Uint8Array,
  dv: DataView,
  rows: number,
  rowBytes: number,
  blockW: number,
  spp: number,
  bytesPerSample: number,
  le: boolean,
): void {
  const n = blockW * spp;
  for (let y = 0; y < rows; y++) {
    const row = y * rowBytes;
    if (bytesPerSample === 1) {
      for (let i = spp; i < n; i++) data[row + i] = data[row + i]! + data[row + i - spp]!;
    } else if (bytesPerSample === 2) {
      for (let i = spp; i < n; i++) dv.setUint16(row + 2 * i, dv.getUint16(row + 2 * i, le) + dv.getUint16(row + 2 * (i - spp), le), le);
    } else if (bytesPerSample === 4) {
      for (let i = spp; i < n; i++) dv.setUint32(row + 4 * i, (dv.getUint32(row + 4 * i, le) + dv.getUint32(row + 4 * (i - spp), le)) >>> 0, le);
    }
  }
}

/**
 * Floating-point predictor (3): each row holds the bytes of its values split into planes (most
 * significant byte first), byte-differenced across the row. Rebuilds the values in file byte order.
 */
function undoFloatPredictor(data: Uint8Array, rows: number, rowBytes: number, spp: number, n: number, bps: number, le: boolean): void {
  const tmp = new Uint8Array(n * bps);
  for (let y = 0; y < rows; y++) {
    const row = data.subarray(y * rowBytes, y * rowBytes + n * bps);
    tmp.set(row);
    for (let i = spp; i < tmp.length; i++) tmp[i] = tmp[i]! + tmp[i - spp]!;
    for (let i = 0; i < n; i++) {
      for (let b = 0; b < bps; b++) row[i * bps + (le ? bps - 1 - b : b)] = tmp[b * n + i]!;
    }
  }
}
