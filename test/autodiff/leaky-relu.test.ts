/**
 * leakyRelu's loops (src/autodiff/ops/elementwise.ts) against its definition written with the
 * generic ops (mapUnary for the value, mul by the 1 / slope mask for the gradient): identical
 * bits in float32 and float64, mixed gradient dtypes, zeros (derivative taken as slope) included.
 */
import { describe, it, expect } from 'vitest';
import { Rng, randn, parameter, tensor, mul } from '../../src/autodiff/index.js';
import { leakyRelu, mapUnary } from '../../src/autodiff/ops/elementwise.js';
import type { Tensor } from '../../src/autodiff/tensor.js';

function reference(x: Tensor, g: Tensor, slope: number): { y: number[]; gx: number[]; dtype: string } {
  const y = mapUnary(x, (v) => (v > 0 ? v : slope * v));
  const gx = mul(g, mapUnary(x, (v) => (v > 0 ? 1 : slope)));
  return { y: Array.from(y.data), gx: Array.from(gx.data), dtype: gx.dtype };
}

describe('leakyRelu', () => {
  for (const [xType, gType] of [['float32', 'float32'], ['float64', 'float64'], ['float32', 'float64'], ['float64', 'float32']] as const) {
    it(`matches mapUnary / mul bit for bit (x ${xType}, gradient ${gType})`, () => {
      const rng = new Rng(4);
      for (const slope of [0.2, 0.01, 0, 1 / 3]) {
        const base = randn([3, 5, 7], rng, 2).data;
        const vals = Array.from(base, (v, i) => (i % 11 === 0 ? 0 : i % 13 === 0 ? -0 : v));
        const x = parameter(tensor(vals, [3, 5, 7], xType));
        const g = tensor(Array.from(randn([3, 5, 7], rng).data), [3, 5, 7], gType);
        const y = leakyRelu(x, slope);
        const [gx] = (y.node!.vjp(g) as Tensor[]);
        const ref = reference(x, g, slope);
        expect(y.dtype).toBe(xType);
        expect(Array.from(y.data)).toEqual(ref.y);
        expect(gx.dtype).toBe(ref.dtype);
        expect(Array.from(gx.data)).toEqual(ref.gx);
      }
    });
  }
});
