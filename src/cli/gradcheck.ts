/** `diffrendergan gradcheck`: every registered op's gradient against central finite differences. */
import { allGradcheckCases, registerGradcheckCases } from '../autodiff/gradcheck-cases.js';
import { gradcheckCases as renderGradcheckCases } from '../render/gradcheck-cases.js';
import { gradcheck } from '../autodiff/gradcheck.js';
import { Rng } from '../autodiff/rng.js';
import { backendFlag, selectBackend } from './backend-flag.js';
import { ExitCode, UserError } from '../errors.js';
import type { CommandSpec, ParsedFlags } from './args.js';

registerGradcheckCases('render', renderGradcheckCases);

export const gradcheckCommand: CommandSpec = {
  name: 'gradcheck',
  summary: 'check every op gradient against central finite differences in float64',
  usage: 'diffrendergan gradcheck [--op NAME] [--json] [--seed N]',
  flags: [
    { name: 'op', type: 'string', meta: 'NAME', help: 'check only this op (see the list printed without it)' },
    { name: 'json', type: 'boolean', help: 'print one JSON object instead of a table' },
    { name: 'seed', type: 'int', meta: 'N', default: 1, help: 'seed of the random inputs' },
    backendFlag({ default: 'reference', help: 'compute backend; the checks run in float64, which float32-only backends (wasm, gpujs) hand to the reference kernels: their float32 kernels are checked against the reference by the test suite (test/kernels)' }),
  ],
};

export interface GradcheckRow {
  op: string;
  variant: string;
  ok: boolean;
  maxAbsError: number;
  maxRelError: number;
  checked: number;
  ms: number;
  error?: string;
}

export function runGradchecks(opFilter: string | undefined, seed: number): GradcheckRow[] {
  let cases = allGradcheckCases();
  if (opFilter) {
    cases = cases.filter((c) => c.op === opFilter);
    if (cases.length === 0) {
      const names = [...new Set(allGradcheckCases().map((c) => c.op))].sort();
      throw new UserError(`--op: no registered op named '${opFilter}'. Registered: ${names.join(', ')}`, ExitCode.usage);
    }
  }
  return cases.map((c, i) => {
    const t0 = performance.now();
    try {
      const { f, inputs } = c.make(new Rng(seed * 100_003 + i));
      const r = gradcheck(f, inputs, { seed: seed + i, ...c.options });
      return { op: c.op, variant: c.variant, ok: r.ok, maxAbsError: r.maxAbsError, maxRelError: r.maxRelError, checked: r.checked, ms: performance.now() - t0 };
    } catch (e) {
      return { op: c.op, variant: c.variant, ok: false, maxAbsError: NaN, maxRelError: NaN, checked: 0, ms: performance.now() - t0, error: (e as Error).message };
    }
  });
}

export async function gradcheckMain(flags: ParsedFlags): Promise<number> {
  await selectBackend(String(flags.backend), false);
  const rows = runGradchecks(flags.op as string | undefined, Number(flags.seed));
  const failed = rows.filter((r) => !r.ok);
  if (flags.json) {
    console.log(JSON.stringify({ backend: flags.backend, passed: rows.length - failed.length, failed: failed.length, rows }, null, 2));
  } else {
    const fmt = (v: number) => (Number.isFinite(v) ? v.toExponential(1) : String(v));
    console.log(`${'op'.padEnd(16)} ${'variant'.padEnd(58)} ${'max abs'.padStart(8)} ${'max rel'.padStart(8)} ${'elems'.padStart(6)} ${'ms'.padStart(7)}  result`);
    for (const r of rows) {
      console.log(
        `${r.op.padEnd(16)} ${r.variant.slice(0, 58).padEnd(58)} ${fmt(r.maxAbsError).padStart(8)} ${fmt(r.maxRelError).padStart(8)} ${String(r.checked).padStart(6)} ${r.ms.toFixed(1).padStart(7)}  ${r.ok ? 'ok' : 'FAIL' + (r.error ? `: ${r.error}` : '')}`,
      );
    }
    const ops = new Set(rows.map((r) => r.op)).size;
    console.log(`\n${ops} ops, ${rows.length} cases: ${rows.length - failed.length} passed, ${failed.length} failed (backend ${flags.backend})`);
  }
  return failed.length ? ExitCode.checkFailed : ExitCode.ok;
}
