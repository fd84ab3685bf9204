/**
 * backward()'s two options (src/autodiff/tape.ts): retainGraph (a second backward through the
 * same graph) and inputs (gradients only for the given leaves, and no work along paths that
 * reach none of them). The GAN step uses both to share one discriminator forward pass.
 */
import { describe, it, expect } from 'vitest';
import { Rng, tensor, parameter, randn, conv2d, mul, sum, exp, concat, slice, square, mean } from '../../src/autodiff/index.js';
import { backward, record } from '../../src/autodiff/tape.js';
import type { Tensor } from '../../src/autodiff/tensor.js';

/** Identity op whose backward records which of its inputs were asked for a gradient. */
function spy(x: Tensor, log: boolean[]): Tensor {
  return record('spy', tensor(Array.from(x.data), [...x.shape]), [x], (g) => {
    log.push(x.requiresGrad);
    return [x.requiresGrad ? g : null];
  });
}

const grads = (ts: Tensor[]) => ts.map((t) => (t.grad ? Array.from(t.grad.data) : null));

describe('backward options', () => {
  it('retainGraph keeps the graph for a second backward, which then releases it', () => {
    const w = parameter(tensor([0.5, -1, 2]));
    const h = exp(mul(w, 0.5));
    const l1 = sum(mul(h, h));
    const l2 = sum(mul(h, 3));
    backward(l1, undefined, { retainGraph: true });
    expect(h.node).not.toBeNull();
    const g1 = Array.from(w.grad!.data);
    w.grad = null;
    backward(l2);
    expect(h.node).toBeNull();
    expect(l2.node).toBeNull();
    // d/dw sum(3 exp(w / 2)) = 1.5 exp(w / 2); d/dw sum(exp(w)) = exp(w)
    Array.from(w.grad!.data).forEach((v, i) => expect(v).toBeCloseTo(1.5 * Math.exp(0.5 * w.data[i]), 5));
    g1.forEach((v, i) => expect(v).toBeCloseTo(Math.exp(w.data[i]), 5));
  });

  it('inputs: only the given leaves receive gradients, with the values of a full backward', () => {
    const make = () => {
      const r = new Rng(9);
      const a = parameter(randn([2, 3], r));
      const b = parameter(randn([3], r));
      const c = parameter(randn([2, 3], r));
      return { a, b, c, loss: sum(square(mul(exp(mul(a, b)), c))) };
    };
    const full = make();
    full.loss.backward();
    const part = make();
    backward(part.loss, undefined, { inputs: [part.a, part.c] });
    expect(grads([part.a, part.c])).toEqual(grads([full.a, full.c]));
    expect(part.b.grad).toBeNull();
    // The flags are restored: b still requires gradients and a later full backward reaches it.
    expect(part.b.requiresGrad).toBe(true);
  });

  it('inputs: ops skip the gradients nobody needs (a conv its weight or its input gradient)', () => {
    const r = new Rng(5);
    const w = parameter(randn([2, 1, 3, 3], r));
    const x = parameter(randn([1, 1, 5, 5], r));
    const wLog: boolean[] = [];
    const xLog: boolean[] = [];
    const loss = sum(square(conv2d(spy(x, xLog), spy(w, wLog), null, { padding: 1 })));
    backward(loss, undefined, { inputs: [x], retainGraph: true });
    expect(xLog).toEqual([true]);
    expect(wLog).toEqual([]); // the path to w reaches no requested input: never visited
    expect(w.grad).toBeNull();
    const gx = Array.from(x.grad!.data);
    x.grad = null;
    backward(loss, undefined, { inputs: [w] });
    expect(wLog).toEqual([true]);
    expect(xLog).toEqual([true]);
    expect(x.grad).toBeNull();
    expect(w.grad).not.toBeNull();
    expect(gx.some((v) => v !== 0)).toBe(true);
  });

  it('two losses through one shared forward pass match two separate forward passes', () => {
    // A miniature GAN step: G's output and a constant go through "D" together; G's loss must not
    // touch D's weights, D's loss must not reach G.
    const setup = () => {
      const r = new Rng(11);
      const g = parameter(randn([1, 1, 4, 4], r));
      const dW = parameter(randn([3, 1, 2, 2], r));
      const real = randn([1, 1, 4, 4], r);
      const fake = exp(mul(g, 0.3));
      return { g, dW, real, fake };
    };
    const D = (x: Tensor, w: Tensor) => conv2d(x, w, null, { stride: 2 });
    const lossG = (out: Tensor) => mean(square(slice(out, [[1, 2]])));
    const lossD = (out: Tensor) => mean(square(slice(out, [[0, 1]])));
    // Two passes.
    const a = setup();
    a.dW.requiresGrad = false;
    backward(lossG(D(concat([a.real, a.fake], 0), a.dW)));
    a.dW.requiresGrad = true;
    backward(lossD(D(concat([a.real, a.fake.detach()], 0), a.dW)));
    // One pass, two backwards.
    const b = setup();
    const out = D(concat([b.real, b.fake], 0), b.dW);
    backward(lossG(out), undefined, { inputs: [b.g], retainGraph: true });
    backward(lossD(out), undefined, { inputs: [b.dW] });
    expect(grads([b.g, b.dW])).toEqual(grads([a.g, a.dW]));
    expect(out.node).toBeNull();
  });

  it('inputs must be leaves', () => {
    const w = parameter(tensor([1, 2]));
    const h = mul(w, 2);
    expect(() => backward(sum(h), undefined, { inputs: [h] })).toThrow(/leaves/);
    // The failed call changed nothing: a plain backward still works.
    expect(w.requiresGrad).toBe(true);
  });
});
