import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { decodeImage } from '../../src/io/decode.js';
import { decodeTiff, unpackBits } from '../../src/io/tiff.js';
import { expectInputError, expectPixels, pattern } from './helpers/common.js';
import { encodeTiff, lzwEncode, packBits, type TiffSpec } from './helpers/tiff-writer.js';

const W = 13;
const H = 7;
function grey(bits: 1 | 2 | 4 | 8 | 16, extra: Partial<TiffSpec> = {}): { spec: TiffSpec; want: number[] } {
  const max = 2 ** bits - 1;
  const samples = pattern(W * H, max);
  return { spec: { width: W, height: H, samples, bits, photometric: 1, ...extra }, want: samples.map((v) => v / max) };
}

describe('TIFF decoder: known pixels', () => {
  for (const bigEndian of [false, true]) {
    for (const compression of [1, 32773, 5, 8, 32946] as const) {
      for (const predictor of compression === 1 || compression === 32773 ? ([1] as const) : ([1, 2] as const)) {
        for (const bits of [8, 16] as const) {
          it(`${bits}-bit, ${bigEndian ? 'big' : 'little'} endian, compression ${compression}, predictor ${predictor}, strips of 3 rows`, () => {
            const { spec, want } = grey(bits, { compression, predictor, bigEndian, rowsPerStrip: 3 });
            const img = decodeTiff(encodeTiff(spec), 't.tif');
            expect([img.width, img.height, img.bitDepth]).toEqual([W, H, bits]);
            expectPixels(img.data, want);
            expect(img.warnings).toEqual([]);
          });
        }
      }
    }
  }

  it('1-, 2- and 4-bit samples with rows padded to whole bytes', () => {
    for (const bits of [1, 2, 4] as const) {
      const { spec, want } = grey(bits, { rowsPerStrip: 2 });
      const img = decodeTiff(encodeTiff(spec), 'b.tif');
      expect(img.bitDepth).toBe(bits);
      expectPixels(img.data, want);
    }
  });

  it('min-is-white (photometric 0) is inverted', () => {
    const { spec, want } = grey(1, { photometric: 0, compression: 32773 });
    expectPixels(decodeTiff(encodeTiff(spec), 'w.tif').data, want.map((v) => 1 - v));
  });

  it('palette images via ColorMap: a grey ramp is 8-bit; a coloured map gives luma and a warning', () => {
    const idx = pattern(W * H, 255);
    const ramp = [...Array(256).keys()].map((v) => v * 257);
    const img = decodeTiff(encodeTiff({ width: W, height: H, samples: idx, bits: 8, photometric: 3, colorMap: [...ramp, ...ramp, ...ramp] }), 'p.tif');
    expect(img.bitDepth).toBe(8);
    expectPixels(img.data, idx.map((v) => v / 255));
    expect(img.warnings).toEqual([]);

    const red = ramp;
    const zeros = new Array(256).fill(0);
    const col = decodeTiff(encodeTiff({ width: W, height: H, samples: idx, bits: 8, photometric: 3, colorMap: [...red, ...zeros, ...zeros], compression: 5 }), 'c.tif');
    expectPixels(col.data, idx.map((v) => (0.299 * v) / 255), 1e-5);
    expect(col.warnings.join()).toMatch(/Rec\. 601/);
  });

  it('4-bit palette', () => {
    const idx = pattern(W * H, 15);
    const map = [...Array(16).keys()].map((v) => v * 4369);
    const img = decodeTiff(encodeTiff({ width: W, height: H, samples: idx, bits: 4, photometric: 3, colorMap: [...map, ...map, ...map] }), 'p4.tif');
    expectPixels(img.data, idx.map((v) => v / 15), 1e-6);
  });

  it('32- and 64-bit floats, plain and with the floating-point predictor', () => {
    const vals = pattern(W * H, 1000).map((v) => v / 1000);
    for (const bits of [32, 64] as const) {
      for (const [compression, predictor] of [[1, 1], [8, 3], [5, 3]] as const) {
        for (const bigEndian of [false, true]) {
          const img = decodeTiff(encodeTiff({ width: W, height: H, samples: vals, bits, float: true, photometric: 1, compression, predictor, bigEndian }), 'f.tif');
          expect(img.bitDepth).toBe(bits);
          expectPixels(img.data, vals, 1e-6);
          expect(img.warnings).toEqual([]);
        }
      }
    }
  });

  it('floats outside [0, 1] are rescaled with a warning; NaN becomes 0', () => {
    const vals = [-2, 0, 2, NaN, 6, 2];
    const img = decodeTiff(encodeTiff({ width: 3, height: 2, samples: vals, bits: 32, float: true, photometric: 1 }), 'f.tif');
    expectPixels(img.data, [0, 0.25, 0.5, 0.25, 1, 0.5]);
    expect(img.warnings.join('\n')).toMatch(/NaN[\s\S]*rescaled/);
  });

  it('RGB chunky and planar, with and without alpha, are converted with Rec. 601 luma', () => {
    const rgb = pattern(W * H * 3, 255, 3);
    const want = [...Array(W * H).keys()].map((i) => (0.299 * rgb[3 * i]! + 0.587 * rgb[3 * i + 1]! + 0.114 * rgb[3 * i + 2]!) / 255);
    const chunky = decodeTiff(encodeTiff({ width: W, height: H, samples: rgb, bits: 8, photometric: 2, compression: 5, predictor: 2 }), 'rgb.tif');
    expectPixels(chunky.data, want, 1e-5);
    expect(chunky.warnings.join()).toMatch(/Rec\. 601/);
    const planar = decodeTiff(encodeTiff({ width: W, height: H, samples: rgb, bits: 8, photometric: 2, planar: 2, rowsPerStrip: 4 }), 'rgbp.tif');
    expectPixels(planar.data, want, 1e-5);
    expect(planar.warnings.join()).toMatch(/Rec\. 601/);

    const rgba: number[] = [];
    for (let i = 0; i < W * H; i++) rgba.push(rgb[3 * i]!, rgb[3 * i + 1]!, rgb[3 * i + 2]!, (i * 31) % 256);
    const withAlpha = decodeTiff(encodeTiff({ width: W, height: H, samples: rgba, bits: 8, spp: 4, extraSamples: [2], photometric: 2, compression: 8, predictor: 2 }), 'rgba.tif');
    expectPixels(withAlpha.data, want, 1e-5);
    expect(withAlpha.warnings.join()).toMatch(/1 extra sample/);

    const ga: number[] = [];
    for (let i = 0; i < W * H; i++) ga.push(rgb[i]!, 7);
    const greyAlpha = decodeTiff(encodeTiff({ width: W, height: H, samples: ga, bits: 8, spp: 2, extraSamples: [1], photometric: 1, tile: [16, 16] }), 'ga.tif');
    expectPixels(greyAlpha.data, rgb.slice(0, W * H).map((v) => v / 255));
  });

  it('an RGB image whose channels are equal gives no colour warning', () => {
    const g = pattern(W * H, 255);
    const rgb = g.flatMap((v) => [v, v, v]);
    for (const planar of [1, 2] as const) {
      const img = decodeTiff(encodeTiff({ width: W, height: H, samples: rgb, bits: 8, photometric: 2, planar }), 'g.tif');
      expectPixels(img.data, g.map((v) => v / 255), 1e-5);
      expect(img.warnings).toEqual([]);
    }
  });

  it('tiles (partial at the right and bottom edges), every compression, both byte orders', () => {
    const w = 37;
    const h = 29;
    const s = pattern(w * h, 65535, 9);
    for (const compression of [1, 5, 8, 32773] as const) {
      for (const bigEndian of [false, true]) {
        const img = decodeTiff(encodeTiff({ width: w, height: h, samples: s, bits: 16, photometric: 1, tile: [16, 16], compression, bigEndian, predictor: compression === 5 ? 2 : 1 }), 'tiles.tif');
        expectPixels(img.data, s.map((v) => v / 65535));
      }
    }
  });

  it('LZW across table resets (large, low-redundancy strip)', () => {
    const w = 300;
    const h = 200;
    const s = pattern(w * h, 255, 5);
    const img = decodeTiff(encodeTiff({ width: w, height: h, samples: s, bits: 8, photometric: 1, compression: 5 }), 'big.tif');
    expectPixels(img.data, s.map((v) => v / 255));
    const ramp = [...Array(w * h).keys()].map((i) => (i >> 4) & 255);
    const img2 = decodeTiff(encodeTiff({ width: w, height: h, samples: ramp, bits: 8, photometric: 1, compression: 5, rowsPerStrip: 64 }), 'ramp.tif');
    expectPixels(img2.data, ramp.map((v) => v / 255));
  });

  it('multi-page: the first page and a warning', () => {
    const { spec, want } = grey(8, { pages: 3 });
    const img = decodeTiff(encodeTiff(spec), 'm.tif');
    expectPixels(img.data, want);
    expect(img.warnings).toContain('multi-page TIFF: using the first of 3 pages');
  });

  it('an IFD chain that loops is detected, not followed forever', () => {
    const { spec, want } = grey(8, { pages: 2 });
    const bytes = encodeTiff(spec);
    const dv = new DataView(bytes.buffer);
    const first = dv.getUint32(4, true);
    const second = dv.getUint32(first + 2 + 12 * dv.getUint16(first, true), true);
    dv.setUint32(second + 2 + 12 * dv.getUint16(second, true), first, true);
    const img = decodeTiff(bytes, 'loop.tif');
    expectPixels(img.data, want);
    expect(img.warnings.join('\n')).toMatch(/loops back[\s\S]*first of 2 pages/);
  });

  it('32-bit unsigned samples, with the horizontal predictor', () => {
    const s = pattern(W * H, 2 ** 32 - 1, 4);
    const img = decodeTiff(encodeTiff({ width: W, height: H, samples: s, bits: 32, photometric: 1, compression: 8, predictor: 2, bigEndian: true }), 'u32.tif');
    expect(img.bitDepth).toBe(32);
    expectPixels(img.data, s.map((v) => v / (2 ** 32 - 1)));
  });

  it('FillOrder 2 (bits reversed in each byte) before decompression', () => {
    const { spec, want } = grey(1, { compression: 32773 });
    const bytes = encodeTiff(spec);
    // Reverse the bits of the pixel data (bytes 8 .. the first IFD), then declare FillOrder 2.
    const ifd = new DataView(bytes.buffer).getUint32(4, true);
    const rev = (v: number): number => parseInt(v.toString(2).padStart(8, '0').split('').reverse().join(''), 2);
    const data = bytes.slice(8, ifd).map(rev);
    const flipped = encodeTiff({ ...spec, extraTags: [[266, 3, [2]]] });
    flipped.set(data, 8);
    expectPixels(decodeTiff(flipped, 'fo.tif').data, want);
  });

  it('missing StripByteCounts (uncompressed) and missing PhotometricInterpretation are tolerated with warnings', () => {
    const { spec, want } = grey(8, { rowsPerStrip: 3 });
    const bytes = encodeTiff(spec);
    const dv = new DataView(bytes.buffer);
    const ifd = dv.getUint32(4, true);
    for (let i = 0; i < dv.getUint16(ifd, true); i++) {
      const e = ifd + 2 + 12 * i;
      const tag = dv.getUint16(e, true);
      if (tag === 279 || tag === 262) dv.setUint16(e, 60000 + i, true); // rename to an unknown tag
    }
    const img = decodeTiff(bytes, 'old.tif');
    expectPixels(img.data, want);
    expect(img.warnings).toEqual(['PhotometricInterpretation missing; assumed min-is-black', 'StripByteCounts missing; assumed uncompressed sizes']);
  });

  it('a non-default Orientation is reported, not applied', () => {
    const { spec, want } = grey(8, { extraTags: [[274, 3, [3]]] });
    const img = decodeTiff(encodeTiff(spec), 'o.tif');
    expectPixels(img.data, want);
    expect(img.warnings).toEqual(['Orientation 3 ignored (pixels read in stored order)']);
  });

  it('PackBits and LZW helpers agree with the reader on edge cases', () => {
    expect([...unpackBits(packBits(new Uint8Array([1, 1, 1, 2, 3, 4, 4])), 7)]).toEqual([1, 1, 1, 2, 3, 4, 4]);
    expect([...unpackBits(new Uint8Array([0x80, 0xfe, 9]), 3)]).toEqual([9, 9, 9]); // -128 is a no-op
    expect(lzwEncode(new Uint8Array(0)).length).toBeGreaterThan(0);
  });
});

describe('TIFF decoder: random layouts (property)', () => {
  it('any mix of size, depth, compression, predictor, strips / tiles, planar and byte order decodes exactly', () => {
    fc.assert(
      fc.property(
        fc.record({
          width: fc.integer({ min: 1, max: 40 }),
          height: fc.integer({ min: 1, max: 40 }),
          bits: fc.constantFrom(1, 4, 8, 16),
          spp: fc.constantFrom(1, 2, 3),
          compression: fc.constantFrom(1, 5, 8, 32773),
          predictor: fc.constantFrom(1, 2),
          layout: fc.oneof(fc.record({ rowsPerStrip: fc.integer({ min: 1, max: 50 }) }), fc.record({ tile: fc.constantFrom([16, 16], [32, 16], [16, 48]) })),
          planar: fc.constantFrom(1, 2),
          bigEndian: fc.boolean(),
          seed: fc.integer(),
        }),
        (c) => {
          const bits = c.bits as 1 | 4 | 8 | 16;
          const predictor = bits < 8 ? 1 : (c.predictor as 1 | 2);
          const photometric = c.spp === 3 ? 2 : 1;
          const max = 2 ** bits - 1;
          const samples = pattern(c.width * c.height * c.spp, max, c.seed);
          const spec: TiffSpec = {
            width: c.width,
            height: c.height,
            samples,
            bits,
            spp: c.spp,
            photometric,
            compression: c.compression as 1 | 5 | 8 | 32773,
            predictor,
            planar: c.planar as 1 | 2,
            bigEndian: c.bigEndian,
            ...('tile' in c.layout ? { tile: c.layout.tile as [number, number] } : { rowsPerStrip: c.layout.rowsPerStrip }),
          };
          const img = decodeTiff(encodeTiff(spec), 'p.tif');
          const want = [...Array(c.width * c.height).keys()].map((i) => {
            const px = samples.slice(i * c.spp, i * c.spp + c.spp);
            return (photometric === 2 ? 0.299 * px[0]! + 0.587 * px[1]! + 0.114 * px[2]! : px[0]!) / max;
          });
          expectPixels(img.data, want, 1e-5);
        },
      ),
      { numRuns: 80, seed: 21 },
    );
  });
});

describe('TIFF decoder: refusals', () => {
  const bad = (bytes: Uint8Array, re: RegExp): void => expectInputError(() => decodeTiff(bytes, 'bad.tif'), 'bad.tif', re);
  const base = grey(8).spec;

  it('BigTIFF and JPEG say they are unsupported', () => {
    bad(new Uint8Array([0x49, 0x49, 43, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), /BigTIFF/);
    bad(new Uint8Array([0x4d, 0x4d, 0, 43, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), /BigTIFF/);
    bad(encodeTiff({ ...base, extraTags: [[259, 3, [7]]] }), /JPEG.*not supported/);
    bad(encodeTiff({ ...base, extraTags: [[259, 3, [6]]] }), /JPEG.*not supported/);
    bad(encodeTiff({ ...base, extraTags: [[259, 3, [4]]] }), /unsupported TIFF compression 4/);
  });

  it('images above the size limit are refused before allocating', () => {
    bad(encodeTiff({ ...base, extraTags: [[256, 4, [70000]]] }), /larger than the supported maximum/);
    bad(encodeTiff({ ...base, extraTags: [[256, 4, [60000]], [257, 4, [60000]]] }), /larger than the supported maximum/);
    bad(encodeTiff({ ...base, extraTags: [[256, 4, [0]]] }), /invalid image size/);
  });

  it('offsets and counts past the end of the file, missing tags, odd formats', () => {
    const good = encodeTiff(base);
    bad(good.subarray(0, 20), /outside the .*file/);
    bad(encodeTiff({ ...base, extraTags: [[273, 4, [good.length + 10]]] }), /strip 0.*outside/);
    bad(encodeTiff({ ...base, extraTags: [[279, 4, [3]]] }), /holds 3 of 91 bytes/);
    bad(encodeTiff({ ...base, extraTags: [[262, 3, [5]]] }), /PhotometricInterpretation 5/);
    bad(encodeTiff({ ...base, extraTags: [[339, 3, [2]]] }), /signed integer/);
    bad(encodeTiff({ ...base, photometric: 3 }), /without ColorMap/);
    bad(encodeTiff({ ...base, extraTags: [[258, 3, [12]]] }), /12 bits per sample/);
    const oldLzw = encodeTiff({ ...base, compression: 5 });
    oldLzw.set([0x00, 0x01], 8); // strip data starts at byte 8: the old-style (LSB-first) LZW signature
    bad(oldLzw, /old-style \(pre-6\.0\) LZW/);
    const badLzw = encodeTiff({ ...base, compression: 5 });
    badLzw.set([0x80, 0x7f, 0xff], 8); // clear code, then code 511 > the next free code 258
    bad(badLzw, /invalid LZW code 511 in strip 0/);
    bad(encodeTiff({ ...base, extraTags: [[339, 3, [3]]] }), /8-bit floating-point/);
    bad(encodeTiff({ ...base, extraTags: [[317, 3, [2]], [258, 3, [4]]] }), /predictor with 4-bit/);
    bad(encodeTiff({ ...base, extraTags: [[322, 3, [16]], [323, 3, [16]]] }), /no TileOffsets/);
    const noWidth = encodeTiff(base);
    const dv = new DataView(noWidth.buffer);
    const ifd = dv.getUint32(4, true);
    dv.setUint16(ifd + 2, 999, true); // first entry (ImageWidth) renamed
    bad(noWidth, /required tag width \(256\) is missing/);
  });

  it('decodeImage dispatches on magic bytes and names the file for unknown ones', () => {
    expect(decodeImage(encodeTiff(base), 'x').width).toBe(W);
    expect(() => decodeImage(new Uint8Array([1, 2, 3]), 'x.bin')).toThrow(/^x\.bin: not a PNG or TIFF file \(magic bytes 01 02 03\)/);
    expect(() => decodeImage(new Uint8Array(0), 'e.png')).toThrow(InputError);
  });
});
