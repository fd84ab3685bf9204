import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fillHoles, instancesFromClassMap, instancesFromProbabilities, otsuInstances } from '../../src/particles/instances.js';
import { evaluate } from '../../src/seg/metrics.js';
import { connectedComponents } from '../../src/particles/labels.js';
import { Rng } from '../../src/autodiff/rng.js';
import { drawDisk, grid } from '../seg/helpers.js';

describe('instancesFromClassMap', () => {
  it('grows class-1 seeds over contour pixels; a contour pixel takes the nearest seed', () => {
    // Two particles separated by a contour column; a contour rim on the right.
    const c = grid(['111211122', '111211122', '111211122']);
    const r = instancesFromClassMap(c.data, c.width, c.height, { minArea: 1 });
    expect(r.count).toBe(2);
    // Column 3 is equidistant (1 step) from both seeds: the left seed's wave gets there first.
    expect(Array.from(r.labels.subarray(0, 9))).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 2]);
  });

  it('drops small seeds, whose pixels then join a connected kept seed or stay background', () => {
    // Seed A: 6 px; seed B: 1 px joined to A through a contour pixel; seed C: 2 px alone.
    const c = grid(['11121.11', '111....0']);
    const r = instancesFromClassMap(c.data, c.width, c.height, { minArea: 3 });
    expect(r.count).toBe(1);
    expect(Array.from(r.labels)).toEqual([1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0]);
    expect(() => instancesFromClassMap(Int32Array.from([3]), 1, 1)).toThrow();
  });
});

describe('instancesFromClassMap properties', () => {
  it('labels exactly the particle/contour pixels 4-connected to a kept seed, each instance connected', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 100, maxLength: 100 }), fc.integer({ min: 1, max: 6 }), (cls, minArea) => {
        const classes = Int32Array.from(cls);
        const r = instancesFromClassMap(classes, 10, 10, { minArea });
        const seeds = connectedComponents(Uint8Array.from(classes, (c) => (c === 1 ? 1 : 0)), 10, 10, 4);
        const seedArea = new Map<number, number>();
        for (const l of seeds.labels) if (l) seedArea.set(l, (seedArea.get(l) ?? 0) + 1);
        // A pixel is reachable when its non-background component holds a seed of >= minArea px.
        const fg = connectedComponents(Uint8Array.from(classes, (c) => (c ? 1 : 0)), 10, 10, 4);
        const reachable = new Set<number>();
        seeds.labels.forEach((l, i) => {
          if (l && seedArea.get(l)! >= minArea) reachable.add(fg.labels[i]);
        });
        for (let i = 0; i < 100; i++) expect(r.labels[i] > 0).toBe(classes[i] !== 0 && reachable.has(fg.labels[i]));
        // Each instance is one 4-connected piece.
        for (let l = 1; l <= r.count; l++) {
          const one = Uint8Array.from(r.labels, (v) => (v === l ? 1 : 0));
          expect(connectedComponents(one, 10, 10, 4).count).toBe(1);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('fillHoles', () => {
  it('fills enclosed holes below maxArea, never regions touching the border', () => {
    const m = grid(['#####.', '#..#..', '#####.', '#.#...', '###...']);
    const f = fillHoles(m.data, m.width, m.height, 2);
    // The 2-px hole is not < 2: kept; the 1-px hole is filled; the border region stays.
    expect(Array.from(f.subarray(6, 12))).toEqual([1, 0, 0, 1, 0, 0]);
    expect(f[3 * 6 + 1]).toBe(1);
    expect(Array.from(fillHoles(m.data, m.width, m.height).subarray(6, 12))).toEqual([1, 1, 1, 1, 0, 0]);
  });
});

describe('otsuInstances', () => {
  it('segments bright disks on a noisy dark background, splitting a touching pair', () => {
    const w = 96;
    const h = 64;
    const gt = new Int32Array(w * h);
    drawDisk(gt, w, h, 20, 30, 12, 1);
    drawDisk(gt, w, h, 42, 30, 10.5, 2);
    drawDisk(gt, w, h, 75, 20, 9, 3);
    // One-pixel background line where the first two touch, as in the real masks.
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        if (gt[i] === 2 && x > 0 && gt[i - 1] === 1) gt[i] = 0;
      }
    }
    const rng = new Rng(3);
    const img = Float32Array.from(gt, (v) => Math.min(1, Math.max(0, (v ? 0.65 : 0.2) + 0.08 * rng.normal())));
    const r = otsuInstances(img, w, h, { minArea: 20 });
    expect(r.threshold).toBeGreaterThan(0.3);
    expect(r.threshold).toBeLessThan(0.55);
    expect(r.count).toBe(3);
    const e = evaluate(r.labels, gt, w, h);
    expect(e.tp).toBe(3);
    expect(e.dsc).toBeGreaterThan(0.95);
    expect(e.sq).toBeGreaterThan(0.85);
  });
});

/** Probabilities [3, H, W] from a class map (0/1/2), each pixel certain of its class. */
function probsOf(classes: ArrayLike<number>): Float32Array {
  const n = classes.length;
  const p = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) p[classes[i] * n + i] = 1;
  return p;
}

describe('instancesFromProbabilities', () => {
  it('splits particles at a predicted contour line, leaving a one-pixel background line', () => {
    const w = 40, h = 20;
    const cls = new Int32Array(w * h);
    drawDisk(cls, w, h, 12, 10, 8);
    drawDisk(cls, w, h, 26, 10, 8);
    for (let y = 0; y < h; y++) if (cls[y * w + 19]) cls[y * w + 19] = 2;
    const r = instancesFromProbabilities(probsOf(cls), w, h, { minArea: 1 });
    expect(r.count).toBe(2);
    expect(r.labels[10 * w + 12]).not.toBe(r.labels[10 * w + 26]);
    const r2 = instancesFromProbabilities(probsOf(cls), w, h, { minArea: 1, lines: false });
    let fg = 0, labelled = 0;
    for (let i = 0; i < w * h; i++) fg += cls[i] ? 1 : 0, labelled += r2.labels[i] ? 1 : 0;
    expect(labelled).toBe(fg); // without lines the whole foreground is covered
  });

  it('splits touching discs without any predicted contour by the distance map (and keeps one disc whole)', () => {
    const w = 40, h = 20;
    const cls = new Int32Array(w * h);
    drawDisk(cls, w, h, 11, 10, 8);
    drawDisk(cls, w, h, 26, 10, 8);
    expect(instancesFromProbabilities(probsOf(cls), w, h, { minArea: 1 }).count).toBe(2);
    const one = new Int32Array(w * h);
    drawDisk(one, w, h, 20, 10, 8);
    expect(instancesFromProbabilities(probsOf(one), w, h, { minArea: 1 }).count).toBe(1);
  });

  it('counts the splits and merges that hang on the marker prominence (low confidence)', () => {
    // Two discs of radius 8 whose centres lie d px apart: the waist between them sets the
    // prominence of the lower distance maximum (h = 1): 17 px apart it is > 2h, 12 px in (h, 2h],
    // 8 px in (h / 2, h].
    const pair = (d: number) => {
      const w = 48, h = 20;
      const cls = new Int32Array(w * h);
      drawDisk(cls, w, h, 14, 10, 8);
      drawDisk(cls, w, h, 14 + d, 10, 8);
      return instancesFromProbabilities(probsOf(cls), w, h, { minArea: 1 });
    };
    const far = pair(17);
    expect([far.count, far.lowConfidence.splits, far.lowConfidence.merges]).toEqual([2, 0, 0]);
    const weakSplit = pair(12);
    expect([weakSplit.count, weakSplit.lowConfidence.splits, weakSplit.lowConfidence.merges]).toEqual([2, 1, 0]);
    const weakMerge = pair(8);
    expect([weakMerge.count, weakMerge.lowConfidence.splits, weakMerge.lowConfidence.merges]).toEqual([1, 0, 1]);
  });

  it('drops contour-only structures, particles with a small core, and small particles', () => {
    const c = grid(['2222222222', '..........', '.111......', '.111...11.', '.111...11.']);
    const p = probsOf(c.data);
    expect(instancesFromProbabilities(p, c.width, c.height, { minArea: 1, minCore: 1 }).count).toBe(2);
    expect(instancesFromProbabilities(p, c.width, c.height, { minArea: 1, minCore: 5 }).count).toBe(1);
    expect(instancesFromProbabilities(p, c.width, c.height, { minArea: 10, minCore: 1 }).count).toBe(0);
    expect(() => instancesFromProbabilities(p.subarray(1), c.width, c.height)).toThrow();
  });

  it('thresholds the foreground on P(background), whatever the share of particle and contour', () => {
    const w = 12, h = 12, n = w * h;
    const p = new Float32Array(3 * n);
    for (let i = 0; i < n; i++) p[i] = 1;
    const disc = new Int32Array(n);
    drawDisk(disc, w, h, 6, 6, 5);
    for (let i = 0; i < n; i++) if (disc[i]) (p[i] = 0.3), (p[n + i] = 0.45), (p[2 * n + i] = 0.25);
    expect(instancesFromProbabilities(p, w, h, { minArea: 1 }).count).toBe(1);
    expect(instancesFromProbabilities(p, w, h, { minArea: 1, background: 0.2 }).count).toBe(0);
  });
});
