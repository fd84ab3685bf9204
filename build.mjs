// Builds dist/: the CLI, the library (ESM), the benchmarks, the browser bundle, the demo page's
// scripts, and type declarations.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

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
if (existsSync('fuzz/main.ts')) entries.push({ in: 'fuzz/main.ts', out: 'dist/fuzz.js' });
for (const e of entries) {
  if (!existsSync(e.in)) continue;
  await build({
    ...common,
    entryPoints: [e.in],
    outfile: e.out,
    banner: { js: (e.shebang ? '#!/usr/bin/env node\n' : '') + common.banner.js },
  });
}

// The browser bundle (src/browser.ts: engine, renderer, GAN trainer, io decoders; no gpu.js, no
// Node module) and the demo page's scripts (demo/app.ts, its module worker demo/worker.ts).
// Budget of the browser bundle, gzipped: the build fails above it.
const BROWSER_BUDGET_GZIP = 150 * 1024;
const browser = {
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
};
if (existsSync('src/browser.ts')) {
  await build({ ...browser, entryPoints: ['src/browser.ts'], outfile: 'dist/browser.js' });
  const bytes = readFileSync('dist/browser.js');
  const gz = gzipSync(bytes, { level: 9 }).length;
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  console.log(`dist/browser.js: ${kb(bytes.length)} raw, ${kb(gz)} gzipped (budget ${kb(BROWSER_BUDGET_GZIP)} gzipped)`);
  if (gz > BROWSER_BUDGET_GZIP) {
    console.error(`dist/browser.js is ${kb(gz)} gzipped, over its ${kb(BROWSER_BUDGET_GZIP)} budget`);
    process.exit(1);
  }
}
if (existsSync('demo/app.ts')) {
  await build({ ...browser, entryPoints: ['demo/app.ts', 'demo/worker.ts'], outdir: 'dist/demo' });
}

// Type declarations for library users.
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--emitDeclarationOnly'], { stdio: 'inherit' });
