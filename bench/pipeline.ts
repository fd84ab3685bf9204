/**
 * Whole-pipeline benchmark: the `pipeline` command (dist/cli.js, in a child process, as a user
 * runs it) on the TiO2-SEM project split (dev-pool trains the GAN, dev-test is segmented and
 * evaluated), then a stage table from its report.json: seconds per stage, its share of the total,
 * its CPU seconds and the cores it kept busy, and the load average when it finished (the machine may be shared),
 * with the synthetic-only U-Net's dev-test DSC / AP50 / PQ. The run folder is a temporary one,
 * removed afterwards unless --out is given. Needs the data set at --real (default
 * ../shared/data/tio2-sem beside the repository, wherever the command runs from, as the tests find
 * it); without it the suite says so and exits 3.
 *
 *   node dist/bench.js pipeline [--budget quick|standard|full] [--real DIR] [--out RUN] [--json]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerSuite, loadavg } from './registry.js';
import { parseFlags, usageOf, type FlagSpecs } from './flags.js';
import { STAGES } from '../src/node/pipeline.js';
import type { PipelineReport } from '../src/node/pipeline-report.js';

/** The project's TiO2-SEM dev-test images (docs/pipeline.md; ../shared/data/tio2-sem/README.md). */
const DEV_TEST = ['1908250', '1908266', '1908282', '1908298', '1908314', '1908324'];

const FLAGS = {
  budget: { kind: 'string', def: 'standard', choices: ['quick', 'standard', 'full'], help: 'pipeline budget' },
  real: { kind: 'string', def: '', help: 'data folder with images/ and masks/ (default: ../shared/data/tio2-sem beside the repository)' },
  out: { kind: 'string', def: '', help: 'keep the run here (default: a temporary folder, removed)' },
  workers: { kind: 'number', def: availableParallelism(), int: true, min: 1, help: 'processes that generate synthetic pairs' },
  backend: { kind: 'string', def: 'auto', help: "compute backend, as the CLI's --backend" },
  seed: { kind: 'number', def: 0, int: true, min: 0, help: 'seed' },
  set: { kind: 'string', def: '', help: "the pipeline's budget overrides, e.g. gan.refinerSteps=300 (comma-separated)" },
  json: { kind: 'bool', help: 'print the report (stages, evals, machine) as JSON' },
} as const satisfies FlagSpecs;

export async function run(args: string[]): Promise<void> {
  const f = parseFlags('pipeline', args, FLAGS);
  // dist/bench.js sits in the repository's dist/, so the default does not depend on the current folder.
  const here = dirname(fileURLToPath(import.meta.url));
  const data = f.real ? resolve(f.real) : resolve(here, '../../shared/data/tio2-sem');
  if (!existsSync(join(data, 'images')) || !existsSync(join(data, 'masks'))) {
    console.error(`bench pipeline: ${data} has no images/ and masks/ (the TiO2-SEM data set; see README)`);
    process.exitCode = 3;
    return;
  }
  // dist/bench.js and dist/cli.js sit side by side.
  const cli = join(here, 'cli.js');
  const out = f.out ? resolve(f.out) : mkdtempSync(join(tmpdir(), 'bench-pipeline-'));
  const load0 = loadavg();
  try {
    execFileSync(process.execPath, [
      cli, 'pipeline', '--real', join(data, 'images'), '--test-ids', DEV_TEST.join(','), '--eval-masks', join(data, 'masks'),
      '--preset', 'tio2-sem', '--crop-bottom', '64', '--budget', f.budget, '--out', out, '--seed', String(f.seed),
      '--workers', String(f.workers), '--backend', f.backend, '--quiet', ...(f.set ? ['--set', f.set] : []),
    ], { stdio: ['ignore', 'ignore', 'inherit'] });
    const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as PipelineReport;
    if (f.json) {
      console.log(JSON.stringify({ suite: 'pipeline', loadavgBefore: load0, loadavgAfter: loadavg(), stages: rep.stages, totalSeconds: rep.totalSeconds, evals: Object.fromEntries(Object.entries(rep.evals).map(([k, v]) => [k, v.mean])), machine: rep.machine, backend: rep.backend }, null, 2));
      return;
    }
    const total = rep.stages.reduce((s, x) => s + x.seconds, 0);
    console.log(`pipeline --budget ${f.budget}, TiO2-SEM: ${rep.trainImages.length} dev-pool images -> ${rep.testImages.length} dev-test images; backend ${rep.backend}; ${cpus()[0]?.model ?? '?'} x${availableParallelism()}`);
    console.log(`load average before ${load0}, after ${loadavg()} (a shared machine inflates every stage)`);
    console.log('');
    // CPU seconds: the pipeline process's threads (synth's generator processes not counted);
    // CPU / wall is how many of the cores the stage kept busy.
    console.log('| stage | seconds | share | CPU seconds | cores busy | load average at its end |');
    console.log('| --- | ---: | ---: | ---: | ---: | --- |');
    let cpuTotal = 0;
    for (const s of STAGES) {
      const x = rep.stages.find((q) => q.stage === s);
      if (!x || s === 'report') continue;
      cpuTotal += x.cpuSeconds ?? 0;
      const cores = x.cpuSeconds !== undefined && x.seconds > 0 ? (x.cpuSeconds / x.seconds).toFixed(2) : '-';
      console.log(`| ${s} | ${x.seconds.toFixed(1)} | ${((100 * x.seconds) / Math.max(total, 1e-9)).toFixed(1)} % | ${x.cpuSeconds?.toFixed(1) ?? '-'} | ${cores} | ${x.loadAverage?.join(' ') ?? '-'} |`);
    }
    console.log(`| total | ${total.toFixed(1)} (${(total / 60).toFixed(2)} min) | 100 % | ${cpuTotal.toFixed(1)} | ${(cpuTotal / Math.max(total, 1e-9)).toFixed(2)} | |`);
    const gan = rep.stages.find((q) => q.stage === 'gan')?.info?.seconds as { setup: number; epochs: number; c2st: number; refiner?: number } | undefined;
    if (gan) console.log(`\ngan stage: setup (images, calibrations) ${gan.setup.toFixed(1)} s, epochs (steps + evaluations) ${gan.epochs.toFixed(1)} s, chosen epoch's C2ST ${gan.c2st.toFixed(1)} s${gan.refiner ? `, refiner ${gan.refiner.toFixed(1)} s` : ''}`);
    for (const [name, e] of Object.entries(rep.evals)) {
      console.log(`\n${name}: dev-test DSC ${e.mean.dsc.toFixed(3)}, AP50 ${e.mean.ap50.toFixed(3)}, PQ ${e.mean.pq.toFixed(3)}`);
    }
  } finally {
    if (!f.out) rmSync(out, { recursive: true, force: true });
  }
}

registerSuite({
  name: 'pipeline',
  description: 'the whole pipeline on the TiO2-SEM split: stage table (seconds, share, CPU, load) and dev-test DSC',
  usage: usageOf('pipeline', 'Runs `pipeline` on the TiO2-SEM project split (dev-pool -> dev-test) in a temporary folder and prints\nthe stage table: seconds per stage, share of the total, CPU seconds and cores busy, load average, and the dev-test DSC / AP50 / PQ.', FLAGS),
  run,
});
