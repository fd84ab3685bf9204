// Builds dist/: the CLI, the library (ESM), the benchmarks, and type declarations.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  // gpu.js is CommonJS with optional native deps; keep it (and all npm deps) external.
  packages: 'external',
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
};

const entries = [
  { in: 'src/cli.ts', out: 'dist/cli.js', shebang: true },
  { in: 'src/index.ts', out: 'dist/index.js' },
];
if (existsSync('bench/main.ts')) entries.push({ in: 'bench/main.ts', out: 'dist/bench.js' });
for (const e of entries) {
  if (!existsSync(e.in)) continue;
  await build({
    ...common,
    entryPoints: [e.in],
    outfile: e.out,
    banner: { js: (e.shebang ? '#!/usr/bin/env node\n' : '') + common.banner.js },
  });
}
// Type declarations for library users.
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--emitDeclarationOnly'], { stdio: 'inherit' });
