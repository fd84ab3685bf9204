/** Every gradcheck case of the nn op modules, in float64, through the shared harness. */
import { describe, it, expect } from 'vitest';
import '../../src/autodiff/index.js';
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

it('reports the largest error per op', () => {
  if (process.env.GRADCHECK_REPORT) console.log([...worst].map(([op, e]) => `${op}: ${e.toExponential(2)}`).join('\n'));
});
