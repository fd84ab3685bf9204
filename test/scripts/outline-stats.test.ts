import { describe, expect, it } from 'vitest';
import { imageOutlines, loneOutlines, pixelHullArea, quantile, tileOutlines } from '../../scripts/outline-stats.js';

/** A dark 128 px tile with bright ellipses (semi-axes a, b) centred at the given points. */
function ellipses(items: { cx: number; cy: number; a: number; b: number }[]) {
  const width = 128;
  const height = 128;
  const data = new Float32Array(width * height).fill(0.1);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (const e of items) if (((x - e.cx) / e.a) ** 2 + ((y - e.cy) / e.b) ** 2 < 1) data[y * width + x] = 0.8;
    }
  }
  return { width, height, data };
}

describe('outline-stats', () => {
  it('measures a lone 2:1 ellipse as aspect ~2 and a disc as ~1', () => {
    const o = loneOutlines(ellipses([{ cx: 35, cy: 40, a: 16, b: 8 }, { cx: 90, cy: 85, a: 10, b: 10 }]));
    expect(o.length).toBe(2);
    const [ell, disc] = o;
    expect(ell.aspectRatio).toBeGreaterThan(1.8);
    expect(ell.aspectRatio).toBeLessThan(2.2);
    expect(disc.aspectRatio).toBeLessThan(1.15);
    expect(disc.circularity).toBeGreaterThan(0.9);
    expect(ell.circularity).toBeLessThan(disc.circularity);
  });

  it('leaves out particles cut by the tile border and two touching discs (not lone)', () => {
    const o = loneOutlines(ellipses([{ cx: 3, cy: 60, a: 10, b: 10 }, { cx: 60, cy: 60, a: 12, b: 12 }, { cx: 82, cy: 60, a: 12, b: 12 }]));
    expect(o.length).toBe(0);
  });

  it('drops a tile without particles (empty-patch rule)', () => {
    expect(imageOutlines(ellipses([]))).toEqual([]);
  });

  it('solidity is ~1 for a disc and low for a crescent, which the 3 x 3 smoothing does not make round', () => {
    const t = ellipses([{ cx: 40, cy: 40, a: 14, b: 14 }]);
    // a crescent: a disc with an offset disc cut out (set back to the substrate)
    const c = { cx: 90, cy: 90, r: 16 };
    for (let y = 0; y < 128; y++) {
      for (let x = 0; x < 128; x++) {
        const inOuter = (x - c.cx) ** 2 + (y - c.cy) ** 2 < c.r ** 2;
        const inCut = (x - c.cx - 12) ** 2 + (y - c.cy) ** 2 < 10 ** 2;
        if (inOuter && !inCut) t.data[y * 128 + x] = 0.8;
      }
    }
    const [disc, crescent] = loneOutlines(t);
    expect(disc.solidity).toBeGreaterThan(0.9);
    expect(disc.smoothCircularity).toBeGreaterThan(0.85);
    expect(crescent.solidity).toBeLessThan(0.82);
    expect(crescent.smoothCircularity).toBeLessThan(0.75);
  });

  it('pixelHullArea is the area of the hull of the pixel squares', () => {
    const W = 10;
    const square = [0, 1, 2, 10, 11, 12, 20, 21, 22];
    expect(pixelHullArea(square, W)).toBe(9);
    // an L of 3 + 2 pixels: hull of (0,0),(3,0),(3,1),(1,3),(0,3) -> 3*3 - 2*2/2 = 7
    expect(pixelHullArea([0, 1, 2, 10, 20], W)).toBe(7);
  });

  it('with particle ids: a whole bright particle has IoU ~1, a dim one seen only by its bright rim is a part of it', () => {
    const t = ellipses([{ cx: 35, cy: 35, a: 14, b: 14 }]);
    const manual = new Int32Array(128 * 128);
    for (let y = 0; y < 128; y++) {
      for (let x = 0; x < 128; x++) {
        const i = y * 128 + x;
        if ((x - 35) ** 2 + (y - 35) ** 2 < 14 ** 2) manual[i] = 1;
        const d2 = (x - 90) ** 2 + (y - 90) ** 2;
        if (d2 < 18 ** 2) {
          manual[i] = 2;
          // dim body at the substrate's level but for a bright rim on its left third
          t.data[i] = x < 80 ? 0.8 : 0.12;
        }
      }
    }
    const { outlines, particles } = tileOutlines(t, manual);
    expect(outlines.length).toBe(2);
    const [whole, rim] = outlines;
    expect(whole.manual).toBe(1);
    expect(whole.iou).toBeGreaterThan(0.85);
    expect(rim.iou).toBeLessThan(0.5);
    expect(particles.length).toBe(2);
    const [p1, p2] = particles;
    expect(p1.coverage).toBeGreaterThan(0.9);
    expect(p1.level).toBeGreaterThan(1);
    expect(p2.coverage).toBeLessThan(0.5);
    expect(p2.level).toBeLessThan(1);
  });

  it('quantile takes the nearest rank below', () => {
    expect(quantile([5, 1, 4, 2, 3], 0.5)).toBe(3);
    expect(quantile([5, 1, 4, 2, 3], 0.9)).toBe(4);
  });
});
