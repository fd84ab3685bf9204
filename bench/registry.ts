/**
 * Benchmark suite registry. A suite module calls registerSuite() at import time; bench/main.ts
 * imports every suite module and runs the one named on the command line:
 *
 *   node dist/bench.js                 # lists suites
 *   node dist/bench.js kernels [--json] [suite flags...]
 */
import { readFileSync } from 'node:fs';

export interface Suite {
  name: string;
  description: string;
  /** What `node dist/bench.js <suite> --help` prints (bench/flags.ts usageOf()). */
  usage: string;
  /** Runs the suite; `args` are the command-line arguments after the suite name. */
  run(args: string[]): Promise<void>;
}

const suites = new Map<string, Suite>();

export function registerSuite(s: Suite): void {
  if (suites.has(s.name)) throw new Error(`benchmark suite '${s.name}' registered twice`);
  suites.set(s.name, s);
}

export function getSuite(name: string): Suite | undefined {
  return suites.get(name);
}

export function listSuites(): Suite[] {
  return [...suites.values()];
}

/** The 1-, 5- and 15-minute load averages as text, printed beside timings (machines may be shared). */
export function loadavg(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'n/a';
  }
}
