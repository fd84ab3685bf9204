import { describe, expect, it } from 'vitest';
import { maskSilhouette, morph3 } from '../../scripts/mask-silhouettes.js';

describe('mask-silhouettes', () => {
  it('the 3 x 3 closing joins two squares split by a one-pixel line, as instance maps draw touching particles', () => {
    const W = 20, H = 12;
    const m = new Uint8Array(W * H);
    for (let y = 3; y < 9; y++) for (let x = 3; x < 17; x++) if (x !== 10) m[y * W + x] = 1;
    const closed = morph3(morph3(m, W, H, true), W, H, false);
    for (let y = 3; y < 9; y++) expect(closed[y * W + 10]).toBe(1);
    // the outline stays where it was
    expect(closed[2 * W + 5]).toBe(0);
    expect(closed[3 * W + 5]).toBe(1);
  });

  it('writes the closed foreground blurred by sigma 1: ~1 inside, ~0 far outside, ~0.5 on the outline', () => {
    const W = 32, H = 32;
    const m = new Uint8Array(W * H);
    for (let y = 8; y < 24; y++) for (let x = 8; x < 24; x++) m[y * W + x] = 1;
    const s = maskSilhouette(m, W, H);
    expect(s[16 * W + 16]).toBeCloseTo(1, 3);
    expect(s[1 * W + 1]).toBeCloseTo(0, 3);
    expect(s[16 * W + 8]).toBeGreaterThan(0.5);
    expect(s[16 * W + 7]).toBeLessThan(0.5);
  });
});
