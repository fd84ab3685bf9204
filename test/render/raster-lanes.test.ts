import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng, Tensor } from '../../src/autodiff/index.js';
import { softRasterize, RASTER_KERNELS } from '../../src/render/raster/soft.js';
import { setRasterLanes, type RasterLanes } from '../../src/render/lanes/lanes.js';
import { RasterWorkerPool } from '../../src/node/raster-pool.js';
import { mergeSceneConfig, presetConfig, sampleScene } from '../../src/render/index.js';
import { project } from '../../src/render/camera.js';
import { naiveSoftRasterize, type NaiveOptions } from './soft-naive.js';

// The band-parallel rasterizer (rows split over worker threads, src/node/raster-pool.ts) must
// give the single-thread result: values exactly (every pixel is computed by one lane with the
// same expressions) and gradients up to the order of the per-lane sums.

const pools: RasterWorkerPool[] = [];
afterAll(() => {
  setRasterLanes(null);
  for (const p of pools) p.dispose();
});
function pool(threads: number): RasterWorkerPool {
  const p = new RasterWorkerPool({ threads, minFaces: 1, minPixels: 1 });
  pools.push(p);
  return p;
}

interface Run {
  out: Float64Array;
  gV: Float64Array;
  gA: Float64Array;
}
function render(lanes: RasterLanes | null, V: Float64Array, faces: Uint32Array, A: Float64Array, C: number, opts: NaiveOptions, wt: Float64Array): Run {
  setRasterLanes(lanes);
  try {
    const v = new Tensor(Float64Array.from(V), [V.length / 3, 3], true);
    const a = new Tensor(Float64Array.from(A), [V.length / 3, C], true);
    const out = softRasterize(v, faces, a, opts);
    out.backward(new Tensor(wt, out.shape));
    return { out: Float64Array.from(out.data), gV: Float64Array.from(v.grad!.data), gA: Float64Array.from(a.grad!.data) };
  } finally {
    setRasterLanes(null);
  }
}

function close(a: Float64Array, b: Float64Array, tol: number, what: string): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(b[i])))) throw new Error(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

const coord = (lo: number, hi: number) => fc.integer({ min: Math.round(lo * 997), max: Math.round(hi * 997) }).map((k) => k / 997);

describe('band-parallel soft rasterizer', () => {
  it('random small scenes: 2 and 3 lanes = 1 lane = naive reference (values), gradients = 1 lane', () => {
    const p2 = pool(2), p3 = pool(3);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(coord(-2, 13), coord(-2, 12), coord(0, 4)), { minLength: 3, maxLength: 18 }),
        fc.constantFrom(0.05, 0.3, 1.5),
        fc.boolean(),
        fc.integer({ min: 0, max: 1e6 }),
        (pts, sigma, cull, seed) => {
          const used = pts.slice(0, pts.length - (pts.length % 3));
          const V = Float64Array.from(used.flat());
          const nv = used.length;
          const A = Float64Array.from({ length: 2 * nv }, (_, i) => Math.sin(i * 1.3 + seed));
          const faces = Uint32Array.from({ length: nv }, (_, i) => i);
          const opts: NaiveOptions = { width: 11, height: 10, sigma, gamma: 0.7, cutoff: 1e-13, cullBackfaces: cull, background: [0.25, -0.5] };
          const wt = Float64Array.from({ length: 3 * 11 * 10 }, (_, i) => Math.cos(0.9 * i + seed));
          const one = render(null, V, faces, A, 2, opts, wt);
          const naive = naiveSoftRasterize(V, faces, A, 2, opts);
          close(one.out, naive, 1e-9, 'single vs naive');
          for (const p of [p2, p3]) {
            const par = render(p, V, faces, A, 2, opts, wt);
            close(par.out, one.out, 0, `${p.lanes} lanes out`);
            close(par.gV, one.gV, 1e-12, `${p.lanes} lanes dV`);
            close(par.gA, one.gA, 1e-12, `${p.lanes} lanes dA`);
          }
        },
      ),
      { numRuns: 40, seed: 21 },
    );
    // the renders went through the workers (a failing pool would fall back silently); scenes
    // whose faces are all culled or degenerate stay on the calling thread
    expect(p2.completedRuns).toBeGreaterThan(50);
    expect(p3.completedRuns).toBe(p2.completedRuns);
  });

  it('a TiO2-SEM scene (float32, thousands of faces, growing fragment stores) renders the same on 2 lanes', () => {
    const cfg = mergeSceneConfig(presetConfig('tio2-sem'), { width: 96, height: 80, particles: { count: { min: 6, max: 6 } } });
    const scene = sampleScene(cfg, new Rng(3));
    const V = Float64Array.from(project(scene.camera, scene.mesh.positions));
    const nv = V.length / 3;
    const A = new Float64Array(4 * nv);
    for (let i = 0; i < nv; i++) A.set([scene.normals[3 * i], scene.normals[3 * i + 1], scene.normals[3 * i + 2], 1], 4 * i);
    const opts: NaiveOptions = { width: 96, height: 80, sigma: cfg.raster.sigma, gamma: cfg.raster.gamma, cutoff: cfg.raster.cutoff, background: [0, 0, 1, 0] };
    const wt = Float64Array.from({ length: 5 * 96 * 80 }, (_, i) => Math.sin(0.37 * i));
    const one = render(null, V, scene.mesh.faces, A, 4, opts, wt);
    const p2 = pool(2);
    const par = render(p2, V, scene.mesh.faces, A, 4, opts, wt);
    expect(p2.completedRuns).toBe(2);
    close(par.out, one.out, 0, 'out');
    close(par.gV, one.gV, 1e-10, 'dV');
    close(par.gA, one.gA, 1e-10, 'dA');
    let nonzero = 0;
    for (const g of one.gV) if (g !== 0) nonzero++;
    expect(nonzero).toBeGreaterThan(1000);
  });

  it('a failing lane runner falls back to the calling thread with the same result', () => {
    const V = Float64Array.from([1, 1, 2, 9, 2, 1, 5, 8, 3, 0.5, 6, 1, 8, 7, 2, 3, 9, 0]);
    const faces = Uint32Array.from([0, 1, 2, 3, 4, 5]);
    const A = Float64Array.from({ length: 12 }, (_, i) => i / 7);
    const opts: NaiveOptions = { width: 10, height: 10, sigma: 0.5, gamma: 1, cullBackfaces: false };
    const wt = Float64Array.from({ length: 3 * 100 }, (_, i) => Math.sin(i));
    let calls = 0;
    const broken: RasterLanes = { lanes: 2, minFaces: 1, minPixels: 1, run: () => { calls++; throw new Error('lane died'); } };
    const one = render(null, V, faces, A, 2, opts, wt);
    const fb = render(broken, V, faces, A, 2, opts, wt);
    expect(calls).toBe(2); // forward and backward both tried the lanes
    close(fb.out, one.out, 0, 'out');
    close(fb.gV, one.gV, 1e-12, 'dV');
  });

  it('a worker that dies is reported, and the pool starts fresh workers for the next render', () => {
    const p = pool(2);
    expect(() => p.killWorkerForTest(0)).toThrow(/raster worker 0 failed/);
    const V = Float64Array.from([1, 1, 2, 9, 2, 1, 5, 8, 3]);
    const opts: NaiveOptions = { width: 10, height: 10, sigma: 0.5, gamma: 1, cullBackfaces: false };
    const wt = new Float64Array(200).fill(1);
    const one = render(null, V, Uint32Array.from([0, 1, 2]), Float64Array.from([0, 1, 2]), 1, opts, wt);
    const again = render(p, V, Uint32Array.from([0, 1, 2]), Float64Array.from([0, 1, 2]), 1, opts, wt);
    close(again.out, one.out, 0, 'out');
    expect(p.completedRuns).toBe(2);
    expect(Object.keys(RASTER_KERNELS)).toEqual(['forwardBand', 'backwardBand']);
  });
});
