import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { distanceWatershed, findMaxima, markerWatershed, sortByValueDesc } from '../../src/particles/watershed.js';
import { componentAreas, connectedComponents } from '../../src/particles/labels.js';
import { drawDisk } from '../seg/helpers.js';

function noFourNeighbourClash(labels: Int32Array, w: number, h: number): boolean {
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const a = labels[y * w + x];
      if (!a) continue;
      if (x + 1 < w && labels[y * w + x + 1] && labels[y * w + x + 1] !== a) return false;
      if (y + 1 < h && labels[(y + 1) * w + x] && labels[(y + 1) * w + x] !== a) return false;
    }
  }
  return true;
}

describe('markerWatershed', () => {
  it('floods a 1-D cost profile from two markers, meeting at the ridge', () => {
    const cost = Float32Array.from([0, 1, 2, 5, 2, 1, 0]);
    const markers = Int32Array.from([1, 0, 0, 0, 0, 0, 2]);
    expect(Array.from(markerWatershed(cost, markers, 7, 1))).toEqual([1, 1, 1, 1, 2, 2, 2]);
    expect(Array.from(markerWatershed(cost, markers, 7, 1, { lines: true }))).toEqual([1, 1, 1, 0, 2, 2, 2]);
  });

  it('breaks ties by insertion order (deterministic) and respects the mask', () => {
    const flat = new Float32Array(6);
    const markers = Int32Array.from([1, 0, 0, 0, 0, 2]);
    // Equal costs: the first marker's wave arrives first at the middle pair and takes the earlier one.
    expect(Array.from(markerWatershed(flat, markers, 6, 1))).toEqual([1, 1, 1, 2, 2, 2]);
    const mask = Uint8Array.from([1, 1, 0, 1, 1, 1]);
    expect(Array.from(markerWatershed(flat, markers, 6, 1, { mask }))).toEqual([1, 1, 0, 2, 2, 2]);
    // Unreached mask pixels stay 0; markers outside the mask are dropped.
    expect(Array.from(markerWatershed(flat, Int32Array.from([0, 0, 1, 0, 0, 0]), 6, 1, { mask }))).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

describe('findMaxima', () => {
  it('keeps maxima by prominence h', () => {
    // Peaks 5 (x=1) and 4 (x=5), saddle 3 (x=3): the lower peak's dynamic is 1.
    const v = Float32Array.from([0, 5, 4, 3, 3.5, 4, 0]);
    const keepBoth = findMaxima(v, 7, 1, { h: 0.5 });
    expect(keepBoth.count).toBe(2);
    expect(keepBoth.labels[1]).toBe(1);
    expect(keepBoth.labels[5]).toBe(2);
    expect(findMaxima(v, 7, 1, { h: 1 }).count).toBe(1);
    expect(findMaxima(v, 7, 1, { h: 0.5, minDistance: 5 }).count).toBe(1);
    // A plateau is one maximum (its first pixel).
    const plateau = findMaxima(Float32Array.from([1, 2, 2, 2, 1]), 5, 1);
    expect(plateau.count).toBe(1);
    expect(plateau.labels[1]).toBe(1);
  });

  it('gives every mask component its own maximum even under minDistance', () => {
    const v = Float32Array.from([1, 2, 0, 2, 1]);
    const mask = Uint8Array.from([1, 1, 0, 1, 1]);
    expect(findMaxima(v, 5, 1, { mask, minDistance: 10 }).count).toBe(2);
  });
});

describe('distanceWatershed', () => {
  it('splits two touching disks into two instances of about equal size', () => {
    const w = 60;
    const h = 40;
    const mask = new Uint8Array(w * h);
    drawDisk(mask, w, h, 20, 20, 11);
    drawDisk(mask, w, h, 39, 20, 11);
    expect(connectedComponents(mask, w, h, 4).count).toBe(1);
    const inst = distanceWatershed(mask, w, h);
    expect(inst.count).toBe(2);
    const areas = componentAreas(inst.labels, inst.count);
    const disk = Math.PI * 11 * 11;
    expect(Math.abs(areas[1] - areas[2])).toBeLessThan(0.05 * disk);
    expect(areas[1]).toBeGreaterThan(0.85 * disk);
    expect(noFourNeighbourClash(inst.labels, w, h)).toBe(true);
    // The split runs near x = 29.5 (the neck); instance 1 is the left disk.
    expect(inst.labels[20 * w + 15]).toBe(1);
    expect(inst.labels[20 * w + 44]).toBe(2);
    const noLines = distanceWatershed(mask, w, h, { lines: false });
    expect(noLines.count).toBe(2);
    let fg = 0;
    for (let i = 0; i < mask.length; i++) fg += noLines.labels[i] ? 1 : 0;
    expect(fg).toBe(mask.reduce((s, v) => s + v, 0));
  });

  it('leaves a single disk whole', () => {
    const w = 40;
    const mask = new Uint8Array(w * w);
    drawDisk(mask, w, w, 20, 20, 14);
    expect(distanceWatershed(mask, w, w).count).toBe(1);
  });

  it('never leaves a 4-connected mask component unlabelled and never joins 4-neighbours of different labels', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 144, maxLength: 144 }), (bits) => {
        const mask = Uint8Array.from(bits, (b) => (b ? 1 : 0));
        const inst = distanceWatershed(mask, 12, 12, { h: 0 });
        const cc = connectedComponents(mask, 12, 12, 4);
        const seen = new Set<number>();
        for (let i = 0; i < 144; i++) {
          if (inst.labels[i]) {
            expect(mask[i]).toBe(1);
            seen.add(cc.labels[i]);
          }
        }
        expect(seen.size).toBe(cc.count);
        expect(noFourNeighbourClash(inst.labels, 12, 12)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('sortByValueDesc (the order findMaxima merges pixels in)', () => {
  it('equals the comparison sort by decreasing value, ties by index, for float64, float32 and plain arrays with ties, signed zeros, infinities and extremes', () => {
    const specials = [0, -0, 1, -1, 0.5, Infinity, -Infinity, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, -Number.MIN_VALUE, 3.4e38, 1e-45, 2 ** 52 + 1];
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constantFrom(...specials), fc.double({ noNaN: true }), fc.integer({ min: -3, max: 3 })), { maxLength: 300 }),
        fc.constantFrom('float64', 'float32', 'array'),
        fc.integer({ min: 0, max: 1e6 }),
        (vals, kind, seed) => {
          const values = kind === 'float64' ? Float64Array.from(vals) : kind === 'float32' ? Float32Array.from(vals) : vals;
          // a subset of indices, ascending, as findMaxima's mask leaves them
          const idx = Uint32Array.from(vals.map((_, i) => i).filter((i) => (i * 7919 + seed) % 5 !== 0));
          const want = idx.slice().sort((a, b) => values[b] - values[a] || a - b);
          expect(Array.from(sortByValueDesc(values, idx))).toEqual(Array.from(want));
        },
      ),
      { numRuns: 300 },
    );
  });
});
