/**
 * The temp-directory guard (tmp-guard.global.ts + tmp-guard.setup.ts) can fail: a nested vitest
 * run over three fixtures, one that forgets a temp folder, one that removes its own and one whose
 * tests are all skipped, must exit non-zero naming the forgetful file only, and remove the
 * forgotten folder anyway.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { ROOT } from './helpers.js';

describe('temp-directory guard', () => {
  it('this file runs with a TMPDIR of its own inside the run folder', () => {
    expect(tmpdir().startsWith(inject('drgTmpRoot') + '/file-')).toBe(true);
    expect(process.env.TMPDIR).toBe(tmpdir());
  });

  it('a test file that leaves a temp folder fails the run, by name; the folder is removed anyway', () => {
    const fixtures = join(ROOT, 'test/reliability/fixtures/tmp-guard');
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--config', join(fixtures, 'vitest.config.ts')], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 110_000,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    const out = r.stdout + r.stderr;
    expect(r.status, out).toBe(1);
    expect(out).toMatch(/temp-directory guard: \S*leaks\.fixture\.ts left 1 entry in its TMPDIR: forgotten-/);
    expect(out).not.toMatch(/tidy\.fixture\.ts left/);
    // skipped.fixture.ts runs no afterAll, so its (empty) TMPDIR outlives it: that is no leak.
    expect(out).not.toMatch(/test files left/);
    expect(out).toMatch(/Tests\s+2 passed/);
    const leaked = /TMPDIR-OF-LEAKS (\S+)/.exec(out)?.[1];
    expect(leaked, out).toBeDefined();
    expect(existsSync(leaked!)).toBe(false);
  }, 120_000);
});
