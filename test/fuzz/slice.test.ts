/**
 * A short slice of `npm run fuzz` (fuzz/): the first inputs of every target, run in-process,
 * must each be accepted or refused with a UserError; no other exception. The full run
 * (>= 10,000 inputs per target, hang and RSS watch) is `npm run fuzz`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runInput } from '../../fuzz/main.js';
import { TARGETS, type Target } from '../../fuzz/targets.js';
import { PlantedCrash } from './planted.js';

const SLICE = Number(process.env.FUZZ_SLICE ?? 60);
const work = mkdtempSync(join(tmpdir(), 'drg-fuzz-slice-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function slice(target: Target, n: number): Promise<{ ok: number; clean: number; crashes: string[] }> {
  await target.setup(mkdtempSync(join(work, `${target.name}-`)));
  const r = { ok: 0, clean: 0, crashes: [] as string[] };
  for (let i = 0; i < n; i++) {
    const o = await runInput(target, 1, i);
    if (o === 'ok') r.ok++;
    else if (o === 'clean') r.clean++;
    else r.crashes.push(`input ${i}: ${o.crash}`);
  }
  return r;
}

describe(`fuzz slice: ${SLICE} inputs per target`, () => {
  for (const name of Object.keys(TARGETS)) {
    it(name, async () => {
      const r = await slice(TARGETS[name]!(), SLICE);
      expect(r.crashes).toEqual([]);
      expect(r.ok + r.clean).toBe(SLICE);
      // The inputs reach the checks: most are refused, and not all by the same first check.
      expect(r.clean).toBeGreaterThan(0);
    }, 120_000);
  }

  it('counts an exception other than a UserError as a crash', async () => {
    const r = await slice(PlantedCrash, 5);
    expect(r.crashes.length).toBe(5);
    expect(r.crashes[0]).toMatch(/TypeError: planted/);
  });
});
