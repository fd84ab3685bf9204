/**
 * `diffrendergan pipeline`: tile -> GAN -> best epoch -> synthetic pairs -> U-Net -> predict
 * (-> eval) -> report, in one resumable run folder (src/node/pipeline.ts; docs/pipeline.md).
 */
import { availableParallelism } from 'node:os';
import { onOffAuto, parseWindowMargin, polarityFlag, windowMarginFlag, windowCalibratedFlag, radiusLastFlag, windowCountsFlag, parseWindowCounts, windowFieldFlag, parseWindowField, learnSizeFlag, sizeSpreadFlag, parseSizeSpread, recalibrateAgglomeratesFlag, parseRecalibrateAgglomerates, type CommandSpec, type ParsedFlags } from './args.js';
import type { PolaritySetting } from '../particles/polarity.js';
import { PRESET_NAMES } from '../render/presets/index.js';
import { RADIUS_CALIBRATION_METHODS, type RadiusCalibrationMethod } from '../gan/calibrate.js';
import { ADAPT_BN_DEFAULT, BUDGET_NAMES, runPipeline, type PipelineOptions } from '../node/pipeline.js';
import { backendFlag, commandRelaxedSimd, selectBackend } from './backend-flag.js';
import { ExitCode, UserError } from '../errors.js';

export const pipelineCommand: CommandSpec = {
  name: 'pipeline',
  summary: "the paper's experiment end to end: GAN on real images -> synthetic pairs -> U-Net -> predict / evaluate (resumable)",
  usage:
    'diffrendergan pipeline --real DIR --out RUN_DIR [--preset tio2-sem] [--train-ids ID,...] [--test-ids ID,...] [--eval-masks DIR] [--crop-bottom 64] [--pixel-size 2.1nm] [--budget quick|standard|full]\n' +
    '  Rerun the same command to continue an interrupted run (finished stages are skipped).',
  flags: [
    { name: 'real', type: 'strings', meta: 'DIR|FILES', help: 'the real micrographs (a folder or files); files named NAME_m.* are masks and are ignored' },
    { name: 'train-ids', type: 'strings', meta: 'ID,...', help: 'images the GAN trains against (the unannotated real images; default: all but --test-ids)' },
    { name: 'test-ids', type: 'strings', meta: 'ID,...', help: 'images to segment and measure, and to evaluate with --eval-masks (default: all images)' },
    { name: 'eval-masks', type: 'string', meta: 'DIR', help: 'masks NAME_m.tif of the test images: score DSC / AP50 / PQ of the U-Net and of the Otsu baseline' },
    { name: 'model-real', type: 'boolean', help: 'also train the U-Net on the real masks of the training images (Model-Real baseline; reads them from --eval-masks)' },
    { name: 'preset', type: 'string', default: 'tio2-sem', choices: PRESET_NAMES, help: 'scene and image-formation preset (docs/presets.md)' },
    { name: 'config', type: 'string', meta: 'FILE', help: 'JSON scene config whose fields override the preset' },
    { name: 'config-first', type: 'boolean', help: "apply --config before train's calibrations instead of after them (train's flag; docs/realism.md)" },
    { name: 'out', type: 'string', meta: 'RUN_DIR', help: 'run folder (required; the same folder continues a run)' },
    { name: 'budget', type: 'string', default: 'standard', choices: BUDGET_NAMES, help: 'quick: smoke test (about a minute); standard: about 26 min on 2 cores; full: the reference networks, patch size and 1,000 pairs with 5 GAN epochs, about 2 h on 2 cores (docs/pipeline.md)' },
    { name: 'learn', type: 'string', meta: 'A,B,...', help: "parameters the GAN learns (default: the preset's list; docs/parameters.md)" },
    { name: 'set', type: 'strings', meta: 'G.F=N', help: "override a budget setting, e.g. --set gan.epochs=4 seg.epochs=6 (recorded in the report)" },
    { name: 'particle-radius', type: 'string', default: 'auto', meta: 'auto|PX', help: 'particle base radius in px (auto: estimated from the real images without annotations)' },
    { name: 'radius-calibration', type: 'string', default: 'auto', choices: ['auto', ...RADIUS_CALIBRATION_METHODS], help: "how --particle-radius auto is estimated: auto (the preset's choice), upper-quartile or median (train's flag; docs/realism.md)" },
    recalibrateAgglomeratesFlag('pipeline'),
    windowMarginFlag('pipeline'),
    windowCalibratedFlag('pipeline'),
    radiusLastFlag('pipeline'),
    windowCountsFlag('pipeline'),
    windowFieldFlag('pipeline'),
    learnSizeFlag('pipeline'),
    sizeSpreadFlag('pipeline'),
    polarityFlag('detected from the training images'),
    { name: 'crop-bottom', type: 'int', min: 0, default: 0, meta: 'PX', help: "rows cut from the bottom of every image (the microscope's data bar; 64 for TiO2-SEM)" },
    { name: 'pixel-size', type: 'string', meta: 'SIZE', help: "physical pixel size for the measurements, e.g. 2.1nm (default: auto, from the images' metadata; px when there is none)" },
    { name: 'results-md', type: 'string', meta: 'FILE', help: "also write the preset's results page there (docs/results.md; tio2-tsem: the generated part of docs/tio2-tsem.md, between its results markers)" },
    { name: 'adapt-bn', type: 'boolean', default: ADAPT_BN_DEFAULT, help: `test-time batch norm adaptation: before predict and eval, the U-Nets' batch norm statistics are replaced by those of the training images (their pixels only, no masks; segment --adapt-bn; docs/segmentation.md); default ${ADAPT_BN_DEFAULT ? 'on (--adapt-bn=false: off)' : 'off'}` },
    { name: 'seed', type: 'int', min: 0, default: 0, meta: 'N', help: 'random seed' },
    { name: 'workers', type: 'int', min: 1, max: 64, default: availableParallelism(), meta: 'N', help: 'processes that generate synthetic pairs' },
    backendFlag({ help: 'compute backend of the GAN (the U-Net stages use the fastest CPU backend)' }),
    { name: 'quiet', type: 'boolean', help: 'no progress output' },
  ],
};

export async function pipelineMain(flags: ParsedFlags): Promise<number> {
  if (!flags.real) throw new UserError("pipeline: --real DIR is required (see 'diffrendergan pipeline --help')", ExitCode.usage);
  if (!flags.out) throw new UserError("pipeline: --out RUN_DIR is required (see 'diffrendergan pipeline --help')", ExitCode.usage);
  await selectBackend(String(flags.backend), !flags.quiet);
  const opts: PipelineOptions = {
    real: flags.real as string[],
    trainIds: flags['train-ids'] as string[] | undefined,
    testIds: flags['test-ids'] as string[] | undefined,
    evalMasks: flags['eval-masks'] as string | undefined,
    modelReal: !!flags['model-real'],
    preset: flags.preset as PipelineOptions['preset'],
    config: flags.config as string | undefined,
    configFirst: !!flags['config-first'],
    out: String(flags.out),
    budget: flags.budget as PipelineOptions['budget'],
    cropBottom: Number(flags['crop-bottom']),
    pixelSize: flags['pixel-size'] as string | undefined,
    resultsMd: flags['results-md'] as string | undefined,
    learn: flags.learn ? String(flags.learn).split(',').map((x) => x.trim()).filter(Boolean) : undefined,
    set: flags.set as string[] | undefined,
    particleRadius: parseRadius(String(flags['particle-radius'])),
    radiusCalibration: flags['radius-calibration'] === 'auto' ? undefined : (flags['radius-calibration'] as RadiusCalibrationMethod),
    recalibrateAgglomerates: parseRecalibrateAgglomerates(flags['recalibrate-agglomerates']),
    windowMargin: parseWindowMargin(flags['window-margin']),
    windowCalibrated: onOffAuto(flags['window-calibrated']),
    radiusLast: onOffAuto(flags['radius-last']),
    windowCounts: parseWindowCounts(flags['window-counts']),
    windowField: parseWindowField(flags['window-field']),
    learnSize: flags['learn-size'] === 'on',
    sizeSpread: parseSizeSpread(flags['size-spread']),
    polarity: flags.polarity as PolaritySetting,
    seed: Number(flags.seed),
    adaptBn: Boolean(flags['adapt-bn']),
    workers: Number(flags.workers),
    quiet: !!flags.quiet,
    relaxedSimd: commandRelaxedSimd(),
  };
  const r = await runPipeline(opts);
  if (!opts.quiet) console.error(`pipeline: ran ${r.ran.join(', ') || 'nothing'}${r.skipped.length ? `; skipped (done) ${r.skipped.join(', ')}` : ''}; report ${r.runDir}/report.md`);
  return ExitCode.ok;
}

function parseRadius(v: string): number | 'auto' {
  if (v === 'auto') return 'auto';
  const r = Number(v);
  if (!Number.isFinite(r) || r < 0.5 || r > 1000) throw new UserError(`--particle-radius must be auto or a number of pixels in [0.5, 1000], got '${v}'`, ExitCode.usage);
  return r;
}
