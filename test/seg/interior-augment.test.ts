import { describe, expect, it } from 'vitest';
import { drawInteriorShade, shadeInteriors, INTERIOR_RANGES, type InteriorShade } from '../../src/seg/interior-augment.js';
import { augmentIntensity, noIntensityAugment } from '../../src/seg/augment.js';
import { instanceOutlineDistance } from '../../src/seg/targets.js';
import { trainUNet, type SegSample } from '../../src/seg/train.js';
import { Rng } from '../../src/autodiff/rng.js';
import { drawDisk } from './helpers.js';

const S = 40;
const BG = 0.2;
const FG = 0.6;

/** Two squares: id 1 at x 4..19, id 2 touching it at x 20..31 (rows 10..25); background BG, particles FG. */
function squares(): { img: Float32Array; ids: Int32Array; mask: Uint8Array } {
  const ids = new Int32Array(S * S);
  for (let y = 10; y <= 25; y++) for (let x = 4; x <= 31; x++) ids[y * S + x] = x <= 19 ? 1 : 2;
  const img = Float32Array.from(ids, (l) => (l ? FG : BG));
  const mask = Uint8Array.from(ids, (l) => (l ? 1 : 0));
  return { img, ids, mask };
}

const flat = (over: Partial<InteriorShade> = {}): InteriorShade => ({ amplitude: 0, width: 2, top: 1, gradient: 0, ux: 1, uy: 0, ...over });

describe('interior re-shading (seg/interior-augment.ts)', () => {
  it('applies the band profile by the distance to the own outline, relative to the centre, and leaves the background alone', () => {
    const { img, ids } = squares();
    const outline = instanceOutlineDistance(ids, S, S);
    const a = 1, w = 2;
    shadeInteriors(img, ids, outline, S, () => flat({ amplitude: a, width: w }));
    const expected = (d: number, depth: number) => BG + (FG - BG) * (1 + a * Math.exp(-d / w)) / (1 + a * Math.exp(-depth / w));
    // Square 1 spans x 4..19, y 10..25 (16 x 16; x 19 is its contact with square 2): along row 17,
    // pixel x is min(x - 4, 19 - x, 7) + 1 px from the outside; its deepest pixels are 8 px in.
    for (let x = 4; x <= 19; x++) expect(img[17 * S + x]).toBeCloseTo(expected(Math.min(x - 4, 19 - x, 7) + 1, 8), 5);
    // The outline is brighter than the centre, the centre keeps its grey.
    expect(img[17 * S + 4]).toBeGreaterThan(img[17 * S + 11] + 0.1);
    expect(img[17 * S + 11]).toBeCloseTo(FG, 5);
    // Square 2 (x 20..31, 12 wide) starts at its own outline at the contact: 1 px there.
    expect(img[17 * S + 20]).toBeCloseTo(expected(1, 6), 5);
    for (let i = 0; i < S * S; i++) if (ids[i] === 0) expect(img[i]).toBe(Math.fround(BG));
  });

  it('scales the whole particle by its top and tilts it along the drawn direction', () => {
    const { img, ids } = squares();
    const outline = instanceOutlineDistance(ids, S, S);
    shadeInteriors(img, ids, outline, S, (id) => (id === 1 ? flat({ top: 0.5 }) : flat({ gradient: 0.2, ux: 1, uy: 0 })));
    expect(img[17 * S + 11]).toBeCloseTo(BG + (FG - BG) * 0.5, 5);
    // Square 2: centroid x 25.5, equivalent radius sqrt(192 / pi); brighter towards +x.
    const r = Math.sqrt(192 / Math.PI);
    expect(img[17 * S + 31]).toBeCloseTo(BG + (FG - BG) * (1 + (0.2 * 5.5) / r), 5);
    expect(img[17 * S + 20]).toBeCloseTo(BG + (FG - BG) * (1 - (0.2 * 5.5) / r), 5);
  });

  it('draws one shade per particle, in order of first appearance, inside INTERIOR_RANGES', () => {
    const { img, ids } = squares();
    const seen: number[] = [];
    shadeInteriors(img, ids, instanceOutlineDistance(ids, S, S), S, (id) => (seen.push(id), flat()));
    expect(seen).toEqual([1, 2]);
    const rng = new Rng(5);
    for (let k = 0; k < 200; k++) {
      const s = drawInteriorShade(rng);
      expect(s.amplitude).toBeGreaterThanOrEqual(INTERIOR_RANGES.amplitude[0]);
      expect(s.amplitude).toBeLessThanOrEqual(INTERIOR_RANGES.amplitude[1]);
      expect(s.width).toBeGreaterThanOrEqual(INTERIOR_RANGES.width[0]);
      expect(s.top).toBeLessThanOrEqual(INTERIOR_RANGES.top[1]);
      expect(Math.hypot(s.ux, s.uy)).toBeCloseTo(1, 9);
    }
  });

  it('augmentIntensity: masks and background untouched, reproducible from the seed, off by default', () => {
    const mk = () => {
      const mask = new Uint8Array(S * S);
      drawDisk(mask, S, S, 20, 20, 9);
      const ids = Float32Array.from(mask);
      return { mask, ids, img: Float32Array.from(mask, (m) => (m ? FG : BG)), outline: instanceOutlineDistance(ids, S, S) };
    };
    const opts = { ...noIntensityAugment(false), interior: 1 };
    const run = (seed: number) => {
      const { mask, ids, img, outline } = mk();
      const maskBefore = Uint8Array.from(mask);
      augmentIntensity(img, S, opts, new Rng(seed), mask, { ids, outline });
      expect(mask).toEqual(maskBefore);
      for (let i = 0; i < S * S; i++) if (!mask[i]) expect(img[i]).toBe(Math.fround(BG));
      return img;
    };
    const a = run(7);
    expect(run(7)).toEqual(a);
    expect(run(8)).not.toEqual(a);
    expect(a).not.toEqual(mk().img);
    // Off (interior 0) or without the crop's particles: nothing changes and no draw is taken.
    for (const [o, withParticles] of [[noIntensityAugment(false), true], [opts, false]] as const) {
      const { mask, ids, img, outline } = mk();
      const rng = new Rng(7);
      augmentIntensity(img, S, o, rng, mask, withParticles ? { ids, outline } : undefined);
      expect(img).toEqual(mk().img);
      expect(rng.uniform()).toBe(new Rng(7).uniform());
    }
  });

  it('trainUNet: the re-shaded run is reproducible from its seed and differs from the plain one', () => {
    const sample = (name: string, cx: number): SegSample => {
      const inst = new Int32Array(32 * 32);
      const disk = new Uint8Array(32 * 32);
      drawDisk(disk, 32, 32, cx, 16, 7);
      for (let i = 0; i < disk.length; i++) inst[i] = disk[i];
      return { name, width: 32, height: 32, image: Float32Array.from(disk, (m) => (m ? 0.7 : 0.2)), classes: Uint8Array.from(disk), instances: inst };
    };
    const data = [sample('a', 12), sample('b', 20)];
    const train = (interior: number) => trainUNet(data, { base: 2, depth: 1 }, { epochs: 1, batch: 2, crop: 32, stepsPerEpoch: 2, augment: { ...noIntensityAugment(false), interior } }).checkpoint.weights;
    const a = train(1);
    expect(train(1)).toEqual(a);
    expect(train(0)).not.toEqual(a);
  });

  it('trainUNet rejects a probability outside [0, 1]', () => {
    const s: SegSample = { name: 'a', width: 16, height: 16, image: new Float32Array(256), classes: new Uint8Array(256) };
    expect(() => trainUNet([s], { base: 2, depth: 1 }, { epochs: 1, augment: { ...noIntensityAugment(false), interior: 1.5 } })).toThrow(/interior/);
  });
});
