import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  componentAreas,
  connectedComponents,
  instancesFromBinaryMask,
  relabelSequential,
  removeSmallComponents,
} from '../../src/particles/labels.js';
import { UserError } from '../../src/errors.js';
import { grid, naiveComponents } from '../seg/helpers.js';

describe('connectedComponents', () => {
  it('labels a hand-made mask with 4- and 8-connectivity', () => {
    const m = grid(['##..#', '#..##', '..#..', '.#...']);
    const c4 = connectedComponents(m.data, m.width, m.height, 4);
    expect(c4.count).toBe(4);
    expect(Array.from(c4.labels)).toEqual([1, 1, 0, 0, 2, 1, 0, 0, 2, 2, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0]);
    const c8 = connectedComponents(m.data, m.width, m.height, 8);
    expect(c8.count).toBe(2);
    expect(Array.from(c8.labels)).toEqual([1, 1, 0, 0, 2, 1, 0, 0, 2, 2, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0]);
  });

  it('handles U shapes that merge late (union-find)', () => {
    const m = grid(['#.#.#', '#.#.#', '#####']);
    expect(connectedComponents(m.data, m.width, m.height, 4).count).toBe(1);
  });

  it('matches a naive flood fill on random masks', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 12 }),
        fc.constantFrom(4 as const, 8 as const),
        fc.array(fc.boolean(), { minLength: 144, maxLength: 144 }),
        (w, h, conn, bits) => {
          const mask = Uint8Array.from(bits.slice(0, w * h), (b) => (b ? 1 : 0));
          const got = connectedComponents(mask, w, h, conn);
          const want = naiveComponents(mask, w, h, conn);
          expect(Array.from(got.labels)).toEqual(Array.from(want));
          expect(got.count).toBe(Math.max(0, ...want));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects bad shapes and connectivity', () => {
    expect(() => connectedComponents(new Uint8Array(5), 2, 2)).toThrow(UserError);
    expect(() => connectedComponents(new Uint8Array(4), 2, 2, 6 as 4)).toThrow(UserError);
  });
});

describe('relabel / remove small', () => {
  it('renumbers ids in raster order of first appearance', () => {
    const r = relabelSequential(Int32Array.from([0, 7, 7, 3, 0, 3, 9, 7]));
    expect(Array.from(r.labels)).toEqual([0, 1, 1, 2, 0, 2, 3, 1]);
    expect(r.count).toBe(3);
  });

  it('removes components smaller than minArea and renumbers', () => {
    const r = removeSmallComponents(Uint16Array.from([5, 5, 5, 0, 2, 0, 8, 8]), 2);
    expect(Array.from(r.labels)).toEqual([1, 1, 1, 0, 0, 0, 2, 2]);
    expect(r.count).toBe(2);
    expect(Array.from(componentAreas(r.labels, r.count))).toEqual([3, 3, 2]);
  });
});

describe('instancesFromBinaryMask', () => {
  it('splits a {0,255} mask along one-pixel diagonal background lines (4-connectivity)', () => {
    // Two particles separated by a diagonal background line: 8-connected they would merge.
    const rows = ['##.#', '#.##', '.###'].map((r) => r);
    const g = grid(rows);
    const mask = Uint8Array.from(g.data, (v) => v * 255);
    const inst = instancesFromBinaryMask(mask, g.width, g.height);
    expect(inst.count).toBe(2);
    expect(Array.from(inst.labels)).toEqual([1, 1, 0, 2, 1, 0, 2, 2, 0, 2, 2, 2]);
  });

  it('keeps an instance-labelled mask as it is (renumbered)', () => {
    const inst = instancesFromBinaryMask(Uint16Array.from([4, 4, 9, 9, 0, 4]), 3, 2);
    expect(Array.from(inst.labels)).toEqual([1, 1, 2, 2, 0, 1]);
    expect(inst.count).toBe(2);
  });
});
