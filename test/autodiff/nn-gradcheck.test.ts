/** Every gradcheck case of the nn op modules, in float64, through the shared harness. */
import { describe, it, expect } from 'vitest';
import { Tensor } from '../../src/autodiff/index.js';
import { gradcheck, type GradcheckCase } from '../../src/autodiff/gradcheck.js';
import { Rng } from '../../src/autodiff/rng.js';
import { gradcheckCases as conv } from '../../src/autodiff/ops/conv.js';
import { gradcheckCases as pool } from '../../src/autodiff/ops/pool.js';
import { gradcheckCases as upsample } from '../../src/autodiff/ops/upsample.js';
import { gradcheckCases as norm } from '../../src/autodiff/ops/norm.js';
import { gradcheckCases as dropout } from '../../src/autodiff/ops/dropout.js';
import { gradcheckCases as softmax } from '../../src/autodiff/ops/softmax.js';
import { gradcheckCases as loss } from '../../src/autodiff/ops/loss.js';

const modules: Record<string, GradcheckCase[]> = { conv, pool, upsample, norm, dropout, softmax, loss };
const worst = new Map<string, number>();

for (const [mod, cases] of Object.entries(modules)) {
  describe(`gradcheck ${mod}`, () => {
    it('has cases', () => expect(cases.length).toBeGreaterThan(0));
    for (const c of cases) {
      it(`${c.op}: ${c.variant}`, () => {
        const { f, inputs } = c.make(new Rng(7));
        const r = gradcheck(f, inputs, c.options);
        worst.set(c.op, Math.max(worst.get(c.op) ?? 0, r.maxAbsError));
        expect(r.failure, JSON.stringify(r.failure)).toBeUndefined();
        expect(r.ok).toBe(true);
        expect(r.checked).toBeGreaterThan(0);
      });
    }
  });
}

// The same cases in float32: forward values agree with float64 and backward runs, in float32.
for (const [mod, cases] of Object.entries(modules)) {
  it(`${mod} ops in float32 match float64`, () => {
    for (const c of cases) {
      const { f, inputs } = c.make(new Rng(7));
      const y64 = f(...inputs);
      const xs = inputs.map((t) => new Tensor(Float32Array.from(t.data), t.shape, true));
      const y32 = f(...xs);
      // Loss cases close over float64 constant targets, which promote the result to float64.
      if (mod !== 'loss') expect(y32.dtype, `${c.op}: ${c.variant}`).toBe('float32');
      let worst = 0;
      for (let i = 0; i < y64.size; i++) worst = Math.max(worst, Math.abs(y32.data[i] - y64.data[i]) / (1 + Math.abs(y64.data[i])));
      expect(worst, `${c.op}: ${c.variant}`).toBeLessThan(1e-4);
      y32.backward(new Tensor(new Float32Array(y32.size).fill(1), y32.shape));
      for (const x of xs) expect(x.grad === null || x.grad.data.every(Number.isFinite), `${c.op}: ${c.variant}`).toBe(true);
    }
  });
}

it('every op was checked, its largest error finite and small (printed with GRADCHECK_REPORT=1)', () => {
  if (process.env.GRADCHECK_REPORT) console.log([...worst].map(([op, e]) => `${op}: ${e.toExponential(2)}`).join('\n'));
  const ops = new Set(Object.values(modules).flatMap((cases) => cases.map((c) => c.op)));
  // Runs after the per-case tests (file order): each op has a recorded error.
  expect([...worst.keys()].sort()).toEqual([...ops].sort());
  for (const [op, e] of worst) {
    expect(Number.isFinite(e), op).toBe(true);
    // Central differences in float64 (eps 1e-6) agree to 1e-7 or better on these cases (largest
    // 6e-8, logSoftmax); the per-element tolerance is atol 1e-6 + rtol 1e-4 |numeric|, so a worst
    // error above 1e-6 means an op passed only through the relative slack on a large gradient.
    expect(e, op).toBeLessThan(1e-6);
  }
});
