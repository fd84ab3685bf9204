import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pickBest } from '../../src/node/train.js';
import { PARAMETER_TABLE, paramIndex } from '../../src/render/params.js';

describe('pickBest measures spreads against the ranges the generator maps into', () => {
  it('an epoch broad within the calibrated range is not called collapsed because the table range is wider', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pick-best-'));
    try {
      // blurSigma's table range is 0.2-4 px; the run's calibrated range is 0.4-0.6 px.
      const table = PARAMETER_TABLE[paramIndex('blurSigma')];
      expect(table.max - table.min).toBeGreaterThan(3);
      const gan = { learned: ['blurSigma'], ranges: { blurSigma: [0.4, 0.6] as [number, number] } };
      // Epoch 4 has the lowest score and a std of 0.01 px: 5 % of the calibrated range (healthy),
      // 0.26 % of the table range (collapsed under the table). Epoch 3 scores 20 % worse.
      const rows = [
        { epoch: 1, combined: 2.0, std: 0.05 },
        { epoch: 2, combined: 1.8, std: 0.05 },
        { epoch: 3, combined: 1.2, std: 0.05 },
        { epoch: 4, combined: 1.0, std: 0.01 },
      ].map((r) => JSON.stringify({ type: 'epoch', epoch: r.epoch, step: r.epoch * 10, realism: { combined: r.combined }, paramStd: { blurSigma: r.std } }));
      writeFileSync(join(dir, 'metrics.jsonl'), rows.join('\n') + '\n');
      const best = pickBest(dir, gan)!;
      expect(best.epoch).toBe(4);
      expect(best.reason).not.toContain('collapsed');
      // Without calibrated ranges the table range applies and epoch 4 counts as collapsed.
      const table4 = pickBest(dir, { learned: ['blurSigma'] })!;
      expect(table4.epoch).toBe(3);
      expect(table4.reason).toContain('late epochs 4 collapsed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
