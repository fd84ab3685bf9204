import { describe, expect, it } from 'vitest';
import { Rng, Tensor, noGrad, softmax, randn } from '../../src/autodiff/index.js';
import { UNet } from '../../src/seg/unet.js';
import { blendWindow, predictNormalised, predictWithFlips, tileStarts, argmaxClasses, segmentImage } from '../../src/seg/infer.js';

/** A depth-1 U-Net (receptive field about +-10 px) in eval mode with non-trivial running statistics. */
function smallModel(): UNet {
  const rng = new Rng(4);
  const net = new UNet({ depth: 1, base: 3 }, rng);
  for (const [name, t] of Object.entries(net.stateDict())) {
    if (name.endsWith('running_mean')) t.data.set(randn(t.shape, rng, 0.1).data);
    if (name.endsWith('running_var')) for (let i = 0; i < t.size; i++) t.data[i] = 0.5 + rng.uniform();
  }
  return net.eval();
}

function direct(net: UNet, x: Float32Array, w: number, h: number): Float32Array {
  return noGrad(() => softmax(net.forward(new Tensor(x, [1, 1, h, w])), 1)).data as Float32Array;
}

describe('tiled inference', () => {
  it('places tiles edge to edge with the requested overlap', () => {
    expect(tileStarts(80, 48, 16)).toEqual([0, 32]);
    expect(tileStarts(100, 32, 8)).toEqual([0, 24, 48, 68]);
    expect(tileStarts(20, 32, 8)).toEqual([0]);
    expect(tileStarts(704, 256, 64)).toEqual([0, 192, 384, 448]);
  });

  it('windows of neighbouring tiles sum to 1 over a regular overlap and never vanish', () => {
    const a = blendWindow(48, 16, false, true);
    const b = blendWindow(48, 16, true, false);
    for (let j = 0; j < 16; j++) expect(a[32 + j] + b[j]).toBeCloseTo(1, 6);
    expect(Math.min(...a, ...b)).toBeGreaterThan(0);
    expect(a[0]).toBe(1);
    expect(blendWindow(10, 16, true, true).every((v) => v > 0)).toBe(true);
  });

  it('equals direct inference where one tile covers a pixel, and blends both tiles over the seams', () => {
    const net = smallModel();
    const w = 80, h = 80, n = w * h;
    const x = randn([n], new Rng(9)).data as Float32Array;
    const full = direct(net, x, w, h);
    const tiled = predictNormalised(net, x, w, h, { tile: 48, overlap: 16, batch: 3 });
    const single = (v: number) => v < 32 || v >= 48;
    let maxClean = 0;
    for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) {
      if (!single(xx) || !single(y)) continue;
      for (let k = 0; k < 3; k++) maxClean = Math.max(maxClean, Math.abs(tiled[k * n + y * w + xx] - full[k * n + y * w + xx]));
    }
    expect(maxClean).toBeLessThan(1e-5);
    // Across the vertical seam (rows covered by one tile), the result is the window-weighted
    // mean of the left and right tiles' own outputs.
    const crop = (x0: number, y0: number) => {
      const c = new Float32Array(48 * 48);
      for (let y = 0; y < 48; y++) c.set(x.subarray((y0 + y) * w + x0, (y0 + y) * w + x0 + 48), y * 48);
      return direct(net, c, 48, 48);
    };
    const left = crop(0, 0), right = crop(32, 0);
    const wl = blendWindow(48, 16, false, true), wr = blendWindow(48, 16, true, false);
    let maxBlend = 0, seamDiff = 0;
    for (let y = 0; y < 32; y++) for (let xx = 32; xx < 48; xx++) {
      const a = wl[xx], b = wr[xx - 32];
      const expected = (a * left[y * 48 + xx] + b * right[y * 48 + xx - 32]) / (a + b);
      maxBlend = Math.max(maxBlend, Math.abs(tiled[y * w + xx] - expected));
      seamDiff = Math.max(seamDiff, Math.abs(left[y * 48 + xx] - right[y * 48 + xx - 32]));
    }
    expect(maxBlend).toBeLessThan(1e-5);
    expect(seamDiff).toBeGreaterThan(1e-3); // the tiles really disagree there: blending matters
    // Probabilities stay normalised.
    for (let i = 0; i < n; i += 37) expect(tiled[i] + tiled[n + i] + tiled[2 * n + i]).toBeCloseTo(1, 5);
  });

  it('segments images smaller than a tile and returns instances', () => {
    const net = smallModel();
    const img = new Float32Array(15 * 9).map((_, i) => (i % 7) / 7);
    const s = segmentImage(net, img, 15, 9, { tile: 64, minArea: 0 });
    expect(s.classes).toHaveLength(135);
    expect(s.probabilities).toHaveLength(3 * 135);
    expect(s.instances.labels).toHaveLength(135);
    expect(net.training).toBe(false);
  });

  it('argmax picks the most probable class (ties: the lower)', () => {
    expect(Array.from(argmaxClasses(Float32Array.from([0.2, 0.5, 0.4, 0.3, 0.4, 0.2]), 3, 2))).toEqual([1, 0]);
  });
});

describe('test-time flips', () => {
  it('averaged over the four mirror images, the prediction mirrors with its input', () => {
    const net = smallModel();
    net.eval();
    const w = 20, h = 12, n = w * h;
    const x = new Float32Array(n).map((_, i) => Math.sin(i * 0.37) + (i % 5) / 5);
    const mx = new Float32Array(n);
    for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) mx[y * w + xx] = x[y * w + w - 1 - xx];
    const mirrorDiff = (a: Float32Array, b: Float32Array) => {
      let d = 0;
      for (let k = 0; k < 3; k++) for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) d = Math.max(d, Math.abs(a[k * n + y * w + xx] - b[k * n + y * w + w - 1 - xx]));
      return d;
    };
    const opts = { tile: 16, overlap: 4 };
    expect(mirrorDiff(predictWithFlips(net, x, w, h, { ...opts, flips: true }), predictWithFlips(net, mx, w, h, { ...opts, flips: true }))).toBeLessThan(1e-5);
    // Without flips the network itself is not mirror-symmetric.
    expect(mirrorDiff(predictWithFlips(net, x, w, h, opts), predictWithFlips(net, mx, w, h, opts))).toBeGreaterThan(1e-3);
  });
});
