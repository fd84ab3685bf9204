/**
 * Fiji-ready outputs: traced outlines (ImageJ's particle-analyzer polygons), Fiji's Analyze
 * Particles measurements, the binary .roi / RoiSet.zip format read back by a decoder written here
 * from ImageJ's RoiDecoder layout (not the project's encoder), and the 16-bit label TIFF read by an
 * independent decoder (image-js `tiff`).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { decode as decodeTiffIndependent } from 'tiff';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { polygonArea, traceOutline, traceOutlines } from '../../src/seg/outline.js';
import { fijiMeasurements, tracedPerimeter, FIJI_CSV_HEADER } from '../../src/seg/fiji.js';
import { measureParticles } from '../../src/particles/measure.js';
import { encodeRoiSet } from '../../src/io/imagej-roi.js';
import { encodeTiffGrey16 } from '../../src/io/tiff-encode.js';
import { encodePngGrey8 } from '../../src/io/png.js';
import { runSegment } from '../../src/cli/segment.js';

function labelsFrom(rows: string[]): { labels: Int32Array; w: number; h: number } {
  const h = rows.length, w = rows[0].length;
  const labels = new Int32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) labels[y * w + x] = rows[y][x] === '.' ? 0 : Number(rows[y][x]);
  return { labels, w, h };
}

/** Zip entries, read from the local file headers (APPNOTE 4.3.7): stored or deflated. */
function readZip(bytes: Uint8Array): Map<string, Uint8Array> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Map<string, Uint8Array>();
  let p = 0;
  while (dv.getUint32(p, true) === 0x04034b50) {
    const method = dv.getUint16(p + 8, true);
    const size = dv.getUint32(p + 18, true);
    const nameLen = dv.getUint16(p + 26, true);
    const extraLen = dv.getUint16(p + 28, true);
    const name = new TextDecoder().decode(bytes.subarray(p + 30, p + 30 + nameLen));
    const data = bytes.subarray(p + 30 + nameLen + extraLen, p + 30 + nameLen + extraLen + size);
    expect([0, 8]).toContain(method);
    out.set(name, method === 8 ? new Uint8Array(inflateRawSync(data)) : data);
    p += 30 + nameLen + extraLen + size;
  }
  return out;
}

/** ImageJ's .roi layout (RoiDecoder): big-endian header, x then y shorts, name in header 2. */
function readRoi(b: Uint8Array): { type: number; top: number; left: number; bottom: number; right: number; xs: number[]; ys: number[]; name: string } {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  expect(new TextDecoder().decode(b.subarray(0, 4))).toBe('Iout');
  expect(dv.getInt16(4)).toBeGreaterThanOrEqual(217);
  const top = dv.getInt16(8), left = dv.getInt16(10), bottom = dv.getInt16(12), right = dv.getInt16(14);
  const n = dv.getUint16(16);
  const xs = Array.from({ length: n }, (_, i) => left + dv.getInt16(64 + 2 * i));
  const ys = Array.from({ length: n }, (_, i) => top + dv.getInt16(64 + 2 * n + 2 * i));
  const h2 = dv.getInt32(60);
  const nameAt = dv.getInt32(h2 + 16), nameLen = dv.getInt32(h2 + 20);
  const name = String.fromCharCode(...Array.from({ length: nameLen }, (_, i) => dv.getUint16(nameAt + 2 * i)));
  return { type: b[6], top, left, bottom, right, xs, ys, name };
}

describe('traced outlines', () => {
  it('a pixel, a 2 x 2 square, an L and corner-touching pixels', () => {
    let t = labelsFrom(['...', '.1.', '...']);
    let o = traceOutline(t.labels, t.w, t.h, 1, 4);
    expect(o).toEqual({ xs: [1, 2, 2, 1], ys: [1, 1, 2, 2] });
    // ImageJ's own examples: 4 - 2 (2 - sqrt 2) for one pixel, 8 - 4 (2 - sqrt 2) for 2 x 2.
    expect(tracedPerimeter(o)).toBeCloseTo(4 - 2 * (2 - Math.SQRT2), 12);
    t = labelsFrom(['11', '11']);
    expect(tracedPerimeter(traceOutline(t.labels, 2, 2, 1, 0))).toBeCloseTo(8 - 4 * (2 - Math.SQRT2), 12);
    t = labelsFrom(['1..', '1..', '111']);
    o = traceOutline(t.labels, 3, 3, 1, 0);
    expect(o).toEqual({ xs: [0, 1, 1, 3, 3, 0], ys: [0, 0, 2, 2, 3, 3] });
    t = labelsFrom(['1.', '.1']);
    expect(polygonArea(traceOutline(t.labels, 2, 2, 1, 0))).toBe(2);
  });

  it("encloses exactly the particle's pixels for random hole-free shapes (area = pixel count)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 14 }), fc.integer({ min: 1, max: 14 }), fc.double({ min: 0, max: Math.PI, noNaN: true }), fc.integer({ min: 0, max: 3 }), (a, b, th, off) => {
        const w = 34, h = 34;
        const labels = new Int32Array(w * h);
        let count = 0;
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            const dx = x + 0.5 - 17 - off * 0.3, dy = y + 0.5 - 17;
            const u = dx * Math.cos(th) + dy * Math.sin(th), v = -dx * Math.sin(th) + dy * Math.cos(th);
            if ((u / (a + 0.5)) ** 2 + (v / (b + 0.5)) ** 2 <= 1) (labels[y * w + x] = 1), count++;
          }
        }
        const o = traceOutlines(labels, w, h, 1)[0]!;
        expect(polygonArea(o)).toBe(count);
        // Every vertex is a pixel corner touching the particle.
        for (let i = 0; i < o.xs.length; i++) {
          const near = [[0, 0], [-1, 0], [0, -1], [-1, -1]].some(([ox, oy]) => labels[(o.ys[i] + oy) * w + o.xs[i] + ox] === 1);
          expect(near).toBe(true);
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe("Fiji's Analyze Particles measurements", () => {
  it('a 10 x 4 rectangle: Area 40, Perim. 28 - 4 (2 - sqrt 2), AR 2.5, Round 0.4, Solidity 1; scaled by the pixel size', () => {
    const w = 14, h = 8;
    const labels = new Int32Array(w * h);
    for (let y = 2; y < 6; y++) for (let x = 2; x < 12; x++) labels[y * w + x] = 1;
    for (const px of [1, 2.5]) {
      const [r] = fijiMeasurements(labels, w, h, measureParticles(labels, w, h, { pixelSize: px }), px).rows;
      expect(r.area).toBeCloseTo(40 * px * px, 10);
      expect(r.perim).toBeCloseTo((28 - 4 * (2 - Math.SQRT2)) * px, 10);
      expect(r.ar).toBeCloseTo(2.5, 10);
      expect(r.round).toBeCloseTo(0.4, 10);
      expect(r.solidity).toBeCloseTo(1, 10);
      expect(r.feret).toBeCloseTo(Math.hypot(10, 4) * px, 10);
      expect(r.minFeret).toBeCloseTo(4 * px, 10);
      expect(r.x).toBeCloseTo(7 * px, 10);
      expect(r.y).toBeCloseTo(4 * px, 10);
    }
  });

  it('an L-shape has solidity below 1 (hull area 5 x 5 - 4 x 4 triangle parts)', () => {
    const t = labelsFrom(['1....', '1....', '1....', '1....', '11111']);
    const [r] = fijiMeasurements(t.labels, 5, 5, measureParticles(t.labels, 5, 5)).rows;
    // Outline (0,0) (1,0) (1,4) (5,4) (5,5) (0,5): hull (0,0) (1,0) (5,4) (5,5) (0,5), area 25 - 8 = 17.
    expect(r.solidity).toBeCloseTo(9 / 17, 12);
  });
});

describe('ImageJ ROI set and label TIFF', () => {
  it('RoiSet.zip holds one traced .roi per particle with its outline and name', () => {
    const t = labelsFrom(['.....', '.11..', '.11.2', '...22']);
    const outlines = traceOutlines(t.labels, t.w, t.h, 2);
    const zip = encodeRoiSet(outlines.map((o, i) => ({ name: `particle-000${i + 1}`, xs: o!.xs, ys: o!.ys })));
    const entries = readZip(zip);
    expect([...entries.keys()]).toEqual(['particle-0001.roi', 'particle-0002.roi']);
    const r1 = readRoi(entries.get('particle-0001.roi')!);
    expect(r1).toEqual({ type: 8, top: 1, left: 1, bottom: 3, right: 3, xs: [1, 3, 3, 1], ys: [1, 1, 3, 3], name: 'particle-0001' });
    const r2 = readRoi(entries.get('particle-0002.roi')!);
    expect({ xs: r2.xs, ys: r2.ys, name: r2.name }).toEqual({ xs: outlines[1]!.xs, ys: outlines[1]!.ys, name: 'particle-0002' });
  });

  it('the label TIFF holds the ids in 16 bits and ImageJ calibration (independent decoder)', () => {
    const ids = Uint16Array.from({ length: 6 * 4 }, (_, i) => (i * 2731) % 65536);
    const [page] = decodeTiffIndependent(encodeTiffGrey16(6, 4, ids, { pixelSize: 1.5625, unit: 'nm' }));
    expect(page.width).toBe(6);
    expect(page.bitsPerSample).toBe(16);
    expect(Array.from(page.data as Uint16Array)).toEqual(Array.from(ids));
    expect(page.get('ImageDescription')).toBe('ImageJ=1.11a\nunit=nm\n');
    expect(page.get('XResolution')).toBeCloseTo(0.64, 12);
    const [plain] = decodeTiffIndependent(encodeTiffGrey16(6, 4, ids));
    expect(plain.get('ImageDescription')).toBeUndefined();
  });

  it('segment predict writes NAME_labels.tif, NAME_RoiSet.zip and, with --columns fiji, Fiji columns', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drg-fiji-'));
    try {
      const img = new Float32Array(64 * 64).map((_, i) => ((((i % 64) - 20) ** 2 + (Math.floor(i / 64) - 20) ** 2 < 64) || (((i % 64) - 45) ** 2 + (Math.floor(i / 64) - 44) ** 2 < 81) ? 0.8 : 0.1));
      writeFileSync(join(dir, 'a.png'), encodePngGrey8(64, 64, img));
      const sink = { log: () => {}, error: () => {} } as unknown as Console;
      const out = join(dir, 'pred');
      expect(await runSegment(['predict', '--method', 'otsu', '--in', join(dir, 'a.png'), '--out', out, '--crop-bottom', '0', '--min-area', '5', '--columns', 'fiji', '--pixel-size', '2nm'], sink)).toBe(0);
      const [labels] = decodeTiffIndependent(readFileSync(join(out, 'a_labels.tif')));
      const ids = new Set(Array.from(labels.data as Uint16Array));
      expect(ids).toEqual(new Set([0, 1, 2]));
      const rois = readZip(readFileSync(join(out, 'a_RoiSet.zip')));
      expect(rois.size).toBe(2);
      for (const b of rois.values()) {
        const r = readRoi(b);
        const area = Math.abs(polygonArea({ xs: r.xs, ys: r.ys }));
        const id = Number(r.name.slice(-4));
        const pixels = Array.from(labels.data as Uint16Array).filter((v) => v === id).length;
        expect(area).toBe(pixels);
      }
      const csv = readFileSync(join(out, 'particles.csv'), 'utf8').trimEnd().split('\n');
      expect(csv[0]).toBe(FIJI_CSV_HEADER);
      expect(csv).toHaveLength(3);
      expect(csv[1]).toMatch(/^1,a:1,/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
