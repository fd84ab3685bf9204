/**
 * The one flag parser of the bench suites. A suite declares its flags (name, kind, default,
 * help line); `--help` / `-h` prints the usage built from them (bench/main.ts does that before
 * the suite runs), and an unknown flag or a bad value is a BenchFlagError, which main.ts turns
 * into a one-line message and exit code 2 (as the CLI does for a bad flag).
 */

export class BenchFlagError extends Error {}

export type FlagSpec =
  | { kind: 'number'; def: number; help: string; int?: boolean; min?: number }
  | { kind: 'string'; def: string; help: string; choices?: readonly string[] }
  | { kind: 'bool'; help: string };

export type FlagSpecs = Record<string, FlagSpec>;

/** Parsed values: numbers, strings and booleans by flag name (without the leading dashes). */
export type Flags<S extends FlagSpecs> = {
  [K in keyof S]: S[K] extends { kind: 'number' } ? number : S[K] extends { kind: 'string' } ? string : boolean;
};

/** The usage text of a suite: its command line, then one line per flag. */
export function usageOf(suite: string, summary: string, specs: FlagSpecs): string {
  const lines = [`usage: node dist/bench.js ${suite} [flags]`, '', summary, '', 'flags:'];
  const cell = (name: string, s: FlagSpec) => (s.kind === 'bool' ? `--${name}` : `--${name} ${s.kind === 'number' ? 'N' : 'S'}`);
  const width = Math.max(10, ...Object.entries(specs).map(([n, s]) => cell(n, s).length));
  for (const [name, s] of Object.entries(specs)) {
    const def = s.kind === 'bool' || s.def === '' ? '' : ` (default ${s.def}${s.kind === 'string' && s.choices ? `; one of ${s.choices.join(', ')}` : ''})`;
    lines.push(`  ${cell(name, s).padEnd(width)}  ${s.help}${def}`);
  }
  lines.push(`  ${'--help'.padEnd(width)}  this text`);
  return lines.join('\n');
}

export function parseFlags<S extends FlagSpecs>(suite: string, args: readonly string[], specs: S): Flags<S> {
  const out: Record<string, number | string | boolean> = {};
  for (const [name, s] of Object.entries(specs)) out[name] = s.kind === 'bool' ? false : s.def;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const name = a.startsWith('--') ? a.slice(2) : '';
    const s = specs[name];
    if (!s) throw new BenchFlagError(`bench ${suite}: unknown flag '${a}' (node dist/bench.js ${suite} --help lists them)`);
    if (s.kind === 'bool') {
      out[name] = true;
      continue;
    }
    const v = args[++i];
    if (v === undefined) throw new BenchFlagError(`bench ${suite}: --${name} needs a value`);
    if (s.kind === 'number') {
      const n = Number(v);
      if (!Number.isFinite(n) || (s.int && !Number.isInteger(n)) || (s.min !== undefined && n < s.min)) {
        throw new BenchFlagError(`bench ${suite}: --${name} must be a${s.int ? 'n integer' : ' number'}${s.min !== undefined ? ` >= ${s.min}` : ''}, got '${v}'`);
      }
      out[name] = n;
    } else {
      if (s.choices && !s.choices.includes(v)) throw new BenchFlagError(`bench ${suite}: --${name} must be one of ${s.choices.join(', ')}, got '${v}'`);
      out[name] = v;
    }
  }
  return out as Flags<S>;
}
