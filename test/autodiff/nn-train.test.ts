/** Modules, state dicts, initialisers, optimisers, batch-norm statistics and dropout. */
import { describe, it, expect } from 'vitest';
import {
  Tensor,
  Rng,
  parameter,
  zeros,
  full,
  sum,
  mul,
  square,
  sub,
  mean,
  dropout,
  batchNorm2d,
  batchNormState,
  Linear,
  WeightNormLinear,
  Conv2d,
  ConvTranspose2d,
  BatchNorm2d,
  InstanceNorm2d,
  Sequential,
  ReLU,
  Dropout,
  Adam,
  SGD,
  xavierUniform,
  xavierNormal,
  kaimingUniform,
  kaimingNormal,
  fanInAndFanOut,
  calculateGain,
  mseLoss,
  softDiceLoss,
  oneHot,
  classBalancedWeights,
  crossEntropy,
  type OptimizerState,
} from '../../src/autodiff/index.js';
import { expectClose } from './nn-helpers.js';

describe('batch norm statistics by hand', () => {
  it('one training step: biased variance normalises, unbiased variance enters the running average', () => {
    // Channel 0 holds 1, 2, 3, 6 (mean 3, biased var 3.5, unbiased 14/3); channel 1 holds 0, 0, 4, 4.
    const x = new Tensor(Float64Array.from([1, 2, 0, 0, 3, 6, 4, 4]), [2, 2, 1, 2]);
    const st = batchNormState(2, 'float64');
    const y = batchNorm2d(x, null, null, st, { training: true, eps: 0 });
    expectClose(st.runningMean.data, [0.9 * 0 + 0.1 * 3, 0.1 * 2], 1e-15);
    expectClose(st.runningVar.data, [0.9 + 0.1 * (14 / 3), 0.9 + 0.1 * (16 / 3)], 1e-15);
    expect(st.numBatchesTracked!.item()).toBe(1);
    const s0 = Math.sqrt(3.5);
    expectClose(y.data, [-2 / s0, -1 / s0, -1, -1, 0, 3 / s0, 1, 1], 1e-12);
    // Eval mode uses the running statistics and leaves them alone.
    const ye = batchNorm2d(x, null, null, st, { training: false, eps: 0 });
    expectClose(ye.data.subarray(0, 1), [(1 - 0.3) / Math.sqrt(0.9 + 0.1 * (14 / 3))], 1e-12);
    expectClose(st.runningMean.data, [0.3, 0.2], 1e-15);
  });

  it('a single value per channel in training is an error', () => {
    expect(() => batchNorm2d(zeros([1, 2, 1, 1]), null, null, null, { training: true })).toThrow(/more than 1 value/);
  });
});

describe('modules and state dicts', () => {
  const build = (seed: number): Sequential =>
    new Sequential(
      new Conv2d(2, 4, 3, new Rng(seed), { padding: 1 }),
      new BatchNorm2d(4),
      new ReLU(),
      new ConvTranspose2d(4, 2, [4, 2], new Rng(seed + 1), { stride: 2, padding: 1, groups: 2 }),
      new InstanceNorm2d(2, { affine: true }),
    );

  it('names parameters and buffers as PyTorch does', () => {
    const m = build(1);
    expect(m.namedParameters().map(([n]) => n)).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '3.weight', '3.bias', '4.weight', '4.bias']);
    expect(Object.keys(m.stateDict())).toEqual([
      '0.weight',
      '0.bias',
      '1.weight',
      '1.bias',
      '1.running_mean',
      '1.running_var',
      '1.num_batches_tracked',
      '3.weight',
      '3.bias',
      '4.weight',
      '4.bias',
    ]);
    expect(m.stateDict()['3.weight'].shape).toEqual([4, 1, 4, 2]);
    expect(m.forward(zeros([1, 2, 5, 3])).shape).toEqual([1, 2, 10, 4]);
  });

  it('loadStateDict copies in place (references stay valid), checks keys and shapes', () => {
    const a = build(1);
    const b = build(99);
    // One training step so that the running statistics differ from their initial values.
    a.train().forward(new Tensor(Float32Array.from({ length: 64 }, (_, i) => Math.sin(i)), [2, 2, 4, 4]));
    const ref = b.parameters()[0];
    b.loadStateDict(a.stateDict());
    expect(b.parameters()[0]).toBe(ref);
    for (const [k, t] of Object.entries(a.stateDict())) expect(Array.from(b.stateDict()[k].data)).toEqual(Array.from(t.data));
    const x = new Rng(5);
    const input = new Tensor(Float32Array.from({ length: 32 }, () => x.normal()), [1, 2, 4, 4]);
    a.eval();
    b.eval();
    expect(Array.from(b.forward(input).data)).toEqual(Array.from(a.forward(input).data));
    const bad = { ...a.stateDict(), '0.weight': zeros([4, 2, 3, 2]) };
    expect(() => b.loadStateDict(bad)).toThrow(/'0.weight' has shape \[4, 2, 3, 2\]/);
    const missing = { ...a.stateDict() };
    delete missing['1.running_var'];
    expect(() => b.loadStateDict({ ...missing, extra: zeros([1]) })).toThrow(/missing 1.running_var; unexpected extra/);
    expect(b.loadStateDict(missing, false).missing).toEqual(['1.running_var']);
  });

  it('train(flag) reaches every descendant; Dropout is the identity in eval', () => {
    const m = new Sequential(new Linear(3, 3, new Rng(1)), new Dropout(0.5, new Rng(2)));
    m.eval();
    expect(m.layers.every((l) => !l.training)).toBe(true);
    const x = full([2, 3], 1);
    const lin = m.layers[0].forward(x);
    expect(Array.from(m.forward(x).data)).toEqual(Array.from(lin.data));
  });

  it('WeightNormLinear: effective weight g v / ||v|| per row starts equal to v; gradients reach g and v', () => {
    const m = new WeightNormLinear(3, 2, new Rng(4), { dtype: 'float64' });
    expectClose(m.weight().data, m.weightV.data, 1e-12);
    m.weightG.data[0] *= 2;
    const w = m.weight().data;
    const v = m.weightV.data;
    const norm0 = Math.hypot(v[0], v[1], v[2]);
    expectClose([w[0], w[1], w[2]], [(m.weightG.data[0] * v[0]) / norm0, (m.weightG.data[0] * v[1]) / norm0, (m.weightG.data[0] * v[2]) / norm0], 1e-12);
    sum(m.forward(full([4, 3], 1, 'float64'))).backward();
    expect(m.weightG.grad!.shape).toEqual([2, 1]);
    expect(m.weightV.grad!.shape).toEqual([2, 3]);
    // The weight is invariant to the scale of v, so its gradient is orthogonal to v per row.
    for (let o = 0; o < 2; o++) {
      let dot = 0;
      for (let i = 0; i < 3; i++) dot += m.weightV.grad!.data[o * 3 + i] * v[o * 3 + i];
      expect(Math.abs(dot)).toBeLessThan(1e-12);
    }
  });
});

describe('initialisers', () => {
  it('fans as PyTorch computes them for linear, conv and transposed-conv weights', () => {
    expect(fanInAndFanOut([5, 3])).toEqual({ fanIn: 3, fanOut: 5 });
    expect(fanInAndFanOut([8, 2, 3, 4])).toEqual({ fanIn: 24, fanOut: 96 });
    expect(new ConvTranspose2d(6, 4, 3, new Rng(1), { groups: 2 }).weight.shape).toEqual([6, 2, 3, 3]);
    expect(() => fanInAndFanOut([3])).toThrow(/at least 2/);
    expect(calculateGain('leaky_relu', 0.2)).toBeCloseTo(Math.sqrt(2 / 1.04), 12);
    expect(calculateGain('tanh')).toBeCloseTo(5 / 3, 12);
  });

  it('bounds and standard deviations follow the formulas, reproducibly from the seed', () => {
    const t = zeros([200, 100, 2, 2], 'float64'); // fanIn 400, fanOut 800
    const stats = (): { max: number; std: number } => {
      let m = 0;
      let s = 0;
      for (const v of t.data) {
        m = Math.max(m, Math.abs(v));
        s += v * v;
      }
      return { max: m, std: Math.sqrt(s / t.size) };
    };
    xavierUniform(t, new Rng(1), 2);
    const xb = 2 * Math.sqrt(6 / 1200);
    expect(stats().max).toBeLessThanOrEqual(xb);
    expect(stats().max).toBeGreaterThan(0.99 * xb);
    xavierNormal(t, new Rng(1));
    expect(stats().std).toBeCloseTo(Math.sqrt(2 / 1200), 3);
    kaimingUniform(t, new Rng(1), { nonlinearity: 'relu' });
    expect(stats().max).toBeLessThanOrEqual(Math.sqrt(3) * Math.SQRT2 / 20);
    kaimingNormal(t, new Rng(1), { mode: 'fan_out', gain: 3 });
    expect(stats().std).toBeCloseTo(3 / Math.sqrt(800), 3);
    const a = Array.from(kaimingNormal(zeros([4, 4]), new Rng(7)).data);
    expect(Array.from(kaimingNormal(zeros([4, 4]), new Rng(7)).data)).toEqual(a);
    // PyTorch's Linear default: weight and bias in U(-1/sqrt(in), 1/sqrt(in)).
    const lin = new Linear(16, 8, new Rng(2));
    expect(Math.max(...lin.weight.data, ...lin.bias!.data.map(Math.abs))).toBeLessThanOrEqual(0.25);
  });
});

describe('optimisers', () => {
  // f(p) = sum(a (p - c)^2), minimum at c.
  const a = Float64Array.from([1, 4, 0.5]);
  const c = Float64Array.from([0.5, -1, 2]);
  const loss = (p: Tensor): Tensor => sum(mul(new Tensor(a, [3]), square(sub(p, new Tensor(c, [3])))));

  const train = (opt: Adam | SGD, p: Tensor, steps: number): void => {
    for (let s = 0; s < steps; s++) {
      opt.zeroGrad();
      loss(p).backward();
      opt.step();
    }
  };

  it('Adam and SGD (plain, momentum, nesterov) reach the minimum of a quadratic', () => {
    for (const make of [
      (ps: Tensor[]) => new Adam(ps, { lr: 0.05 }),
      (ps: Tensor[]) => new SGD(ps, { lr: 0.1 }),
      (ps: Tensor[]) => new SGD(ps, { lr: 0.05, momentum: 0.9 }),
      (ps: Tensor[]) => new SGD(ps, { lr: 0.05, momentum: 0.9, nesterov: true }),
    ]) {
      const p = parameter(zeros([3], 'float64'));
      train(make([p]), p, 600);
      expectClose(p.data, c, 1e-3);
    }
  });

  it('first Adam step by hand: p -= lr g / (|g| + eps) (bias correction makes m / sqrt(v) = sign g)', () => {
    const p = parameter(new Tensor(Float64Array.from([1, 1, 1]), [3]));
    const opt = new Adam([p], { lr: 0.1, eps: 1e-8 });
    train(opt, p, 1);
    // The loss is sum(a (p - c)^2), so g = 2 a (p - c).
    const grads = [0, 1, 2].map((i) => 2 * a[i] * (1 - c[i]));
    expectClose(p.data, grads.map((gi) => 1 - (0.1 * gi) / (Math.abs(gi) + 1e-8)), 1e-15);
    const st = opt.state();
    expect(st.steps).toEqual([1]);
    expectClose(st.buffers.exp_avg[0]!, grads.map((gi) => 0.1 * gi), 1e-15);
    expectClose(st.buffers.exp_avg_sq[0]!, grads.map((gi) => 0.001 * gi * gi), 1e-15);
  });

  it('one SGD step with momentum and weight decay by hand', () => {
    const p = parameter(new Tensor(Float64Array.from([1, 1, 1]), [3]));
    const opt = new SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.5 });
    train(opt, p, 2);
    // Step 1: d1 = g(1) + 0.5; buf = d1. Step 2: d2 = g(p1) + 0.5 p1; buf = 0.9 d1 + d2.
    const want = [0, 1, 2].map((i) => {
      const d1 = 2 * a[i] * (1 - c[i]) + 0.5;
      const p1 = 1 - 0.1 * d1;
      const d2 = 2 * a[i] * (p1 - c[i]) + 0.5 * p1;
      return p1 - 0.1 * (0.9 * d1 + d2);
    });
    expectClose(p.data, want, 1e-15);
  });

  it('state() / loadState() through JSON resume a run exactly (float32 parameters)', () => {
    for (const make of [(ps: Tensor[]) => new Adam(ps, { lr: 0.01, weightDecay: 0.1 }), (ps: Tensor[]) => new SGD(ps, { lr: 0.01, momentum: 0.8 })]) {
      const p1 = parameter(new Tensor(Float32Array.from([0.3, -0.7, 1.1]), [3]));
      const o1 = make([p1]);
      train(o1, p1, 5);
      const saved = JSON.parse(JSON.stringify({ state: o1.state(), p: Array.from(p1.data) })) as { state: OptimizerState; p: number[] };
      train(o1, p1, 7);
      const p2 = parameter(new Tensor(Float32Array.from(saved.p), [3]));
      const o2 = make([p2]);
      o2.loadState(saved.state);
      train(o2, p2, 7);
      expect(Array.from(p2.data)).toEqual(Array.from(p1.data));
      expect(o2.state()).toEqual(o1.state());
    }
    const p = parameter(zeros([3]));
    expect(() => new Adam([p]).loadState(new SGD([p], { lr: 1 }).state())).toThrow(/'sgd'/);
    expect(() => new Adam([p, parameter(zeros([2]))]).loadState(new Adam([p]).state())).toThrow(/1 parameters/);
  });

  it('zeroGrad drops gradients; parameters without a gradient are left alone', () => {
    const p = parameter(full([2], 1, 'float64'));
    const q = parameter(full([2], 1, 'float64'));
    const opt = new Adam([p, q], { lr: 0.1 });
    sum(p).backward();
    opt.step();
    expect(Array.from(q.data)).toEqual([1, 1]);
    expect(opt.state().steps).toEqual([1, 0]);
    opt.zeroGrad();
    expect(p.grad).toBeNull();
  });
});

describe('dropout', () => {
  it('is reproducible from a seed, preserves the mean, and scales survivors by 1 / (1 - p)', () => {
    const x = full([100, 100], 2, 'float64');
    const a = dropout(x, 0.3, new Rng(11));
    const b = dropout(x, 0.3, new Rng(11));
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(Array.from(dropout(x, 0.3, new Rng(12)).data)).not.toEqual(Array.from(a.data));
    expect(new Set(a.data)).toEqual(new Set([0, 2 / 0.7]));
    expect(Math.abs(mean(a).item() - 2)).toBeLessThan(0.05);
    expect(dropout(x, 0.3, new Rng(1), false)).toBe(x);
    expect(Array.from(dropout(x, 1, new Rng(1)).data).every((v) => v === 0)).toBe(true);
    expect(() => dropout(x, 1.5, new Rng(1))).toThrow(/p must be/);
  });
});

describe('losses by hand', () => {
  it('softDiceLoss: perfect prediction gives ~0, empty classes count as dice 1 with smoothing', () => {
    const labels = Int32Array.from([0, 1, 1, 0]);
    const t = oneHot(labels, [1, 4], 3, 'float64');
    const logits = new Tensor(Float64Array.from(t.data, (v) => (v ? 40 : -40)), [1, 3, 4]);
    const perClass = softDiceLoss(logits, labels, { reduction: 'none' });
    expect(perClass.shape).toEqual([3]);
    for (const v of perClass.data) expect(Math.abs(v)).toBeLessThan(1e-12);
    // Uniform probabilities 1/3: class 0 has I = 2/3, P = 4/3, T = 2 -> dice (4/3 + 1) / (10/3 + 1) = 7/13.
    const u = softDiceLoss(zeros([1, 3, 4], 'float64'), labels, { reduction: 'none' });
    expectClose(u.data, [1 - 7 / 13, 1 - 7 / 13, 1 - 1 / (4 / 3 + 1)], 1e-12);
  });

  it('classBalancedWeights and crossEntropy weighted mean', () => {
    const t = Int32Array.from([0, 0, 0, 1]);
    const w = classBalancedWeights(t, 3);
    expectClose(w, [4 / 9, 4 / 3, 0], 1e-15);
    // Equal logits: every position loses log 3; the weighted mean of a constant is that constant.
    expect(crossEntropy(zeros([4, 3], 'float64'), t, { weight: w }).item()).toBeCloseTo(Math.log(3), 12);
    expect(() => crossEntropy(zeros([4, 3]), Int32Array.from([0, 3, 0, 0]))).toThrow(/target 3/);
    expect(() => mseLoss(zeros([2]), zeros([3]))).toThrow(/same shape/);
  });
});
