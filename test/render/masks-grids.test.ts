/**
 * Mask post-processing (render/masks.ts) on hand-made instance grids with their exact expected
 * class maps, written out by hand from the rules in the module comment: the higher id of a
 * touching pair carves the separating line out of itself, borders are not contours, dilation is
 * one 4-neighbour step per unit, and a piece smaller than minArea is removed.
 */
import { describe, expect, it } from 'vitest';
import { buildMasks } from '../../src/render/masks.js';

/** Rows of digits -> [W, H, values]. */
function grid(rows: string[]): [number, number, number[]] {
  const cells = rows.map((r) => r.trim().split(/\s+/).map(Number));
  return [cells[0]!.length, cells.length, cells.flat()];
}

function classesOf(rows: string[], opts: Parameters<typeof buildMasks>[3]): { classes: string[]; instances: string[] } {
  const [W, H, v] = grid(rows);
  const m = buildMasks(Uint16Array.from(v), W, H, opts);
  const show = (a: ArrayLike<number>) => Array.from({ length: H }, (_, y) => Array.from({ length: W }, (_, x) => a[y * W + x]).join(' '));
  return { classes: show(m.classes), instances: show(m.instances) };
}

const TOUCHING = [
  '0 0 0 0 0 0 0 0 0',
  '0 1 1 1 2 2 2 0 0',
  '0 1 1 1 2 2 2 0 0',
  '0 1 1 1 2 2 2 0 0',
  '0 0 0 0 0 0 0 0 0',
];

describe('mask post-processing on hand-made grids', () => {
  it('two touching instances: the higher id gives up the shared boundary, the lower keeps it', () => {
    expect(classesOf(TOUCHING, { minArea: 1 }).classes).toEqual([
      '0 0 0 0 0 0 0 0 0',
      '0 2 2 2 2 2 2 0 0',
      '0 2 1 1 2 1 2 0 0',
      '0 2 2 2 2 2 2 0 0',
      '0 0 0 0 0 0 0 0 0',
    ]);
  });

  it('contourDilation 1: exactly one 4-neighbour step (into particle and background pixels)', () => {
    expect(classesOf(TOUCHING, { minArea: 1, contourDilation: 1 }).classes).toEqual([
      '0 2 2 2 2 2 2 0 0',
      '2 2 2 2 2 2 2 2 0',
      '2 2 2 2 2 2 2 2 0',
      '2 2 2 2 2 2 2 2 0',
      '0 2 2 2 2 2 2 0 0',
    ]);
  });

  it('an instance filling the image: borders are not contours', () => {
    expect(classesOf(['1 1 1', '1 1 1', '1 1 1'], { minArea: 1 }).classes).toEqual(['1 1 1', '1 1 1', '1 1 1']);
  });

  it('minArea removes the pieces smaller than it, keeps those of exactly minArea pixels', () => {
    const rows = [
      '0 0 0 0 0 0',
      '0 3 3 3 0 3',
      '0 3 3 3 0 0',
      '0 0 0 0 0 0',
    ];
    const m = classesOf(rows, { minArea: 6 });
    expect(m.instances).toEqual(['0 0 0 0 0 0', '0 3 3 3 0 0', '0 3 3 3 0 0', '0 0 0 0 0 0']);
    expect(m.classes).toEqual(['0 0 0 0 0 0', '0 2 2 2 0 0', '0 2 2 2 0 0', '0 0 0 0 0 0']);
    expect(classesOf(rows, { minArea: 7 }).instances).toEqual(['0 0 0 0 0 0', '0 0 0 0 0 0', '0 0 0 0 0 0', '0 0 0 0 0 0']);
  });

  it('three instances meeting: each boundary goes to the higher id', () => {
    expect(classesOf([
      '1 1 1 3 3 3',
      '1 1 1 3 3 3',
      '1 1 1 3 3 3',
      '2 2 2 2 2 2',
      '2 2 2 2 2 2',
    ], { minArea: 1 }).classes).toEqual([
      '1 1 1 2 1 1',
      '1 1 1 2 1 1',
      '1 1 1 2 2 2',
      '2 2 2 1 1 1', // below 1: carved by 2; below 3: kept by 2 (3 carved its own row)
      '1 1 1 1 1 1',
    ]);
  });
});
