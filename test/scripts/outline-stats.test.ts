import { describe, expect, it } from 'vitest';
import { imageOutlines, loneOutlines, quantile } from '../../scripts/outline-stats.js';

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

  it('quantile takes the nearest rank below', () => {
    expect(quantile([5, 1, 4, 2, 3], 0.5)).toBe(3);
    expect(quantile([5, 1, 4, 2, 3], 0.9)).toBe(4);
  });
});
