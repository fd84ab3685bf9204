import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng, Tensor, add, concat, conv2d, mul, parameter, randn, relu, reshape, sum, setGradHook } from '../../src/autodiff/index.js';
import { pooledBytesNow } from '../../src/autodiff/pool.js';

/**
 * A small graph with fan-out, pass-through gradients (add hands its one gradient tensor to both
 * inputs, reshape a view of it), views (concat) and a reused input: add(a, b)'s gradient must
 * stay alive while mul's backward allocates buffers of its size.
 */
function graph(x: Tensor, w: Tensor, v: Tensor): Tensor {
  const a = relu(conv2d(x, w, null, { padding: 1 }));
  const b = mul(a, v);
  const c = add(a, b);
  const d = add(c, c); // the same gradient reaches one tensor twice
  const e = concat([d, b], 1);
  return sum(mul(reshape(e, [e.size]), reshape(e, [e.size])));
}

function grads(seed: number, steps: number): number[][] {
  const rng = new Rng(seed);
  const x = parameter(randn([2, 2, 5, 5], rng));
  const w = parameter(randn([3, 2, 3, 3], rng));
  const v = parameter(randn([2, 3, 5, 5], rng));
  let out: number[][] = [];
  for (let s = 0; s < steps; s++) {
    for (const p of [x, w, v]) p.grad = null;
    graph(x, w, v).backward();
    out = [x, w, v].map((p) => Array.from(p.grad!.data));
  }
  return out;
}

describe('gradient pool', () => {
  it('recycled buffers change no gradient: the same as with recycling off (a gradient hook set), step after step', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 1, max: 3 }), (seed, steps) => {
        setGradHook(() => {});
        let plain: number[][];
        try {
          plain = grads(seed, steps);
        } finally {
          setGradHook(null);
        }
        expect(grads(seed, steps)).toEqual(plain);
      }),
      { numRuns: 20 },
    );
  });

  it('takes back gradients after a backward pass, and none while a gradient hook is set', () => {
    grads(1, 2);
    expect(pooledBytesNow()).toBeGreaterThan(0);
    // A hook sees every gradient: it may keep them, so nothing may be recycled.
    const seen: Tensor[] = [];
    const copies: number[][] = [];
    setGradHook((_op, _x, g) => {
      seen.push(g);
      copies.push(Array.from(g.data));
    });
    try {
      const rng = new Rng(2);
      const x = parameter(randn([1, 2, 4, 4], rng));
      const w = parameter(randn([2, 2, 3, 3], rng));
      graph(x, w, parameter(randn([1, 2, 4, 4], rng))).backward();
      grads(3, 2); // would reuse recycled buffers
    } finally {
      setGradHook(null);
    }
    seen.forEach((g, i) => expect(Array.from(g.data)).toEqual(copies[i]));
  });
});
