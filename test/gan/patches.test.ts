import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/autodiff/rng.js';
import { UserError } from '../../src/errors.js';
import {
  augment,
  cropBottom,
  dihedral,
  extractPatches,
  extractPatchesFromImages,
  tileOrigins,
  type Dihedral,
  type Grey,
} from '../../src/gan/patches.js';
import { decodeImage } from '../../src/io/decode.js';
import { requireInput } from '../required-input.js';

/** A dark noisy stage with bright discs at the given centres. */
function synthetic(width: number, height: number, discs: [number, number, number][], seed = 1): Grey {
  const rng = new Rng(seed);
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      let v = 0.25 + 0.02 * rng.normal();
      for (const [cx, cy, r] of discs) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) v = 0.75 + 0.02 * rng.normal();
      data[y * width + x] = Math.min(1, Math.max(0, v));
    }
  return { width, height, data };
}

describe('tiling', () => {
  it('tileOrigins covers every pixel and aligns the last tile to the edge', () => {
    expect(tileOrigins(1024, 256, 256)).toEqual([0, 256, 512, 768]);
    expect(tileOrigins(704, 256, 256)).toEqual([0, 256, 448]);
    expect(tileOrigins(300, 256, 100)).toEqual([0, 44]);
    expect(tileOrigins(256, 256, 256)).toEqual([0]);
    expect(tileOrigins(255, 256, 256)).toEqual([]);
    for (const [size, patch, stride] of [[1000, 64, 64], [999, 64, 50], [130, 64, 7], [64, 64, 1]]) {
      const o = tileOrigins(size, patch, stride);
      const covered = new Uint8Array(size);
      for (const a of o) for (let i = a; i < a + patch; i++) covered[i] = 1;
      expect(covered.every((c) => c === 1)).toBe(true);
      expect(o[o.length - 1]).toBe(size - patch);
    }
  });

  it('cropBottom removes the data bar rows', () => {
    const img: Grey = { width: 2, height: 3, data: Float32Array.from([1, 2, 3, 4, 5, 6]) };
    expect(Array.from(cropBottom(img, 1).data)).toEqual([1, 2, 3, 4]);
    expect(() => cropBottom(img, 3, 'a.tif')).toThrow(/a\.tif/);
  });

  it('cuts patches at the tile origins with the right pixels', () => {
    const w = 100;
    const h = 80;
    const data = Float32Array.from({ length: w * h }, (_, i) => i / (w * h));
    const s = extractPatches({ width: w, height: h + 10, data: Float32Array.from({ length: w * (h + 10) }, (_, i) => (i < w * h ? data[i] : 9)) }, 'ramp', {
      patch: 32,
      cropBottom: 10,
      filter: false,
      polarity: 'bright',
    });
    expect(s.kept.map((p) => [p.x, p.y])).toEqual(
      [0, 32, 48].flatMap((y) => [0, 32, 64, 68].map((x) => [x, y])),
    );
    for (const p of s.kept) {
      expect(p.size).toBe(32);
      for (const [r, c] of [[0, 0], [31, 31], [5, 17]]) expect(p.data[r * 32 + c]).toBe(data[(p.y + r) * w + p.x + c]);
    }
  });

  it('throws a UserError naming an image smaller than the patch', () => {
    const img = synthetic(300, 300, []);
    expect(() => extractPatches(img, 'small.tif', { patch: 256, cropBottom: 64, polarity: 'bright' })).toThrow(UserError);
    expect(() => extractPatches(img, 'small.tif', { patch: 256, cropBottom: 64, polarity: 'bright' })).toThrow(/small\.tif.*300 x 236/);
    expect(() => extractPatches(img, 'x', { patch: 0, polarity: 'bright' })).toThrow(UserError);
  });
});

describe('empty-patch rule', () => {
  it('keeps tiles with particles and drops empty or fully covered ones', () => {
    // 4 x 2 tiles of 64 px: a disc in tile (0,0), a disc in tile (2,1), tile (3,0) entirely bright.
    const img = synthetic(256, 128, [[30, 30, 15], [160, 100, 20]]);
    for (let y = 0; y < 64; y++) for (let x = 192; x < 256; x++) img.data[y * 256 + x] = 0.8;
    const s = extractPatches(img, 'synthetic', { patch: 64, polarity: 'bright' });
    expect(s.kept.map((p) => [p.x, p.y])).toEqual([[0, 0], [128, 64]]);
    expect(s.skipped).toHaveLength(6);
    const full = s.skipped.find((k) => k.patch.x === 192 && k.patch.y === 0)!;
    expect(full.reason).toMatch(/> 0.95/);
    expect(s.skipped.find((k) => k.patch.x === 64 && k.patch.y === 0)!.reason).toMatch(/< 0.01/);
  });

  it('drops a low-contrast tile by the std floor and the floor is configurable', () => {
    // Tile 0: flat stage with 43 faint specks (1.05 %) just above the Otsu threshold (~0.5);
    // std = 0.3 * sqrt(p (1 - p)) = 0.031 < 0.035.
    const img = synthetic(128, 64, [[96, 32, 20]]);
    for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) img.data[y * 128 + x] = y * 64 + x < 43 ? 0.55 : 0.25;
    const s = extractPatches(img, 'g', { patch: 64, polarity: 'bright' });
    expect(s.kept.map((p) => p.x)).toEqual([64]);
    expect(s.skipped[0].reason).toMatch(/^std/);
    expect(extractPatches(img, 'g', { patch: 64, filter: { minStd: 0 }, polarity: 'bright' }).kept).toHaveLength(2);
  });

  it('extractPatchesFromImages concatenates in image order', () => {
    const a = synthetic(64, 64, [[32, 32, 10]]);
    const b = synthetic(64, 64, [[10, 10, 8]], 2);
    const s = extractPatchesFromImages([{ name: 'a', image: a }, { name: 'b', image: b }], { patch: 64, polarity: 'bright' });
    expect(s.kept.map((p) => p.source)).toEqual(['a', 'b']);
  });
});

describe('dihedral augmentation', () => {
  const n = 5;
  const src = Float32Array.from({ length: n * n }, (_, i) => i);
  const at = (d: Float32Array, x: number, y: number) => d[y * n + x];

  it('implements the 8 documented symmetries', () => {
    const last = n - 1;
    const expected: Record<Dihedral, (x: number, y: number) => number> = {
      0: (x, y) => at(src, x, y),
      1: (x, y) => at(src, last - x, y),
      2: (x, y) => at(src, x, last - y),
      3: (x, y) => at(src, last - x, last - y),
      4: (x, y) => at(src, y, x),
      5: (x, y) => at(src, y, last - x), // rotate 90 clockwise: out(x, y) = in(y, n-1-x)
      6: (x, y) => at(src, last - y, x),
      7: (x, y) => at(src, last - y, last - x),
    };
    for (let k = 0; k < 8; k++) {
      const d = dihedral(src, n, k as Dihedral);
      for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) expect(at(d, x, y)).toBe(expected[k as Dihedral](x, y));
    }
  });

  it('gives 8 distinct images forming a group (closed under composition)', () => {
    const images = Array.from({ length: 8 }, (_, k) => Array.from(dihedral(src, n, k as Dihedral)).join());
    expect(new Set(images).size).toBe(8);
    for (let a = 0; a < 8; a++)
      for (let b = 0; b < 8; b++) {
        const c = Array.from(dihedral(dihedral(src, n, a as Dihedral), n, b as Dihedral)).join();
        expect(images).toContain(c);
      }
  });

  it('augment draws all 8 transforms, reproducibly from the seed', () => {
    const draw = (seed: number) => {
      const rng = new Rng(seed);
      return Array.from({ length: 200 }, () => augment({ data: src, size: n }, rng).transform);
    };
    const a = draw(3);
    expect(new Set(a).size).toBe(8);
    expect(draw(3)).toEqual(a);
    expect(draw(4)).not.toEqual(a);
    const rng = new Rng(1);
    const r = augment({ data: src, size: n }, rng);
    expect(Array.from(r.data)).toEqual(Array.from(dihedral(src, n, r.transform)));
  });
});

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dataDir = resolve(root, '../shared/data/tio2-sem/images');
const haveData = requireInput(`the TiO2-SEM images (${dataDir})`, existsSync(dataDir), 'test/gan/patches.test.ts');
const DEV_TEST = new Set(['1908250', '1908266', '1908282', '1908298', '1908314', '1908324']);

describe('TiO2-SEM dev pool', () => {
  it.skipIf(!haveData)('keeps 215 of the 288 tiles of 256 px (the numbers in the module comment)', () => {
    const files = readdirSync(dataDir)
      .filter((f) => f.endsWith('.tif') && !DEV_TEST.has(f.replace('.tif', '')))
      .sort();
    expect(files).toHaveLength(24);
    const images = files.map((f) => ({ name: f, image: decodeImage(readFileSync(join(dataDir, f)), f) }));
    const s = extractPatchesFromImages(images, { cropBottom: 64, polarity: 'bright' });
    expect(s.kept.length + s.skipped.length).toBe(288);
    expect(s.kept.length).toBe(215);
  });
});
