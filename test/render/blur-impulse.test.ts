/**
 * The Gaussian blur against an independent truth: the response to a unit impulse must be the
 * separable product of the sampled, normalised Gaussian g(i) = exp(-i^2 / 2 sigma^2) / Z over the
 * documented support |i| <= ceil(4 sigma) + 1 (blur.ts), and exactly 0 beyond it. The kernel here
 * is written from that formula, not taken from blur.ts, so a kernel truncated early (e.g. at
 * 1 sigma), normalised wrongly or off-centre fails.
 */
import { describe, expect, it } from 'vitest';
import { tensor } from '../../src/autodiff/tensor.js';
import { blurRaw, gaussianBlur } from '../../src/render/shade/index.js';

function sampledGaussian(sigma: number): { g: number[]; R: number } {
  const R = Math.ceil(4 * sigma) + 1;
  const w = Array.from({ length: 2 * R + 1 }, (_, j) => Math.exp(-((j - R) ** 2) / (2 * sigma * sigma)));
  const Z = w.reduce((a, b) => a + b, 0);
  return { g: w.map((v) => v / Z), R };
}

describe('gaussian blur impulse response = sampled, normalised Gaussian', () => {
  for (const sigma of [0.4, 1, 1.7, 3]) {
    it(`sigma ${sigma}`, () => {
      const { g, R } = sampledGaussian(sigma);
      const N = 2 * R + 9; // room around the support, so the replicated border never reaches it
      const c = Math.floor(N / 2);
      const impulse = new Float64Array(N * N);
      impulse[c * N + c] = 1;
      const outputs = [blurRaw(impulse, N, N, sigma), gaussianBlur(tensor(Array.from(impulse), [N, N], 'float64'), tensor([sigma], [1], 'float64')).data];
      for (const out of outputs) {
        let worst = 0;
        for (let y = 0; y < N; y++) {
          for (let x = 0; x < N; x++) {
            const dy = y - c, dx = x - c;
            const want = Math.abs(dy) <= R && Math.abs(dx) <= R ? g[dy + R]! * g[dx + R]! : 0;
            worst = Math.max(worst, Math.abs(out[y * N + x]! - want));
          }
        }
        expect(worst).toBeLessThan(1e-12);
        // The outermost tap is in the support (not truncated early): nonzero, as the formula says.
        expect(out[c * N + c + R]).toBeGreaterThan(0);
      }
    });
  }
});
