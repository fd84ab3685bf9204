/**
 * The pipeline's report: report.json's shape, RUN/report.md, and docs/results.md, both written
 * from the report json (never typed by hand).
 */
import type { Budget, BudgetName } from './pipeline.js';
import type { SizingResult } from '../seg/sizing.js';
import type { LowConfidence } from '../particles/instances.js';

export interface EvalSummary {
  mean: { dsc: number; ap50: number; pq: number; sq: number; rq: number };
  /** sizing: absent in runs evaluated before the sizing metrics existed. */
  images: { image: string; dsc: number; ap50: number; pq: number; predicted: number; truth: number; sizing?: SizingResult; lowConfidence?: LowConfidence | null }[];
  /** Sizing figures pooled over the test images (src/seg/sizing.ts). */
  sizing?: SizingResult;
}

export interface PipelineReport {
  version: 1;
  runDir: string;
  preset: string;
  budget: BudgetName;
  /** --set overrides of the budget's settings. */
  overrides: string[];
  settings: Budget;
  seed: number;
  cropBottom: number;
  trainImages: string[];
  testImages: string[];
  modelReal: boolean;
  stages: { stage: string; seconds: number; resumed: boolean; loadAverage?: number[]; cpuSeconds?: number; info: Record<string, unknown> }[];
  totalSeconds: number;
  evals: Record<string, EvalSummary>;
  predictions: { unit: string; images: number; overall: { count: number; median: number; d10: number; d90: number } } | null;
  machine: { cpu: string; cores: number; memoryGiB: number; node: string; platform: string; loadAverage: number[] };
  backend: string;
  /** The command that reproduces (and, rerun, continues) the run. */
  command?: string;
  generatedAt: string;
}

/** The paper's TiO2-SEM numbers (METHOD.md; Possart et al., npj Comput. Mater. 11, 197 (2025)). */
export const PAPER_TIO2_SEM = [
  { training: 'real annotations (nnU-Net)', dsc: 0.964, ap50: 0.567, pq: 0.93 },
  { training: 'synthetic, Rühle et al. 2021 (WGAN + CycleGAN)', dsc: 0.911, ap50: 0.467, pq: 0.837 },
  { training: 'synthetic, DiffRenderGAN (nnU-Net, 1,000 pairs)', dsc: 0.916, ap50: 0.474, pq: 0.845 },
];

const f3 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(3));

export function fmtSeconds(s: number): string {
  if (s < 90) return `${s.toFixed(1)} s`;
  if (s < 5400) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(2)} h`;
}

const STAGE_TEXT: Record<string, string> = {
  tile: 'cut the real training images into patches',
  gan: 'DiffRenderGAN training',
  best: 'best-epoch rule',
  synth: 'synthetic image / mask pairs',
  seg: 'U-Net on the synthetic pairs',
  predict: 'segment + measure the test images',
  'model-real': 'U-Net on the real masks (Model-Real)',
  eval: 'DSC / AP50 / PQ against the masks',
};

function stageTable(r: PipelineReport): string[] {
  const load = r.stages.some((s) => s.loadAverage);
  const rows = r.stages.map((s) => `| ${s.stage} | ${STAGE_TEXT[s.stage] ?? ''} | ${fmtSeconds(s.seconds)}${s.resumed ? ' (resumed; this process only)' : ''} |${load ? ` ${s.loadAverage ? s.loadAverage.join(' / ') : 'n/a'} |` : ''}`);
  return [
    `| stage | what | wall clock |${load ? ' load average at its end (1 / 5 / 15 min) |' : ''}`,
    `| --- | --- | --- |${load ? ' --- |' : ''}`,
    ...rows,
    `| **total** | | **${fmtSeconds(r.totalSeconds)}** |${load ? ' |' : ''}`,
  ];
}

type GanBudget = PipelineReport['settings']['gan'];
/** The steps of one GAN epoch, in words. */
const epochSteps = (g: GanBudget) => (g.stepsPerEpoch !== undefined ? `${g.stepsPerEpoch} steps` : 'one step per real patch');
/** The paper's GAN patches (256 px) and discriminator (64 base filters). */
const paperNetworks = (g: GanBudget) => g.patch === 256 && g.baseFilters === 64;
/** The paper's GAN schedule: 50 epochs of one step per real patch. */
const paperSchedule = (g: GanBudget) => g.epochs === 50 && g.stepsPerEpoch === undefined;

function settingsLines(r: PipelineReport): string[] {
  const g = r.settings.gan;
  const s = r.settings.seg;
  const gan = r.stages.find((x) => x.stage === 'gan')?.info as { steps?: number; epochs?: number } | undefined;
  const tile = r.stages.find((x) => x.stage === 'tile')?.info as { kept?: number } | undefined;
  const segInfo = r.stages.find((x) => x.stage === 'seg')?.info as { augmentOverrides?: Record<string, number>; interiorAugmentPercent?: number } | undefined;
  const augment = segInfo?.augmentOverrides;
  // What the seg stage used (the preset's share or --set's); runs from before it recorded that: the settings.
  const interiorPercent = segInfo?.interiorAugmentPercent ?? s.interiorAugmentPercent;
  const augmentText = augment ? `; augmentation as the defaults except ${Object.entries(augment).map(([k, v]) => `${k} ${v}`).join(', ')} (the preset's)` : '';
  return [
    ...((r.overrides ?? []).length ? [`- budget \`${r.budget}\` with overrides: ${(r.overrides ?? []).join(', ')}`] : []),
    `- GAN: patch ${g.patch} px, discriminator base filters ${g.baseFilters}, ${g.epochs} epoch(s) x ${epochSteps(g)} (${gan?.steps ?? '?'} steps in all), ${g.configs ?? 'one per real patch'} scene configurations, ${tile?.kept ?? '?'} real patches`,
    `- synthetic pairs: ${r.settings.synth.n} (${g.patch} x ${g.patch} px)`,
    `- U-Net: depth ${s.depth}, base ${s.base} channels, ${s.epochs} epochs, batch ${s.batch} crops of ${s.crop} px, ${s.stepsPerEpoch ? `${s.stepsPerEpoch} steps per epoch` : 'an epoch = one crop per training image / batch steps'}${augmentText}${interiorPercent ? `; particle interiors re-shaded on ${interiorPercent} % of the synthetic U-Net's crops` : ''}`,
  ];
}

function machineLine(r: PipelineReport): string {
  const m = r.machine;
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}, backend ${r.backend}; load average when this report was written ${m.loadAverage.join(' / ')} (the machine is shared with other jobs)`;
}

function evalTable(r: PipelineReport): string[] {
  const label: Record<string, string> = {
    unet: 'U-Net trained on DiffRenderGAN synthetic pairs',
    otsu: 'Otsu + distance watershed (classical, no training)',
    'model-real': `U-Net trained on the real masks of the ${r.trainImages.length} training images (Model-Real; it reads the dev-pool masks)`,
  };
  const rows = Object.entries(r.evals).map(([k, e]) => `| ${label[k] ?? k} | ${f3(e.mean.dsc)} | ${f3(e.mean.ap50)} | ${f3(e.mean.pq)} |`);
  return ['| segmenter | DSC | AP50 | PQ |', '| --- | --- | --- | --- |', ...rows];
}

const pct = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)} %`);
const pctCI = (v: number, c: [number, number]): string => (Number.isFinite(c[0]) ? `${pct(v)} [${pct(c[0])}, ${pct(c[1])}]` : pct(v));

/** Particle counts and size distributions against the manual masks, pooled over the test images. */
function sizingTable(r: PipelineReport, label: (k: string) => string): string[] {
  const rows = Object.entries(r.evals)
    .filter(([, e]) => e.sizing)
    .map(([k, e]) => {
      const s = e.sizing!;
      return `| ${label(k)} | ${s.count.pred} / ${s.count.truth} (${pct(s.count.relError)}) | ${pct(s.ecd.relError.d10)} | ${pctCI(s.ecd.relError.d50, s.ecd.relErrorCI.d50)} | ${pct(s.ecd.relError.d90)} | ${f3(s.ecd.ks)} | ${pctCI(s.feretMax.relError.d50, s.feretMax.relErrorCI.d50)} | ${Number.isFinite(s.outlineBias) ? `${s.outlineBias >= 0 ? '+' : ''}${s.outlineBias.toFixed(2)}` : 'n/a'} | ${s.merges} / ${s.splits} |`;
    });
  if (!rows.length) return [];
  return [
    '| segmenter | particles: predicted / manual (count error) | ECD D10 | ECD D50 [95 % CI] | ECD D90 | KS (ECD) | max Feret D50 [95 % CI] | outline bias, px | merges / splits |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    'Pooled over the test images; particles not touching the image border and of at least 50 px on both sides (as in particles.csv); size errors are predicted / manual quantile - 1 with 95 % bootstrap intervals over particles; KS = Kolmogorov-Smirnov distance of the two ECD distributions; outline bias = mean signed distance of the matched predicted outlines to the manual ones (+ = outside); merges = predicted particles covering more than half of two or more manual ones, splits = manual particles holding more than half of two or more predicted ones (src/seg/sizing.ts); low-confidence splits / merges (per image) need no masks: particles whose split or merge flips when the watershed marker prominence is doubled or halved (src/particles/instances.ts).',
  ];
}

export function reportMarkdown(r: PipelineReport): string {
  const out = [
    `# Pipeline report: ${r.preset}, budget ${r.budget}`,
    '',
    `Run folder \`${r.runDir}\`, generated ${r.generatedAt}.`,
    '',
    ...(r.command ? ['```', r.command, '```', ''] : []),
    `Training (unannotated) images: ${r.trainImages.join(', ')}`,
    '',
    `Test images: ${r.testImages.join(', ')}`,
    '',
    '## Settings',
    ...settingsLines(r),
    '',
    ...realismLines(r),
    '## Time per stage',
    ...stageTable(r),
    '',
    `Machine: ${machineLine(r)}.`,
    '',
  ];
  if (Object.keys(r.evals).length) {
    out.push('## Evaluation (mean over the test images)', ...evalTable(r), '');
    const sizing = sizingTable(r, (k) => k);
    if (sizing.length) out.push('## Particle counts and sizes against the masks', ...sizing, '');
    for (const [k, e] of Object.entries(r.evals)) {
      out.push(`### ${k}`, '| image | DSC | AP50 | PQ | predicted | true | count error | ECD D50 error | KS | outline bias, px | merges / splits | low-confidence splits / merges |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
      for (const i of e.images) {
        const s = i.sizing;
        out.push(`| ${i.image} | ${f3(i.dsc)} | ${f3(i.ap50)} | ${f3(i.pq)} | ${i.predicted} | ${i.truth} | ${s ? `${pct(s.count.relError)} | ${pct(s.ecd.relError.d50)} | ${f3(s.ecd.ks)} | ${f3(s.outlineBias)} | ${s.merges} / ${s.splits}` : 'n/a | n/a | n/a | n/a | n/a'} | ${i.lowConfidence ? `${i.lowConfidence.splits} / ${i.lowConfidence.merges}` : 'n/a'} |`);
      }
      out.push('');
    }
  }
  if (r.predictions) {
    const o = r.predictions.overall;
    out.push('## Predictions', `${o.count} particles not touching the border in ${r.predictions.images} image(s); ECD median ${f3(o.median)} ${r.predictions.unit} (d10 ${f3(o.d10)}, d90 ${f3(o.d90)}). Files: predictions/ (instances, classes, overlay PNGs, particles.csv, summary.json, size-distribution.svg).`, '');
  }
  return out.join('\n');
}

/** The GAN stage's classifier two-sample test of the chosen epoch (train's c2st row), when it ran. */
export function realismLines(r: PipelineReport): string[] {
  const c = (r.stages.find((x) => x.stage === 'gan')?.info as { c2st?: { epoch: number; accuracy: number; ci: [number, number]; patch: number; seeds: number[] } } | undefined)?.c2st;
  if (!c) return [];
  return [
    '## Realism of the chosen epoch',
    `Classifier two-sample test (a small CNN tells the training images' ${c.patch} px patches from renders of epoch ${c.epoch}, split by source image, per-patch normalised; \`diffrendergan realism\` measures the same for any image sets): ` +
      `accuracy ${f3(c.accuracy)} (95 % interval ${f3(c.ci[0])}-${f3(c.ci[1])}; seeds ${c.seeds.map(f3).join(', ')}; 0.5 = indistinguishable).`,
    '',
  ];
}

/** The results pages' line on the sizes the synthetic-trained U-Net measured, when it predicted particles. */
function predictedSizesLines(r: PipelineReport): string[] {
  const o = r.predictions?.overall;
  if (!r.predictions || !o || o.count === 0) return [];
  return [`Particle sizes measured by the synthetic-trained U-Net on these images: ${o.count} particles not touching the border, equivalent circular diameter median ${f3(o.median)} ${r.predictions.unit} (d10 ${f3(o.d10)}, d90 ${f3(o.d90)}).`, ''];
}

/** The results pages' time per stage, machine and settings, under headings of `level`. */
function runFactsLines(r: PipelineReport, level: '##' | '###'): string[] {
  return [`${level} Wall-clock time per stage, this machine`, '', ...stageTable(r), '', `Machine: ${machineLine(r)}.`, '', `${level} Settings of this run`, '', ...settingsLines(r), ''];
}

/** docs/results.md for the TiO2-SEM experiment, from a run's report json. */
export function resultsMarkdown(r: PipelineReport): string {
  const g = r.settings.gan;
  const paperRows = PAPER_TIO2_SEM.map((p) => `| paper: ${p.training} | ${f3(p.dsc)} | ${f3(p.ap50)} | ${f3(p.pq)} |`);
  const ours = evalTable(r).slice(2).map((row) => row.replace(/^\| /, '| this run: '));
  const out = [
    '# Results: TiO2 SEM (generated)',
    '',
    `<!-- Written by \`diffrendergan pipeline ... --results-md docs/results.md\` (src/node/pipeline-report.ts, resultsMarkdown) from ${r.runDir}/report.json on ${r.generatedAt}. Do not edit by hand; rerun the pipeline. -->`,
    '',
    `**Budget: \`${r.budget}\`${(r.overrides ?? []).length ? ` shortened by --set ${(r.overrides ?? []).join(' ')}` : ''}** (seed ${r.seed}). ${paperNetworks(g) && r.settings.synth.n === 1000 ? `The GAN's patch size and discriminator and the dataset size follow the paper's protocol; ${paperSchedule(g) ? 'so does the GAN schedule; ' : `the GAN ran ${g.epochs} epoch(s)${g.stepsPerEpoch !== undefined ? ` of ${epochSteps(g)}` : ''} instead of 50${g.stepsPerEpoch !== undefined ? ' of one step per real patch' : ''}; `}the segmenter and the renderer do not (see the differences below).` : `This is not the paper's protocol but a much shorter run on a 2-core CPU (see the differences below); a longer budget may give different numbers.`}`,
    '',
    'Data: TiO2 nanoparticles imaged by SEM, B. Ruehle, J. F. Krumrey, V.-D. Hodoroaba, "Workflow towards automated segmentation of agglomerated, non-spherical particles from electron microscopy images using artificial neural networks", Sci. Rep. 11, 4942 (2021), doi:10.1038/s41598-021-84287-6 (CC BY-NC-ND 4.0; not in this repository).',
    `The GAN trained against ${r.trainImages.length} dev-pool images as unannotated real images (their masks were not read for it); the segmenters were tested on ${r.testImages.length} dev-test image(s) (${r.testImages.join(', ')}), bottom ${r.cropBottom} rows (data bar) cropped, 1024 x ${768 - r.cropBottom} px each.`,
    '',
    'Method and paper numbers: D. Possart et al., "Addressing data scarcity in nanomaterial segmentation networks with differentiable rendering and generative modeling", npj Comput. Mater. 11, 197 (2025), doi:10.1038/s41524-025-01702-6. The paper\'s numbers are on its own test images of this data set with nnU-Net (mean of three runs); ours are on the dev-test split here, so the comparison is indicative only.',
    '',
    ...(r.command ? ['Command (rerunning it continues or re-reports the run):', '', '```', `${r.command} --results-md docs/results.md`, '```', ''] : []),
    '## Segmentation on dev-test (mean over images)',
    '',
    '| segmenter | DSC | AP50 | PQ |',
    '| --- | --- | --- | --- |',
    ...ours,
    ...paperRows,
    '',
    ...(r.evals.unet && r.evals.otsu
      ? [`In this run the synthetic-trained U-Net is ${r.evals.unet.mean.dsc >= r.evals.otsu.mean.dsc ? 'at or above' : 'below'} the Otsu baseline on DSC (${f3(r.evals.unet.mean.dsc)} vs ${f3(r.evals.otsu.mean.dsc)}) and ${r.evals.unet.mean.pq >= r.evals.otsu.mean.pq ? 'at or above' : 'below'} it on PQ (${f3(r.evals.unet.mean.pq)} vs ${f3(r.evals.otsu.mean.pq)}); the paper's DiffRenderGAN row is ${f3(PAPER_TIO2_SEM[2].dsc)} / ${f3(PAPER_TIO2_SEM[2].pq)}.`, '']
      : []),
    ...predictedSizesLines(r),
    `${r.evals.otsu ? 'The Otsu row is `segment eval --method otsu` (Otsu threshold + distance-transform watershed, no training) run by the pipeline; a' : 'A'} separate measurement of that classical baseline on dev-test by a colleague gave DSC 0.848, AP50 0.245, PQ 0.307.`,
    r.modelReal ? 'Model-Real was trained on the dev-pool images and their manual masks (allowed for this baseline by the data README); the synthetic-data path never reads them.' : 'Model-Real (a U-Net trained on the dev-pool masks) was not part of this run.',
    '',
    ...(() => {
      const short: Record<string, string> = { unet: 'this run: synthetic-trained U-Net', otsu: 'this run: Otsu + distance watershed', 'model-real': 'this run: Model-Real' };
      const t = sizingTable(r, (k) => short[k] ?? k);
      return t.length ? ['## Particle counts and size distributions on dev-test', '', ...t, ''] : [];
    })(),
    ...runFactsLines(r, '##'),
    '## What differs from the paper\'s protocol',
    '',
    `- Renderer: a hand-written differentiable soft rasterizer with an analytic SEM shading model (secondary-electron tilt law, edge gain, side detector, shadow, textured substrate, Gaussian blur, Gaussian + shot noise) instead of Mitsuba 3 path tracing with a principled BSDF; the learned parameters are that model's (docs/parameters.md, docs/presets.md).`,
    `- Segmenter: the project's own U-Net (depth ${r.settings.seg.depth}, base ${r.settings.seg.base}, ${r.settings.seg.epochs} epochs on ${r.settings.seg.crop} px crops, CPU) instead of nnU-Net (5 stages, 1,000 epochs of 250 steps, GPU), one run instead of three.`,
    `- Image size: GAN patches of ${g.patch} px${g.patch === 256 ? ' as in the paper' : ' instead of 256 px'}; synthetic pairs of ${g.patch} x ${g.patch} px; the test images are segmented whole (tiled inference).`,
    `- GAN schedule: ${g.epochs} epoch(s) of ${epochSteps(g)} with a ${g.baseFilters}-filter PatchGAN${paperSchedule(g) && g.baseFilters === 64 ? ' (the reference)' : ' instead of 50 epochs over all patches with 64 filters'}; realism score for the best epoch: Laplacian SWD + grey-level W1 + spectrum instead of FID.`,
    `- Dataset size: ${r.settings.synth.n} synthetic pairs${r.settings.synth.n === 1000 ? ' (as in the paper)' : ' instead of 1,000'}.`,
    `- Test set: the ${r.testImages.length} dev-test image(s) of this split, not the paper's test images.`,
    '',
  ];
  return out.join('\n');
}

/**
 * The generated part of docs/tio2-tsem.md (the TiO2-TSEM experiment, issue 16), from a run's report
 * json: the dev-test tables (DSC / AP50 / PQ, counts and size errors), the chosen epoch's C2ST,
 * the time per stage with the load average and the settings. Pooled figures only: per-image
 * numbers of this data set stay in the run folder (licence). No title: it goes between the page's
 * results markers (withResultsBlock).
 */
export function tsemResultsMarkdown(r: PipelineReport): string {
  const short: Record<string, string> = { unet: 'U-Net trained on synthetic pairs only', otsu: 'Otsu + distance watershed (polarity detected)', 'model-real': 'Model-Real (U-Net on the dev-pool masks)' };
  const sizing = sizingTable(r, (k) => short[k] ?? k);
  const out = [
    `<!-- Written by \`diffrendergan pipeline ... --results-md docs/tio2-tsem.md\` (src/node/pipeline-report.ts, tsemResultsMarkdown) from ${r.runDir}/report.json on ${r.generatedAt}. Do not edit by hand; rerun the pipeline. -->`,
    '',
    `**Budget: \`${r.budget}\`${(r.overrides ?? []).length ? ` shortened by --set ${(r.overrides ?? []).join(' ')}` : ''}** (seed ${r.seed}), preset \`${r.preset}\`.`,
    '',
    'Data: the TSEM images of B. Ruehle, J. F. Krumrey, V.-D. Hodoroaba, "Workflow towards automated segmentation of agglomerated, non-spherical particles from electron microscopy images using artificial neural networks", Sci. Rep. 11, 4942 (2021), doi:10.1038/s41598-021-84287-6 (CC BY-NC-ND 4.0; not in this repository).',
    `The GAN trained against ${r.trainImages.length} dev-pool images as unannotated real images (their masks were not read for it); the segmenters were tested on ${r.testImages.length} dev-test image(s) (${r.testImages.join(', ')}), bottom ${r.cropBottom} rows (data bar) cropped.`,
    '',
    ...(r.command ? ['Command (rerunning it continues or re-reports the run):', '', '```', `${r.command} --results-md docs/tio2-tsem.md`, '```', ''] : []),
    '### Segmentation on dev-test (mean over the images)',
    '',
    ...evalTable(r),
    '',
    ...(sizing.length ? ['### Particle counts and size distributions on dev-test', '', ...sizing, ''] : []),
    ...predictedSizesLines(r),
    ...realismLines(r).map((l) => l.replace(/^## /, '### ')),
    ...runFactsLines(r, '###'),
  ];
  return out.join('\n');
}

/** Where a results page goes inside a hand-written page (docs/tio2-tsem.md): between these lines. */
export const RESULTS_BEGIN = '<!-- results: begin (generated by pipeline --results-md; do not edit) -->';
export const RESULTS_END = '<!-- results: end -->';

/**
 * The file `pipeline --results-md FILE` writes: when FILE exists and holds RESULTS_BEGIN and then
 * RESULTS_END, FILE with the lines between them replaced by the page (the prose around stays);
 * otherwise the page alone.
 */
export function withResultsBlock(existing: string | null, page: string): string {
  const b = existing?.indexOf(RESULTS_BEGIN) ?? -1;
  const e = b >= 0 ? existing!.indexOf(RESULTS_END, b) : -1;
  if (e < 0) return page;
  return `${existing!.slice(0, b + RESULTS_BEGIN.length)}\n${page.replace(/\n*$/, '\n')}${existing!.slice(e)}`;
}

/** The results page `pipeline --results-md` writes for a run of this preset. */
export function resultsPage(r: PipelineReport): string {
  return r.preset === 'tio2-tsem' ? tsemResultsMarkdown(r) : resultsMarkdown(r);
}
