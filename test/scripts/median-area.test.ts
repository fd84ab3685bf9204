import { describe, expect, it } from 'vitest';
import { analyseTile, carve, keptTiles, summarise, TILE } from '../../scripts/median-area.js';

/** A dark tile with bright discs; `labels` gets each disc's id (1, 2, ...) unless `exact` overrides. */
function discs(items: { cx: number; cy: number; r: number }[], width = TILE, height = TILE) {
  const data = new Float32Array(width * height).fill(0.1);
  const labels = new Int32Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      items.forEach((d, k) => {
        if ((x - d.cx) ** 2 + (y - d.cy) ** 2 < d.r * d.r) {
          data[y * width + x] = 0.8;
          labels[y * width + x] = k + 1;
        }
      });
  return { data, labels };
}

/** Labels set to `id` inside the axis-aligned box [x0, x1) x [y0, y1). */
function box(labels: Int32Array, x0: number, x1: number, y0: number, y1: number, id: number): Int32Array {
  const out = Int32Array.from(labels);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) out[y * TILE + x] = id;
  return out;
}

describe('median-area', () => {
  it('carves the pixels of the larger id along a contact with a smaller one, like the class mask', () => {
    const l = new Int32Array(TILE * TILE);
    for (let x = 10; x < 20; x++) l[50 * TILE + x] = 1;
    for (let x = 20; x < 30; x++) l[50 * TILE + x] = 2;
    const c = carve(l, TILE);
    expect(c[50 * TILE + 19]).toBe(1);
    expect(c[50 * TILE + 20]).toBe(0);
    expect(c[50 * TILE + 21]).toBe(2);
    expect(c.filter((v) => v === 1).length).toBe(10);
    expect(c.filter((v) => v === 2).length).toBe(9);
  });

  it('a lone interior disc is one whole particle of about its exact area; a disc cut by the frame enters neither median', () => {
    const { data, labels } = discs([{ cx: 50, cy: 60, r: 12 }, { cx: 2, cy: 100, r: 10 }]);
    const a = analyseTile(data, labels);
    expect(a.particles.length).toBe(1);
    expect(a.particles[0].cls).toBe('whole');
    expect(a.exact.length).toBe(1);
    expect(a.exactFrameCut).toBe(1);
    expect(Math.abs(a.particles[0].area / a.exact[0] - 1)).toBeLessThan(0.1);
  });

  it('classes a statistic particle over two exact particles as merged', () => {
    const { data } = discs([{ cx: 60, cy: 60, r: 14 }]);
    // one bright disc, annotated as two particles (left and right half)
    let labels = discs([{ cx: 60, cy: 60, r: 14 }]).labels;
    labels = labels.map((v, i) => (v && i % TILE >= 60 ? 2 : v));
    const a = analyseTile(data, labels);
    expect(a.particles.map((p) => p.cls)).toEqual(['merged']);
  });

  it('classes a part of a larger exact particle by whether that particle is cut by the frame', () => {
    const { data, labels } = discs([{ cx: 40, cy: 64, r: 10 }]);
    // the exact particle extends far beyond the visible disc: to the left border, or not
    const cut = analyseTile(data, box(labels, 0, 50, 40, 90, 1));
    expect(cut.particles.map((p) => p.cls)).toEqual(['pieceOfFrameCut']);
    expect(cut.exact.length).toBe(0);
    const inner = analyseTile(data, box(labels, 20, 60, 40, 90, 1));
    expect(inner.particles.map((p) => p.cls)).toEqual(['pieceOfInterior']);
    expect(inner.exact).toEqual([40 * 50]);
  });

  it('a particle on the stage of the annotation is "other"', () => {
    const { data } = discs([{ cx: 64, cy: 64, r: 12 }]);
    const a = analyseTile(data, new Int32Array(TILE * TILE));
    expect(a.particles.map((p) => p.cls)).toEqual(['other']);
  });

  it('summarise recomputes the scene statistic exactly and cuts labels where the tiles are cut', () => {
    const img = discs([{ cx: 40, cy: 50, r: 12 }, { cx: 180, cy: 70, r: 15 }, { cx: 95, cy: 100, r: 9 }], 2 * TILE, TILE);
    const tiles = keptTiles({ width: 2 * TILE, height: TILE, data: img.data }, img.labels, 'test');
    expect(tiles.length).toBe(2);
    // the right tile's label 2 sits where its disc is
    expect(tiles[1].labels[70 * TILE + (180 - TILE)]).toBe(2);
    const s = summarise(tiles.map((t) => ({ data: t.data, analysis: analyseTile(t.data, t.labels) })));
    expect(s.statisticHere).toBe(s.statistic);
    expect(s.classes.whole.count).toBe(3);
    expect(s.exactCount).toBe(3);
    expect(s.wholeAreaRatio).toBeGreaterThan(0.9);
    expect(s.wholeAreaRatio).toBeLessThan(1.1);
    // the statistic's quartiles bracket its median: the smallest (r 9) and middle (r 12) disc
    const [q25, q75] = s.statisticQuartiles;
    expect(q25).toBeGreaterThan(0.9 * Math.PI * 81);
    expect(q25).toBeLessThan(1.1 * Math.PI * 81);
    expect(q75).toBeGreaterThan(0.9 * Math.PI * 144);
    expect(q75).toBeLessThan(1.1 * Math.PI * 144);
    expect(q25).toBeLessThanOrEqual(s.statisticHere);
  });
});
