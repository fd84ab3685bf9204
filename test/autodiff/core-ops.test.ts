import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  Tensor, tensor, parameter, Rng, noGrad, add, sub, mul, div, maximum, relu, abs, sum, mean, max, matmul, slice, concat, pad,
  gather, scatterAdd, permute, reshape, where, sigmoid, logsumexp, exp, broadcastTo, stack,
} from '../../src/autodiff/index.js';
import { gradcheck, randomInput } from '../../src/autodiff/gradcheck.js';
import { gradcheckCases } from '../../src/autodiff/ops/index.js';
import { sizeOf, stridesOf } from '../../src/autodiff/shape.js';

const dims = (maxRank = 3, maxDim = 4) => fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: 1, maxLength: maxRank });
const seed = fc.integer({ min: 0, max: 1e6 });

/** A shape that broadcasts against `shape`: some trailing dims, some set to 1. */
const broadcastPartner = (shape: number[]) =>
  fc.tuple(fc.integer({ min: 0, max: shape.length }), fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length })).map(([drop, ones]) =>
    shape.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)),
  );

function naiveIndex(shape: readonly number[], flat: number): number[] {
  const s = stridesOf(shape);
  return shape.map((_, i) => Math.floor(flat / s[i]) % shape[i]);
}
function at(t: Tensor, idx: number[]): number {
  // read t at a broadcast index (right-aligned)
  const off = idx.length - t.ndim;
  const s = stridesOf(t.shape);
  let f = 0;
  for (let i = 0; i < t.ndim; i++) f += (t.shape[i] === 1 ? 0 : idx[i + off]) * s[i];
  return t.data[f];
}

describe('registered gradient checks (float64 central differences)', () => {
  for (const [i, c] of gradcheckCases.entries()) {
    it(`${c.op}: ${c.variant}`, () => {
      const { f, inputs } = c.make(new Rng(1000 + i));
      const r = gradcheck(f, inputs, c.options);
      expect(r.failure).toBeUndefined();
      expect(r.ok).toBe(true);
      expect(r.checked).toBeGreaterThan(0);
    });
  }
});

describe('broadcasting', () => {
  it('binary ops match a naive broadcast loop and gradients check on random shapes', () => {
    fc.assert(
      fc.property(dims().chain((s) => fc.tuple(fc.constant(s), broadcastPartner(s))), seed, ([sa, sb], sd) => {
        const rng = new Rng(sd);
        const a = randomInput(rng, sa);
        const b = randomInput(rng, sb, 0.5, 2);
        for (const [op, f] of [[add, (x: number, y: number) => x + y], [mul, (x: number, y: number) => x * y], [div, (x: number, y: number) => x / y]] as const) {
          const out = op(a, b);
          expect(out.shape).toEqual(sa);
          for (let k = 0; k < out.size; k++) {
            const idx = naiveIndex(out.shape, k);
            expect(out.data[k]).toBeCloseTo(f(at(a, idx), at(b, idx)), 12);
          }
          expect(gradcheck(op, [a, b]).ok).toBe(true);
          expect(gradcheck((x, y) => op(y, x), [a, b]).ok).toBe(true);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('incompatible shapes raise an error naming both shapes', () => {
    expect(() => add(tensor([1, 2, 3]), tensor([1, 2]))).toThrow(/\[3\] and \[2\]/);
  });
});

describe('reductions', () => {
  it('sum over random axes equals a naive loop, keepDims or not', () => {
    fc.assert(
      fc.property(dims(4), seed, fc.boolean(), (shape, sd, keep) => {
        const rng = new Rng(sd);
        const x = randomInput(rng, shape);
        const axes = shape.map((_, i) => i).filter(() => rng.uniform() < 0.5);
        const out = sum(x, axes, keep);
        const expected = new Map<string, number>();
        for (let k = 0; k < x.size; k++) {
          const key = naiveIndex(shape, k).map((v, i) => (axes.includes(i) ? 0 : v)).join(',');
          expected.set(key, (expected.get(key) ?? 0) + x.data[k]);
        }
        expect(out.size).toBe(expected.size);
        const vals = [...expected.values()];
        for (let k = 0; k < out.size; k++) expect(out.data[k]).toBeCloseTo(vals[k], 10);
        expect(out.ndim).toBe(keep ? shape.length : shape.length - axes.length);
      }),
      { numRuns: 50 },
    );
  });

  it('max at ties shares the gradient equally and stays finite', () => {
    const x = parameter(tensor([[1, 3, 3, 0], [2, 2, 2, -1]], undefined, 'float64'));
    sum(max(x, 1)).backward();
    expect(x.grad!.toArray()).toEqual([0, 0.5, 0.5, 0, 1 / 3, 1 / 3, 1 / 3, 0]);
  });

  it('logsumexp is stable for large and -Infinity inputs', () => {
    const v = logsumexp(tensor([1000, 1000], undefined, 'float64')).item();
    expect(v).toBeCloseTo(1000 + Math.log(2), 10);
    expect(logsumexp(tensor([-Infinity, -Infinity])).item()).toBe(-Infinity);
  });

  it('mean of an empty axis set is the identity and mean of all is the average', () => {
    expect(mean(tensor([1, 2, 3, 6])).item()).toBe(3);
  });
});

describe('kinks and ties have defined subgradients without NaN', () => {
  it('relu and abs at 0 give gradient 0; maximum at ties gives 0.5 to each', () => {
    const x = parameter(tensor([0, 0, -1, 2], undefined, 'float64'));
    sum(relu(x)).backward();
    expect(x.grad!.toArray()).toEqual([0, 0, 0, 1]);
    const y = parameter(tensor([0, 1], undefined, 'float64'));
    sum(abs(y)).backward();
    expect(y.grad!.toArray()).toEqual([0, 1]);
    const a = parameter(tensor([1, 2], undefined, 'float64'));
    const b = parameter(tensor([1, 3], undefined, 'float64'));
    sum(maximum(a, b)).backward();
    expect(a.grad!.toArray()).toEqual([0.5, 0]);
    expect(b.grad!.toArray()).toEqual([0.5, 1]);
  });

  it('where keeps Inf / NaN of the unselected branch out of the value', () => {
    const mask = tensor([1, 0]);
    const a = parameter(tensor([1, 2]));
    const out = where(mask, a, tensor([Infinity, 5]));
    expect(out.toArray()).toEqual([1, 5]);
    sum(out).backward();
    expect(a.grad!.toArray()).toEqual([1, 0]);
  });

  it('sigmoid saturates without NaN', () => {
    const x = parameter(tensor([-1000, 1000, 0]));
    const s = sigmoid(x);
    expect(s.toArray()).toEqual([0, 1, 0.5]);
    sum(s).backward();
    expect(x.grad!.toArray().every(Number.isFinite)).toBe(true);
  });
});

describe('matmul', () => {
  it('equals a naive product for random shapes, transposes and batch broadcasting', () => {
    fc.assert(
      fc.property(
        fc.record({ m: fc.integer({ min: 1, max: 6 }), k: fc.integer({ min: 1, max: 6 }), n: fc.integer({ min: 1, max: 6 }), ba: fc.integer({ min: 1, max: 3 }), bBroadcast: fc.boolean(), ta: fc.boolean(), tb: fc.boolean() }),
        seed,
        ({ m, k, n, ba, bBroadcast, ta, tb }, sd) => {
          const rng = new Rng(sd);
          const a = randomInput(rng, [ba, ...(ta ? [k, m] : [m, k])]);
          const b = randomInput(rng, bBroadcast ? (tb ? [n, k] : [k, n]) : [ba, ...(tb ? [n, k] : [k, n])]);
          const out = matmul(a, b, ta, tb);
          expect(out.shape).toEqual([ba, m, n]);
          for (let q = 0; q < ba; q++)
            for (let i = 0; i < m; i++)
              for (let j = 0; j < n; j++) {
                let s = 0;
                for (let p = 0; p < k; p++) {
                  const av = ta ? a.data[q * m * k + p * m + i] : a.data[q * m * k + i * k + p];
                  const bo = bBroadcast ? 0 : q * k * n;
                  const bv = tb ? b.data[bo + j * k + p] : b.data[bo + p * n + j];
                  s += av * bv;
                }
                expect(out.data[(q * m + i) * n + j]).toBeCloseTo(s, 10);
              }
          expect(gradcheck((x, y) => matmul(x, y, ta, tb), [a, b], { maxElements: 12 }).ok).toBe(true);
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe('data movement', () => {
  it('gather and scatterAdd are adjoint: <gather(x), y> = <x, scatterAdd(y)>', () => {
    fc.assert(
      fc.property(dims(3), seed, fc.array(fc.nat(), { minLength: 1, maxLength: 7 }), (shape, sd, raw) => {
        const rng = new Rng(sd);
        const axis = rng.int(shape.length);
        const idx = raw.map((v) => v % shape[axis]);
        const x = randomInput(rng, shape);
        const gx = gather(x, idx, axis);
        const y = randomInput(rng, gx.shape);
        const lhs = sum(mul(gx, y)).item();
        const rhs = sum(mul(x, scatterAdd(y, idx, shape[axis], axis))).item();
        expect(lhs).toBeCloseTo(rhs, 10);
      }),
      { numRuns: 50 },
    );
  });

  it('pad then slice returns the input; permute by the inverse permutation is the identity', () => {
    fc.assert(
      fc.property(dims(3), seed, (shape, sd) => {
        const rng = new Rng(sd);
        const x = randomInput(rng, shape);
        const pads = shape.map(() => [rng.int(3), rng.int(3)] as [number, number]);
        const y = slice(pad(x, pads, 7), pads.map(([b], i) => [b, b + shape[i]] as [number, number]));
        expect(y.toArray()).toEqual(x.toArray());
        const perm = rng.shuffle(shape.map((_, i) => i));
        const inv = perm.map((_, i) => perm.indexOf(i));
        expect(permute(permute(x, perm), inv).toArray()).toEqual(x.toArray());
      }),
      { numRuns: 50 },
    );
  });

  it('concat of the slices of a tensor rebuilds it; stack adds an axis', () => {
    const rng = new Rng(3);
    const x = randomInput(rng, [3, 5, 2]);
    const parts = [slice(x, [null, [0, 2]]), slice(x, [null, [2, 3]]), slice(x, [null, [3, 5]])];
    expect(concat(parts, 1).toArray()).toEqual(x.toArray());
    expect(stack([x, x], 1).shape).toEqual([3, 2, 5, 2]);
  });

  it('reshape shares data and infers -1; bad sizes are refused', () => {
    const x = tensor([1, 2, 3, 4, 5, 6]);
    const y = reshape(x, [2, -1]);
    expect(y.shape).toEqual([2, 3]);
    expect(y.data).toBe(x.data);
    expect(() => reshape(x, [4, -1])).toThrow(/cannot reshape/);
  });

  it('gather refuses out-of-range indices', () => {
    expect(() => gather(tensor([1, 2]), [2])).toThrow(/out of range/);
  });
});

describe('the tape', () => {
  it('records nothing under noGrad and nothing for inputs without gradients', () => {
    const w = parameter(tensor([1, 2]));
    const y = noGrad(() => mul(w, 2));
    expect(y.requiresGrad).toBe(false);
    expect(y.node).toBeNull();
    expect(mul(tensor([1]), 2).node).toBeNull();
  });

  it('backward releases every tape entry and accumulates into leaf gradients', () => {
    const w = parameter(tensor([1, 2, 3]));
    const h = exp(mul(w, 0.5));
    const l = sum(mul(h, h));
    expect(l.node).not.toBeNull();
    l.backward();
    expect(l.node).toBeNull();
    expect(h.node).toBeNull();
    const g1 = w.grad!.toArray();
    sum(mul(exp(mul(w, 0.5)), exp(mul(w, 0.5)))).backward();
    w.grad!.toArray().forEach((v, i) => expect(v).toBeCloseTo(2 * g1[i], 4));
  });

  it('a shared subexpression receives the sum of its gradients', () => {
    const x = parameter(tensor([3], undefined, 'float64'));
    const y = mul(x, x);
    sum(add(y, mul(y, 2))).backward(); // d/dx 3x^2 = 6x
    expect(x.grad!.item()).toBe(18);
  });

  it('detach cuts the graph; non-scalar backward needs a seed', () => {
    const x = parameter(tensor([1, 2]));
    expect(mul(x, 2).detach().requiresGrad).toBe(false);
    expect(() => mul(x, 2).backward()).toThrow(/seed/);
    expect(() => tensor([1]).backward()).toThrow(/does not require gradients/);
  });

  it('a deep chain (10,000 ops) backpropagates without stack overflow', () => {
    const x = parameter(tensor([1], undefined, 'float64'));
    let y: Tensor = x;
    for (let i = 0; i < 10_000; i++) y = add(y, 1e-4);
    sum(y).backward();
    expect(x.grad!.item()).toBe(1);
  });

  it('broadcastTo materialises and sums its gradient back', () => {
    const x = parameter(tensor([[1], [2]]));
    const y = broadcastTo(x, [3, 2, 4]);
    expect(sizeOf(y.shape)).toBe(24);
    sum(y).backward();
    expect(x.grad!.toArray()).toEqual([12, 12]);
    void sub;
  });
});

describe('gradcheck itself', () => {
  it('catches a wrong vector-Jacobian product', async () => {
    const { record } = await import('../../src/autodiff/tape.js');
    const { mapUnary } = await import('../../src/autodiff/ops/elementwise.js');
    // cube with a deliberately wrong derivative (2x instead of 3x^2)
    const badCube = (x: Tensor) => record('badCube', mapUnary(x, (v) => v * v * v), [x], (g) => [mul(g, mul(x, 2))]);
    const r = gradcheck(badCube, [randomInput(new Rng(1), [4], 0.5, 2)]);
    expect(r.ok).toBe(false);
    expect(r.failure).toBeDefined();
  });
});
