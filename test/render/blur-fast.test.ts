import { afterAll, describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Rng, Tensor } from '../../src/autodiff/index.js';
import { gaussianBlur, blurRaw } from '../../src/render/shade/index.js';
import { blurPasses, BLUR_KERNELS } from '../../src/render/shade/blur.js';
import { setRasterLanes, type RasterLanes } from '../../src/render/lanes/lanes.js';
import { RasterWorkerPool } from '../../src/node/raster-pool.js';
import * as ref from './blur-ref.js';

// The tap-major blur passes (src/render/shade/blur.ts) against the per-pixel reference passes
// they replaced (test/render/blur-ref.ts): forward passes with clamped borders, the sparse-row
// skips, and the adjoints (zero-padded filter plus clamped-tap border sums). Same values up to
// the summation order.

function image(rng: Rng, H: number, W: number, sparse: boolean): Float64Array {
  const x = new Float64Array(H * W);
  for (let y = 0; y < H; y++) {
    if (sparse && rng.uniform() < 0.5) continue;
    for (let i = 0; i < W; i++) x[y * W + i] = rng.uniform() * 2 - 0.5;
  }
  return x;
}

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i] - b[i]) <= 1e-13 * (1 + Math.abs(b[i])))) throw new Error(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

const sizes = fc.tuple(fc.integer({ min: 1, max: 23 }), fc.integer({ min: 1, max: 23 }), fc.double({ min: 0.05, max: 4.2, noNaN: true }), fc.integer({ min: 0, max: 1e6 }), fc.boolean());

describe('tap-major blur passes = per-pixel reference', () => {
  it('passH / passV (clamped borders; sparse-row skips) and their adjoints, for any size and radius', () => {
    fc.assert(
      fc.property(sizes, ([H, W, s, seed, sparse]) => {
        const rng = new Rng(seed);
        const x = image(rng, H, W, sparse);
        const { k, dk, R, tail } = blurPasses.kernels(s);
        const nz = sparse ? ref.rowPrefix(x, H, W) : null;
        for (const kk of [k, dk]) {
          const a = new Float64Array(H * W).fill(NaN), b = new Float64Array(H * W).fill(NaN);
          blurPasses.passH(x, a, H, W, kk, R, nz);
          ref.passH(x, b, H, W, kk, R, nz);
          expectClose(a, b, `passH ${H}x${W} s=${s}`);
          a.fill(NaN);
          b.fill(NaN);
          blurPasses.passV(x, a, H, W, kk, R, nz);
          ref.passV(x, b, H, W, kk, R, nz);
          expectClose(a, b, `passV ${H}x${W} s=${s}`);
        }
        const a = new Float64Array(H * W).fill(NaN), b = new Float64Array(H * W).fill(NaN);
        blurPasses.passHT(x, a, H, W, k, R, tail);
        ref.passHT(x, b, H, W, k, R);
        expectClose(a, b, `passHT ${H}x${W} s=${s}`);
        a.fill(NaN);
        b.fill(NaN);
        // float32 gradients are widened into the padded copy
        const x32 = Float32Array.from(x);
        const P = blurPasses.passVT(x32, a, H, W, k, R, tail);
        ref.passVT(Float64Array.from(x32), b, H, W, k, R);
        expectClose(a, b, `passVT ${H}x${W} s=${s}`);
        expectClose(P.subarray(R * W, (R + H) * W), Float64Array.from(x32), 'padded copy');
        // the fused adjoints: k and dk over the same source rows = two reference adjoints
        const { dtail } = blurPasses.kernels(s);
        const a2 = new Float64Array(H * W).fill(NaN), b2 = new Float64Array(H * W).fill(NaN);
        a.fill(NaN);
        blurPasses.passHT(x, a, H, W, k, R, tail, dk, a2, dtail);
        ref.passHT(x, b, H, W, k, R);
        ref.passHT(x, b2, H, W, dk, R);
        expectClose(a, b, `passHT (fused, k) ${H}x${W} s=${s}`);
        expectClose(a2, b2, `passHT (fused, dk) ${H}x${W} s=${s}`);
        a.fill(NaN);
        a2.fill(NaN);
        blurPasses.passVT(x32, a, H, W, k, R, tail, dk, a2, dtail);
        ref.passVT(Float64Array.from(x32), b, H, W, k, R);
        ref.passVT(Float64Array.from(x32), b2, H, W, dk, R);
        expectClose(a, b, `passVT (fused, k) ${H}x${W} s=${s}`);
        expectClose(a2, b2, `passVT (fused, dk) ${H}x${W} s=${s}`);
      }),
      { numRuns: 300, seed: 11 },
    );
  });

  it('gaussianBlur forward and backward (image and sigma gradients) = the reference passes composed', () => {
    fc.assert(
      fc.property(sizes, ([H, W, s, seed]) => {
        const rng = new Rng(seed);
        const xd = image(rng, H, W, false);
        const gd = image(rng, H, W, false);
        for (const dtype of ['float64', 'float32'] as const) {
          const xv = dtype === 'float64' ? Float64Array.from(xd) : Float32Array.from(xd);
          const x = new Tensor(xv, [H, W], true);
          const sig = new Tensor(dtype === 'float64' ? Float64Array.of(s) : Float32Array.of(s), [1], true);
          const out = gaussianBlur(x, sig);
          out.backward(new Tensor(dtype === 'float64' ? Float64Array.from(gd) : Float32Array.from(gd), [H, W]));
          // reference: out = V H x; gx = H^T V^T g; gs = <g, V' H x> + <V^T g, H' x>
          const { k, dk, R } = blurPasses.kernels(Math.max(dtype === 'float64' ? s : Math.fround(s), 1e-3));
          const X = Float64Array.from(xv), G = dtype === 'float64' ? gd : Float64Array.from(Float32Array.from(gd));
          const t = new Float64Array(H * W), o = new Float64Array(H * W), gt = new Float64Array(H * W), gx = new Float64Array(H * W), a = new Float64Array(H * W);
          ref.passH(X, t, H, W, k, R);
          ref.passV(t, o, H, W, k, R);
          ref.passVT(G, gt, H, W, k, R);
          ref.passHT(gt, gx, H, W, k, R);
          let gs = 0, mag = 0;
          ref.passV(t, a, H, W, dk, R);
          for (let i = 0; i < H * W; i++) (gs += G[i] * a[i]), (mag += Math.abs(G[i] * a[i]));
          ref.passH(X, a, H, W, dk, R);
          for (let i = 0; i < H * W; i++) (gs += gt[i] * a[i]), (mag += Math.abs(gt[i] * a[i]));
          if (dtype === 'float64') {
            expectClose(out.data, o, 'blur');
            expectClose(x.grad!.data, gx, 'image gradient');
            expect(Math.abs(sig.grad!.data[0] - gs)).toBeLessThanOrEqual(1e-13 * (1 + mag));
          } else {
            // float32 outputs: the float64 results rounded once
            for (let i = 0; i < H * W; i++) expect(Math.abs(out.data[i] - o[i])).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(o[i])));
            for (let i = 0; i < H * W; i++) expect(Math.abs(x.grad!.data[i] - gx[i])).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(gx[i])));
            expect(Math.abs(sig.grad!.data[0] - gs)).toBeLessThanOrEqual(1e-6 * (1 + mag));
          }
        }
      }),
      { numRuns: 150, seed: 12 },
    );
  });

  it('blurRaw accepts float32 input and equals the float64 result', () => {
    const rng = new Rng(5);
    const x = Float32Array.from(image(rng, 19, 33, true));
    expectClose(blurRaw(x, 19, 33, 1.7), blurRaw(Float64Array.from(x), 19, 33, 1.7), 'blurRaw');
  });
});

describe('gaussianBlur on raster lanes (row bands)', () => {
  const pools: RasterWorkerPool[] = [];
  afterAll(() => {
    setRasterLanes(null);
    for (const p of pools) p.dispose();
  });

  /** Image, image gradient and sigma gradient of one blur with the given lanes installed. */
  function blurRun(lanes: RasterLanes | null, H: number, W: number, s: number, seed: number, dtype: 'float32' | 'float64') {
    const rng = new Rng(seed);
    const xd = image(rng, H, W, false), gd = image(rng, H, W, false);
    const mk = (v: Float64Array) => (dtype === 'float64' ? Float64Array.from(v) : Float32Array.from(v));
    setRasterLanes(lanes);
    try {
      const x = new Tensor(mk(xd), [H, W], true);
      const sig = new Tensor(dtype === 'float64' ? Float64Array.of(s) : Float32Array.of(s), [1], true);
      const out = gaussianBlur(x, sig);
      out.backward(new Tensor(mk(gd), [H, W]));
      return { out: Array.from(out.data), gx: Array.from(x.grad!.data), gs: sig.grad!.data[0] };
    } finally {
      setRasterLanes(null);
    }
  }

  /** Lanes run in this thread, one job after the other (any split of the rows). */
  const inThread = (lanes: number): RasterLanes & { runs: number } => {
    const r = {
      lanes, minBlurPixels: 1, runs: 0,
      run(kernel: string, jobs: readonly object[]) {
        expect(kernel).toBe('blurRows');
        expect(jobs.length).toBeLessThanOrEqual(lanes);
        r.runs++;
        return jobs.map((j) => BLUR_KERNELS.blurRows(j as never));
      },
    };
    return r;
  };

  it('2 and 3 row bands give bit-identical images and gradients (float32/64, any size and radius)', () => {
    const two = inThread(2), three = inThread(3);
    fc.assert(
      fc.property(sizes, fc.boolean(), ([H, W, s, seed], f64) => {
        const dtype = f64 ? 'float64' : 'float32';
        const one = blurRun(null, H, W, s, seed, dtype);
        expect(blurRun(two, H, W, s, seed, dtype)).toEqual(one);
        expect(blurRun(three, H, W, s, seed, dtype)).toEqual(one);
      }),
      { numRuns: 120, seed: 13 },
    );
    // forward: 2 passes, backward: 2 fused passes
    expect(two.runs).toBe(4 * 120);
  });

  it('worker-thread lanes (RasterWorkerPool) give the same result; a failing runner falls back to this thread', () => {
    const p = new RasterWorkerPool({ threads: 2, minBlurPixels: 1 });
    pools.push(p);
    const one = blurRun(null, 61, 47, 1.3, 4, 'float32');
    expect(blurRun(p, 61, 47, 1.3, 4, 'float32')).toEqual(one);
    expect(p.completedRuns).toBe(4);
    let calls = 0;
    const broken: RasterLanes = { lanes: 2, minBlurPixels: 1, run: () => { calls++; throw new Error('lane died'); } };
    expect(blurRun(broken, 61, 47, 1.3, 4, 'float32')).toEqual(one);
    expect(calls).toBe(4);
  });

  it('the default threshold keeps small images on the calling thread', () => {
    const p = new RasterWorkerPool({ threads: 2 });
    pools.push(p);
    blurRun(p, 100, 100, 1, 1, 'float32');
    expect(p.completedRuns).toBe(0);
    blurRun(p, 128, 128, 1, 1, 'float32');
    expect(p.completedRuns).toBe(4);
  });
});
