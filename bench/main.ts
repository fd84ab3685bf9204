/** Entry point of dist/bench.js: runs benchmark suites by name (see bench/registry.ts). */
import { getSuite, listSuites } from './registry.js';
import { BenchFlagError } from './flags.js';
// Suites (each registers itself on import). Add new suite modules here.
import './kernels.js';
import './memory.js';
import './gan.js';
import './segment.js';
import './pipeline.js';
import './render.js';
import './codecs.js';
import './winograd.js';

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  if (!name || name === '--help' || name === '-h') {
    console.log('usage: node dist/bench.js <suite> [args]\n\nsuites:');
    for (const s of listSuites()) console.log(`  ${s.name.padEnd(12)} ${s.description}`);
    return;
  }
  const names = name.split(',');
  for (const n of names) {
    const suite = getSuite(n);
    if (!suite) {
      console.error(`unknown suite '${n}'; available: ${listSuites().map((s) => s.name).join(', ')}`);
      process.exitCode = 2;
      return;
    }
    if (args.includes('--help') || args.includes('-h')) {
      console.log(suite.usage);
      continue;
    }
    await suite.run(args);
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (e) => {
    if (e instanceof BenchFlagError) {
      console.error(e.message);
      process.exit(2);
    }
    console.error(e);
    process.exit(1);
  },
);
