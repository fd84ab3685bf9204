/** Forward values and gradients against numbers computed by PyTorch (see nn-torch-ref.ts). */
import { describe, it, expect } from 'vitest';
import {
  Tensor,
  parameter,
  conv2d,
  convTranspose2d,
  upsampleBilinear,
  upsampleNearest,
  maxPool2d,
  avgPool2d,
  instanceNorm2d,
  crossEntropy,
  bceWithLogits,
  logSoftmax,
  sum,
  mul,
  zeros,
  BatchNorm2d,
  WeightNormLinear,
  Adam,
  SGD,
  Rng,
  type Optimizer,
} from '../../src/autodiff/index.js';
import { torchRef as R } from './nn-torch-ref.js';
import { seq, expectClose } from './nn-helpers.js';

describe('conv against PyTorch', () => {
  it('convTranspose2d: groups 2, stride 2, padding 1, outputPadding 1, kernel 3x2 (values and all gradients)', () => {
    const x = parameter(seq([2, 4, 3, 2]));
    const w = parameter(seq([4, 3, 3, 2], 1.3, 0.1));
    const b = parameter(seq([6], 0.5, 0.2));
    const y = convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1, groups: 2 });
    expect(y.shape).toEqual(R.convT.shape);
    expectClose(y.data, R.convT.y);
    sum(mul(y, seq([...y.shape], 0.37, 0.9))).backward();
    expectClose(x.grad!.data, R.convT.gx);
    expectClose(w.grad!.data, R.convT.gw);
    expectClose(b.grad!.data, R.convT.gb);
  });

  it('convTranspose2d: dilation 2 with outputPadding 1 at stride 1', () => {
    const y = convTranspose2d(seq([1, 1, 3, 3]), seq([1, 2, 2, 2], 1.1, 0.4), null, { dilation: 2, outputPadding: 1 });
    expect(y.shape).toEqual(R.convT2.shape);
    expectClose(y.data, R.convT2.y);
  });

  it('conv2d: groups 2, stride [2, 1], padding [1, 2], dilation [1, 2], bias', () => {
    const y = conv2d(seq([2, 4, 5, 6]), seq([6, 2, 3, 2], 0.9, 0.5), seq([6], 0.3, 0.1), { stride: [2, 1], padding: [1, 2], dilation: [1, 2], groups: 2 });
    expect(y.shape).toEqual(R.conv.shape);
    expectClose(y.data, R.conv.y);
  });
});

describe('resize and pooling against PyTorch', () => {
  it('bilinear (align_corners false): scale 2, size [5, 4], and downsizing to [2, 4]', () => {
    expectClose(upsampleBilinear(seq([1, 1, 2, 3]), { scale: 2 }).data, R.bilin_scale2);
    expectClose(upsampleBilinear(seq([1, 1, 3, 3]), { size: [5, 4] }).data, R.bilin_size54);
    expectClose(upsampleBilinear(seq([1, 1, 5, 6]), { size: [2, 4] }).data, R.bilin_size_down);
  });

  it('nearest to size [5, 7]', () => {
    expectClose(upsampleNearest(seq([1, 1, 3, 3]), { size: [5, 7] }).data, R.nearest_size57);
  });

  it('maxPool2d ties: all-equal input sends each window gradient to its first element (as PyTorch)', () => {
    const x = parameter(zeros([1, 1, 4, 4], 'float64'));
    sum(maxPool2d(x, 3, 1, 1)).backward();
    expectClose(x.grad!.data, R.maxpool_ties_grad, 0);
  });

  it('maxPool2d kernel [3, 2] stride [2, 1] padding 1: values and gradient', () => {
    const x = parameter(seq([1, 2, 5, 5]));
    const y = maxPool2d(x, [3, 2], [2, 1], 1);
    expect(y.shape).toEqual(R.maxpool.shape);
    expectClose(y.data, R.maxpool.y);
    sum(mul(y, seq([...y.shape], 0.2, 0.1))).backward();
    expectClose(x.grad!.data, R.maxpool.gx);
  });

  it('avgPool2d with padding, countIncludePad false (default) and true', () => {
    expectClose(avgPool2d(seq([1, 1, 4, 5]), 3, 2, 1).data, R.avgpool_nopad);
    expectClose(avgPool2d(seq([1, 1, 4, 5]), 3, 2, 1, true).data, R.avgpool_pad);
  });
});

describe('normalisation against PyTorch', () => {
  const xb = (): Tensor => {
    const t = seq([2, 3, 2, 3], 0.7, 0.3);
    for (let i = 0; i < t.size; i++) t.data[i] = t.data[i] * 2 + 0.5;
    return t;
  };

  it('BatchNorm2d: two training steps (output, running mean / unbiased var, batch count), then eval', () => {
    const bn = new BatchNorm2d(3, { dtype: 'float64' });
    bn.weight!.data.set(seq([3], 0.4, 1.0).data);
    bn.bias!.data.set(seq([3], 0.8, 0.2).data);
    expectClose(bn.forward(xb()).data, R.bn.y);
    bn.forward(seq([2, 3, 2, 3], 0.45, 0.1));
    expectClose(bn.state!.runningMean.data, R.bn.rm, 1e-12);
    expectClose(bn.state!.runningVar.data, R.bn.rv, 1e-12);
    expect(bn.state!.numBatchesTracked!.item()).toBe(R.bn.nbt);
    bn.eval();
    expectClose(bn.forward(xb()).data, R.bn_eval);
  });

  it('instanceNorm2d with affine', () => {
    expectClose(instanceNorm2d(xb(), seq([3], 0.4, 1.0), seq([3], 0.8, 0.2)).data, R.in);
  });
});

describe('losses against PyTorch', () => {
  const logits = (): Tensor => {
    const t = seq([2, 3, 2, 2], 1.7, 0.2);
    for (let i = 0; i < t.size; i++) t.data[i] *= 2;
    return t;
  };
  const target = Int32Array.from([0, 2, 1, 1, 2, 2, 0, 1]);
  const weight = [0.2, 1.0, 3.0];

  it('crossEntropy: weighted mean, ignoreIndex, none, sum', () => {
    expect(crossEntropy(logits(), target, { weight }).item()).toBeCloseTo(R.ce_w, 10);
    const t2 = target.slice();
    t2[2] = -100;
    expect(crossEntropy(logits(), t2, { weight }).item()).toBeCloseTo(R.ce_w_ignore, 10);
    const none = crossEntropy(logits(), t2, { weight, reduction: 'none' });
    expect(none.shape).toEqual([2, 2, 2]);
    expectClose(none.data, R.ce_none);
    expect(crossEntropy(logits(), target, { reduction: 'sum' }).item()).toBeCloseTo(R.ce_sum, 10);
  });

  it('bceWithLogits is finite and exact at logits -40 .. 50', () => {
    const x = new Tensor(Float64Array.from([-40, -3, 0, 2.5, 50]), [5]);
    const y = new Tensor(Float64Array.from([0, 1, 0.3, 0, 1]), [5]);
    expectClose(bceWithLogits(x, y, 'none').data, R.bce_none, 1e-12);
  });

  it('logSoftmax', () => {
    const x = seq([2, 4]);
    for (let i = 0; i < x.size; i++) x.data[i] *= 3;
    expectClose(logSoftmax(x, 1).data, R.lsm);
  });
});

describe('optimisers against PyTorch on f(p) = sum(a p^2 / 2 - c p)', () => {
  const a = [1, 3, 0.5];
  const c = [0.5, 1, -1];
  function run(make: (ps: Tensor[]) => Optimizer, steps: number): number[][] {
    const p = parameter(new Tensor(Float64Array.from([1, -2, 0.5]), [3]));
    const opt = make([p]);
    const res: number[][] = [];
    for (let s = 0; s < steps; s++) {
      opt.zeroGrad();
      // Gradient a p - c, set directly: this checks the update rule only.
      p.grad = new Tensor(Float64Array.from(p.data, (v, i) => a[i] * v - c[i]), [3]);
      opt.step();
      res.push(Array.from(p.data));
    }
    return res;
  }
  const check = (got: number[][], want: number[][]): void => got.forEach((row, i) => expectClose(row, want[i], 1e-11));

  it('Adam (lr 0.1, weight decay 0.01), 3 steps', () => check(run((ps) => new Adam(ps, { lr: 0.1, weightDecay: 0.01 }), 3), R.adam));
  it('Adam with the GAN settings (lr 2e-4, betas 0.5, 0.999), 2 steps', () => check(run((ps) => new Adam(ps, { lr: 2e-4, betas: [0.5, 0.999] }), 2), R.adam_gan));
  it('SGD momentum 0.9, weight decay 0.01', () => check(run((ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, weightDecay: 0.01 }), 3), R.sgd));
  it('SGD nesterov', () => check(run((ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true }), 3), R.sgd_nesterov));
  it('SGD dampening', () => check(run((ps) => new SGD(ps, { lr: 0.05, momentum: 0.5, dampening: 0.3 }), 3), R.sgd_damp));
});

it('WeightNormLinear parameter names match torch.nn.utils.weight_norm', () => {
  const m = new WeightNormLinear(3, 2, new Rng(1));
  expect(m.namedParameters().map(([n]) => n)).toEqual(R.wn_names);
});
