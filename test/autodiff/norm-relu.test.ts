import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng, Tensor, batchNorm2d, batchNormState, instanceNorm2d, leakyRelu, relu, parameter, randn, type DType, type NormActivation } from '../../src/autodiff/index.js';

/** Largest |a - b| over two arrays (0 when bit-equal up to the sign of zero). */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) !== Number.isNaN(b[i])) return Infinity;
    if (!Number.isNaN(a[i])) m = Math.max(m, Math.abs(a[i] - b[i]));
  }
  return m;
}

type Norm = (x: Tensor, w: Tensor | null, b: Tensor | null) => Tensor;

/** Forward values and the gradients of x, weight and bias under a random seed gradient. */
function run(f: Norm, shape: number[], affine: boolean, dtype: DType, seed: number): { y: Float32Array | Float64Array; grads: (Float32Array | Float64Array)[] } {
  const rng = new Rng(seed);
  const c = shape[1];
  const x = parameter(randn(shape, rng, 1.5, dtype));
  const w = affine ? parameter(randn([c], rng, 1, dtype)) : null;
  const b = affine ? parameter(randn([c], rng, 1, dtype)) : null;
  const y = f(x, w, b);
  y.backward(randn(shape, rng, 1, dtype));
  return { y: y.data, grads: [x, w, b].filter((t): t is Tensor => !!t).map((t) => t.grad!.data) };
}

const shapes = fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }));

describe('norm + ReLU / LeakyReLU fused', () => {
  it('gives exactly relu / leakyRelu(norm(x)) and its gradients: batch norm (training and eval), instance norm, float32 and float64', () => {
    fc.assert(
      fc.property(shapes, fc.boolean(), fc.constantFrom<DType>('float32', 'float64'), fc.constantFrom('bn-train', 'bn-eval', 'in'), fc.constantFrom(0, 0.2, 0.01, 1e-3), fc.integer({ min: 0, max: 1e6 }), ([n, c, h, w], affine, dtype, kind, slope, seed) => {
        const shape = [n, c, h, w];
        if (kind === 'bn-train' && n * h * w < 2) return; // training needs two values per channel
        if (kind === 'in' && h * w < 2) return;
        const st = () => {
          const s = batchNormState(c, dtype);
          for (let i = 0; i < c; i++) { s.runningMean.data[i] = 0.1 * i; s.runningVar.data[i] = 1 + 0.2 * i; }
          return s;
        };
        const training = kind === 'bn-train';
        const activation: NormActivation = slope === 0 ? 'relu' : { leakyRelu: slope };
        const act = (t: Tensor) => (slope === 0 ? relu(t) : leakyRelu(t, slope));
        const fused: Norm = kind === 'in' ? (x, wt, b) => instanceNorm2d(x, wt, b, 1e-5, activation) : (x, wt, b) => batchNorm2d(x, wt, b, st(), { training, activation });
        const plain: Norm = kind === 'in' ? (x, wt, b) => act(instanceNorm2d(x, wt, b)) : (x, wt, b) => act(batchNorm2d(x, wt, b, st(), { training }));
        const a = run(fused, shape, affine, dtype, seed);
        const p = run(plain, shape, affine, dtype, seed);
        expect(maxDiff(a.y, p.y)).toBe(0);
        expect(a.grads.length).toBe(p.grads.length);
        for (let i = 0; i < a.grads.length; i++) expect(maxDiff(a.grads[i]!, p.grads[i]!)).toBe(0);
      }),
      { numRuns: 150 },
    );
  });

  it('updates the running statistics as the unfused op does', () => {
    const rng = new Rng(5);
    const x = randn([2, 3, 4, 4], rng);
    const s1 = batchNormState(3), s2 = batchNormState(3);
    batchNorm2d(x, null, null, s1, { training: true, activation: 'relu' });
    batchNorm2d(x, null, null, s2, { training: true });
    expect(Array.from(s1.runningMean.data)).toEqual(Array.from(s2.runningMean.data));
    expect(Array.from(s1.runningVar.data)).toEqual(Array.from(s2.runningVar.data));
    expect(s1.numBatchesTracked!.data[0]).toBe(1);
  });
});

describe('Sequential fuses a norm with the activation after it', () => {
  it('gives the values and gradients of running the layers one by one', async () => {
    const { Sequential, Conv2d, BatchNorm2d, InstanceNorm2d, LeakyReLU, ReLU } = await import('../../src/autodiff/index.js');
    for (const [norm, act] of [[new BatchNorm2d(4), new LeakyReLU(0.2)], [new InstanceNorm2d(4, { affine: true }), new ReLU()]] as const) {
      const rng = new Rng(11);
      const seq = new Sequential(new Conv2d(2, 4, 3, rng, { padding: 1 }), norm, act);
      const x = parameter(randn([2, 2, 5, 5], rng));
      const seed = randn([2, 4, 5, 5], rng);
      const fused = seq.forward(x);
      fused.backward(seed);
      const gFused = [x, ...seq.parameters()].map((p) => Array.from(p.grad!.data));
      for (const p of [x, ...seq.parameters()]) p.grad = null;
      let y = x;
      for (const m of seq.layers) y = m.forward(y);
      y.backward(seed);
      expect(maxDiff(fused.data, y.data)).toBe(0);
      [x, ...seq.parameters()].forEach((p, i) => expect(maxDiff(p.grad!.data, gFused[i]!)).toBe(0));
    }
  });
});
