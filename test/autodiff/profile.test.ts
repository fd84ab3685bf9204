import { describe, expect, it } from 'vitest';
import {
  Rng, conv2d, parameter, randn, relu, sum, startProfile, stopProfile, formatProfile, phase, profileStepStart, profileStepEnd,
} from '../../src/autodiff/index.js';

function step(x: ReturnType<typeof randn>, w: ReturnType<typeof parameter>): void {
  const y = sum(relu(conv2d(x, w, null, { padding: 1 })));
  y.backward();
  phase('optimizer', () => {
    w.grad = null;
  });
}

describe('step profiler', () => {
  it('counts ops forward and backward, kernels, phases and allocations inside steps only', () => {
    const rng = new Rng(3);
    const x = randn([1, 2, 6, 6], rng);
    const w = parameter(randn([3, 2, 3, 3], rng));
    startProfile();
    step(x, w); // outside a step: not counted
    for (let i = 0; i < 2; i++) {
      profileStepStart();
      step(x, w);
      profileStepEnd();
    }
    const r = stopProfile()!;
    expect(r.steps).toBe(2);
    const row = (kind: string, name: string) => r.rows.find((q) => q.kind === kind && q.name === name);
    expect(row('op', 'conv2d')?.calls).toBe(2);
    expect(row('op', 'relu')?.calls).toBe(2);
    expect(row('op', 'sum')?.calls).toBe(2);
    expect(row('kernel', 'conv2d')?.calls).toBe(2);
    // backward: input gradient not needed (x is not a parameter), weight gradient is
    expect(row('kernel', 'conv2dGradWeight')?.calls).toBe(2);
    expect(row('kernel', 'conv2dGradInput')).toBeUndefined();
    expect(row('phase', 'optimizer')?.calls).toBe(2);
    for (const q of r.rows) expect(q.forwardMs + q.backwardMs).toBeGreaterThanOrEqual(0);
    expect(row('op', 'conv2d')!.backwardMs).toBeGreaterThan(0);
    // per step at least the forward outputs (conv, relu, sum); backward gradients may come from
    // the gradient pool (pool.ts) after the first step
    expect(r.allocations).toBeGreaterThanOrEqual(2 * 3);
    expect(r.allocatedBytes).toBeGreaterThan(0);
    const text = formatProfile(r);
    expect(text).toMatch(/\| op \| conv2d \| 1\.0 \|/);
    expect(text).toMatch(/allocations per step: \d+ tensor buffers/);
    expect(stopProfile()).toBeNull();
  });

  it('costs nothing and records nothing when no profile is active', () => {
    const rng = new Rng(4);
    profileStepStart();
    step(randn([1, 1, 4, 4], rng), parameter(randn([1, 1, 3, 3], rng)));
    profileStepEnd();
    expect(stopProfile()).toBeNull();
  });
});
