import { describe, it, expect } from 'vitest';
import { Rng } from '../../src/autodiff/index.js';
import { gradcheck } from '../../src/autodiff/gradcheck.js';
import { allGradcheckCases } from '../../src/autodiff/gradcheck-cases.js';
import { gradcheckCases } from '../../src/render/gradcheck-cases.js';
import '../../src/cli/gradcheck.js';

describe('renderer gradcheck cases (as run by `diffrendergan gradcheck`)', () => {
  it('are registered with the gradcheck command', () => {
    const all = allGradcheckCases();
    for (const c of gradcheckCases) expect(all).toContain(c);
    expect(new Set(gradcheckCases.map((c) => c.op))).toEqual(new Set(['softRasterize', 'gaussianBlur', 'substrateTexture', 'scanArtifacts', 'shadeSEM', 'renderImage']));
  });
  for (const [i, c] of gradcheckCases.entries()) {
    it(`${c.op}: ${c.variant}`, () => {
      const { f, inputs } = c.make(new Rng(100_003 + i));
      const r = gradcheck(f, inputs, { seed: 1 + i, ...c.options });
      expect(r.failure).toBeUndefined();
      expect(r.ok).toBe(true);
    });
  }
});
