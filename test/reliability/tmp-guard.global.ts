/**
 * vitest globalSetup of the temp-directory guard (see tmp-guard.setup.ts): one folder per test
 * run under the system temp directory; every test file gets its own subfolder there as TMPDIR.
 * At the end of the run the folder is removed; whatever a test file left in it (a file whose
 * own guard could not run, e.g. a crashed worker) fails the run, by name, unless it is an empty
 * folder.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
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
    // A per-file folder that is still there but empty leaked nothing: vitest runs no afterAll
    // of a file whose tests were all skipped, so such a file cannot remove its own folder.
    const left = existsSync(root) ? readdirSync(root).filter((name) => !isEmptyFolder(join(root, name))) : [];
    rmSync(root, { recursive: true, force: true });
    if (left.length > 0) {
      // vitest reports an error thrown here but still exits with 0: set the exit code too.
      process.exitCode = 1;
      throw new Error(`temp-directory guard: test files left ${left.join(', ')} in ${root} (removed now)`);
    }
  };
}

function isEmptyFolder(path: string): boolean {
  return statSync(path).isDirectory() && readdirSync(path).length === 0;
}
