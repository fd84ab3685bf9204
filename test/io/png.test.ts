import fc from 'fast-check';
import zlib from 'node:zlib';
import { decode as fastPngDecode, encode as fastPngEncode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { zlibSync } from 'fflate';
import { decodeImage } from '../../src/io/decode.js';
import { zlibInflate } from '../../src/io/inflate.js';
import { decodePng, encodePngGrey16, encodePngGrey8, encodePngRgb8 } from '../../src/io/png.js';
import { expectInputError, expectPixels, pattern } from './helpers/common.js';
import { buildPng, pngChunk } from './helpers/png-builder.js';

const luma = (r: number, g: number, b: number): number => 0.299 * r + 0.587 * g + 0.114 * b;

describe('deflate / inflate', () => {
  it('round-trips through Node zlib in both directions', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.nat(40), (bytes, period) => {
        // Mix random bytes with repeats so that matches of every length and distance occur.
        const data = new Uint8Array(bytes.length * 2);
        data.set(bytes);
        for (let i = bytes.length; i < data.length; i++) data[i] = data[i - 1 - (period % Math.max(1, i))]!;
        const mine = zlibSync(data, { level: 3 }); // the PNG encoder's deflate (PNG_DEFLATE_LEVEL)
        expect(new Uint8Array(zlib.inflateSync(mine))).toEqual(data);
        for (const level of [1, 9]) {
          expect(zlibInflate(new Uint8Array(zlib.deflateSync(data, { level })), 'x', 'data', data.length)).toEqual(data);
        }
        expect(zlibInflate(mine, 'x', 'data', data.length)).toEqual(data);
      }),
      { numRuns: 40, seed: 7 },
    );
  });

  it('reads stored blocks and refuses output beyond the limit', () => {
    const data = new Uint8Array(70000).map((_, i) => (i * 31) & 255);
    const stored = new Uint8Array(zlib.deflateSync(data, { level: 0 }));
    expect(zlibInflate(stored, 'x', 'data', data.length)).toEqual(data);
    expect(() => zlibInflate(stored, 'x', 'data', 1000)).toThrow(/x: corrupt data: decompressed data larger/);
    expect(zlibInflate(stored, 'x', 'data', 1000, 1000, true)).toEqual(data.subarray(0, 1000));
  });
});

describe('PNG encoders round-trip through the decoder (and fast-png agrees)', () => {
  it('grey 8 from bytes and from floats', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.integer(), (w, h, seed) => {
        const bytes = new Uint8Array(pattern(w * h, 255, seed));
        const png = encodePngGrey8(w, h, bytes);
        const img = decodePng(png, 'g8.png');
        expect([img.width, img.height, img.bitDepth]).toEqual([w, h, 8]);
        expectPixels(img.data, [...bytes].map((v) => v / 255), 1e-7);
        const floats = new Float32Array(bytes.length).map((_, i) => bytes[i]! / 255);
        expect(encodePngGrey8(w, h, floats)).toEqual(png);
        const ref = fastPngDecode(png);
        expect([ref.channels, ref.depth]).toEqual([1, 8]);
        for (let i = 0; i < w * h; i++) expect(ref.data[i]).toBe(bytes[i]);
      }),
      { numRuns: 25, seed: 1 },
    );
  });

  it('float input is clamped and rounded; NaN becomes 0', () => {
    const img = decodePng(encodePngGrey8(5, 1, new Float32Array([-1, 0.5, 2, NaN, 0.2])), 'f.png');
    expectPixels(img.data, [0, 128 / 255, 1, 0, 51 / 255], 1e-7);
  });

  it('grey 16 keeps full precision', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 30 }), fc.integer(), (w, h, seed) => {
        const vals = new Uint16Array(pattern(w * h, 65535, seed));
        const png = encodePngGrey16(w, h, vals);
        const img = decodePng(png, 'g16.png');
        expect(img.bitDepth).toBe(16);
        for (let i = 0; i < vals.length; i++) expect(Math.round(img.data[i]! * 65535)).toBe(vals[i]);
        const ref = fastPngDecode(png);
        expect([ref.channels, ref.depth]).toEqual([1, 16]);
        for (let i = 0; i < vals.length; i++) expect(ref.data[i]).toBe(vals[i]);
      }),
      { numRuns: 20, seed: 2 },
    );
  });

  it('RGB 8 decodes to Rec. 601 luma with a warning', () => {
    const w = 17;
    const h = 9;
    const rgb = new Uint8Array(pattern(w * h * 3, 255, 4));
    const png = encodePngRgb8(w, h, rgb);
    const img = decodePng(png, 'rgb.png');
    expectPixels(img.data, [...Array(w * h).keys()].map((i) => luma(rgb[3 * i]!, rgb[3 * i + 1]!, rgb[3 * i + 2]!) / 255), 1e-6);
    expect(img.warnings).toEqual(['colour image converted to grey with Rec. 601 luma (0.299 R + 0.587 G + 0.114 B)']);
    const ref = fastPngDecode(png);
    expect([ref.channels, ref.depth]).toEqual([3, 8]);
    for (let i = 0; i < w * h * 3; i++) expect(ref.data[i]).toBe(rgb[i]);
  });

  it('the decoder reads what fast-png writes (RGBA with alpha)', () => {
    const data = new Uint8Array(24 * 4);
    for (let i = 0; i < 24; i++) data.set([i * 10, i * 10, i * 10, i === 3 ? 0 : 255], 4 * i);
    const img = decodePng(fastPngEncode({ width: 6, height: 4, data, channels: 4, depth: 8 }), 'a.png');
    expectPixels(img.data, [...Array(24).keys()].map((i) => (i * 10) / 255), 1e-6);
    expect(img.warnings.join()).toMatch(/alpha channel ignored/);
  });

  it('encoders check their arguments', () => {
    expect(() => encodePngGrey8(2, 2, new Uint8Array(3))).toThrow(RangeError);
    expect(() => encodePngRgb8(0, 2, new Uint8Array(0))).toThrow(RangeError);
  });
});

describe('PNG decoder: every colour type, bit depth, filter and interlacing', () => {
  const depths: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
  const channels: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
  for (const colorType of [0, 2, 3, 4, 6] as const) {
    for (const bitDepth of depths[colorType]!) {
      for (const interlace of [0, 1] as const) {
        it(`colour type ${colorType}, ${bitDepth}-bit, ${interlace ? 'Adam7' : 'not interlaced'}`, () => {
          const w = 11;
          const h = 10;
          const max = 2 ** bitDepth - 1;
          const ch = channels[colorType]!;
          const samples = pattern(w * h * ch, max, colorType * 100 + bitDepth);
          let palette: number[] | undefined;
          if (colorType === 3) palette = pattern(3 * (max + 1), 255, 5);
          const png = buildPng({ width: w, height: h, bitDepth, colorType, interlace, samples, palette });
          const img = decodeImage(png, 'x.png');
          const want = [...Array(w * h).keys()].map((i) => {
            const s = samples.slice(i * ch, i * ch + ch);
            if (colorType === 3) return luma(palette![3 * s[0]!]!, palette![3 * s[0]! + 1]!, palette![3 * s[0]! + 2]!) / 255;
            if (colorType === 2 || colorType === 6) return luma(s[0]!, s[1]!, s[2]!) / max;
            return s[0]! / max;
          });
          expectPixels(img.data, want, 1e-6);
          expect(img.bitDepth).toBe(colorType === 3 ? 8 : bitDepth);
        });
      }
    }
  }

  it('a 1 x 1 interlaced image (most passes empty)', () => {
    const img = decodePng(buildPng({ width: 1, height: 1, bitDepth: 8, colorType: 0, interlace: 1, samples: [77] }), 'one.png');
    expectPixels(img.data, [77 / 255], 1e-7);
  });
});

describe('PNG decoder: random headers (property)', () => {
  it('any size, colour type, bit depth and interlacing decodes exactly', () => {
    const depths: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
    const channels: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 20 }),
        fc.constantFrom(0, 2, 3, 4, 6),
        fc.nat(4),
        fc.constantFrom(0, 1),
        fc.integer(),
        (w, h, colorType, d, interlace, seed) => {
          const bitDepth = depths[colorType]![d % depths[colorType]!.length]!;
          const ch = channels[colorType]!;
          const max = 2 ** bitDepth - 1;
          const samples = pattern(w * h * ch, max, seed);
          const palette = colorType === 3 ? pattern(3 * (max + 1), 255, seed + 1) : undefined;
          const img = decodePng(buildPng({ width: w, height: h, bitDepth, colorType: colorType as 0 | 2 | 3 | 4 | 6, interlace: interlace as 0 | 1, samples, palette }), 'p.png');
          const want = [...Array(w * h).keys()].map((i) => {
            const s = samples.slice(i * ch, i * ch + ch);
            if (colorType === 3) return luma(palette![3 * s[0]!]!, palette![3 * s[0]! + 1]!, palette![3 * s[0]! + 2]!) / 255;
            if (colorType === 2 || colorType === 6) return luma(s[0]!, s[1]!, s[2]!) / max;
            return s[0]! / max;
          });
          expectPixels(img.data, want, 1e-6);
        },
      ),
      { numRuns: 80, seed: 22 },
    );
  });
});

describe('PNG decoder: refusals name the file', () => {
  const good = buildPng({ width: 4, height: 3, bitDepth: 8, colorType: 0, samples: pattern(12, 255) });
  const bad = (bytes: Uint8Array, re: RegExp): void => expectInputError(() => decodePng(bytes, 'bad.png'), 'bad.png', re);

  it('CRC errors, truncation, missing chunks', () => {
    const crc = good.slice();
    crc[20] = crc[20]! ^ 1; // inside IHDR data
    bad(crc, /CRC mismatch in chunk IHDR/);
    bad(good.subarray(0, good.length - 12), /no IEND/);
    bad(good.subarray(0, 40), /truncated PNG/);
    bad(good.subarray(0, 8), /no IHDR/);
    bad(new Uint8Array([1, 2, 3]), /not a PNG/);
  });

  it('bad header fields, bad filters, bad palette indices, huge sizes', () => {
    const withIhdr = (w: number, h: number, depth: number, type: number, interlace = 0): Uint8Array => {
      const d = new Uint8Array(13);
      const dv = new DataView(d.buffer);
      dv.setUint32(0, w);
      dv.setUint32(4, h);
      d.set([depth, type, 0, 0, interlace], 8);
      const out = good.slice();
      out.set(pngChunk('IHDR', d), 8);
      return out;
    };
    bad(withIhdr(4, 3, 3, 0), /bit depth 3 is not allowed/);
    bad(withIhdr(4, 3, 8, 5), /invalid colour type 5/);
    bad(withIhdr(4, 3, 8, 0, 2), /interlace method 2/);
    bad(withIhdr(100000, 3, 8, 0), /larger than the supported maximum/);
    bad(withIhdr(4, 0, 8, 0), /invalid image size/);
    bad(withIhdr(40, 3, 8, 0), /truncated PNG: image data has/);

    const raw = new Uint8Array([7, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
    const idat = (data: Uint8Array): Uint8Array => {
      const z = new Uint8Array(zlib.deflateSync(data));
      return new Uint8Array([...good.subarray(0, 33), ...pngChunk('IDAT', z), ...pngChunk('IEND', new Uint8Array(0))]);
    };
    bad(idat(raw), /invalid row filter type 7/);
    const corrupt = idat(new Uint8Array(15));
    corrupt[45] = corrupt[45]! ^ 0xff;
    expect(() => decodePng(corrupt, 'bad.png')).toThrow(InputError);

    bad(buildPng({ width: 2, height: 1, bitDepth: 8, colorType: 3, samples: [0, 5], palette: [1, 2, 3, 4, 5, 6] }), /palette index 5 out of range/);
    bad(buildPng({ width: 2, height: 1, bitDepth: 8, colorType: 3, samples: [0, 1] }), /without PLTE/);
    bad(buildPng({ width: 2, height: 1, bitDepth: 8, colorType: 0, samples: [0, 1], extraChunks: [['ABCD', new Uint8Array(1)]] }), /critical PNG chunk ABCD/);
    // An unknown ancillary chunk is skipped.
    expect(decodePng(buildPng({ width: 2, height: 1, bitDepth: 8, colorType: 0, samples: [0, 255], extraChunks: [['abCd', new Uint8Array(3)]] }), 'ok.png').data[1]).toBe(1);
  });
});
