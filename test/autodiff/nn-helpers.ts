/** Shared helpers for the nn tests. */
import { expect } from 'vitest';
import { Tensor } from '../../src/autodiff/index.js';

/** seq(shape, a, b)[i] = sin(i a + b), float64 (the inputs of the PyTorch reference script). */
export function seq(shape: number[], a = 0.7, b = 0.3): Tensor {
  const n = shape.reduce((p, q) => p * q, 1);
  return new Tensor(Float64Array.from({ length: n }, (_, i) => Math.sin(i * a + b)), shape);
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-9): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.abs(actual[i] - expected[i]);
    if (!(e <= worst)) {
      worst = e;
      at = i;
    }
  }
  expect(worst, `max |diff| at ${at}: ${actual[at]} vs ${expected[at]}`).toBeLessThanOrEqual(tol);
}
