import { describe, expect, it } from 'vitest';
import { growToHalfLevel } from '../../src/seg/edge-outline.js';
import { gaussianBlur } from '../../src/particles/otsu.js';
import { drawDisk } from './helpers.js';

const W = 64;

/** Bright discs of radius r (blurred by 1 px) and a prediction of the same discs drawn with radius rp. */
function scene(r: number, rp: number, centres: number[][]): { image: Float32Array; labels: Int32Array } {
  const img = new Float32Array(W * W).fill(0.1);
  const labels = new Int32Array(W * W);
  centres.forEach(([cx, cy], k) => {
    drawDisk(img, W, W, cx, cy, r, 0.9);
    drawDisk(labels, W, W, cx, cy, rp, k + 1);
  });
  return { image: gaussianBlur(img, W, W, 1), labels };
}

const area = (labels: ArrayLike<number>, id: number) => Array.from(labels).filter((l) => l === id).length;

describe('outlines at the half level of the edge', () => {
  it('grows a particle drawn 1 px inside its visible edge back to it, and no further', () => {
    const { image, labels } = scene(10, 9, [[20, 20], [44, 42]]);
    const truth = scene(10, 10, [[20, 20], [44, 42]]).labels;
    const out = growToHalfLevel(labels, image, W, W, { maxPx: 4 });
    for (const id of [1, 2]) {
      expect(Math.abs(area(out, id) - area(truth, id))).toBeLessThanOrEqual(8);
      expect(area(out, id)).toBeGreaterThan(area(labels, id) + 40);
    }
    // every pixel it had stays; nothing changes its particle
    for (let i = 0; i < out.length; i++) if (labels[i]) expect(out[i]).toBe(labels[i]);
  });

  it('leaves outlines that already sit on the edge (almost) as they are', () => {
    const { image, labels } = scene(10, 10, [[20, 20], [44, 42]]);
    const out = growToHalfLevel(labels, image, W, W);
    for (const id of [1, 2]) expect(area(out, id) - area(labels, id)).toBeLessThanOrEqual(8);
  });

  it('keeps touching particles apart: no pixel of one is 4-adjacent to the other', () => {
    // Two discs overlapping in the image, predicted as two particles with a gap of two background columns between them.
    const { image, labels } = scene(10, 8, [[22, 32], [40, 32]]);
    for (let i = 0; i < labels.length; i++) if (i % W === 30 || i % W === 31) labels[i] = 0;
    const out = growToHalfLevel(labels, image, W, W, { maxPx: 4 });
    for (let y = 0; y < W; y++) {
      for (let x = 0; x < W - 1; x++) {
        const a = out[y * W + x], b = out[y * W + x + 1];
        if (a && b) expect(a).toBe(b);
        if (y < W - 1) {
          const c = out[(y + 1) * W + x];
          if (a && c) expect(a).toBe(c);
        }
      }
    }
    expect(area(out, 1)).toBeGreaterThan(area(labels, 1));
  });

  it('changes nothing on a flat image or an empty prediction', () => {
    const { labels } = scene(10, 9, [[20, 20]]);
    const flat = new Float32Array(W * W).fill(0.5);
    expect(Array.from(growToHalfLevel(labels, flat, W, W))).toEqual(Array.from(labels));
    const none = new Int32Array(W * W);
    expect(Array.from(growToHalfLevel(none, scene(10, 9, [[20, 20]]).image, W, W))).toEqual(Array.from(none));
  });

  it('rejects mismatched sizes', () => {
    expect(() => growToHalfLevel(new Int32Array(10), new Float32Array(W * W), W, W)).toThrow();
  });
});
