import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { Rng, Tensor, parameter } from '../../src/autodiff/index.js';
import type { DType } from '../../src/autodiff/tensor.js';
import { laneFailures, setRasterLanes, type RasterLanes, type LaneKernelName } from '../../src/render/lanes/lanes.js';
import { LANE_KERNELS } from '../../src/render/lanes/kernels.js';
import { clearShadeCaches } from '../../src/render/form-image.js';
import { RasterWorkerPool } from '../../src/node/raster-pool.js';
import { mergeSceneConfig, presetConfig, sampleScene, renderScene, sceneParams } from '../../src/render/index.js';

// The image formation (blur, shading, noise) split into row bands over the raster lanes must give
// the single-thread results exactly: every output element is computed by one lane with the same
// expressions and every reduction is summed per row, in row order. (Vertex gradients come from
// the rasterizer, whose lanes sum their own gradient arrays: equal up to that order.)

const KERNELS = LANE_KERNELS as Record<LaneKernelName, (j: never) => number | void>;

/** Lanes that run their jobs one after the other on this thread, insisting on shared memory as the worker pool does. */
function inThread(lanes: number) {
  const runs = new Map<string, number>();
  const r: RasterLanes & { runs: Map<string, number> } = {
    lanes, minFaces: 1, minPixels: 1, minBlurPixels: 1, runs,
    run(kernel, jobs) {
      for (const j of jobs) {
        for (const [k, v] of Object.entries(j)) {
          if (ArrayBuffer.isView(v) && !(v.buffer instanceof SharedArrayBuffer)) throw new Error(`${kernel}: ${k} not shared`);
        }
      }
      runs.set(kernel, (runs.get(kernel) ?? 0) + 1);
      return jobs.map((j) => (KERNELS[kernel](j as never) as number) ?? 0);
    },
  };
  return r;
}

function render(lanes: RasterLanes | null, preset: 'tio2-sem' | 'sio2-him', dtype: DType, cached: boolean) {
  const cfg = mergeSceneConfig(presetConfig(preset), { width: 48, height: 40, particles: { count: { min: 5, max: 5 } } });
  const scene = sampleScene(cfg, new Rng(17));
  clearShadeCaches();
  setRasterLanes(lanes);
  try {
    const p = parameter(sceneParams(scene, dtype));
    let res = renderScene(scene, p, { masks: false, vertsRequireGrad: !cached, cacheRaster: cached });
    if (cached) {
      p.grad = null;
      res = renderScene(scene, p, { masks: false, cacheRaster: true });
    }
    const g = new Tensor(Float64Array.from({ length: res.image.size }, (_, i) => Math.cos(0.37 * i)), res.image.shape);
    res.image.backward(g);
    return { img: Array.from(res.image.data), gp: Array.from(p.grad!.data), gv: cached ? [] : Array.from(res.verts.grad!.data) };
  } finally {
    setRasterLanes(null);
  }
}

/** Vertex gradients: the rasterizer's lanes sum their own arrays (equal up to that order). */
function closeTo(a: number[], b: number[], tol = 1e-9): void {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThanOrEqual(tol * (1 + Math.abs(b[i]))));
}

const pools: RasterWorkerPool[] = [];
afterAll(() => {
  for (const p of pools) p.dispose();
});
afterEach(() => {
  setRasterLanes(null);
  vi.restoreAllMocks();
});

describe('image formation on raster lanes', () => {
  for (const preset of ['tio2-sem', 'sio2-him'] as const) {
    const model = preset === 'tio2-sem' ? 'sem' : 'him'; // the image-formation model's row kernels (shade/models.ts)
    for (const dtype of ['float32', 'float64'] as DType[]) {
      for (const cached of [false, true]) {
        it(`${preset} ${dtype} ${cached ? 'cached raster (the GAN)' : 'vertex gradients'}: 2 and 3 lanes = 1 lane`, () => {
          const one = render(null, preset, dtype, cached);
          for (const n of [2, 3]) {
            const l = inThread(n);
            const par = render(l, preset, dtype, cached);
            expect(par.img).toEqual(one.img);
            expect(par.gp).toEqual(one.gp);
            closeTo(par.gv, one.gv, dtype === 'float32' ? 1e-6 : 1e-9); // float32: one rounding of the float64 sums
            // every image-formation kernel ran on the lanes (the forward and the backward)
            for (const k of ['blurRows', `${model}Rows`, `${model}BackRows`, 'noiseRows', 'noiseBackRows']) expect(l.runs.get(k) ?? 0, k).toBeGreaterThan(0);
          }
        });
      }
    }
  }

  it('worker-thread lanes: the same results, every run completed on the workers', () => {
    const one = render(null, 'tio2-sem', 'float32', false);
    const pool = new RasterWorkerPool({ threads: 2, minFaces: 1, minPixels: 1, minBlurPixels: 1 });
    pools.push(pool);
    const spy = vi.spyOn(pool, 'run');
    const par = render(pool, 'tio2-sem', 'float32', false);
    expect(par.img).toEqual(one.img);
    expect(par.gp).toEqual(one.gp);
    const kernels = new Set(spy.mock.calls.map((c) => c[0]));
    for (const k of ['forwardBand', 'backwardBand', 'blurRows', 'semRows', 'semBackRows', 'noiseRows', 'noiseBackRows']) expect(kernels.has(k as LaneKernelName), k).toBe(true);
    expect(pool.completedRuns).toBe(spy.mock.calls.length);
  });

  it('a failing lane runner falls back to the calling thread with the same results', () => {
    const one = render(null, 'sio2-him', 'float64', false);
    let calls = 0;
    const broken: RasterLanes = { lanes: 2, minFaces: 1, minPixels: 1, minBlurPixels: 1, run: () => { calls++; throw new Error('lane died'); } };
    const failuresBefore = laneFailures();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const fb = render(broken, 'sio2-him', 'float64', false);
    warn.mockRestore();
    expect(calls).toBeGreaterThan(5);
    expect(laneFailures() - failuresBefore).toBe(calls); // every recovered failure is counted
    expect(fb.img).toEqual(one.img);
    expect(fb.gp).toEqual(one.gp);
    closeTo(fb.gv, one.gv);
  });

  it('a lane that dies half-way through its rows: the redo on the calling thread gives the same arrays', () => {
    const one = render(null, 'tio2-sem', 'float64', false);
    // runs the first job, then throws: the first band's outputs are written once by the lane and
    // again by the redo
    const half: RasterLanes = {
      lanes: 2, minFaces: 1, minPixels: 1, minBlurPixels: 1,
      run(kernel, jobs) {
        KERNELS[kernel](jobs[0] as never);
        throw new Error('second lane died');
      },
    };
    const r = render(half, 'tio2-sem', 'float64', false);
    expect(r.img).toEqual(one.img);
    expect(r.gp).toEqual(one.gp);
    closeTo(r.gv, one.gv);
  });
});
