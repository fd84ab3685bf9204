/**
 * The periodic field of a windowed layout (placement.field 'periodic', src/render/layout.ts):
 * the grown area is a torus, so the placement is the same everywhere (stationary) and the image
 * window holds its area's share of the particles; the bounded field (default) rejects growth
 * steps beyond its edges, so agglomerates seeded there grow inwards and the window holds more.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng } from '../../src/autodiff/rng.js';
import { sampleLayout, periodicOffset, wrapInto, type LayoutSpec, type Particle, type PlacementSpec } from '../../src/render/layout.js';
import { asWindowIntoField } from '../../src/render/scene-window.js';
import { mergeSceneConfig } from '../../src/render/config.js';
import { presetConfig } from '../../src/render/presets/index.js';

const W = 128;
const MARGIN = 0.35;
const SIDE = (1 + 2 * MARGIN) * W;
const X0 = -MARGIN * W;

/** tio2-sem's calibrated window (main's gan/config.json: 3-29 particles, up to 2 agglomerates, contact 0.85, attach by size). */
function windowSpec(placement: Partial<PlacementSpec> = {}): LayoutSpec {
  return {
    width: W, height: W, count: { min: 3, max: 29 }, baseRadius: 17.3, size: { type: 'lognormal', mu: 0, sigma: 0.45 },
    placement: { type: 'packed', dims: 3, maxAgglomerates: 2, contact: 0.85, attach: 'size', outside: MARGIN, rotation: 'uniform', ...placement },
  };
}

/** Share of all particle centres of `layouts` layouts that fall in the W x W square at (sx, sy). */
function centreShare(spec: LayoutSpec, layouts: number, sx: number, sy: number, seed = 5): number {
  const rng = new Rng(seed);
  let all = 0, inside = 0;
  for (let i = 0; i < layouts; i++) {
    for (const p of sampleLayout(spec, rng).particles) {
      all++;
      if (wrapInto(p.x - sx, 0, SIDE) < W && wrapInto(p.y - sy, 0, SIDE) < W) inside++;
    }
  }
  return inside / all;
}

const periodicDistance = (a: Particle, b: Particle) => Math.hypot(periodicOffset(a.x - b.x, SIDE), periodicOffset(a.y - b.y, SIDE), a.z - b.z);

describe('periodic field of the window', () => {
  it("the window holds its area's share of the centres, as does a square across the seam; the bounded field's window more", () => {
    const areaShare = (W / SIDE) ** 2; // 0.346
    // 1,200 layouts: the share's standard deviation is about 0.009 (20 blocks of 400 layouts: 0.015)
    const periodic = windowSpec({ field: 'periodic' });
    expect(Math.abs(centreShare(periodic, 1200, 0, 0) - areaShare)).toBeLessThan(0.03);
    // a square at the field's corner: its four quarters lie at the four corners of the grown area
    expect(Math.abs(centreShare(periodic, 1200, X0 + SIDE - W / 2, X0 + SIDE - W / 2) - areaShare)).toBeLessThan(0.03);
    // today's bounded field: agglomerates grow inwards from its edges (0.42 over 8,000 layouts)
    expect(centreShare(windowSpec(), 1200, 0, 0)).toBeGreaterThan(areaShare + 0.04);
  });

  it('centres lie in the grown area; particles never overlap at the periodic distance, and agglomerates touch across the seam', () => {
    let acrossSeam = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), fc.constantFrom(2, 3), fc.constantFrom(1, 0.85, 0.6), fc.constantFrom('uniform' as const, 'size' as const), (seed, dims, c, attach) => {
        const ps = sampleLayout(windowSpec({ field: 'periodic', dims: dims as 2 | 3, contact: c, attach }), new Rng(seed)).particles;
        for (let i = 0; i < ps.length; i++) {
          expect(ps[i].x).toBeGreaterThanOrEqual(X0);
          expect(ps[i].x).toBeLessThan(X0 + SIDE);
          expect(ps[i].y).toBeGreaterThanOrEqual(X0);
          expect(ps[i].y).toBeLessThan(X0 + SIDE);
          expect(ps[i].z).toBeGreaterThanOrEqual(ps[i].scale - 1e-9);
          let touches = false;
          for (let j = 0; j < ps.length; j++) {
            if (i === j) continue;
            const d = periodicDistance(ps[i], ps[j]);
            expect(d).toBeGreaterThanOrEqual(c * (ps[i].scale + ps[j].scale) * (1 - 1e-5));
            // A grown particle lies at the contact distance from its host, except on the stage
            // (dims 2) below contact 1 where the radii differ so much that the heights alone
            // exceed it: the layout then places it at the host's (x, y), |dz| away.
            const contactDistance = Math.max(c * (ps[i].scale + ps[j].scale), Math.abs(ps[i].z - ps[j].z));
            if (Math.abs(d - contactDistance) < 1e-6 * d) {
              touches = true;
              if (j > i && Math.hypot(ps[i].x - ps[j].x, ps[i].y - ps[j].y, ps[i].z - ps[j].z) > d + 1) acrossSeam++;
            }
          }
          if (ps.filter((p) => p.group === ps[i].group).length > 1) expect(touches).toBe(true);
        }
      }),
      { numRuns: 60 },
    );
    // the seam is crossed (else the wrap would be untested): contacts whose plain distance is longer
    expect(acrossSeam).toBeGreaterThan(0);
  });

  it('deterministic; bounded is the default; ignored without a margin', () => {
    for (let seed = 0; seed < 10; seed++) {
      expect(sampleLayout(windowSpec({ field: 'periodic' }), new Rng(seed))).toEqual(sampleLayout(windowSpec({ field: 'periodic' }), new Rng(seed)));
      expect(sampleLayout(windowSpec({ field: 'bounded' }), new Rng(seed))).toEqual(sampleLayout(windowSpec(), new Rng(seed)));
      expect(sampleLayout(windowSpec({ outside: 0, field: 'periodic' }), new Rng(seed))).toEqual(sampleLayout(windowSpec({ outside: 0 }), new Rng(seed)));
    }
    // the fields differ (the same seeds, growth steps wrapped instead of rejected)
    const differs = Array.from({ length: 10 }, (_, s) => JSON.stringify(sampleLayout(windowSpec({ field: 'periodic' }), new Rng(s))) !== JSON.stringify(sampleLayout(windowSpec(), new Rng(s))));
    expect(differs).toContain(true);
  });

  it('periodicOffset takes the nearest copy; wrapInto lands in [start, start + period)', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e4, max: 1e4, noNaN: true }), fc.double({ min: -500, max: 500, noNaN: true }), fc.double({ min: 1, max: 1000, noNaN: true }), (v, start, period) => {
        const w = wrapInto(v, start, period);
        expect(w).toBeGreaterThanOrEqual(start);
        expect(w).toBeLessThan(start + period);
        // v and w differ by whole periods
        const k = (v - w) / period;
        expect(Math.abs(k - Math.round(k))).toBeLessThan(1e-6);
        const d = periodicOffset(v, period);
        expect(Math.abs(d)).toBeLessThanOrEqual(period / 2 + 1e-9);
        expect(Math.abs((v - d) / period - Math.round((v - d) / period))).toBeLessThan(1e-6);
      }),
    );
    expect(wrapInto(-1e-17, 0, 100)).toBe(0);
    expect(periodicOffset(7, 0)).toBe(7);
  });

  it("asWindowIntoField sets placement.field only for 'periodic'; the config accepts bounded / periodic only", () => {
    const base = mergeSceneConfig(presetConfig('tio2-sem'), { particles: { count: { min: 1, max: 10 } } });
    expect(asWindowIntoField(base, MARGIN, 1000, undefined, 'periodic').particles.placement.field).toBe('periodic');
    expect(asWindowIntoField(base, MARGIN)).toEqual(asWindowIntoField(base, MARGIN, 1000, undefined, 'bounded'));
    expect(asWindowIntoField(base, MARGIN).particles.placement.field).toBeUndefined();
    expect(() => mergeSceneConfig(base, { particles: { placement: { field: 'torus' as 'periodic' } } })).toThrow(/field/);
  });
});
