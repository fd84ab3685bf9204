import { describe, expect, it } from 'vitest';
import { edgeOffset, edgeProfile, growClassMask, growInstances } from '../../src/seg/align.js';
import { classesFromInstances } from '../../src/seg/classmask.js';
import { gaussianBlur } from '../../src/particles/otsu.js';
import { drawDisk } from './helpers.js';

const W = 64;
/** Discs of radius r drawn in the image, their mask of radius rm; the image blurred by sigma. */
function pair(r: number, rm: number, sigma: number): { width: number; height: number; image: Float32Array; classes: Uint8Array } {
  const img = new Float32Array(W * W).fill(0.1);
  const inst = new Int32Array(W * W);
  for (const [cx, cy, id] of [[18, 18, 1], [44, 40, 2]]) {
    drawDisk(img, W, W, cx, cy, r, 0.9);
    drawDisk(inst, W, W, cx, cy, rm, id);
  }
  return { width: W, height: W, image: sigma > 0 ? gaussianBlur(img, W, W, sigma) : img, classes: classesFromInstances(inst, W, W) };
}

describe('mask / edge alignment', () => {
  it('measures no offset where masks follow the edges, blurred or not', () => {
    expect(Math.abs(edgeOffset(edgeProfile([pair(10, 10, 0)])))).toBeLessThan(0.6);
    expect(Math.abs(edgeOffset(edgeProfile([pair(10, 10, 1.5)])))).toBeLessThan(0.6);
  });

  it('measures how far the visible edge lies outside (or inside) the masks', () => {
    expect(edgeOffset(edgeProfile([pair(12, 8, 1)]))).toBeCloseTo(4, 0);
    expect(edgeOffset(edgeProfile([pair(8, 11, 1)]))).toBeCloseTo(-3, 0);
    // A flat image has no edge: 0.
    const flat = pair(10, 10, 0);
    flat.image.fill(0.5);
    expect(edgeOffset(edgeProfile([flat]))).toBe(0);
  });

  it('growing by the measured offset aligns the masks', () => {
    const p = pair(12, 8, 1);
    const px = Math.round(edgeOffset(edgeProfile([p])));
    const grown = { ...p, classes: growClassMask(p.classes, W, W, px) };
    expect(Math.abs(edgeOffset(edgeProfile([grown])))).toBeLessThan(0.6);
    expect(growClassMask(p.classes, W, W, 0)).toBe(p.classes);
  });

  it('grows instances without merging them: touching particles stay separated by contour', () => {
    const inst = new Int32Array(W * W);
    drawDisk(inst, W, W, 20, 32, 8, 1);
    drawDisk(inst, W, W, 40, 32, 8, 2);
    const g = growInstances(inst, W, W, 5);
    let a1 = 0, a2 = 0;
    for (let i = 0; i < g.length; i++) {
      if (inst[i]) expect(g[i]).toBe(inst[i]);
      a1 += g[i] === 1 ? 1 : 0;
      a2 += g[i] === 2 ? 1 : 0;
    }
    expect(Math.abs(a1 - a2)).toBeLessThan(W / 2); // symmetric but for the meeting line (ties: the lower id)
    expect(a1).toBeGreaterThan(Math.PI * 12 * 12);
    expect(a1).toBeLessThan(Math.PI * 13.5 * 13.5);
    const cls = classesFromInstances(g, W, W);
    // The column between the two discs is contour or background, never particle.
    for (let y = 0; y < W; y++) expect(cls[y * W + 30]).not.toBe(1);
  });
});
