/**
 * Winograd convs (src/autodiff/backends/wasm/emit/winograd.ts, conv.ts winogradConv), for each
 * kernel size r (2, 3, 4): F(2x2, r x r) forward and input gradient, F(r x r, 2x2) weight
 * gradient; and stride-2 4x4 convs as four stride-1 2x2 convs (conv.ts polyphase).
 * The matrices' identities in float64; the three passes against the reference backend on random
 * shapes (odd sizes, padding 0..r-1, batch 1-2, channel counts not a multiple of 4, tile rows not
 * a multiple of 4), on one lane, on several lanes and with tiny GEMM blocks; and the error on
 * U-Net-like (3x3) and PatchGAN-like (4x4, stride 1 and 2) activations.
 *
 * Tolerance: the float32 bound of the GEMM tests, (K + 2) 2^-23 times the sum of |x||w|, grows
 * by the transforms: every product passes through BT, G and AT, whose entries multiply its
 * rounding errors by at most amp = (max over a, y, t of sum_k |AT[a][k] G[k][t] BT[k][y]|)^2
 * (about 60 for 4x4). The tests use amp times the bound with the largest |x||w| sum of the case
 * (a transform mixes all alpha^2 inputs of a tile into every output of it).
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { convOutSize, type Conv2dGeom, type Kernels } from '../../src/autodiff/backend.js';
import { referenceBackend } from '../../src/autodiff/backends/reference.js';
import { WasmBackend } from '../../src/autodiff/backends/wasm/backend.js';
import { WINO3, WINO4, WINO_SPECS, type WinoSpec } from '../../src/autodiff/backends/wasm/emit/winograd.js';
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
function amplification(at: Mat, gm: Mat, bt: Mat): number {
  const alpha = bt.length;
  let worst = 0;
  for (const row of at) {
    for (let y = 0; y < alpha; y++) {
      for (let t = 0; t < gm[0]!.length; t++) {
        let s = 0;
        for (let k = 0; k < alpha; k++) s += Math.abs(row[k]! * gm[k]![t]! * bt[k]![y]!);
        worst = Math.max(worst, s);
      }
    }
  }
  return worst * worst;
}
const AMP = new Map<number, { fwd: number; gw: number }>(WINO_SPECS.map((s) => [s.r, { fwd: amplification(s.AT, s.G, s.BT), gw: amplification(s.WAT, s.WG, s.BT) }]));

/** at [(g e) .* (bt d)] against the correlation of d (alpha) with e (taps), in float64. */
function checkIdentity(at: Mat, gm: Mat, bt: Mat): void {
  const alpha = bt.length, taps = gm[0]!.length;
  fc.assert(fc.property(fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: alpha + taps, maxLength: alpha + taps }), (v) => {
    const d = v.slice(0, alpha), e = v.slice(alpha);
    const ee = gm.map((row) => row.reduce((s, c, t) => s + c * e[t]!, 0));
    const dd = bt.map((row) => row.reduce((s, c, y) => s + c * d[y]!, 0));
    for (let j = 0; j < at.length; j++) {
      const got = at[j]!.reduce((s, c, k) => s + c * ee[k]! * dd[k]!, 0);
      const want = e.reduce((s, et, t) => s + et * d[j + t]!, 0);
      expect(Math.abs(got - want)).toBeLessThan(1e-12);
    }
  }), { numRuns: 200 });
}

describe('Winograd matrices', () => {
  for (const s of WINO_SPECS) {
    it(`F(2, ${s.r}): AT [(G g) .* (BT d)] is the correlation of d (${s.alpha}) with g (${s.r}), in float64`, () => checkIdentity(s.AT, s.G, s.BT));
    it(`F(${s.r}, 2): WAT [(WG e) .* (BT d)] is the correlation of d (${s.alpha}) with e (2), in float64`, () => checkIdentity(s.WAT, s.WG, s.BT));
  }
});

type Case = Conv2dGeom & { seed: number };

const caseArb = (r: number, stride = 1) => fc
  .record({
    n: fc.integer({ min: 1, max: 2 }), cIn: fc.integer({ min: 1, max: 9 }), cOut: fc.integer({ min: 1, max: 9 }),
    h: fc.integer({ min: 1, max: 21 }), w: fc.integer({ min: 1, max: 21 }),
    padH: fc.integer({ min: 0, max: r - 1 }), padW: fc.integer({ min: 0, max: r - 1 }), seed: fc.integer({ min: 1, max: 1 << 30 }),
  })
  .map((c): Case => ({
    ...c, kh: r, kw: r, strideH: stride, strideW: stride, dilH: 1, dilW: 1, groups: 1,
    outH: convOutSize(c.h, r, stride, c.padH, 1), outW: convOutSize(c.w, r, stride, c.padW, 1),
  }))
  .filter((c) => c.outH >= 1 && c.outW >= 1);

/** Runs kernel k on the backend and the reference; returns max |got - want|, the tolerance and the output's scale. */
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
  // A stride-2 4x4 conv runs as a 2x2 conv over its phase planes (conv.ts polyphase).
  const amp = AMP.get(g.strideH === 2 ? 2 : g.kh)!;
  return { err, tol: (k === 'conv2dGradWeight' ? amp.gw : amp.fwd) * (terms + 2) * 2 ** -23 * bmax + 1e-30, scale };
}

function check(be: WasmBackend, c: Case): void {
  const g: Conv2dGeom = c, taps = g.kh * g.kw;
  const nx = g.n * g.cIn * g.h * g.w, nw = g.cOut * g.cIn * taps, ny = g.n * g.cOut * g.outH * g.outW;
  const x = rand(nx, c.seed), w = rand(nw, c.seed + 1), dy = rand(ny, c.seed + 2);
  const f = compare(be, 'conv2d', x, w, ny, g.cIn * taps, g);
  if (!(f.err <= f.tol)) throw new Error(`${be.name} forward ${JSON.stringify(c)}: max error ${f.err} > ${f.tol}`);
  const b = compare(be, 'conv2dGradInput', dy, w, nx, g.cOut * taps, g);
  if (!(b.err <= b.tol)) throw new Error(`${be.name} input grad ${JSON.stringify(c)}: max error ${b.err} > ${b.tol}`);
  const gw = compare(be, 'conv2dGradWeight', x, dy, nw, g.n * g.outH * g.outW, g);
  if (!(gw.err <= gw.tol)) throw new Error(`${be.name} weight grad ${JSON.stringify(c)}: max error ${gw.err} > ${gw.tol}`);
}

const geomOf = (r: number, n: number, cIn: number, cOut: number, h: number, w: number, padH: number, padW: number): Conv2dGeom => ({
  n, cIn, cOut, h, w, padH, padW, kh: r, kw: r, strideH: 1, strideW: 1, dilH: 1, dilW: 1, groups: 1,
  outH: convOutSize(h, r, 1, padH, 1), outW: convOutSize(w, r, 1, padW, 1),
});

/** Max error relative to the largest output of the three passes, on one backend. */
function relErrors(be: WasmBackend, g: Conv2dGeom, x: Float32Array, w: Float32Array, dy: Float32Array): { fwd: number; gin: number; gw: number } {
  const taps = g.kh * g.kw;
  const f = compare(be, 'conv2d', x, w, g.n * g.cOut * g.outH * g.outW, g.cIn * taps, g);
  const b = compare(be, 'conv2dGradInput', dy, w, g.n * g.cIn * g.h * g.w, g.cOut * taps, g);
  const gw = compare(be, 'conv2dGradWeight', x, dy, g.cOut * g.cIn * taps, g.n * g.outH * g.outW, g);
  return { fwd: f.err / f.scale, gin: b.err / b.scale, gw: gw.err / gw.scale };
}

describe('Winograd conv kernels vs reference', () => {
  for (const spec of WINO_SPECS) {
    for (const be of backends) {
      it(`${be.name}: forward, input gradient, weight gradient, random stride-1 ${spec.r}x${spec.r} shapes`, () => {
        fc.assert(fc.property(caseArb(spec.r), (c) => check(be, c)), { numRuns: 60 });
      });
    }
  }

  for (const be of backends) {
    it(`${be.name}: stride-2 4x4 convs as four 2x2 convs (polyphase, F(2x2, 2x2)): forward, input gradient, weight gradient`, () => {
      fc.assert(fc.property(caseArb(4, 2), (c) => check(be, c)), { numRuns: 60 });
    });
  }

  it('edge cases: 1x1 output, one tile column, odd sizes, exact tiling, largest padding', () => {
    const cases: [number, number, number, number, number, number, number, number][] = [
      // r, n, cIn, cOut, h, w, padH, padW
      [4, 1, 1, 1, 4, 4, 0, 0], [4, 2, 3, 5, 1, 1, 3, 3], [4, 1, 4, 4, 17, 10, 0, 1], [4, 2, 7, 6, 16, 16, 1, 1], [4, 1, 5, 9, 9, 31, 2, 0],
      [3, 1, 1, 1, 3, 3, 0, 0], [3, 2, 3, 5, 1, 1, 2, 2], [3, 1, 4, 4, 17, 10, 0, 1], [3, 2, 7, 6, 16, 16, 1, 1], [3, 1, 5, 9, 9, 31, 2, 0],
      [3, 1, 8, 8, 8, 8, 1, 1],
    ];
    for (const [r, n, cIn, cOut, h, w, padH, padW] of cases) {
      const c: Case = { ...geomOf(r, n, cIn, cOut, h, w, padH, padW), seed: 7 * h + w };
      for (const be of backends) check(be, c);
    }
    // Stride-2 4x4 (polyphase): 1x1 output, odd sizes (the last input row / column unread), the PatchGAN's padding 1.
    const strided: [number, number, number, number, number, number, number][] = [
      [1, 1, 1, 4, 4, 0, 0], [2, 3, 5, 2, 2, 1, 1], [1, 4, 4, 17, 10, 1, 1], [2, 7, 6, 16, 16, 1, 1], [1, 5, 9, 9, 31, 3, 0],
    ];
    for (const [n, cIn, cOut, h, w, padH, padW] of strided) {
      const c: Case = {
        n, cIn, cOut, h, w, padH, padW, kh: 4, kw: 4, strideH: 2, strideW: 2, dilH: 1, dilW: 1, groups: 1, seed: 5 * h + w,
        outH: convOutSize(h, 4, 2, padH, 1), outW: convOutSize(w, 4, 2, padW, 1),
      };
      for (const be of backends) check(be, c);
    }
  });

  it('U-Net-like (3x3, post-ReLU input, 64 channels) and PatchGAN-like (4x4, post-LeakyReLU, 256 channels) activations: error near the GEMM path error', () => {
    const cases: { spec: WinoSpec; g: Conv2dGeom; act: (v: number) => number; ws: number }[] = [
      // The U-Net's level-3 conv, smaller: [2, 64, 12, 12] -> 32 channels, pad 1.
      { spec: WINO3, g: geomOf(3, 2, 64, 32, 12, 12, 1, 1), act: (v) => Math.max(0, v), ws: 0.06 },
      // The PatchGAN's stride-1 layer, smaller: [1, 256, 12, 12] -> 32 channels, pad 1.
      { spec: WINO4, g: geomOf(4, 1, 256, 32, 12, 12, 1, 1), act: (v) => (v > 0 ? v : 0.2 * v), ws: 0.02 },
      // The PatchGAN's stride-2 layer 3, smaller: [1, 128, 24, 24] -> 32 channels at 12 px (polyphase).
      { spec: WINO4, g: { ...geomOf(4, 1, 128, 32, 24, 24, 1, 1), strideH: 2, strideW: 2, outH: 12, outW: 12 }, act: (v) => (v > 0 ? v : 0.2 * v), ws: 0.02 },
    ];
    for (const { spec, g, act, ws } of cases) {
      const x = rand(g.n * g.cIn * g.h * g.w, 11).map(act);
      const w = rand(g.cOut * g.cIn * spec.r * spec.r, 12).map((v) => ws * v);
      const dy = rand(g.n * g.cOut * g.outH * g.outW, 13).map((v) => 1e-3 * v);
      const wino = relErrors(single, g, x, w, dy), gemm = relErrors(off, g, x, w, dy);
      // Relative to the largest output. Seen, GEMM path / Winograd, forward, input gradient,
      // weight gradient: 3x3 5.8e-7 / 7.3e-7, 6.2e-7 / 6.2e-7, 3.4e-7 / 4.8e-7; 4x4 2.0e-6 /
      // 4.0e-6, 8.3e-7 / 1.7e-6, 2.1e-7 / 2.7e-6; 4x4 stride 2 1.5e-6 / 1.6e-6, 4.5e-7 / 3.6e-7,
      // 1.7e-7 / 4.1e-7. Forward and input
      // gradient within a few times the GEMM path's; the weight gradient (hundreds of products
      // per tap, summed exactly enough on the GEMM path) more, still tens of float32 ulps of its scale.
      const what = `${spec.r}x${spec.r} stride ${g.strideH}`;
      for (const k of ['fwd', 'gin', 'gw'] as const) expect(wino[k], `${what} ${k}`).toBeLessThan(1e-5);
      for (const k of ['fwd', 'gin'] as const) expect(wino[k], `${what} ${k} vs GEMM ${gemm[k]}`).toBeLessThan(4 * gemm[k]);
    }
  });

  it('the 4x4 shape rule takes the PatchGAN stride-1 layer, not small convs; off never', () => {
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
    // A stride-2 4x4 conv goes the polyphase way (its own rule, below).
    expect(auto.pathFor('conv2d', geo(128, 256, 64, 2))).toContain('polyphase');
    expect(off.pathFor('conv2d', geo(256, 512, 32))).not.toContain('winograd');
    auto.dispose();
  });

  it('the stride-2 4x4 rule: polyphase from 16 channels and 512 outputs (input gradient 2048); the 1-channel first layer never', () => {
    const auto = new WasmBackend({ name: 'wino-auto' });
    const geo = (cIn: number, cOut: number, hw: number): Conv2dGeom => ({
      n: 2, cIn, cOut, h: hw, w: hw, kh: 4, kw: 4, strideH: 2, strideW: 2, padH: 1, padW: 1, dilH: 1, dilW: 1, groups: 1,
      outH: convOutSize(hw, 4, 2, 1, 1), outW: convOutSize(hw, 4, 2, 1, 1),
    });
    for (const k of ['conv2d', 'conv2dGradInput', 'conv2dGradWeight'] as const) {
      expect(auto.pathFor(k, geo(64, 128, 128))).toContain('polyphase');
      expect(auto.pathFor(k, geo(1, 64, 256))).not.toContain('polyphase');
      expect(auto.pathFor(k, geo(128, 256, 16))).not.toContain('polyphase');
      expect(off.pathFor(k, geo(64, 128, 128))).not.toContain('polyphase');
    }
    expect(auto.pathFor('conv2d', geo(64, 128, 32))).toContain('polyphase');
    expect(auto.pathFor('conv2dGradWeight', geo(64, 128, 32))).toContain('polyphase');
    expect(auto.pathFor('conv2dGradInput', geo(64, 128, 32))).not.toContain('polyphase');
    expect(auto.pathFor('conv2d', { ...geo(64, 128, 32), dilH: 2, dilW: 2, outH: 14, outW: 14 })).not.toContain('polyphase');
    auto.dispose();
  });

  it('the 3x3 shape rule: the U-Net convs from 8 channels, the input gradient only where cIn >= 32 or cIn >= max(cOut, 16); 1 input channel never', () => {
    const auto = new WasmBackend({ name: 'wino-auto' });
    const path = (k: 'conv2d' | 'conv2dGradInput' | 'conv2dGradWeight', cIn: number, cOut: number, hw: number) => auto.pathFor(k, geomOf(3, 4, cIn, cOut, hw, hw, 1, 1));
    for (const k of ['conv2d', 'conv2dGradInput', 'conv2dGradWeight'] as const) {
      expect(path(k, 1, 8, 128)).not.toContain('winograd');
      expect(path(k, 16, 8, 128)).toContain('winograd F(');
      expect(path(k, 32, 64, 16)).toContain('winograd');
      expect(off.pathFor(k, geomOf(3, 4, 64, 64, 16, 16, 1, 1))).not.toContain('winograd');
    }
    expect(path('conv2d', 8, 8, 128)).toContain('winograd F(2x2,3x3)');
    expect(path('conv2dGradWeight', 8, 16, 64)).toContain('winograd F(3x3,2x2)');
    expect(path('conv2dGradInput', 8, 8, 128)).not.toContain('winograd');
    expect(path('conv2dGradInput', 8, 16, 64)).not.toContain('winograd');
    expect(path('conv2dGradInput', 16, 32, 32)).not.toContain('winograd');
    expect(path('conv2dGradInput', 16, 16, 64)).toContain('winograd');
    // Strided or dilated 3x3 convs stay on the GEMM paths.
    expect(auto.pathFor('conv2dGradInput', geomOf(2, 4, 64, 64, 16, 16, 0, 0))).not.toContain('winograd');
    expect(auto.pathFor('conv2d', { ...geomOf(3, 4, 64, 64, 16, 16, 1, 1), strideH: 2, strideW: 2, outH: 8, outW: 8 })).not.toContain('winograd');
    expect(auto.pathFor('conv2d', { ...geomOf(3, 4, 64, 64, 16, 16, 1, 1), dilH: 2, dilW: 2, outH: 14, outW: 14 })).not.toContain('winograd');
    auto.dispose();
  });
});
