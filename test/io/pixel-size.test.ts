/**
 * --pixel-size auto: the pixel size each vendor writes, read from small TIFFs made here with the
 * vendor's tag (layouts as the vendors write them: FEI/Thermo xT INI text in tag 34682, Zeiss
 * SmartSEM's alternating key / "Name = value unit" lines in tag 34118, ImageJ's ImageDescription
 * with XResolution in pixels per unit, OME-XML PhysicalSizeX) or a sidecar .txt (JEOL, Hitachi).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pixelSizeFromSidecar, pixelSizeFromTiff } from '../../src/io/pixel-size.js';
import { resolvePixelSizes } from '../../src/node/pixel-size.js';
import { runSegment } from '../../src/cli/segment.js';
import { encodeTiff } from './helpers/tiff-writer.js';

const ascii = (s: string) => [...new TextEncoder().encode(s), 0];
const disc = Array.from({ length: 64 * 64 }, (_, i) => (((i % 64) - 32) ** 2 + (Math.floor(i / 64) - 32) ** 2 < 100 ? 200 : 20));
const tiff = (extraTags: [number, number, number[]][] = [], bigEndian = false) =>
  encodeTiff({ width: 64, height: 64, samples: disc, bits: 8, photometric: 1, extraTags, bigEndian });

const FEI =
  '[User]\r\nDate=12/01/2025\r\nUser=user\r\n\r\n[EScan]\r\nPixelWidth=9.9e-08\r\n\r\n' +
  '[Scan]\r\nInternalScan=1\r\nDwelltime=1e-05\r\nPixelWidth=1.5625e-09\r\nPixelHeight=1.5625e-09\r\nHorFieldsize=1.6e-06\r\n\r\n[Stage]\r\nStageX=0.001\r\n';
const ZEISS = (line: string) =>
  '\0\0\r\nDP_SCANRATE\r\nScan Speed = 8\r\nAP_WD\r\nWD = 8.5 mm\r\nAP_PIXEL_SIZE\r\n' + line + '\r\nAP_MAG\r\nMag = 50.00 K X\r\nSV_VERSION\r\nVersion = V06.03.00.00\r\n';
const OME = (attrs: string) =>
  '<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0" Name="a">' +
  `<Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="uint8" SizeX="64" SizeY="64" SizeC="1" SizeZ="1" SizeT="1" ${attrs}>` +
  '<TiffData/></Pixels></Image></OME>';

describe('pixel size from TIFF metadata', () => {
  const cases: [string, [number, number, number[]][], number, RegExp][] = [
    ['FEI/Thermo [Scan] PixelWidth (not [EScan]) in m', [[34682, 2, ascii(FEI)]], 1.5625, /34682/],
    ['Zeiss Image Pixel Size in nm', [[34118, 2, ascii(ZEISS('Image Pixel Size = 2.233 nm'))]], 2.233, /Zeiss/],
    ['Zeiss in µm', [[34118, 2, ascii(ZEISS('Image Pixel Size = 0.0045 µm'))]], 4.5, /Zeiss/],
    ['Zeiss V05 "Pixel Size"', [[34118, 2, ascii(ZEISS('Pixel Size = 3.1 nm'))]], 3.1, /Zeiss/],
    ['ImageJ unit=micron, 500 px per µm', [[270, 2, ascii('ImageJ=1.54f\nunit=micron\n')], [282, 5, [500]], [283, 5, [500]]], 2, /ImageJ/],
    ['ImageJ unit=nm, 0.4 px per nm', [[270, 2, ascii('ImageJ=1.54f\nunit=nm\nmin=0.0\n')], [282, 5, [0.4]]], 2.5, /ImageJ/],
    ['ImageJ unit=\\u00B5m', [[270, 2, ascii('ImageJ=1.54f\nunit=\\u00B5m\n')], [282, 5, [250]]], 4, /ImageJ/],
    ['OME PhysicalSizeX in µm', [[270, 2, ascii(OME('PhysicalSizeX="0.0025" PhysicalSizeXUnit="µm" PhysicalSizeY="0.0025"'))]], 2.5, /OME/],
    ['OME without a unit (µm by the schema)', [[270, 2, ascii(OME('PhysicalSizeX="0.004"'))]], 4, /OME/],
    ['OME in nm', [[270, 2, ascii(OME('PhysicalSizeX="1.8" PhysicalSizeXUnit="nm"'))]], 1.8, /OME/],
  ];
  for (const [what, tags, nm, source] of cases) {
    it(what, () => {
      for (const big of [false, true]) {
        const r = pixelSizeFromTiff(tiff(tags, big));
        expect(r, `${what} big-endian ${big}`).not.toBeNull();
        expect(r!.nm).toBeCloseTo(nm, 9);
        expect(r!.source).toMatch(source);
      }
    });
  }

  it('finds nothing in a plain TIFF, an uncalibrated ImageJ file, a PNG or a truncated file', () => {
    expect(pixelSizeFromTiff(tiff())).toBeNull();
    expect(pixelSizeFromTiff(tiff([[270, 2, ascii('ImageJ=1.54f\nunit=pixel\n')], [282, 5, [1]]]))).toBeNull();
    expect(pixelSizeFromTiff(tiff([[270, 2, ascii('a description')]]))).toBeNull();
    expect(pixelSizeFromTiff(new Uint8Array([0x89, 0x50, 0x4e, 0x47]))).toBeNull();
    expect(pixelSizeFromTiff(tiff([[34682, 2, ascii(FEI)]]).subarray(0, 200))).toBeNull();
  });
});

describe('pixel size from a sidecar .txt', () => {
  it('JEOL: $$SM_MICRON_MARKER over $$SM_MICRON_BAR', () => {
    const txt = '$CM_FORMAT JEOL/SEM\n$CM_VERSION 1.0\n$CM_FULL_SIZE 1280 960\n$$SM_MICRON_BAR 179\n$$SM_MICRON_MARKER 500nm\n';
    const r = pixelSizeFromSidecar(new TextEncoder().encode(txt));
    expect(r!.nm).toBeCloseTo(500 / 179, 12);
    expect(r!.source).toMatch(/JEOL/);
    expect(pixelSizeFromSidecar(new TextEncoder().encode(txt.replace('500nm', '1um')))!.nm).toBeCloseTo(1000 / 179, 12);
  });

  it('Hitachi: PixelSize in nm, also in a UTF-16 file', () => {
    const txt = '[SemImageFile]\r\nInstructName=S-4800\r\nPixelSize=3.96875\r\nMagnification=50000\r\n';
    const utf16 = new Uint8Array(txt.length * 2);
    for (let i = 0; i < txt.length; i++) utf16[2 * i] = txt.charCodeAt(i);
    for (const bytes of [new TextEncoder().encode(txt), utf16]) {
      const r = pixelSizeFromSidecar(bytes);
      expect(r!.nm).toBe(3.96875);
      expect(r!.source).toMatch(/Hitachi/);
    }
    expect(pixelSizeFromSidecar(new TextEncoder().encode('nothing here'))).toBeNull();
  });
});

describe('a run of images', () => {
  it('uses each source, warns when images disagree, and falls back to px when one has none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'drg-px-'));
    try {
      const a = join(dir, 'a.tif'), b = join(dir, 'b.tif'), c = join(dir, 'c.tif'), d = join(dir, 'd.tif');
      writeFileSync(a, tiff([[34682, 2, ascii(FEI)]]));
      writeFileSync(b, tiff([[34118, 2, ascii(ZEISS('Image Pixel Size = 1.5625 nm'))]]));
      writeFileSync(c, tiff([[34118, 2, ascii(ZEISS('Image Pixel Size = 3 nm'))]]));
      writeFileSync(d, tiff());
      writeFileSync(join(dir, 'd.txt'), '$$SM_MICRON_BAR 100\n$$SM_MICRON_MARKER 200nm\n');
      const same = resolvePixelSizes([a, b], 'auto');
      expect(same).toMatchObject({ sizes: [1.5625, 1.5625], unit: 'nm' });
      expect(same.messages.join('\n')).toMatch(/FEI\/Thermo.*\(1 image\)[\s\S]*Zeiss.*\(1 image\)/);
      expect(same.messages.join('\n')).not.toMatch(/warning/);
      const differ = resolvePixelSizes([a, c, d], 'auto');
      expect(differ.sizes).toEqual([1.5625, 3, 2]);
      expect(differ.sources[2]).toMatch(/JEOL/);
      expect(differ.messages.join('\n')).toMatch(/warning: pixel sizes disagree.*a\.tif 1\.563 nm.*c\.tif 3 nm/);
      rmSync(join(dir, 'd.txt'));
      const partial = resolvePixelSizes([a, d], 'auto');
      expect(partial).toMatchObject({ sizes: [1, 1], unit: 'px' });
      expect(partial.messages[0]).toMatch(/warning: .*d\.tif carry none.*px/);
      expect(resolvePixelSizes([a], '2nm')).toMatchObject({ sizes: [2], unit: 'nm' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('segment predict measures in nm from the metadata by default and says where the size came from', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drg-px-'));
    try {
      writeFileSync(join(dir, 'a.tif'), tiff([[34682, 2, ascii(FEI)]]));
      const lines: string[] = [];
      const sink = { log: (...x: unknown[]) => lines.push(x.join(' ')), error: (...x: unknown[]) => lines.push(x.join(' ')) } as unknown as Console;
      expect(await runSegment(['predict', '--method', 'otsu', '--in', join(dir, 'a.tif'), '--out', join(dir, 'pred'), '--crop-bottom', '0', '--min-area', '5'], sink)).toBe(0);
      expect(lines.join('\n')).toMatch(/pixel size from FEI\/Thermo tag 34682/);
      const summary = JSON.parse(readFileSync(join(dir, 'pred', 'summary.json'), 'utf8'));
      expect(summary).toMatchObject({ unit: 'nm', pixelSize: 1.5625, pixelSizes: { a: { size: 1.5625, source: expect.stringMatching(/34682/) } } });
      // The disc has radius ~10 px: its ECD in nm is ~20 px x 1.5625.
      expect(summary.overall.median / 1.5625).toBeGreaterThan(17);
      expect(summary.overall.median / 1.5625).toBeLessThan(23);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
