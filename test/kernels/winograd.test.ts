/**
 * Winograd F(2x2, 4x4) (src/autodiff/backends/wasm/emit/winograd.ts, conv.ts winogradConv):
 * and the weight gradient as F(4x4, 2x2): the matrices' identity in float64, the three passes against the
 * reference backend on random shapes (odd sizes, padding 0-3, batch 1-2, channel counts not a
 * multiple of 4, tile rows not a multiple of 4), on one lane, on several lanes and with tiny GEMM
 * blocks; and the error on PatchGAN-like activations.
 *
 * Tolerance: the float32 bound of the GEMM tests, (K + 2) 2^-23 times the sum of |x||w|, grows
 * by the transforms: every product passes through BT, G and AT, whose entries multiply its
 * rounding errors by at most amp = (max over a, y, t of sum_k |AT[a][k] G[k][t] BT[k][y]|)^2
 * (about 60 here). The tests use amp times the bound with the largest |x||w| sum of the case
 * (a transform mixes all 25 inputs of a tile into every output of it).
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { convOutSize, type Conv2dGeom, type Kernels } from '../../src/autodiff/backend.js';
import { referenceBackend } from '../../src/autodiff/backends/reference.js';
import { WasmBackend } from '../../src/autodiff/backends/wasm/backend.js';
import { WINO4_AT, WINO4_G, WINO_AT, WINO_BT, WINO_G } from '../../src/autodiff/backends/wasm/emit/winograd.js';
import { createNodeWasmBackend } from '../../src/node/wasm-backend.js';
import { rand, abs } from './float32-check.js';

const ref = referenceBackend.kernels as Kernels;

const single = new WasmBackend({ name: 'wino-1', winograd: 'always' });
const threaded = createNodeWasmBackend({ name: 'wino-mt', winograd: 'always', parallelMinFlops: 0, parallelMinWork: 0, pool: { threads: 3 } });
const tiny = new WasmBackend({ name: 'wino-tiny', winograd: 'always', gemm: { kc: 5, mc: 8, nc: 16, unroll: 2 } });
const off = new WasmBackend({ name: 'wino-off', winograd: 'off' });
const backends = [single, threaded, tiny];
afterAll(() => [...backends, off].forEach((b) => b.dispose()));

type Mat = readonly (readonly number[])[];
function amplification(at: Mat, gm: Mat): number {
  let worst = 0;
  for (const row of at) {
    for (let y = 0; y < 5; y++) {
      for (let t = 0; t < gm[0]!.length; t++) {
        let s = 0;
        for (let k = 0; k < 5; k++) s += Math.abs(row[k]! * gm[k]![t]! * WINO_BT[k]![y]!);
        worst = Math.max(worst, s);
      }
    }
  }
  return worst * worst;
}
const AMP = amplification(WINO_AT, WINO_G);
const AMP4 = amplification(WINO4_AT, WINO4_G);

describe('Winograd F(2, 4) and F(4, 2) matrices', () => {
  it('A4T [(G4 e) .* (BT d)] is the correlation of d (5) with e (2), in float64', () => {
    fc.assert(fc.property(fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 7, maxLength: 7 }), (v) => {
      const d = v.slice(0, 5), e = v.slice(5);
      const ee = WINO4_G.map((row) => row.reduce((s, c, t) => s + c * e[t]!, 0));
      const dd = WINO_BT.map((row) => row.reduce((s, c, y) => s + c * d[y]!, 0));
      for (let j = 0; j < 4; j++) {
        const got = WINO4_AT[j]!.reduce((s, c, k) => s + c * ee[k]! * dd[k]!, 0);
        const want = e.reduce((s, et, t) => s + et * d[j + t]!, 0);
        expect(Math.abs(got - want)).toBeLessThan(1e-12);
      }
    }), { numRuns: 200 });
  });

  it('AT [(G g) .* (BT d)] is the correlation of d (5) with g (4), in float64', () => {
    fc.assert(fc.property(fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 9, maxLength: 9 }), (v) => {
      const d = v.slice(0, 5), g = v.slice(5);
      const gg = WINO_G.map((row) => row.reduce((s, c, t) => s + c * g[t]!, 0));
      const dd = WINO_BT.map((row) => row.reduce((s, c, y) => s + c * d[y]!, 0));
      for (let j = 0; j < 2; j++) {
        const got = WINO_AT[j]!.reduce((s, c, k) => s + c * gg[k]! * dd[k]!, 0);
        const want = g.reduce((s, gt, t) => s + gt * d[j + t]!, 0);
        expect(Math.abs(got - want)).toBeLessThan(1e-12);
      }
    }), { numRuns: 200 });
  });
});

type Case = Conv2dGeom & { seed: number };

const caseArb = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }), cIn: fc.integer({ min: 1, max: 9 }), cOut: fc.integer({ min: 1, max: 9 }),
    h: fc.integer({ min: 1, max: 21 }), w: fc.integer({ min: 1, max: 21 }),
    padH: fc.integer({ min: 0, max: 3 }), padW: fc.integer({ min: 0, max: 3 }), seed: fc.integer({ min: 1, max: 1 << 30 }),
  })
  .map((c): Case => ({
    ...c, kh: 4, kw: 4, strideH: 1, strideW: 1, dilH: 1, dilW: 1, groups: 1,
    outH: convOutSize(c.h, 4, 1, c.padH, 1), outW: convOutSize(c.w, 4, 1, c.padW, 1),
  }))
  .filter((c) => c.outH >= 1 && c.outW >= 1);

/** Runs kernel k on the backend and the reference; returns max |got - want| and the tolerance. */
function compare(be: WasmBackend, k: 'conv2d' | 'conv2dGradInput' | 'conv2dGradWeight', p: Float32Array, q: Float32Array, len: number, terms: number, g: Conv2dGeom): { err: number; tol: number; scale: number } {
  const got = new Float32Array(len).fill(NaN);
  expect(be.kernels[k]!(p, q, got, g)).toBe(true);
  const want = new Float32Array(len), bound = new Float32Array(len);
  ref[k](p, q, want, g);
  ref[k](abs(p), abs(q), bound, g);
  let err = 0, bmax = 0, scale = 0;
  for (let i = 0; i < len; i++) {
    const e = Math.abs(got[i]! - want[i]!);
    err = Number.isNaN(e) ? Infinity : Math.max(err, e);
    bmax = Math.max(bmax, bound[i]!);
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return { err, tol: (k === 'conv2dGradWeight' ? AMP4 : AMP) * (terms + 2) * 2 ** -23 * bmax + 1e-30, scale };
}

function check(be: WasmBackend, c: Case): void {
  const g: Conv2dGeom = c;
  const nx = g.n * g.cIn * g.h * g.w, nw = g.cOut * g.cIn * 16, ny = g.n * g.cOut * g.outH * g.outW;
  const x = rand(nx, c.seed), w = rand(nw, c.seed + 1), dy = rand(ny, c.seed + 2);
  const f = compare(be, 'conv2d', x, w, ny, g.cIn * 16, g);
  if (!(f.err <= f.tol)) throw new Error(`${be.name} forward ${JSON.stringify(c)}: max error ${f.err} > ${f.tol}`);
  const b = compare(be, 'conv2dGradInput', dy, w, nx, g.cOut * 16, g);
  if (!(b.err <= b.tol)) throw new Error(`${be.name} input grad ${JSON.stringify(c)}: max error ${b.err} > ${b.tol}`);
  const gw = compare(be, 'conv2dGradWeight', x, dy, nw, g.n * g.outH * g.outW, g);
  if (!(gw.err <= gw.tol)) throw new Error(`${be.name} weight grad ${JSON.stringify(c)}: max error ${gw.err} > ${gw.tol}`);
}

describe('Winograd conv kernels vs reference', () => {
  for (const be of backends) {
    it(`${be.name}: forward, input gradient, weight gradient, random stride-1 4x4 shapes`, () => {
      fc.assert(fc.property(caseArb, (c) => check(be, c)), { numRuns: 60 });
    });
  }

  it('edge cases: 1x1 output, one tile column, odd sizes, exact tiling, padding 3', () => {
    const cases: [number, number, number, number, number, number, number][] = [
      // n, cIn, cOut, h, w, padH, padW
      [1, 1, 1, 4, 4, 0, 0], [2, 3, 5, 1, 1, 3, 3], [1, 4, 4, 17, 10, 0, 1], [2, 7, 6, 16, 16, 1, 1], [1, 5, 9, 9, 31, 2, 0],
    ];
    for (const [n, cIn, cOut, h, w, padH, padW] of cases) {
      const c: Case = {
        n, cIn, cOut, h, w, padH, padW, kh: 4, kw: 4, strideH: 1, strideW: 1, dilH: 1, dilW: 1, groups: 1, seed: 7 * h + w,
        outH: convOutSize(h, 4, 1, padH, 1), outW: convOutSize(w, 4, 1, padW, 1),
      };
      for (const be of backends) check(be, c);
    }
  });

  it('PatchGAN-like activations (post-LeakyReLU input, 256 channels): error near the GEMM path error', () => {
    // The PatchGAN's stride-1 layer, smaller: [1, 256, 12, 12] -> 32 channels, pad 1.
    const g: Conv2dGeom = { n: 1, cIn: 256, cOut: 32, h: 12, w: 12, kh: 4, kw: 4, strideH: 1, strideW: 1, padH: 1, padW: 1, dilH: 1, dilW: 1, groups: 1, outH: 11, outW: 11 };
    const x = rand(g.n * g.cIn * g.h * g.w, 11).map((v) => (v > 0 ? v : 0.2 * v));
    const w = rand(g.cOut * g.cIn * 16, 12).map((v) => 0.02 * v);
    const dy = rand(g.n * g.cOut * g.outH * g.outW, 13).map((v) => 1e-3 * v);
    const errs: Record<string, number> = {};
    for (const be of [single, off]) {
      const f = compare(be, 'conv2d', x, w, g.n * g.cOut * g.outH * g.outW, g.cIn * 16, g);
      const b = compare(be, 'conv2dGradInput', dy, w, g.n * g.cIn * g.h * g.w, g.cOut * 16, g);
      const gw = compare(be, 'conv2dGradWeight', x, dy, g.cOut * g.cIn * 16, g.n * g.outH * g.outW, g);
      errs[`${be.name} fwd`] = f.err / f.scale;
      errs[`${be.name} gin`] = b.err / b.scale;
      errs[`${be.name} gw`] = gw.err / gw.scale;
    }
    // Relative to the largest output (seen: forward / input gradient / weight gradient, GEMM path
    // 2.0e-6 / 8.3e-7 / 2.1e-7, Winograd 4.0e-6 / 1.7e-6 / 2.7e-6): forward and input gradient
    // within a few times the GEMM path's; the weight gradient (242 products per tap here, summed
    // exactly enough on the GEMM path) about 13x, still ~45 float32 ulps of its scale.
    for (const k of ['fwd', 'gin', 'gw']) expect(errs[`wino-1 ${k}`]).toBeLessThan(1e-5);
    for (const k of ['fwd', 'gin']) expect(errs[`wino-1 ${k}`]).toBeLessThan(4 * errs[`wino-off ${k}`]!);
  });

  it('the shape rule takes the PatchGAN stride-1 layer, not small or strided convs; off never', () => {
    const auto = new WasmBackend({ name: 'wino-auto' });
    const geo = (cIn: number, cOut: number, hw: number, s = 1): Conv2dGeom => ({
      n: 2, cIn, cOut, h: hw, w: hw, kh: 4, kw: 4, strideH: s, strideW: s, padH: 1, padW: 1, dilH: 1, dilW: 1, groups: 1,
      outH: convOutSize(hw, 4, s, 1, 1), outW: convOutSize(hw, 4, s, 1, 1),
    });
    expect(auto.pathFor('conv2d', geo(256, 512, 32))).toContain('winograd');
    expect(auto.pathFor('conv2dGradInput', geo(256, 512, 32))).toContain('winograd');
    expect(auto.pathFor('conv2dGradWeight', geo(256, 512, 32))).toContain('winograd');
    expect(auto.pathFor('conv2d', geo(512, 1, 31))).not.toContain('winograd');
    expect(auto.pathFor('conv2dGradInput', geo(32, 64, 8))).not.toContain('winograd');
    expect(auto.pathFor('conv2dGradInput', geo(32, 64, 16))).toContain('winograd');
    expect(auto.pathFor('conv2d', geo(128, 256, 64, 2))).not.toContain('winograd');
    expect(off.pathFor('conv2d', geo(256, 512, 32))).not.toContain('winograd');
    auto.dispose();
  });
});
