import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Tensor } from '../../src/autodiff/index.js';
import { noGrad } from '../../src/autodiff/tape.js';
import { softRasterize } from '../../src/render/raster/soft.js';
import { naiveSoftRasterize, type NaiveOptions } from './soft-naive.js';

// Random small scenes: up to 4 triangles in a 9 x 7 image (vertices may lie outside it), random
// heights and 2 attribute channels, sharp and soft settings, culling on and off. The cutoff is
// tiny so that the two implementations cannot disagree about a pixel sitting exactly at it.
// (integers / 997: fast-check's doubles cluster at 0 and denormals, which would make nearly
// every triangle degenerate)
const coord = (lo: number, hi: number) => fc.integer({ min: Math.round(lo * 997), max: Math.round(hi * 997) }).map((k) => k / 997);
const sceneArb = fc.record({
  tris: fc.array(fc.tuple(coord(-2, 11), coord(-2, 9), coord(0, 4)), { minLength: 3, maxLength: 12 }),
  attrs: fc.array(coord(-1, 1), { minLength: 24, maxLength: 24 }),
  sigma: fc.constantFrom(0.05, 0.3, 1.5),
  gamma: fc.constantFrom(0.2, 1, 5),
  cull: fc.boolean(),
});

function build(s: { tris: [number, number, number][]; attrs: number[]; sigma: number; gamma: number; cull: boolean }) {
  const pts = s.tris.slice(0, s.tris.length - (s.tris.length % 3));
  const V = Float64Array.from(pts.flat());
  const nv = pts.length;
  const A = Float64Array.from(s.attrs.slice(0, 2 * nv));
  const faces = Uint32Array.from({ length: nv }, (_, i) => i);
  const opts: NaiveOptions = { width: 9, height: 7, sigma: s.sigma, gamma: s.gamma, cutoff: 1e-13, cullBackfaces: s.cull, background: [0.25, -0.5] };
  return { V, A, faces, nv, opts };
}

describe('fast soft rasterizer = naive reference', () => {
  it('values agree on random small scenes', () => {
    fc.assert(
      fc.property(sceneArb, (s) => {
        const { V, A, faces, nv, opts } = build(s);
        const fast = noGrad(() => softRasterize(new Tensor(Float64Array.from(V), [nv, 3]), faces, new Tensor(Float64Array.from(A), [nv, 2]), opts));
        const naive = naiveSoftRasterize(V, faces, A, 2, opts);
        for (let i = 0; i < naive.length; i++) {
          if (!(Math.abs(fast.data[i] - naive[i]) <= 1e-9)) throw new Error(`element ${i}: fast ${fast.data[i]} naive ${naive[i]}`);
        }
      }),
      { numRuns: 200, seed: 11 },
    );
  });

  it('gradients (vertices and attributes) agree with central differences of the naive reference', () => {
    let nonTrivial = 0;
    fc.assert(
      fc.property(sceneArb, fc.integer({ min: 0, max: 1e6 }), (s, wseed) => {
        const { V, A, faces: all, nv, opts } = build(s);
        // skipping near-degenerate faces and culling are discontinuous by design: use only faces
        // clearly away from zero area, so that finite differences see a smooth function
        const kept: number[] = [];
        for (let f = 0; f < nv / 3; f++) {
          const o = 9 * f;
          const area2 = (V[o + 3] - V[o]) * (V[o + 7] - V[o + 1]) - (V[o + 4] - V[o + 1]) * (V[o + 6] - V[o]);
          if (Math.abs(area2) > 0.05) kept.push(all[3 * f], all[3 * f + 1], all[3 * f + 2]);
        }
        const faces = Uint32Array.from(kept);
        if (kept.length) nonTrivial++;
        const n = 3 * 9 * 7;
        const wt = Float64Array.from({ length: n }, (_, i) => Math.sin(1.7 * i + wseed));
        const v = new Tensor(Float64Array.from(V), [nv, 3], true);
        const a = new Tensor(Float64Array.from(A), [nv, 2], true);
        const out = softRasterize(v, faces, a, opts);
        out.backward(new Tensor(wt, out.shape));
        const obj = (VV: Float64Array, AA: Float64Array) => {
          const o = naiveSoftRasterize(VV, faces, AA, 2, opts);
          let sum = 0;
          for (let i = 0; i < n; i++) sum += o[i] * wt[i];
          return sum;
        };
        const eps = 1e-6;
        const f0 = obj(V, A);
        const check = (which: 'V' | 'A', grad: ArrayLike<number>) => {
          const base = which === 'V' ? V : A;
          for (let i = 0; i < base.length; i++) {
            const up = Float64Array.from(base), dn = Float64Array.from(base);
            up[i] += eps;
            dn[i] -= eps;
            const fu = which === 'V' ? obj(up, A) : obj(V, up);
            const fd = which === 'V' ? obj(dn, A) : obj(V, dn);
            // Only where the naive function is differentiable: at a kink (a pixel centre exactly on
            // a medial axis or a clipping line, which the biased random doubles do produce) the
            // one-sided differences disagree and no single gradient is right.
            const right = (fu - f0) / eps, left = (f0 - fd) / eps;
            if (Math.abs(right - left) > 1e-4 + 1e-3 * Math.abs(right)) continue;
            const num = (fu - fd) / (2 * eps);
            const err = Math.abs(grad[i] - num);
            if (!(err <= 2e-5 + 2e-4 * Math.abs(num))) throw new Error(`d/d${which}[${i}]: fast ${grad[i]} numeric ${num}`);
          }
        };
        check('V', v.grad?.data ?? new Float64Array(V.length));
        check('A', a.grad?.data ?? new Float64Array(A.length));
      }),
      { numRuns: 60, seed: 12 },
    );
    expect(nonTrivial).toBeGreaterThan(30);
  });
});
