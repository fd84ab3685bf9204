import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, Tensor, parameter } from '../../src/autodiff/index.js';
import { rasterLanes, setRasterLanes, type RasterLanes } from '../../src/render/lanes/lanes.js';
import { RasterWorkerPool, defaultRasterThreads, withRasterPool } from '../../src/node/raster-pool.js';
import { mergeSceneConfig, presetConfig, sampleScene, renderScene, sceneParams } from '../../src/render/index.js';
import { runTraining, type TrainOptions } from '../../src/node/train.js';

// The Node commands run the rasterizer on worker-thread lanes by default (train: --raster-threads,
// default defaultRasterThreads()). The lanes must change no rendered value, so a training run is
// the same with and without them.

afterEach(() => {
  setRasterLanes(null);
  vi.restoreAllMocks();
});

describe('raster pool by default', () => {
  it('defaultRasterThreads is between 1 and 4', () => {
    const n = defaultRasterThreads();
    expect(n).toBeGreaterThanOrEqual(1);
    expect(n).toBeLessThanOrEqual(4);
  });

  it('withRasterPool installs a pool for the call only (also when it throws); 1 thread installs none', async () => {
    const outer: RasterLanes = { lanes: 2, run: () => [] };
    setRasterLanes(outer);
    let inside: RasterLanes | null = null;
    await withRasterPool(2, async () => {
      inside = rasterLanes();
    });
    expect(inside).toBeInstanceOf(RasterWorkerPool);
    expect(rasterLanes()).toBe(outer);
    await expect(withRasterPool(2, async () => {
      throw new Error('boom');
    })).rejects.toThrow('boom');
    expect(rasterLanes()).toBe(outer);
    await withRasterPool(1, async () => {
      inside = rasterLanes();
    });
    expect(inside).toBe(outer);
  });

  it('the GAN render (cached raster, parameter gradients) is identical with the pool', async () => {
    const cfg = mergeSceneConfig(presetConfig('tio2-sem'), { width: 96, height: 96, particles: { count: { min: 8, max: 8 } } });
    const run = () => {
      const scene = sampleScene(cfg, new Rng(9));
      const p = parameter(sceneParams(scene));
      const r = renderScene(scene, p, { masks: false, cacheRaster: true });
      r.image.backward(new Tensor(Float32Array.from({ length: r.image.size }, (_, i) => Math.sin(0.1 * i)), r.image.shape));
      return { img: Array.from(r.image.data), g: Array.from(p.grad!.data), raster: Array.from(r.raster.data) };
    };
    const one = run();
    let runs = 0;
    const par = await withRasterPool(2, async () => {
      const r = run();
      runs = (rasterLanes() as RasterWorkerPool).completedRuns;
      return r;
    });
    expect(runs).toBe(1); // the forward ran on the lanes (the cached raster records no backward)
    expect(par.raster).toEqual(one.raster);
    expect(par.img).toEqual(one.img);
    expect(par.g).toEqual(one.g);
  });

  it('runTraining: the same losses and evaluation with 2 raster threads as with 1, and the lanes were used', async () => {
    // patch 128: the rasterizer and the image formation (blur, shading, noise rows) run on the lanes
    const spy = vi.spyOn(RasterWorkerPool.prototype, 'run');
    const opts = (out: string, rasterThreads: number): TrainOptions => ({
      preset: 'tio2-sem', cropBottom: 0, batch: 1, lrD: 1e-4, norm: 'batch', evalSamples: 2, seed: 5, quiet: true,
      patch: 128, epochs: 1, stepsPerEpoch: 3, baseFilters: 4, configs: 3, out, rasterThreads,
    });
    const dir = mkdtempSync(join(tmpdir(), 'drg-raster-'));
    try {
      await runTraining(opts(join(dir, 'a'), 1));
      expect(spy).not.toHaveBeenCalled();
      await runTraining(opts(join(dir, 'b'), 2));
      const kernels = new Set(spy.mock.calls.map((c) => c[0]));
      for (const k of ['forwardBand', 'blurRows', 'semRows', 'semBackRows', 'noiseRows', 'noiseBackRows']) expect(kernels.has(k as never), k).toBe(true);
      expect(spy.mock.results.every((r) => r.type === 'return')).toBe(true); // no lane failed
      expect(rasterLanes()).toBeNull();
      const rows = (r: string) => readFileSync(join(dir, r, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => {
        const o = JSON.parse(l);
        delete o.seconds;
        return o;
      });
      const a = rows('a'), b = rows('b');
      expect(a.length).toBe(5); // epoch 0, 3 steps, epoch 1
      expect(b).toEqual(a);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
