/**
 * A 1,000-step training loop of a small MLP must keep a flat heap, and backward must leave no
 * tape entries behind. The garbage collector is exposed at run time (v8 flag + a fresh context)
 * so that heap readings after gc() measure live objects only; tensor data (typed arrays) is
 * stored outside the JS heap, so the reading is heapUsed + arrayBuffers.
 */
import { it, expect } from 'vitest';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Tensor, Rng, Linear, relu, mseLoss, Adam } from '../../src/autodiff/index.js';

function getGc(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

it('1,000 Adam steps of Linear-ReLU-Linear keep a flat heap and an empty tape', () => {
  const gc = getGc();
  const rng = new Rng(3);
  const l1 = new Linear(8, 32, rng);
  const l2 = new Linear(32, 1, rng);
  const opt = new Adam([...l1.parameters(), ...l2.parameters()], { lr: 1e-2 });
  const batch = 16;
  const x = new Tensor(Float32Array.from({ length: batch * 8 }, () => rng.normal()), [batch, 8]);
  // Target: a fixed smooth function of the inputs.
  const t = new Tensor(Float32Array.from({ length: batch }, (_, i) => Math.tanh(x.data[i * 8] - x.data[i * 8 + 1])), [batch, 1]);
  const heap: number[] = [];
  let first = NaN;
  let last = NaN;
  for (let step = 1; step <= 1000; step++) {
    opt.zeroGrad();
    const h = l1.forward(x);
    const a = relu(h);
    const y = l2.forward(a);
    const loss = mseLoss(y, t);
    loss.backward();
    opt.step();
    if (step === 1) first = loss.item();
    last = loss.item();
    // Every tape entry of this step was released by backward.
    if (h.node || a.node || y.node || loss.node || opt.params.some((p) => p.node)) throw new Error(`tape entry left after backward at step ${step}`);
    if (step >= 200 && step % 50 === 0) {
      // Twice: array-buffer storage is released by finalisers that run after the first pass.
      gc();
      gc();
      // Typed-array storage lives outside the JS heap: count both.
      const m = process.memoryUsage();
      heap.push(m.heapUsed + m.arrayBuffers);
    }
  }
  expect(last).toBeLessThan(first * 0.2); // it did train
  // Readings every 50 steps from step 200 to 1000. Uncollected garbage only adds to a reading,
  // so the minimum of a window is the live size. A leak of one step's graph (tens of small
  // tensors, ~3-5 kB) grows the heap by ~2-4 MB over these 800 steps; allow 1 MB of noise.
  const early = Math.min(...heap.slice(0, 5));
  const late = Math.min(...heap.slice(-5));
  expect(late - early, `heap (MB) at steps 200, 250, ..., 1000: ${heap.map((b) => (b / 2 ** 20).toFixed(2)).join(' ')}`).toBeLessThan(2 ** 20);
});
