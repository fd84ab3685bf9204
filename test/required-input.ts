/**
 * Tests that need an input from outside the repository (the shared TiO2 data, Chromium) skip
 * without it on a developer's machine, but in CI (CI=true, which .ci/run sets) a missing input is
 * a failing test instead, so a suite can never turn green by quietly running less.
 */
import { it } from 'vitest';

export function inCi(): boolean {
  return process.env.CI === 'true' || process.env.CI === '1';
}

/**
 * Whether the input is there. When it is not: in CI a test named after it fails, saying what is
 * missing; elsewhere a warning says what is skipped. Call at the top level of the test file.
 */
export function requireInput(what: string, present: boolean, file: string): boolean {
  if (present) return true;
  if (inCi()) {
    it(`needs ${what} (missing in CI)`, () => {
      throw new Error(`${file}: not found: ${what}; CI must provide it (the tests that need it would otherwise be skipped)`);
    });
  } else {
    console.warn(`${file}: skipped, not found: ${what}`);
  }
  return false;
}
