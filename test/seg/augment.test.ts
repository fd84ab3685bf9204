import { describe, expect, it } from 'vitest';
import { DEFAULT_AUGMENT, augmentIntensity, noIntensityAugment } from '../../src/seg/augment.js';
import { Rng } from '../../src/autodiff/rng.js';
import { drawDisk } from './helpers.js';

const S = 32;
function scene(): { img: Float32Array; mask: Uint8Array } {
  const mask = new Uint8Array(S * S);
  drawDisk(mask, S, S, 16, 16, 8);
  const img = Float32Array.from(mask, (m) => (m ? 0.95 : 0.1));
  return { img, mask };
}

describe('intensity augmentation', () => {
  it('keeps values in [0, 1] and is reproducible from the seed', () => {
    const run = (seed: number) => {
      const rng = new Rng(seed);
      const out: Float32Array[] = [];
      for (let k = 0; k < 20; k++) {
        const { img, mask } = scene();
        augmentIntensity(img, S, { ...DEFAULT_AUGMENT, p: 0.7 }, rng, mask);
        out.push(img);
      }
      return out;
    };
    const a = run(3);
    expect(run(3)).toEqual(a);
    for (const img of a) for (const v of img) expect(v >= 0 && v <= 1).toBe(true);
    expect(a.some((img, k) => img.some((v, i) => v !== a[(k + 1) % a.length][i]))).toBe(true);
  });

  it('particle contrast dims the particle towards the background level and leaves far background alone', () => {
    const { img, mask } = scene();
    const only = { ...noIntensityAugment(false), fgContrast: 0.7, p: 1 };
    augmentIntensity(img, S, only, new Rng(1), mask);
    const centre = img[16 * S + 16];
    expect(centre).toBeLessThanOrEqual(0.95);
    expect(centre).toBeGreaterThan(0.1 + 0.3 * 0.85 - 1e-6);
    expect(img[0]).toBeCloseTo(0.1, 6);
    // Without a mask the transform is skipped.
    const s2 = scene();
    augmentIntensity(s2.img, S, only, new Rng(1));
    expect(s2.img).toEqual(scene().img);
  });

  it('noIntensityAugment changes nothing; ridges and field add brightness somewhere', () => {
    const { img, mask } = scene();
    augmentIntensity(img, S, noIntensityAugment(true), new Rng(2), mask);
    expect(img).toEqual(scene().img);
    const r = scene();
    augmentIntensity(r.img, S, { ...noIntensityAugment(false), ridges: 0.2, p: 1 }, new Rng(2), r.mask);
    let brighter = 0;
    r.img.forEach((v, i) => (brighter += v > scene().img[i] + 1e-3 ? 1 : 0));
    expect(brighter).toBeGreaterThan(3);
    const f = scene();
    augmentIntensity(f.img, S, { ...noIntensityAugment(false), field: 0.2, p: 1 }, new Rng(5), f.mask);
    expect(f.img).not.toEqual(scene().img);
  });
});
