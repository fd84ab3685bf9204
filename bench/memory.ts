/**
 * Memory benchmark: peak RSS of a short GAN run at the reference protocol's sizes (patch 256,
 * 64 discriminator base filters, batch 1), in a child process so the number is the run's own.
 *
 *   node dist/bench.js memory [--steps 3] [--patch 256] [--base-filters 64] [--json]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerSuite } from './registry.js';
import { parseFlags, usageOf, type FlagSpecs } from './flags.js';

const FLAGS = {
  steps: { kind: 'number', def: 3, int: true, min: 1, help: 'GAN steps of the child run' },
  patch: { kind: 'number', def: 256, int: true, min: 8, help: 'patch side in pixels' },
  'base-filters': { kind: 'number', def: 64, int: true, min: 1, help: 'discriminator base filters' },
  json: { kind: 'bool', help: 'print one JSON object' },
} as const satisfies FlagSpecs;

/** The repository root (dist/bench.js and bench/memory.ts both sit one level below it). */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Bundles the GAN memory child (test/reliability/fixtures/gan-memory-child.ts) and runs `use`
 * with the bundle's path; shared by this suite and the flat-heap test. The bundle goes under
 * node_modules/.cache so that its external packages (gpu.js, pulled in by the backend selection)
 * resolve from the repository, in a folder of its own (parallel runs) that is removed when `use`
 * returns or throws.
 */
export async function withMemoryChild<T>(use: (file: string) => T | Promise<T>): Promise<T> {
  const { build } = await import('esbuild');
  const cache = join(ROOT, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'drg-memory-'));
  try {
    return await use(await bundleInto(build, join(dir, 'gan-memory-child.mjs')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function bundleInto(build: typeof import('esbuild').build, outfile: string): Promise<string> {
  await build({
    entryPoints: [join(ROOT, 'test/reliability/fixtures/gan-memory-child.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  return outfile;
}

export async function run(args: string[]): Promise<void> {
  const f = parseFlags('memory', args, FLAGS);
  const steps = f.steps;
  const patch = f.patch;
  const base = f['base-filters'];
  const root = ROOT;
  // The reference protocol's sizes need the fast backend (the reference loops take minutes a step).
  const out = await withMemoryChild((outfile) => execFileSync(process.execPath, ['--expose-gc', outfile, String(steps), '1', String(patch), String(base), 'wasm'], { encoding: 'utf8', cwd: root }));
  const r = JSON.parse(out.trim().split('\n').pop()!) as { samples: { step: number; bytes: number }[]; maxRssBytes: number; seconds: number };
  const result = { suite: 'memory', steps, patch, baseFilters: base, peakRssMiB: r.maxRssBytes / 2 ** 20, liveAfterGcMiB: r.samples.map((s) => s.bytes / 2 ** 20), secondsPerStep: r.seconds / steps };
  if (f.json) console.log(JSON.stringify(result));
  else {
    console.log(`memory: ${steps} GAN steps, patch ${patch}, ${base} base filters (wasm backend)`);
    console.log(`  peak RSS            ${result.peakRssMiB.toFixed(1)} MiB`);
    console.log(`  live after gc       ${result.liveAfterGcMiB.map((v) => v.toFixed(1)).join(', ')} MiB`);
    console.log(`  time per step       ${result.secondsPerStep.toFixed(2)} s`);
  }
}

registerSuite({
  name: 'memory',
  description: 'peak RSS of a short reference-protocol GAN run (patch 256, 64 filters)',
  usage: usageOf('memory', 'Peak RSS and live heap after gc of a short GAN run, in a child process (the run\'s own numbers).', FLAGS),
  run,
});
