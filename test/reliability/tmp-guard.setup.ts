/**
 * vitest setupFile: the temp-directory guard. Each test file runs with TMPDIR pointing at a
 * fresh folder of its own (inside the run's folder made by tmp-guard.global.ts), so everything it
 * makes through os.tmpdir(), and every CLI child process it spawns, lands there. After the file's
 * own afterAll hooks have run, the folder must be empty: a leftover fails the file, naming what
 * was left (the folder is removed either way, so a failing guard does not leak either).
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, inject } from 'vitest';

const before = process.env.TMPDIR;
const root = inject('drgTmpRoot') ?? tmpdir();
const mine = mkdtempSync(join(root, 'file-'));
process.env.TMPDIR = mine;

// Registered before the test file's hooks; vitest runs after-hooks in reverse order (the
// default sequence.hooks 'stack'), so this one runs last.
afterAll(() => {
  if (before === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = before;
  const left = readdirSync(mine);
  rmSync(mine, { recursive: true, force: true });
  if (left.length > 0) {
    const file = expect.getState().testPath ?? 'this test file';
    throw new Error(`temp-directory guard: ${file} left ${left.length} entr${left.length === 1 ? 'y' : 'ies'} in its TMPDIR: ${left.slice(0, 10).join(', ')}`);
  }
});
