import { describe, expect, it } from 'vitest';
import { BenchFlagError, parseFlags, usageOf } from '../../bench/flags.js';
import { listSuites } from '../../bench/registry.js';
import '../../bench/kernels.js';
import '../../bench/memory.js';
import '../../bench/gan.js';
import '../../bench/segment.js';
import '../../bench/render.js';
import '../../bench/pipeline.js';

const SPECS = {
  reps: { kind: 'number', def: 5, int: true, min: 1, help: 'timed steps' },
  backend: { kind: 'string', def: 'auto', choices: ['auto', 'wasm'], help: 'backend' },
  json: { kind: 'bool', help: 'JSON' },
} as const;

describe('bench flags', () => {
  it('parses values and defaults', () => {
    expect(parseFlags('t', [], SPECS)).toEqual({ reps: 5, backend: 'auto', json: false });
    expect(parseFlags('t', ['--json', '--reps', '7', '--backend', 'wasm'], SPECS)).toEqual({ reps: 7, backend: 'wasm', json: true });
  });

  it('rejects unknown flags, missing and bad values with a BenchFlagError naming the suite and flag', () => {
    for (const args of [['--bogus'], ['--reps'], ['--reps', 'x'], ['--reps', '0'], ['--reps', '1.5'], ['--backend', 'gpu'], ['stray']]) {
      expect(() => parseFlags('t', args, SPECS)).toThrow(BenchFlagError);
      expect(() => parseFlags('t', args, SPECS)).toThrow(/^bench t: /);
    }
  });

  it('every suite registers a usage text (what --help prints)', () => {
    const suites = listSuites();
    expect(suites.map((s) => s.name).sort()).toEqual(['gan', 'kernels', 'memory', 'pipeline', 'render', 'segment']);
    for (const s of suites) {
      expect(s.usage).toContain(`node dist/bench.js ${s.name}`);
      expect(s.usage).toContain('--help');
    }
    expect(usageOf('t', 'x', SPECS)).toMatch(/--reps N\s+timed steps \(default 5\)/);
  });
});
