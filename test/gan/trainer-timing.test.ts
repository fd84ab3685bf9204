/** Epoch rows of metrics.jsonl carry the run's own timing (seconds per step, evaluation). */
import { it, expect } from 'vitest';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/autodiff/index.js';
import { runTraining } from '../../src/node/train.js';

it('each trained epoch records seconds per step and seconds of evaluation', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'drg-timing-'));
  try {
    await runTraining({
      preset: 'tio2-sem', cropBottom: 0, batch: 1, lrD: 1e-4, norm: 'batch', evalSamples: 2, seed: 3, quiet: true,
      patch: 32, epochs: 2, stepsPerEpoch: 2, baseFilters: 4, configs: 4, out: join(dir, 'run'),
    });
    const rows = readFileSync(join(dir, 'run', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'epoch');
    // Epoch 0 (the untrained generator) has no steps and no timing; epochs 1 and 2 have both.
    expect(rows.map((r) => r.epoch)).toEqual([0, 1, 2]);
    expect(rows[0].seconds).toBeUndefined();
    for (const r of rows.slice(1)) {
      expect(r.seconds.step).toBeGreaterThan(0);
      expect(r.seconds.evaluation).toBeGreaterThan(0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 300_000);
