import { describe, expect, it } from 'vitest';
// Deliberately not the package index: backward() must work whichever module a caller imports
// first (the tape accumulates gradients itself; nothing has to be wired up by an index).
import { Tensor } from '../../src/autodiff/tensor.js';
import { add, mul } from '../../src/autodiff/ops/elementwise.js';

describe('the tape on its own', () => {
  it('backward through ops imported directly: seed, accumulation at a shared input and into .grad', () => {
    const x = new Tensor(Float64Array.of(1, 2, 3), [3], true);
    const y = add(mul(x, x), x); // x used twice: its gradients are accumulated
    y.backward(new Tensor(Float64Array.of(1, 1, 1), [3]));
    expect(Array.from(x.grad!.data)).toEqual([3, 5, 7]); // 2 x + 1
    const z = mul(x, 2);
    z.backward(new Tensor(Float64Array.of(1, 1, 1), [3]));
    expect(Array.from(x.grad!.data)).toEqual([5, 7, 9]); // added to the previous .grad
  });

  it('a scalar root gets the seed 1', () => {
    const x = new Tensor(Float64Array.of(4), [1], true);
    mul(x, x).backward();
    expect(Array.from(x.grad!.data)).toEqual([8]);
  });
});
