/** The gpu.js kernels (webasm mode here) against the reference backend on a few random shapes. */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { convOutSize, type Conv2dGeom, type Kernels } from '../../src/autodiff/backend.js';
import { referenceBackend } from '../../src/autodiff/backends/reference.js';
import { GpujsBackend } from '../../src/autodiff/backends/gpujs.js';
import { rand, abs, expectClose } from './float32-check.js';

const ref = referenceBackend.kernels as Kernels;
const be = new GpujsBackend({ mode: 'webasm' });
afterAll(() => be.dispose());

describe('gpu.js kernels vs reference', () => {
  it('matmul (transposes, broadcast batch)', () => {
    fc.assert(
      fc.property(
        fc.record({ batch: fc.integer({ min: 1, max: 2 }), m: fc.integer({ min: 1, max: 9 }), k: fc.integer({ min: 1, max: 9 }), n: fc.integer({ min: 1, max: 9 }), tA: fc.boolean(), tB: fc.boolean(), bA: fc.boolean(), seed: fc.nat() }),
        ({ batch, m, k, n, tA, tB, bA, seed }) => {
          const a = rand(batch * m * k, seed + 1), b = rand(batch * k * n, seed + 2);
          const base = { batch, m, k, n, transA: tA, transB: tB, strideA: bA ? 0 : m * k, strideB: k * n };
          const got = new Float32Array(batch * m * n), want = got.slice(), bound = got.slice();
          expect(be.kernels.matmul({ ...base, a, b, out: got })).toBe(true);
          ref.matmul({ ...base, a, b, out: want });
          ref.matmul({ ...base, a: abs(a), b: abs(b), out: bound });
          expectClose(got, want, bound, k, `matmul ${JSON.stringify(base)}`);
        },
      ),
      { numRuns: 8 },
    );
  });
  it('conv2d passes (stride, pad, dilation, groups)', () => {
    fc.assert(
      fc.property(
        fc.record({ n: fc.integer({ min: 1, max: 2 }), cInG: fc.integer({ min: 1, max: 3 }), cOutG: fc.integer({ min: 1, max: 3 }), groups: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 2, max: 7 }), k: fc.integer({ min: 1, max: 3 }), s: fc.integer({ min: 1, max: 2 }), p: fc.integer({ min: 0, max: 2 }), d: fc.integer({ min: 1, max: 2 }), seed: fc.nat() })
          .filter((c) => convOutSize(c.h, c.k, c.s, c.p, c.d) >= 1),
        (c) => {
          const o = convOutSize(c.h, c.k, c.s, c.p, c.d);
          const g: Conv2dGeom = { n: c.n, cIn: c.cInG * c.groups, h: c.h, w: c.h + 1, cOut: c.cOutG * c.groups, kh: c.k, kw: c.k, strideH: c.s, strideW: c.s, padH: c.p, padW: c.p, dilH: c.d, dilW: c.d, groups: c.groups, outH: o, outW: convOutSize(c.h + 1, c.k, c.s, c.p, c.d) };
          const nx = g.n * g.cIn * g.h * g.w, nw = g.cOut * c.cInG * g.kh * g.kw, ny = g.n * g.cOut * g.outH * g.outW;
          const x = rand(nx, c.seed + 1), w = rand(nw, c.seed + 2), dy = rand(ny, c.seed + 3);
          for (const [k, p, q, len, terms] of [['conv2d', x, w, ny, c.cInG * c.k * c.k], ['conv2dGradInput', dy, w, nx, c.cOutG * c.k * c.k], ['conv2dGradWeight', x, dy, nw, g.n * g.outH * g.outW]] as const) {
            const got = new Float32Array(len), want = got.slice(), bound = got.slice();
            expect(be.kernels[k](p, q, got, g)).toBe(true);
            ref[k](p, q, want, g);
            ref[k](abs(p), abs(q), bound, g);
            expectClose(got, want, bound, terms, `${k} ${JSON.stringify(g)}`);
          }
        },
      ),
      { numRuns: 6 },
    );
  });
});
