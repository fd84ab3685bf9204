/**
 * `npm run fuzz`: seeded, time-boxed fuzzing of every parser and of the command line.
 *
 *   node dist/fuzz.js [--inputs 10000] [--seconds 900] [--seed 1] [--only tiff,png,...]
 *                     [--hang-seconds 20] [--json FILE] [--work DIR]
 *
 * Each target (fuzz/targets.ts) runs in a child process of its own (V8 heap capped at 2 GiB, so
 * a memory blow-up aborts instead of taking the machine). The child records its current input
 * index in a file before each input; the parent watches it: an index that does not advance for
 * --hang-seconds is a hang (the child is killed and restarted after that input), a child that dies
 * is a crash at that index, and an exception other than a UserError is a crash reported by the
 * child. Peak RSS is the children's maximum resident set size. Prints one table row per target
 * and exits 1 when any target had a crash or a hang, or ran fewer inputs than asked.
 * Reproduce input I of target T: node dist/fuzz.js --only T --from I --inputs 1 --verbose
 */
import { fork } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../src/errors.js';
import { inputRng } from './mutate.js';
import { TARGETS, type Target } from './targets.js';

interface Failure {
  index: number;
  kind: 'crash' | 'hang';
  error: string;
}

interface ChildReport {
  next: number;
  clean: number;
  ok: number;
  failures: Failure[];
  maxRssKb: number;
}

export interface TargetResult {
  target: string;
  inputs: number;
  ok: number;
  clean: number;
  crashes: number;
  hangs: number;
  peakRssMb: number;
  seconds: number;
  failures: Failure[];
}

function flag(argv: string[], name: string, def: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1]! : def;
}

/**
 * Runs input `index` of `target`: 'ok' (accepted), 'clean' (refused with a UserError, the
 * documented way), or the crash (any other exception) with the first lines of its stack.
 */
export async function runInput(target: Target, seed: number, index: number): Promise<'ok' | 'clean' | { crash: string }> {
  try {
    await target.run(inputRng(seed, target.name, index), index);
    return 'ok';
  } catch (e) {
    if (e instanceof UserError) return 'clean';
    return { crash: (e instanceof Error ? (e.stack ?? e.message) : String(e)).split('\n').slice(0, 6).join('\n') };
  }
}

/** Child: runs inputs [from, to) of one target until the deadline; reports to the parent. */
async function child(argv: string[]): Promise<void> {
  const name = flag(argv, 'target', '');
  const seed = Number(flag(argv, 'seed', '1'));
  const from = Number(flag(argv, 'from', '0'));
  const to = Number(flag(argv, 'to', '0'));
  const deadline = Number(flag(argv, 'deadline', '0'));
  const progress = flag(argv, 'progress', '');
  const work = flag(argv, 'work', '');
  const verbose = argv.includes('--verbose');
  // The code under test prints notes and errors; none of it is the fuzzer's output.
  const quiet = () => true;
  if (!verbose) {
    const write = process.stderr.write.bind(process.stderr);
    process.on('uncaughtException', (e) => {
      write(`${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(70);
    });
    process.stderr.write = quiet as typeof process.stderr.write;
    process.stdout.write = quiet as typeof process.stdout.write;
    console.log = console.error = console.warn = () => {};
  }
  const target = TARGETS[name]!();
  await target.setup(work);
  const fd = openSync(progress, 'w');
  const report: ChildReport = { next: from, clean: 0, ok: 0, failures: [], maxRssKb: 0 };
  // The progress file holds "index ok clean" (the input running now, and the outcomes so far), so
  // that a child killed in a hang loses no counts; each crash is also sent to the parent at once.
  const buf = Buffer.alloc(48);
  let i = from;
  for (; i < to && Date.now() < deadline; i++) {
    buf.fill(32);
    buf.write(`${i} ${report.ok} ${report.clean}`);
    writeSync(fd, buf, 0, buf.length, 0);
    const outcome = await runInput(target, seed, i);
    if (outcome === 'ok') report.ok++;
    else if (outcome === 'clean') report.clean++;
    else {
      const f: Failure = { index: i, kind: 'crash', error: outcome.crash };
      report.failures.push(f);
      process.send!({ crash: f });
    }
  }
  closeSync(fd);
  report.next = i;
  report.maxRssKb = process.resourceUsage().maxRSS;
  process.send!(report, () => process.exit(0));
}

/** Parent: one target to its input count or time box, restarting the child after a hang or crash. */
async function runTarget(name: string, opts: { seed: number; from: number; inputs: number; seconds: number; hangSeconds: number; work: string; verbose: boolean }): Promise<TargetResult> {
  const t0 = Date.now();
  const deadline = t0 + opts.seconds * 1000;
  const res: TargetResult = { target: name, inputs: 0, ok: 0, clean: 0, crashes: 0, hangs: 0, peakRssMb: 0, seconds: 0, failures: [] };
  let next = opts.from;
  const end = opts.from + opts.inputs;
  const progress = join(opts.work, `${name}.progress`);
  while (next < end && Date.now() < deadline) {
    writeFileSync(progress, `${next} 0 0`);
    const work = mkdtempSync(join(opts.work, `${name}-`));
    const args = ['--child', '--target', name, '--seed', String(opts.seed), '--from', String(next), '--to', String(end), '--deadline', String(deadline), '--progress', progress, '--work', work, ...(opts.verbose ? ['--verbose'] : [])];
    const c = fork(process.argv[1]!, args, { execArgv: ['--max-old-space-size=2048', '--stack-size=984'], stdio: ['ignore', opts.verbose ? 'inherit' : 'ignore', opts.verbose ? 'inherit' : 'pipe', 'ipc'] });
    let stderr = '';
    c.stderr?.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    let report: ChildReport | undefined;
    const crashes: Failure[] = [];
    c.on('message', (m) => {
      if ((m as { crash?: Failure }).crash) crashes.push((m as { crash: Failure }).crash);
      else report = m as ChildReport;
    });
    const fields = () => readFileSync(progress, 'utf8').trim().split(/\s+/).map(Number);
    const current = () => fields()[0] ?? next;
    let last = current();
    let since = Date.now();
    let hung = false;
    const timer = setInterval(() => {
      const now = current();
      if (now !== last) {
        last = now;
        since = Date.now();
      } else if (Date.now() - since > opts.hangSeconds * 1000) {
        hung = true;
        c.kill('SIGKILL');
      }
    }, 250);
    const code = await new Promise<number | null>((ok) => c.on('exit', (code) => ok(code)));
    clearInterval(timer);
    rmSync(work, { recursive: true, force: true });
    if (report) {
      res.ok += report.ok;
      res.clean += report.clean;
      res.failures.push(...report.failures);
      res.crashes += report.failures.length;
      res.peakRssMb = Math.max(res.peakRssMb, report.maxRssKb / 1024);
      res.inputs += report.next - next;
      next = report.next;
      continue;
    }
    // No report: the child hung or died at input `current()`; keep what it counted, continue after it.
    const [at = next, ok = 0, clean = 0] = fields();
    res.inputs += at - next + 1;
    res.ok += ok;
    res.clean += clean;
    res.failures.push(...crashes);
    res.crashes += crashes.length;
    res.failures.push({ index: at, kind: hung ? 'hang' : 'crash', error: hung ? `no progress for ${opts.hangSeconds} s` : `child exited with ${code}: ${stderr.trim().split('\n').slice(-4).join(' | ')}` });
    if (hung) res.hangs++;
    else res.crashes++;
    next = at + 1;
  }
  res.seconds = (Date.now() - t0) / 1000;
  return res;
}

export function formatTable(rows: TargetResult[]): string {
  const head = '| parser | inputs | accepted | clean errors | crashes | hangs | peak RSS | seconds |';
  const sep = '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |';
  return [head, sep, ...rows.map((r) => `| ${r.target} | ${r.inputs} | ${r.ok} | ${r.clean} | ${r.crashes} | ${r.hangs} | ${r.peakRssMb.toFixed(0)} MB | ${r.seconds.toFixed(0)} |`)].join('\n');
}

const PARENT_FLAGS = ['only', 'seed', 'from', 'inputs', 'seconds', 'hang-seconds', 'work', 'json'];

async function parent(argv: string[]): Promise<number> {
  // Refuse anything else (e.g. a CLI command line, should code under test fork this script).
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--verbose') continue;
    if (!a.startsWith('--') || !PARENT_FLAGS.includes(a.slice(2)) || i + 1 >= argv.length) {
      console.error(`fuzz: unexpected argument '${a}' (flags: ${PARENT_FLAGS.map((f) => `--${f} V`).join(', ')}, --verbose)`);
      return 2;
    }
    i++;
  }
  const only = flag(argv, 'only', Object.keys(TARGETS).join(',')).split(',').filter(Boolean);
  for (const t of only) if (!TARGETS[t]) throw new Error(`unknown target '${t}' (targets: ${Object.keys(TARGETS).join(', ')})`);
  const opts = {
    seed: Number(flag(argv, 'seed', '1')),
    from: Number(flag(argv, 'from', '0')),
    inputs: Number(flag(argv, 'inputs', '10000')),
    seconds: Number(flag(argv, 'seconds', '900')),
    hangSeconds: Number(flag(argv, 'hang-seconds', '20')),
    work: flag(argv, 'work', ''),
    verbose: argv.includes('--verbose'),
  };
  const work = opts.work || mkdtempSync(join(tmpdir(), 'drg-fuzz-'));
  const rows: TargetResult[] = [];
  console.log(`fuzz: seed ${opts.seed}, ${opts.inputs} inputs per target from index ${opts.from}, at most ${opts.seconds} s each, hang after ${opts.hangSeconds} s without progress`);
  for (const t of only) {
    const r = await runTarget(t, { ...opts, work });
    rows.push(r);
    console.log(`${t}: ${r.inputs} inputs, ${r.clean} clean errors, ${r.crashes} crashes, ${r.hangs} hangs, peak RSS ${r.peakRssMb.toFixed(0)} MB, ${r.seconds.toFixed(0)} s`);
    for (const f of r.failures.slice(0, 5)) console.log(`  ${f.kind} at input ${f.index}: ${f.error.split('\n').join('\n    ')}`);
  }
  if (!opts.work) rmSync(work, { recursive: true, force: true });
  console.log('\n' + formatTable(rows));
  const json = flag(argv, 'json', '');
  if (json) writeFileSync(json, JSON.stringify({ seed: opts.seed, inputs: opts.inputs, rows }, null, 2) + '\n');
  const bad = rows.filter((r) => r.crashes > 0 || r.hangs > 0 || r.inputs < opts.inputs);
  if (bad.length) console.log(`\nFAIL: ${bad.map((r) => r.target).join(', ')} (crashes, hangs, or fewer inputs than asked within the time box)`);
  return bad.length ? 1 : 0;
}

const argv = process.argv.slice(2);
if (process.env.VITEST) {
  // imported by the test slice (test/fuzz/slice.test.ts): run nothing
} else if (argv.includes('--child')) {
  child(argv).catch((e) => {
    throw e; // to the uncaughtException handler: printed on the real stderr, exit 70
  });
} else {
  parent(argv).then((code) => (process.exitCode = code), (e) => {
    console.error(e);
    process.exitCode = 2;
  });
}
