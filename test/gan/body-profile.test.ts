import { describe, expect, it } from 'vitest';
import { bodyProfile, PROFILE_DEPTH } from '../../src/gan/body-profile.js';

const W = 96, H = 96;
/** Discs on a dark substrate; grey(d) of the distance d inside each disc's outline. */
function discs(list: { cx: number; cy: number; r: number }[], grey: (d: number) => number) {
  const data = new Float32Array(W * H).fill(0.1);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (const { cx, cy, r } of list) {
        const rho = Math.hypot(x - cx, y - cy);
        if (rho <= r) data[y * W + x] = grey(r - rho);
      }
    }
  }
  return { width: W, height: H, data };
}

describe('bodyProfile (lone particles, shading against the distance inside their outline)', () => {
  it('a flat body gives 1 at every depth; a bright band inside the outline gives its decay over the centre', () => {
    const flat = bodyProfile([discs([{ cx: 30, cy: 30, r: 14 }], () => 0.5)])!;
    expect(flat.particles).toBe(1);
    expect(flat.profile).toHaveLength(PROFILE_DEPTH);
    for (const v of flat.profile) expect(v).toBeCloseTo(1, 6);
    const band = bodyProfile([discs([{ cx: 30, cy: 30, r: 14 }], (d) => 0.5 * (1 + Math.exp(-d / 3)))])!;
    expect(band.particles).toBe(1);
    // depth 2: 1 + e^(-2/3) over a centre of about 1 + e^(-4) (pixels >= 70 % of the depth inside)
    expect(band.profile[1]).toBeGreaterThan(1.4);
    for (let i = 1; i < PROFILE_DEPTH; i++) expect(band.profile[i]).toBeLessThan(band.profile[i - 1]);
  });

  it('skips components that are not lone particles: touching the border, too shallow, or agglomerates (low solidity)', () => {
    expect(bodyProfile([discs([{ cx: 5, cy: 40, r: 14 }], () => 0.5)])).toBeNull(); // cut by the border
    expect(bodyProfile([discs([{ cx: 40, cy: 40, r: 6 }], () => 0.5)])).toBeNull(); // shallower than MIN_DEPTH
    // two touching discs: one component, solidity well below 0.9
    expect(bodyProfile([discs([{ cx: 30, cy: 48, r: 12 }, { cx: 54, cy: 48, r: 12 }], () => 0.5)])).toBeNull();
    // a lone particle next to them is still read
    const both = bodyProfile([discs([{ cx: 5, cy: 40, r: 14 }, { cx: 60, cy: 60, r: 14 }], () => 0.5)])!;
    expect(both.particles).toBe(1);
  });
});
