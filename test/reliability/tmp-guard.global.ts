/**
 * vitest globalSetup of the temp-directory guard (see tmp-guard.setup.ts): one folder per test
 * run under the system temp directory; every test file gets its own subfolder there as TMPDIR.
 * At the end of the run the folder is removed; whatever a test file left in it (a file whose
 * own guard could not run, e.g. a crashed worker) fails the run, by name.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    drgTmpRoot: string;
  }
}

export default function setup(project: TestProject): () => void {
  const root = mkdtempSync(join(tmpdir(), 'drg-vitest-'));
  project.provide('drgTmpRoot', root);
  return () => {
    const left = existsSync(root) ? readdirSync(root) : [];
    rmSync(root, { recursive: true, force: true });
    if (left.length > 0) {
      // vitest reports an error thrown here but still exits with 0: set the exit code too.
      process.exitCode = 1;
      throw new Error(`temp-directory guard: test files left ${left.join(', ')} in ${root} (removed now)`);
    }
  };
}
