/**
 * Decodes every image and mask of the real TiO2-SEM data set (read in place from ../shared; never
 * copied into the repository). Skipped, with a note, where that folder is absent.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/io/decode.js';
import { requireInput } from '../required-input.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dataDir = resolve(root, '../shared/data/tio2-sem');
const exists = requireInput(`the TiO2-SEM images and masks (${dataDir})`, existsSync(join(dataDir, 'images')) && existsSync(join(dataDir, 'masks')), 'test/io/tio2-data.test.ts');

describe('TiO2-SEM data set', () => {
  it.skipIf(!exists)('every image decodes to 1024 x 768 and every mask to values {0, 1}', () => {
    const images = readdirSync(join(dataDir, 'images')).filter((f) => f.endsWith('.tif')).sort();
    expect(images.length).toBe(30);
    for (const f of images) {
      const img = decodeImage(readFileSync(join(dataDir, 'images', f)), f);
      expect([img.width, img.height, img.bitDepth]).toEqual([1024, 768, 8]);
      expect(img.warnings).toEqual([]);
      let lo = 1;
      let hi = 0;
      for (const v of img.data) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      expect(lo).toBeGreaterThanOrEqual(0);
      expect(hi).toBeLessThanOrEqual(1);
      expect(hi - lo).toBeGreaterThan(0.2); // a real micrograph, not a flat field

      const maskName = f.replace(/\.tif$/, '_m.tif');
      const mask = decodeImage(readFileSync(join(dataDir, 'masks', maskName)), maskName);
      expect([mask.width, mask.height]).toEqual([1024, 768]);
      let ones = 0;
      for (const v of mask.data) {
        if (v === 1) ones++;
        else if (v !== 0) throw new Error(`${maskName}: mask value ${v} is not 0 or 1`);
      }
      const fraction = ones / mask.data.length;
      expect(fraction).toBeGreaterThan(0.01);
      expect(fraction).toBeLessThan(0.5);
    }
  });
});
