/** `diffrendergan realism`: how well a small CNN tells real from synthetic patches, plus scene statistics. */
import type { CommandSpec, ParsedFlags } from './args.js';
import { backendFlag, selectBackend } from './backend-flag.js';
import { runRealism } from '../node/realism.js';
import { formatC2st } from '../gan/c2st.js';
import { sceneStatsTable } from '../gan/scene-stats.js';
import type { BodyProfile } from '../gan/body-profile.js';
import { ExitCode, UserError } from '../errors.js';

export const realismCommand: CommandSpec = {
  name: 'realism',
  summary: 'classifier two-sample test (real vs synthetic patches) and annotation-free scene statistics',
  usage: 'diffrendergan realism --real DIR|FILES... --synth DIR|FILES... [--crop-bottom PX] [--patch 128] [--seeds 3] [--json]',
  flags: [
    { name: 'real', type: 'strings', meta: 'DIR|FILES', help: 'real micrographs (PNG / TIFF files or folders)' },
    { name: 'synth', type: 'strings', meta: 'DIR|FILES', help: "synthetic images: a `generate` output folder (its images/), or image files / folders" },
    { name: 'crop-bottom', type: 'int', min: 0, default: 0, meta: 'PX', help: "rows cut from the bottom of every real image (the microscope's data bar)" },
    { name: 'patch', type: 'int', min: 16, max: 1024, default: 128, meta: 'PX', help: 'patch size of the classifier test' },
    { name: 'seeds', type: 'int', min: 1, max: 100, default: 3, meta: 'N', help: 'repetitions (new split, subsample and network each)' },
    { name: 'epochs', type: 'int', min: 1, max: 1000, default: 20, meta: 'N', help: 'passes over the training patches per seed' },
    { name: 'max-patches', type: 'int', min: 1, default: 240, meta: 'N', help: 'patches per class at most on each side of the split (bounds the run time)' },
    { name: 'seed', type: 'int', min: 0, default: 0, meta: 'N', help: 'seed of the first repetition' },
    { name: 'polarity', type: 'string', default: 'auto', choices: ['auto', 'bright', 'dark'], help: 'particles brighter or darker than the stage (auto: detected from the real images)' },
    { name: 'stats-only', type: 'boolean', help: 'only the scene statistics (no classifier)' },
    { name: 'thickness', type: 'boolean', help: "also report the median local thickness of the Otsu foreground (a size statistic without watershed pieces; docs/realism.md)" },
    { name: 'json', type: 'boolean', help: 'print one JSON object instead of text' },
    backendFlag({ help: 'compute backend' }),
    { name: 'quiet', type: 'boolean', help: 'no progress lines' },
  ],
};

export async function realismMain(flags: ParsedFlags): Promise<number> {
  if (!flags.real) throw new UserError('realism: --real is required', ExitCode.usage);
  if (!flags.synth) throw new UserError('realism: --synth is required', ExitCode.usage);
  const quiet = !!flags.quiet || !!flags.json;
  await selectBackend(String(flags.backend), !quiet);
  const log = (s: string) => {
    if (!quiet) process.stderr.write(s + '\n');
  };
  const report = runRealism({
    real: flags.real as string[],
    synth: flags.synth as string[],
    cropBottom: Number(flags['crop-bottom']),
    patch: Number(flags.patch),
    seeds: Number(flags.seeds),
    epochs: Number(flags.epochs),
    maxPerClass: Number(flags['max-patches']),
    seed: Number(flags.seed),
    statsOnly: !!flags['stats-only'],
    thickness: !!flags.thickness,
    polarity: flags.polarity as 'auto' | 'bright' | 'dark',
    log,
    onSeed: (r, i) => log(`seed ${i + 1}: test accuracy ${r.accuracy.toFixed(3)} (${r.testPerClass} test / ${r.trainPerClass} training patches per class, final loss ${r.finalLoss.toFixed(3)})`),
  });
  if (flags.json) {
    console.log(JSON.stringify(report, null, 2));
    return 0;
  }
  console.log(`real: ${report.files.real} images; synthetic: ${report.files.synthetic} images`);
  if (report.c2st) console.log(formatC2st(report.c2st));
  console.log(`\nScene statistics (no annotations; ${report.stats.tile} px tiles kept by the empty-patch rule on both sides):\n`);
  console.log(sceneStatsTable(report.stats.real, report.stats.synthetic));
  if (report.bodyProfile) {
    const row = (b: BodyProfile | null) => (b ? `${b.profile.map((v) => v.toFixed(3)).join(' ')} (${b.particles} lone particles)` : 'no lone particle deep enough');
    console.log(`\nBody profile (grey 1-8 px inside the outline of lone particles over their centre's):\n  real:      ${row(report.bodyProfile.real)}\n  synthetic: ${row(report.bodyProfile.synthetic)}`);
  }
  return 0;
}
