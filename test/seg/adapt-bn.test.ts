import { describe, expect, it } from 'vitest';
import { BatchNorm2d, Conv2d, ConvTranspose2d, Rng, Tensor, batchNorm2d, concat, maxPool2d, noGrad, randn, softmax, type Module } from '../../src/autodiff/index.js';
import { UNet, type ConvBlock } from '../../src/seg/unet.js';
import { applyBatchNormStats, batchNormLayers, estimateBatchNormStats, type AdaptImage } from '../../src/seg/adapt-bn.js';
import { normaliseImage, tileStarts } from '../../src/seg/infer.js';

/** A depth-1 U-Net with random norm weights / biases and running statistics far from any image's. */
function smallModel(): UNet {
  const rng = new Rng(7);
  const net = new UNet({ depth: 1, base: 3 }, rng);
  for (const [name, t] of Object.entries(net.stateDict())) {
    if (/norm\d\.(weight|bias)$/.test(name)) t.data.set(randn(t.shape, rng, 0.5).data);
    if (name.endsWith('running_mean')) t.data.set(randn(t.shape, rng, 3).data);
    if (name.endsWith('running_var')) for (let i = 0; i < t.size; i++) t.data[i] = 5 + rng.uniform();
  }
  return net.eval();
}

function image(width: number, height: number, seed: number): AdaptImage {
  const rng = new Rng(seed);
  const data = new Float32Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = Math.min(1, Math.max(0, 0.3 + 0.4 * Math.sin(i / 7) ** 2 + rng.normal(0, 0.05)));
  return { data, width, height };
}

/**
 * The reference: the depth-1 U-Net's forward written out with its layers, each norm on its batch's
 * statistics, every norm input's values kept; then mean and unbiased variance per channel over all
 * of them, directly in float64. `batches`: the tiles of each forward pass, as [N, 1, H, W] inputs.
 */
function directStats(net: UNet, batches: Tensor[]): Record<string, { mean: number[]; variance: number[] }> {
  const mods = Object.fromEntries(net.children()) as Record<string, Module>;
  const values: Record<string, number[][]> = {};
  const norm = (name: string, bn: BatchNorm2d, x: Tensor): Tensor => {
    const [n, c, h, w] = x.shape;
    values[name] ??= Array.from({ length: c }, () => []);
    for (let i = 0; i < n; i++) for (let ch = 0; ch < c; ch++) for (let k = 0; k < h * w; k++) values[name][ch].push(x.data[(i * c + ch) * h * w + k]);
    return batchNorm2d(x, bn.weight, bn.bias, null, { training: true, eps: bn.eps, activation: 'relu' });
  };
  const block = (name: string, x: Tensor): Tensor => {
    const b = mods[name] as ConvBlock;
    const y = norm(`${name}.norm1`, b.norm1 as BatchNorm2d, b.conv1.forward(x));
    return norm(`${name}.norm2`, b.norm2 as BatchNorm2d, b.conv2.forward(y));
  };
  noGrad(() => {
    for (const x of batches) {
      const skip = block('enc0', x);
      const low = block('enc1', maxPool2d(skip, 2, 2));
      block('dec0', concat([skip, (mods.up0 as ConvTranspose2d).forward(low)], 1));
      expect(mods.head).toBeInstanceOf(Conv2d);
    }
  });
  return Object.fromEntries(
    Object.entries(values).map(([name, chans]) => {
      const mean = chans.map((v) => v.reduce((s, a) => s + a, 0) / v.length);
      const variance = chans.map((v, ch) => v.reduce((s, a) => s + (a - mean[ch]) ** 2, 0) / (v.length - 1));
      return [name, { mean, variance }];
    }),
  );
}

/** The tiles of `img` (tile, overlap) as [1, 1, th, tw] tensors of the normalised image, in inference's order. */
function tilesOf(img: AdaptImage, tile: number, overlap: number): Tensor[] {
  const x = normaliseImage(img.data);
  const tw = Math.min(tile, img.width);
  const th = Math.min(tile, img.height);
  const out: Tensor[] = [];
  for (const y0 of tileStarts(img.height, tile, overlap)) {
    for (const x0 of tileStarts(img.width, tile, overlap)) {
      const t = new Float32Array(tw * th);
      for (let y = 0; y < th; y++) t.set(x.subarray((y0 + y) * img.width + x0, (y0 + y) * img.width + x0 + tw), y * tw);
      out.push(new Tensor(t, [1, 1, th, tw]));
    }
  }
  return out;
}

function expectStatsClose(got: ReturnType<typeof estimateBatchNormStats>, want: ReturnType<typeof directStats>): void {
  expect(Object.keys(got.layers).sort()).toEqual(Object.keys(want).sort());
  for (const [name, w] of Object.entries(want)) {
    const g = got.layers[name];
    w.mean.forEach((m, ch) => expect(Math.abs(g.mean[ch] - m)).toBeLessThan(1e-9 * (1 + Math.abs(m))));
    w.variance.forEach((v, ch) => expect(Math.abs(g.variance[ch] / v - 1)).toBeLessThan(1e-9));
  }
}

describe('batch norm adaptation (AdaBN)', () => {
  it('finds every batch norm layer of the U-Net by its checkpoint name', () => {
    const names = batchNormLayers(new UNet({ depth: 2, base: 2 }, new Rng(0))).map(([n]) => n);
    expect(names).toEqual(['enc0.norm1', 'enc0.norm2', 'enc1.norm1', 'enc1.norm2', 'enc2.norm1', 'enc2.norm2', 'dec1.norm1', 'dec1.norm2', 'dec0.norm1', 'dec0.norm2']);
    expect(batchNormLayers(new UNet({ depth: 1, base: 2, norm: 'instance' }, new Rng(0)))).toEqual([]);
  });

  it('equals the statistics computed directly over all tiles when all tiles go through in one batch', () => {
    const net = smallModel();
    const images = [image(20, 12, 1), image(20, 12, 2)];
    const stats = estimateBatchNormStats(net, images, { tile: 8, overlap: 2, batch: 1000 });
    // Tile k of every image in turn (the order does not change the pooled statistics).
    const tiles = images.flatMap((img) => tilesOf(img, 8, 2));
    expect(stats.tiles).toBe(tiles.length);
    expect(stats.pixels).toBe(tiles.length * 64);
    expectStatsClose(stats, directStats(net, [concat(tiles, 0)]));
  });

  it('pools the statistics of many batches exactly (tile by tile, images smaller than the tile included)', () => {
    const net = smallModel();
    const images = [image(20, 12, 3), image(6, 6, 4), image(16, 10, 5)];
    const stats = estimateBatchNormStats(net, images, { tile: 8, overlap: 2, batch: 1 });
    const tiles = images.flatMap((img) => tilesOf(img, 8, 2));
    expect(stats.images).toBe(3);
    expect(stats.tiles).toBe(tiles.length);
    expectStatsClose(stats, directStats(net, tiles));
  });

  it('leaves the model as it was, and applying replaces only the running statistics', () => {
    const net = smallModel();
    const before = Object.fromEntries(Object.entries(net.stateDict()).map(([k, t]) => [k, Float64Array.from(t.data)]));
    const x = tilesOf(image(16, 16, 6), 16, 0)[0];
    const out = (m: UNet) => Float64Array.from(noGrad(() => softmax(m.forward(x), 1)).data);
    const y0 = out(net);
    const stats = estimateBatchNormStats(net, [image(24, 24, 7)], { tile: 16 });
    expect(net.training).toBe(false);
    for (const [k, t] of Object.entries(net.stateDict())) expect(Float64Array.from(t.data)).toEqual(before[k]);
    expect(out(net)).toEqual(y0);

    applyBatchNormStats(net, stats);
    for (const [k, t] of Object.entries(net.stateDict())) {
      const layer = k.replace(/\.running_(mean|var)$/, '');
      if (k.endsWith('running_mean')) expect(Array.from(t.data)).toEqual(Array.from(Float32Array.from(stats.layers[layer].mean)));
      else if (k.endsWith('running_var')) expect(Array.from(t.data)).toEqual(Array.from(Float32Array.from(stats.layers[layer].variance)));
      else expect(Float64Array.from(t.data)).toEqual(before[k]);
    }
    // The running statistics were far from the image's: the eval-mode output changes.
    const y1 = out(net);
    expect(Math.max(...y1.map((v, i) => Math.abs(v - y0[i])))).toBeGreaterThan(0.01);
  });

  it('refuses statistics that do not fit the model, changing nothing', () => {
    const net = smallModel();
    const stats = estimateBatchNormStats(net, [image(16, 16, 8)], { tile: 16 });
    const other = new UNet({ depth: 1, base: 4 }, new Rng(1));
    const before = Float64Array.from(other.stateDict()['enc0.norm1.running_mean'].data);
    expect(() => applyBatchNormStats(other, stats)).toThrow(/enc0\.norm1/);
    expect(Float64Array.from(other.stateDict()['enc0.norm1.running_mean'].data)).toEqual(before);
    expect(() => estimateBatchNormStats(new UNet({ depth: 1, base: 2, norm: 'instance' }, new Rng(0)), [image(16, 16, 8)])).toThrow(/no batch norm layers/);
    expect(() => estimateBatchNormStats(net, [])).toThrow(/no images/);
  });
});
