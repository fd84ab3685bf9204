import { describe, expect, it } from 'vitest';
import { otsuForeground, summariseThickness, thicknessValues, weightedQuantile, MIN_DISC } from '../../scripts/size-statistic.js';
import { TILE } from '../../scripts/median-area.js';

/** A dark tile with bright discs [cx, cy, r]. */
function tile(items: [number, number, number][]): Float32Array {
  const data = new Float32Array(TILE * TILE).fill(0.1);
  for (const [cx, cy, r] of items) for (let y = 0; y < TILE; y++) for (let x = 0; x < TILE; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) data[y * TILE + x] = 0.8;
  return data;
}

describe('size-statistic script', () => {
  it('weightedQuantile: the smallest value where the cumulative weight reaches p', () => {
    expect(weightedQuantile([3, 1, 2], [1, 1, 1], 0.5)).toBe(2);
    expect(weightedQuantile([3, 1, 2], [1, 0, 8], 0.5)).toBe(2);
    expect(weightedQuantile([3, 1, 2], [10, 1, 1], 0.5)).toBe(3);
  });

  it('the Otsu foreground drops components under 50 px, as the scene statistics do', () => {
    const fg = otsuForeground(tile([[30, 30, 12], [90, 90, 3]]));
    expect(fg[30 * TILE + 30]).toBe(1);
    expect(fg[90 * TILE + 90]).toBe(0);
  });

  it('pixel- and number-weighted medians: discs of radius 6 and 18, the large one holds most pixels, the small ones are most discs', () => {
    const fg = otsuForeground(tile([[30, 30, 18], [90, 20, 6], [100, 60, 6], [90, 100, 6], [30, 100, 6], [60, 70, 6]]));
    for (const frame of ['open', 'closed'] as const) {
      const s = summariseThickness(thicknessValues(fg, frame));
      expect(s.pixel[0]).toBeGreaterThanOrEqual(34);
      expect(s.pixel[0]).toBeLessThanOrEqual(40);
      expect(s.numberAboveMin[0]).toBeGreaterThanOrEqual(MIN_DISC);
      expect(s.numberAboveMin[0]).toBeLessThanOrEqual(14);
    }
  });
});
