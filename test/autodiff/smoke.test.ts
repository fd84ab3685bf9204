import { it, expect } from 'vitest';
import { tensor, parameter, matmul, sum, mul, add, exp, max, slice, concat, pad, gather, scatterAdd, permute, logsumexp, variance, where, sigmoid } from '../../src/autodiff/index.js';
import { gradcheck } from '../../src/autodiff/gradcheck.js';
import { Rng, randn } from '../../src/autodiff/index.js';
it('smoke', () => {
  const rng = new Rng(1);
  const a = randn([2, 3, 4], rng, 1, 'float64');
  const b = randn([4, 5], rng, 1, 'float64');
  const cases: [string, any, any[]][] = [
    ['matmul', (x: any, y: any) => matmul(x, y), [a, b]],
    ['matmulTT', (x: any, y: any) => matmul(x, y, true, true), [randn([3,4,2], rng,1,'float64'), randn([5,4], rng,1,'float64')]],
    ['mulb', (x: any, y: any) => mul(x, y), [a, randn([3, 1], rng, 1, 'float64')]],
    ['max', (x: any) => max(x, 1), [a]],
    ['slice', (x: any) => slice(x, [null, [1, 3], [0, 4, 2]]), [a]],
    ['concat', (x: any, y: any) => concat([x, y], 1), [a, randn([2, 2, 4], rng, 1, 'float64')]],
    ['pad', (x: any) => pad(x, [[0, 0], [1, 2], [0, 1]], 3), [a]],
    ['gather', (x: any) => gather(x, [0, 2, 2, 1], 1), [a]],
    ['scatter', (x: any) => scatterAdd(x, [0, 2, 0], 4, 1), [a]],
    ['permute', (x: any) => permute(x, [2, 0, 1]), [a]],
    ['lse', (x: any) => logsumexp(x, [1, 2]), [a]],
    ['var', (x: any) => variance(x, 0, true, 1), [a]],
    ['sigmoid', (x: any) => sigmoid(x), [a]],
  ];
  for (const [name, f, xs] of cases) {
    const r = gradcheck(f, xs);
    console.log(name, r.ok, r.maxAbsError);
    expect(r.ok).toBe(true);
  }
  const w = parameter(tensor([[1, 2], [3, 4]]));
  const l = sum(mul(w, w));
  l.backward();
  expect(w.grad!.toArray()).toEqual([2, 4, 6, 8]);
});
