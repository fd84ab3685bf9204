/**
 * Property tests: every fast wasm kernel against the reference backend on random shapes.
 *
 * Tolerance: both compute sum_i a_i b_i over K terms; the reference accumulates in float64 and
 * rounds once, the wasm kernels accumulate in float32 in a blocked order. Any float32 summation
 * order of K products has |error| <= gamma_K * sum_i |a_i||b_i| with gamma_K ~ K * 2^-24 (plus
 * one rounding of each product), so each output element is checked against
 * (K + 2) * 2^-23 * S, where S = the reference kernel run on |inputs| (exactly sum |a||b| per
 * element), with a tiny absolute floor for all-zero sums.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { convOutSize, type Conv2dGeom, type Kernels } from '../../src/autodiff/backend.js';
import { referenceBackend } from '../../src/autodiff/backends/reference.js';
import { WasmBackend } from '../../src/autodiff/backends/wasm/backend.js';
import { createNodeWasmBackend } from '../../src/node/wasm-backend.js';
import { rand, abs, expectClose } from './float32-check.js';

const ref = referenceBackend.kernels as Kernels;

// Backends under test: single-threaded default blocking, threaded with everything split across
// lanes, and tiny blocks so every block edge (kc, mc, nc, partial micro-tiles) is crossed.
const single = new WasmBackend({ name: 'wasm-1' });
const threaded = createNodeWasmBackend({ name: 'wasm-mt', parallelMinFlops: 0, parallelMinWork: 0, pool: { threads: 3 } });
const tiny = new WasmBackend({ name: 'wasm-tiny', gemm: { kc: 5, mc: 8, nc: 16, unroll: 2 } });
const explicit = new WasmBackend({ name: 'wasm-explicit-im2col', im2col: 'explicit', gemm: { kc: 6, mc: 8, nc: 16 } });
const tinyWide = new WasmBackend({ name: 'wasm-tiny-12', gemm: { mr: 3, nr: 12, kc: 7, mc: 9, nc: 24, unroll: 3 } });
// GEMMs with <= 32 rows read B in place by default; this one packs B for every GEMM.
const packedB = new WasmBackend({ name: 'wasm-tiny-packed-b', directB: false, gemm: { kc: 6, mc: 8, nc: 16 } });
const rowsDirect = new WasmBackend({ name: 'wasm-direct-rows', direct: 'rows', fewOut: 'direct' });
// Few-output-channel convs on the direct SIMD kernels instead of the taps-first / flipped GEMMs,
// with source channels in chunks of 2 so the accumulate-into-output path of dconvP runs.
const paddedDirect = new WasmBackend({ name: 'wasm-direct-padded', fewOut: 'direct', directChunk: 2 });
const paddedDirectMt = createNodeWasmBackend({ name: 'wasm-direct-padded-mt', fewOut: 'direct', directChunk: 3, parallelMinWork: 0, pool: { threads: 2 } });
afterAll(() => paddedDirectMt.dispose());
const threadedStatic = createNodeWasmBackend({ name: 'wasm-mt-static', dynamic: false, parallelMinFlops: 0, parallelMinWork: 0, pool: { threads: 2 } });
afterAll(() => threadedStatic.dispose());
const backends = [single, threaded, tiny, tinyWide, explicit, packedB];
afterAll(() => { rowsDirect.dispose(); paddedDirect.dispose(); });
afterAll(() => backends.forEach((b) => b.dispose()));

const matmulCase = fc.record({
  batch: fc.integer({ min: 1, max: 3 }),
  m: fc.integer({ min: 1, max: 37 }),
  k: fc.integer({ min: 1, max: 41 }),
  n: fc.integer({ min: 1, max: 37 }),
  transA: fc.boolean(),
  transB: fc.boolean(),
  bcastA: fc.boolean(),
  bcastB: fc.boolean(),
  seed: fc.integer({ min: 1, max: 1 << 30 }),
});

type MatmulCase = typeof matmulCase extends fc.Arbitrary<infer T> ? T : never;

function checkMatmul(be: WasmBackend, c: MatmulCase): void {
  const { batch, m, k, n, transA, transB, seed } = c;
  const strideA = c.bcastA ? 0 : m * k, strideB = c.bcastB ? 0 : k * n;
  const a = rand(Math.max(1, batch * m * k), seed), b = rand(Math.max(1, batch * k * n), seed + 1);
  const base = { batch, m, k, n, transA, transB, strideA, strideB };
  const got = new Float32Array(batch * m * n).fill(NaN);
  const want = new Float32Array(batch * m * n), bound = new Float32Array(batch * m * n);
  expect(be.kernels.matmul!({ ...base, a, b, out: got })).toBe(true);
  ref.matmul({ ...base, a, b, out: want });
  ref.matmul({ ...base, a: abs(a), b: abs(b), out: bound });
  expectClose(got, want, bound, k, `${be.name} matmul ${JSON.stringify(c)}`);
}

describe('wasm matmul vs reference', () => {
  for (const be of backends) {
    it(`${be.name}: random shapes, transposes, broadcast batch`, () => {
      fc.assert(fc.property(matmulCase, (c) => checkMatmul(be, c)), { numRuns: 60 });
    });
  }
  it('larger shapes crossing the default blocks (k > kc, m > mc)', () => {
    for (const be of [single, threaded, threadedStatic]) {
      // More row than column panels but >= 64 column panels: threaded GEMMs split columns.
      checkMatmul(be, { batch: 1, m: 700, k: 37, n: 530, transA: true, transB: false, bcastA: false, bcastB: false, seed: 8 });
      checkMatmul(be, { batch: 1, m: 133, k: 300, n: 45, transA: false, transB: true, bcastA: false, bcastB: false, seed: 7 });
      checkMatmul(be, { batch: 2, m: 9, k: 513, n: 150, transA: true, transB: false, bcastA: true, bcastB: false, seed: 9 });
    }
  });
  it('few rows, wide B (n up to 1100)', () => {
    const arb = fc.record({
      batch: fc.integer({ min: 1, max: 2 }), m: fc.integer({ min: 1, max: 20 }), k: fc.integer({ min: 1, max: 70 }),
      n: fc.integer({ min: 1, max: 1100 }), transA: fc.boolean(), transB: fc.constant(false),
      bcastA: fc.boolean(), bcastB: fc.boolean(), seed: fc.integer({ min: 1, max: 1 << 30 }),
    });
    for (const be of [single, threaded, tiny, tinyWide, packedB]) fc.assert(fc.property(arb, (c) => checkMatmul(be, c)), { numRuns: 12 });
    for (const be of [single, threaded]) {
      checkMatmul(be, { batch: 1, m: 16, k: 64, n: 1024, transA: true, transB: false, bcastA: false, bcastB: false, seed: 5 });
      checkMatmul(be, { batch: 1, m: 7, k: 300, n: 961, transA: false, transB: false, bcastA: false, bcastB: false, seed: 6 });
    }
  });
  it('declines float64', () => {
    const a = new Float64Array(4), out = new Float64Array(4);
    expect(single.kernels.matmul!({ a, b: a, out, batch: 1, m: 2, k: 2, n: 2, transA: false, transB: false, strideA: 0, strideB: 0 })).toBe(false);
  });
});

const convCase = fc
  .record({
    n: fc.integer({ min: 1, max: 3 }),
    cInG: fc.integer({ min: 1, max: 5 }),
    cOutG: fc.integer({ min: 1, max: 9 }),
    groups: fc.integer({ min: 1, max: 3 }),
    h: fc.integer({ min: 1, max: 11 }),
    w: fc.integer({ min: 1, max: 11 }),
    kh: fc.integer({ min: 1, max: 4 }),
    kw: fc.integer({ min: 1, max: 4 }),
    strideH: fc.integer({ min: 1, max: 2 }),
    strideW: fc.integer({ min: 1, max: 2 }),
    padH: fc.integer({ min: 0, max: 2 }),
    padW: fc.integer({ min: 0, max: 2 }),
    dilH: fc.integer({ min: 1, max: 2 }),
    dilW: fc.integer({ min: 1, max: 2 }),
    seed: fc.integer({ min: 1, max: 1 << 30 }),
  })
  .map((c) => ({
    ...c,
    outH: convOutSize(c.h, c.kh, c.strideH, c.padH, c.dilH),
    outW: convOutSize(c.w, c.kw, c.strideW, c.padW, c.dilW),
  }))
  .filter((c) => c.outH >= 1 && c.outW >= 1);

const refCache = new Map<string, { want: Float32Array; bound: Float32Array }>();

type ConvCase = { seed: number; cInG: number; cOutG: number } & Omit<Conv2dGeom, 'cIn' | 'cOut'>;

function checkConv(be: WasmBackend, c: ConvCase): void {
  const g: Conv2dGeom = { ...c, cIn: c.cInG * c.groups, cOut: c.cOutG * c.groups };
  const nx = g.n * g.cIn * g.h * g.w, nw = g.cOut * c.cInG * g.kh * g.kw, ny = g.n * g.cOut * g.outH * g.outW;
  const x = rand(nx, c.seed), w = rand(nw, c.seed + 1), dy = rand(ny, c.seed + 2);
  const what = (k: string) => `${be.name} ${k} ${JSON.stringify(c)}`;
  const run = (k: 'conv2d' | 'conv2dGradInput' | 'conv2dGradWeight', p: Float32Array, q: Float32Array, len: number, terms: number) => {
    const got = new Float32Array(len).fill(NaN);
    expect(be.kernels[k]!(p, q, got, g)).toBe(true);
    // Reference results are cached per case: several backends check the same shapes.
    const key = `${k}:${JSON.stringify(c)}`;
    let r = refCache.get(key);
    if (!r) {
      const want = new Float32Array(len), bound = new Float32Array(len);
      ref[k](p, q, want, g);
      ref[k](abs(p), abs(q), bound, g);
      r = { want, bound };
      if (refCache.size > 64) refCache.clear();
      refCache.set(key, r);
    }
    expectClose(got, r.want, r.bound, terms, what(k));
  };
  run('conv2d', x, w, ny, c.cInG * g.kh * g.kw);
  run('conv2dGradInput', dy, w, nx, c.cOutG * g.kh * g.kw);
  run('conv2dGradWeight', x, dy, nw, g.n * g.outH * g.outW);
}

describe('wasm conv2d passes vs reference', () => {
  for (const be of backends) {
    it(`${be.name}: forward, input grad, weight grad on random geometry (groups, stride, pad, dilation)`, () => {
      fc.assert(fc.property(convCase, (c) => checkConv(be, c)), { numRuns: 40 });
    });
  }
  it('few output channels at stride 1 (direct SIMD row path)', () => {
    const arb = fc
      .record({
        n: fc.integer({ min: 1, max: 2 }), cInG: fc.integer({ min: 1, max: 6 }), cOutG: fc.integer({ min: 1, max: 3 }),
        h: fc.integer({ min: 1, max: 14 }), w: fc.integer({ min: 1, max: 23 }), kh: fc.integer({ min: 1, max: 4 }), kw: fc.integer({ min: 1, max: 4 }),
        padH: fc.integer({ min: 0, max: 2 }), padW: fc.integer({ min: 0, max: 2 }), seed: fc.integer({ min: 1, max: 1 << 30 }),
      })
      .map((c) => ({ ...c, groups: 1, strideH: 1, strideW: 1, dilH: 1, dilW: 1, outH: convOutSize(c.h, c.kh, 1, c.padH, 1), outW: convOutSize(c.w, c.kw, 1, c.padW, 1) }))
      .filter((c) => c.outH >= 1 && c.outW >= 1);
    for (const be of [single, threaded, rowsDirect, paddedDirect, paddedDirectMt]) fc.assert(fc.property(arb, (c) => checkConv(be, c)), { numRuns: 40 });
  });
  it('few output channels, any stride / dilation / padding, wide kernels (taps-first forward, flipped-weight input grad)', () => {
    const arb = fc
      .record({
        n: fc.integer({ min: 1, max: 3 }), cIn: fc.integer({ min: 1, max: 9 }), cOut: fc.integer({ min: 1, max: 3 }),
        h: fc.integer({ min: 1, max: 19 }), w: fc.integer({ min: 1, max: 37 }), kh: fc.integer({ min: 1, max: 6 }), kw: fc.integer({ min: 1, max: 6 }),
        strideH: fc.integer({ min: 1, max: 2 }), strideW: fc.integer({ min: 1, max: 2 }), dilH: fc.integer({ min: 1, max: 2 }), dilW: fc.integer({ min: 1, max: 2 }),
        padH: fc.integer({ min: 0, max: 2 }), padW: fc.integer({ min: 0, max: 2 }), seed: fc.integer({ min: 1, max: 1 << 30 }),
      })
      .map((c) => ({ ...c, cInG: c.cIn, cOutG: c.cOut, groups: 1, outH: convOutSize(c.h, c.kh, c.strideH, c.padH, c.dilH), outW: convOutSize(c.w, c.kw, c.strideW, c.padW, c.dilW) }))
      .filter((c) => c.outH >= 1 && c.outW >= 1);
    for (const be of [single, threaded, tiny, paddedDirect, paddedDirectMt]) fc.assert(fc.property(arb, (c) => checkConv(be, c)), { numRuns: 30 });
  });
  it('PatchGAN-like layer shapes (4x4 stride 2 pad 1) and 1x1 / transposed-conv shapes', () => {
    const base = { groups: 1, dilH: 1, dilW: 1, seed: 3 };
    const mk = (n: number, cInG: number, cOutG: number, h: number, k: number, s: number, p: number): ConvCase => ({
      ...base, n, cInG, cOutG, h, w: h, kh: k, kw: k, strideH: s, strideW: s, padH: p, padW: p,
      outH: convOutSize(h, k, s, p, 1), outW: convOutSize(h, k, s, p, 1),
    });
    for (const be of [single, threaded, threadedStatic]) {
      checkConv(be, mk(2, 3, 16, 34, 4, 2, 1));
      checkConv(be, mk(1, 16, 20, 13, 4, 1, 1));
      checkConv(be, mk(2, 12, 7, 9, 1, 1, 0));
      checkConv(be, mk(1, 6, 5, 8, 2, 2, 0));
      checkConv(be, mk(1, 24, 3, 16, 3, 1, 1));
      checkConv(be, mk(2, 40, 1, 17, 4, 1, 1)); // PatchGAN output layer (1 channel)
      checkConv(be, mk(1, 40, 8, 48, 4, 2, 1)); // input-grad GEMM 640 x 576: more row panels, >= 64 column panels
    }
    for (const be of [single, threaded, paddedDirect, paddedDirectMt]) checkConv(be, mk(1, 70, 1, 31, 4, 1, 1)); // wide B in place, chunks
  });
  it('declines float64', () => {
    const g: Conv2dGeom = { n: 1, cIn: 1, h: 2, w: 2, cOut: 1, kh: 1, kw: 1, strideH: 1, strideW: 1, padH: 0, padW: 0, dilH: 1, dilW: 1, groups: 1, outH: 2, outW: 2 };
    const d = new Float64Array(4);
    expect(single.kernels.conv2d!(d, new Float64Array(1), d, g)).toBe(false);
  });
});

// The float64 gradcheck runs on the reference kernels (the wasm backend declines float64), so the
// wasm conv gradients are also checked for what gradcheck establishes, in float32: the input and
// weight gradients are the adjoints of the forward pass, <conv(x, w), dy> = <x, dL/dx> =
// <w, dL/dw>, on random shapes that take every fast path (GEMM, taps-first, flipped, direct).
describe('wasm conv gradients are adjoint to the forward pass', () => {
  const dot = (a: Float32Array, b: Float32Array) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!; return s; };
  const absDot = (a: Float32Array, b: Float32Array) => { let s = 0; for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! * b[i]!); return s; };
  const arb = fc
    .record({
      n: fc.integer({ min: 1, max: 2 }), cIn: fc.integer({ min: 1, max: 12 }), cOut: fc.integer({ min: 1, max: 12 }),
      h: fc.integer({ min: 1, max: 21 }), w: fc.integer({ min: 1, max: 21 }), kh: fc.integer({ min: 1, max: 4 }), kw: fc.integer({ min: 1, max: 4 }),
      s: fc.integer({ min: 1, max: 2 }), padH: fc.integer({ min: 0, max: 2 }), padW: fc.integer({ min: 0, max: 2 }), seed: fc.integer({ min: 1, max: 1 << 30 }),
    })
    .map((c) => ({ ...c, outH: convOutSize(c.h, c.kh, c.s, c.padH, 1), outW: convOutSize(c.w, c.kw, c.s, c.padW, 1) }))
    .filter((c) => c.outH >= 1 && c.outW >= 1);
  for (const be of [single, threaded, paddedDirect]) {
    it(`${be.name}: <conv(x,w), dy> = <x, grad_x> = <w, grad_w>`, () => {
      fc.assert(fc.property(arb, (c) => {
        const g: Conv2dGeom = { n: c.n, cIn: c.cIn, cOut: c.cOut, h: c.h, w: c.w, kh: c.kh, kw: c.kw, strideH: c.s, strideW: c.s, padH: c.padH, padW: c.padW, dilH: 1, dilW: 1, groups: 1, outH: c.outH, outW: c.outW };
        const x = rand(c.n * c.cIn * c.h * c.w, c.seed), w = rand(c.cOut * c.cIn * c.kh * c.kw, c.seed + 1), dy = rand(c.n * c.cOut * c.outH * c.outW, c.seed + 2);
        const y = new Float32Array(dy.length), gx = new Float32Array(x.length), gw = new Float32Array(w.length);
        expect(be.kernels.conv2d!(x, w, y, g)).toBe(true);
        expect(be.kernels.conv2dGradInput!(dy, w, gx, g)).toBe(true);
        expect(be.kernels.conv2dGradWeight!(x, dy, gw, g)).toBe(true);
        const a = dot(y, dy), b = dot(x, gx), d = dot(w, gw);
        // Each side sums the same products of x, w, dy; every float32 output element sums at most
        // `terms` products (error <= (terms + 2) * 2^-23 * its sum of |products|); the dots are float64.
        const terms = Math.max(c.cIn, c.cOut) * c.kh * c.kw + c.n * c.outH * c.outW;
        const tol = (terms + 2) * 2 ** -23 * (absDot(y, dy) + absDot(x, gx) + absDot(w, gw)) + 1e-6;
        expect(Math.abs(a - b)).toBeLessThanOrEqual(tol);
        expect(Math.abs(a - d)).toBeLessThanOrEqual(tol);
      }), { numRuns: 30 });
    });
  }
});
