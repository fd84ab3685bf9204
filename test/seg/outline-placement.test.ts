import { describe, expect, it, vi } from 'vitest';
import { Rng } from '../../src/autodiff/index.js';
import { UNet } from '../../src/seg/unet.js';
import { segmentImage } from '../../src/seg/infer.js';

const calls: { polarityView: number }[] = [];
vi.mock('../../src/seg/edge-outline.js', async (importActual) => {
  const actual = await importActual<typeof import('../../src/seg/edge-outline.js')>();
  return {
    ...actual,
    growToHalfLevel: (labels: Int32Array, image: Float32Array, w: number, h: number) => {
      calls.push({ polarityView: image[0] });
      return actual.growToHalfLevel(labels, image, w, h);
    },
  };
});

describe('outline placement in segmentImage', () => {
  it("moves the outlines to the edge's half level by default, on the bright-particle view; 'network' keeps them", () => {
    const net = new UNet({ depth: 1, base: 2 }, new Rng(1)).eval();
    const img = new Float32Array(16 * 16).fill(0.25);
    calls.length = 0;
    segmentImage(net, img, 16, 16, { tile: 16, minArea: 0, outlines: 'network' });
    expect(calls).toHaveLength(0);
    segmentImage(net, img, 16, 16, { tile: 16, minArea: 0 });
    segmentImage(net, img, 16, 16, { tile: 16, minArea: 0, instances: 'seeds' });
    expect(calls).toEqual([{ polarityView: 0.25 }, { polarityView: 0.25 }]);
    // Dark particles: the half level is found on the inverted image, as the network saw it.
    segmentImage(net, img, 16, 16, { tile: 16, minArea: 0, polarity: 'dark' });
    expect(calls.at(-1)).toEqual({ polarityView: 0.75 });
  });
});
