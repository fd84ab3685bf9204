/**
 * Resident (zero-copy) operands of the wasm backend: views from backend.resident(n) live in the
 * module's shared memory, kernels read them in place and write resident outputs in place. These
 * tests run every kernel with random choices of which operands are resident (on one lane and on
 * the worker pool) against the reference backend, check that nothing outside an output view is
 * written and no input is modified, that an output overlapping an input still gets the right
 * answer, and the allocator's bookkeeping (reuse, release errors, views surviving memory growth).
 *
 * Tolerance as in wasm.test.ts: (K + 2) * 2^-23 * sum |a||b| per element (float32 accumulation
 * of K products in any order against the float64-accumulating reference).
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { convOutSize, type Conv2dGeom, type Kernels } from '../../src/autodiff/backend.js';
import { referenceBackend } from '../../src/autodiff/backends/reference.js';
import { WasmBackend } from '../../src/autodiff/backends/wasm/backend.js';
import { createNodeWasmBackend } from '../../src/node/wasm-backend.js';
import { rand, abs, expectClose } from './float32-check.js';

const ref = referenceBackend.kernels as Kernels;

const single = new WasmBackend({ name: 'wasm-1' });
const threaded = createNodeWasmBackend({ name: 'wasm-mt', parallelMinFlops: 0, parallelMinWork: 0, pool: { threads: 2 } });
const tiny = new WasmBackend({ name: 'wasm-tiny', gemm: { kc: 5, mc: 8, nc: 16 } });
const fewDirect = createNodeWasmBackend({ name: 'wasm-direct-mt', fewOut: 'direct', directChunk: 2, parallelMinWork: 0, pool: { threads: 2 } });
const backends = [single, threaded, tiny, fewDirect];
afterAll(() => backends.forEach((b) => b.dispose()));

const SENTINEL = 12345.5;

/**
 * An operand placed as asked: a plain array, or a resident view starting `lead` floats into a
 * resident block with `pad` sentinel floats on either side (so out-of-view writes show).
 */
interface Placed { view: Float32Array; block: Float32Array | null; lead: number }
function place(be: WasmBackend, data: Float32Array, resident: boolean, lead: number): Placed {
  if (!resident) return { view: data.slice(), block: null, lead: 0 };
  const block = be.resident(data.length + 2 * lead + 3);
  block.fill(SENTINEL);
  const view = block.subarray(lead, lead + data.length);
  view.set(data);
  return { view, block, lead };
}
function checkSentinels(p: Placed, len: number, what: string): void {
  if (!p.block) return;
  for (let i = 0; i < p.block.length; i++) {
    if (i >= p.lead && i < p.lead + len) continue;
    if (p.block[i] !== SENTINEL) throw new Error(`${what}: wrote outside the resident output view (block element ${i} = ${p.block[i]})`);
  }
}

type Kind = 'conv2d' | 'conv2dGradInput' | 'conv2dGradWeight';

const convCase = fc
  .record({
    n: fc.integer({ min: 1, max: 3 }),
    cIn: fc.integer({ min: 1, max: 7 }),
    cOut: fc.integer({ min: 1, max: 9 }),
    h: fc.integer({ min: 1, max: 13 }),
    w: fc.integer({ min: 1, max: 13 }),
    k: fc.integer({ min: 1, max: 4 }),
    s: fc.integer({ min: 1, max: 2 }),
    p: fc.integer({ min: 0, max: 2 }),
    // Which of (first input, second input, output) are resident, and their offsets in their blocks.
    res: fc.tuple(fc.boolean(), fc.boolean(), fc.boolean()),
    lead: fc.integer({ min: 0, max: 5 }),
    seed: fc.integer({ min: 1, max: 1 << 30 }),
  })
  .map((c) => ({ ...c, outH: convOutSize(c.h, c.k, c.s, c.p, 1), outW: convOutSize(c.w, c.k, c.s, c.p, 1) }))
  .filter((c) => c.outH >= 1 && c.outW >= 1);
type ConvCase = typeof convCase extends fc.Arbitrary<infer T> ? T : never;

function checkConv(be: WasmBackend, c: ConvCase): void {
  const g: Conv2dGeom = {
    n: c.n, cIn: c.cIn, cOut: c.cOut, h: c.h, w: c.w, kh: c.k, kw: c.k, strideH: c.s, strideW: c.s,
    padH: c.p, padW: c.p, dilH: 1, dilW: 1, groups: 1, outH: c.outH, outW: c.outW,
  };
  const nx = g.n * g.cIn * g.h * g.w, nw = g.cOut * g.cIn * g.kh * g.kw, ny = g.n * g.cOut * g.outH * g.outW;
  const x = rand(nx, c.seed), w = rand(nw, c.seed + 1), dy = rand(ny, c.seed + 2);
  const cases: [Kind, Float32Array, Float32Array, number, number][] = [
    ['conv2d', x, w, ny, g.cIn * g.kh * g.kw],
    ['conv2dGradInput', dy, w, nx, g.cOut * g.kh * g.kw],
    ['conv2dGradWeight', x, dy, nw, g.n * g.outH * g.outW],
  ];
  for (const [k, p, q, len, terms] of cases) {
    const what = `${be.name} ${k} ${JSON.stringify(c)}`;
    const pp = place(be, p, c.res[0], c.lead), qp = place(be, q, c.res[1], c.lead + 1);
    const op = place(be, new Float32Array(len).fill(NaN), c.res[2], c.lead + 2);
    try {
      expect(be.kernels[k]!(pp.view, qp.view, op.view, g)).toBe(true);
      const want = new Float32Array(len), bound = new Float32Array(len);
      ref[k](p, q, want, g);
      ref[k](abs(p), abs(q), bound, g);
      expectClose(op.view, want, bound, terms, what);
      checkSentinels(op, len, what);
      // Inputs are read only.
      expect(pp.view).toEqual(p);
      expect(qp.view).toEqual(q);
      checkSentinels(pp, p.length, `${what} (first input's block)`);
      checkSentinels(qp, q.length, `${what} (second input's block)`);
    } finally {
      for (const b of [pp.block, qp.block, op.block]) if (b) be.release(b);
    }
  }
}

describe('wasm kernels on resident (zero-copy) operands vs reference', () => {
  for (const be of backends) {
    it(`${be.name}: conv passes, any mix of resident and plain operands (strides 1/2, pads 0..2, batch > 1)`, () => {
      fc.assert(fc.property(convCase, (c) => checkConv(be, c)), { numRuns: 40 });
      expect(be.residentBytes()).toBe(0);
    });
  }

  it('PatchGAN-like shapes with every operand resident (GEMM, taps-first, flipped-weight and direct paths)', () => {
    const mk = (n: number, cIn: number, cOut: number, h: number, k: number, s: number, p: number, seed: number): ConvCase => ({
      n, cIn, cOut, h, w: h, k, s, p, res: [true, true, true], lead: 1, seed,
      outH: convOutSize(h, k, s, p, 1), outW: convOutSize(h, k, s, p, 1),
    });
    for (const be of backends) {
      checkConv(be, mk(2, 1, 16, 34, 4, 2, 1, 3));
      checkConv(be, mk(1, 16, 20, 13, 4, 1, 1, 4));
      checkConv(be, mk(2, 40, 1, 17, 4, 1, 1, 5));
      checkConv(be, mk(1, 12, 7, 9, 1, 1, 0, 6));
    }
  });

  const mmCase = fc.record({
    batch: fc.integer({ min: 1, max: 3 }), m: fc.integer({ min: 1, max: 37 }), k: fc.integer({ min: 1, max: 70 }), n: fc.integer({ min: 1, max: 90 }),
    transA: fc.boolean(), transB: fc.boolean(), bcastA: fc.boolean(),
    res: fc.tuple(fc.boolean(), fc.boolean(), fc.boolean()), lead: fc.integer({ min: 0, max: 5 }), seed: fc.integer({ min: 1, max: 1 << 30 }),
  });
  for (const be of [single, threaded, tiny]) {
    it(`${be.name}: matmul with resident operands`, () => {
      fc.assert(fc.property(mmCase, (c) => {
        const strideA = c.bcastA ? 0 : c.m * c.k, strideB = c.k * c.n;
        const a = rand(Math.max(1, c.batch * c.m * c.k), c.seed), b = rand(c.batch * c.k * c.n, c.seed + 1);
        const len = c.batch * c.m * c.n;
        const base = { batch: c.batch, m: c.m, k: c.k, n: c.n, transA: c.transA, transB: c.transB, strideA, strideB };
        const ap = place(be, a, c.res[0], c.lead), bp = place(be, b, c.res[1], c.lead + 1), op = place(be, new Float32Array(len).fill(NaN), c.res[2], c.lead + 2);
        try {
          expect(be.kernels.matmul!({ ...base, a: ap.view, b: bp.view, out: op.view })).toBe(true);
          const want = new Float32Array(len), bound = new Float32Array(len);
          ref.matmul({ ...base, a, b, out: want });
          ref.matmul({ ...base, a: abs(a), b: abs(b), out: bound });
          expectClose(op.view, want, bound, c.k, `${be.name} matmul ${JSON.stringify(c)}`);
          checkSentinels(op, len, 'matmul');
          expect(ap.view).toEqual(a);
          expect(bp.view).toEqual(b);
        } finally {
          for (const x of [ap.block, bp.block, op.block]) if (x) be.release(x);
        }
      }), { numRuns: 40 });
      expect(be.residentBytes()).toBe(0);
    });
  }

  it('an output that overlaps an input gets the result computed from the original input', () => {
    for (const be of [single, threaded]) {
      // 3x3 pad 1 stride 1 conv with cIn = cOut: x and y have the same size, y written over x.
      const g: Conv2dGeom = { n: 2, cIn: 6, cOut: 6, h: 9, w: 7, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, dilH: 1, dilW: 1, groups: 1, outH: 9, outW: 7 };
      const x = rand(g.n * g.cIn * g.h * g.w, 11), w = rand(g.cOut * g.cIn * 9, 12);
      const want = new Float32Array(x.length), bound = new Float32Array(x.length);
      ref.conv2d(x, w, want, g);
      ref.conv2d(abs(x), abs(w), bound, g);
      const buf = be.resident(x.length);
      buf.set(x);
      expect(be.kernels.conv2d!(buf, w, buf, g)).toBe(true);
      expectClose(buf, want, bound, g.cIn * 9, `${be.name} in-place conv2d`);
      // Partial overlap: the output starts a few floats into the input.
      const big = be.resident(x.length + 5);
      big.set(x);
      const out = big.subarray(5, 5 + x.length);
      expect(be.kernels.conv2d!(big.subarray(0, x.length), w, out, g)).toBe(true);
      expectClose(out, want, bound, g.cIn * 9, `${be.name} overlapping conv2d`);
      be.release(buf);
      be.release(big);
    }
  });

  it('allocator: holes are reused, errors on foreign or double release, views survive memory growth', () => {
    const be = new WasmBackend({ name: 'alloc' });
    const a = be.resident(1000), b = be.resident(10), c = be.resident(1000);
    expect(Array.from(a.subarray(0, 4))).toEqual([0, 0, 0, 0]);
    const at = a.byteOffset;
    be.release(a);
    const a2 = be.resident(500);
    expect(a2.byteOffset).toBe(at);
    expect(() => be.release(a)).toThrow(/not a live resident buffer/);
    expect(() => be.release(new Float32Array(10))).toThrow(/not a live resident buffer/);
    expect(() => be.release(c.subarray(1))).toThrow(/not a live resident buffer/);
    // A reused block is zeroed again.
    a2.fill(7);
    be.release(a2);
    expect(be.resident(500).every((v) => v === 0)).toBe(true);
    b.fill(3);
    const pagesBefore = be.context().memory.buffer.byteLength;
    // A kernel needing far more scratch than the memory has makes it grow.
    const k = 2_000_000, av = rand(k, 3), bv = rand(2 * k, 4), out = new Float32Array(2);
    expect(be.kernels.matmul!({ a: av, b: bv, out, batch: 1, m: 1, k, n: 2, transA: false, transB: false, strideA: 0, strideB: 0 })).toBe(true);
    expect(be.context().memory.buffer.byteLength).toBeGreaterThan(pagesBefore);
    expect(b.length).toBe(10);
    expect(Array.from(b)).toEqual(new Array(10).fill(3));
    // ... and a view made before the growth still counts as resident (used in place).
    const y = be.resident(4);
    expect(be.kernels.matmul!({ a: b.subarray(0, 4), b: b.subarray(0, 4), out: y, batch: 1, m: 2, k: 2, n: 2, transA: false, transB: false, strideA: 0, strideB: 0 })).toBe(true);
    expect(Array.from(y)).toEqual([18, 18, 18, 18]);
    be.dispose();
  });
});
