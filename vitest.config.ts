import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Temp-directory guard: every test file gets its own TMPDIR and must leave it empty.
    globalSetup: ['test/reliability/tmp-guard.global.ts'],
    setupFiles: ['test/reliability/tmp-guard.setup.ts'],
    sequence: { hooks: 'stack' },
  },
});
