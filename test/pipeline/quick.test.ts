/**
 * The whole pipeline at `--budget quick`, in-process, on real TiO2-SEM images: 2 dev-pool images
 * as the unannotated real images, 1 dev-test image to predict and evaluate. The data (Rühle,
 * Krumrey, Hodoroaba, Sci. Rep. 11, 4942 (2021), CC BY-NC-ND) live outside the repository in
 * ../shared/data/tio2-sem; without them this file is skipped.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ADAPT_BN_DEFAULT, budgetSettings, memberDirs, memberStepsPerEpoch, runPipeline, readStage, parseSets, type PipelineOptions } from '../../src/node/pipeline.js';
import { resultsMarkdown } from '../../src/node/pipeline-report.js';
import { autoSelectBackendNode } from '../../src/node/backends.js';
import { UserError } from '../../src/errors.js';
import { requireInput } from '../required-input.js';

const DATA = fileURLToPath(new URL('../../../shared/data/tio2-sem/', import.meta.url));
const present = requireInput(`the TiO2-SEM images and masks (${DATA})`, existsSync(join(DATA, 'images')) && existsSync(join(DATA, 'masks')), 'test/pipeline/quick.test.ts');
if (!present) console.warn(`test/pipeline/quick.test.ts skipped: ${DATA} not found (the TiO2-SEM data are not in the repository)`);

const dir = mkdtempSync(join(tmpdir(), 'drg-pipeline-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const opts = (over: Partial<PipelineOptions> = {}): PipelineOptions => ({
  real: [join(DATA, 'images')],
  trainIds: ['1908248', '1908252'],
  testIds: ['1908250'],
  evalMasks: join(DATA, 'masks'),
  preset: 'tio2-sem',
  out: join(dir, 'run'),
  cropBottom: 64,
  pixelSize: '2.1nm',
  budget: 'quick',
  seed: 0,
  workers: 1,
  quiet: true,
  ...over,
});

describe('parseSets', () => {
  it('accepts budget fields and rejects anything else', () => {
    expect(parseSets(['gan.epochs=3', 'synth.n=10,seg.crop=64'])).toEqual({ gan: { epochs: 3 }, synth: { n: 10 }, seg: { crop: 64 } });
    expect(parseSets(['gan.refinerSteps=250'])).toEqual({ gan: { refinerSteps: 250 } });
    expect(parseSets(['gan.dNormalised=1'])).toEqual({ gan: { dNormalised: 1 } });
    expect(() => parseSets(['gan.dNormalised=2'])).toThrow(UserError);
    expect(() => parseSets(['gan.nope=1'])).toThrow(UserError);
    expect(() => parseSets(['gan.epochs=x'])).toThrow(UserError);
  });
  it('accepts the opt-in seg.interiorAugmentPercent (no budget sets it) as a percentage', () => {
    expect(parseSets(['seg.interiorAugmentPercent=50'])).toEqual({ seg: { interiorAugmentPercent: 50 } });
    expect(() => parseSets(['seg.interiorAugmentPercent=101'])).toThrow(UserError);
  });
  it('accepts the opt-in seg.emaSteps (no budget sets it)', () => {
    expect(parseSets(['seg.emaSteps=100'])).toEqual({ seg: { emaSteps: 100 } });
  });
  it('accepts the opt-in seg.warmupSteps (no budget sets it)', () => {
    expect(parseSets(['seg.warmupSteps=50'])).toEqual({ seg: { warmupSteps: 50 } });
  });
  it('accepts the opt-in seg.members (no budget sets it): 1-8 U-Nets', () => {
    expect(parseSets(['seg.members=2'])).toEqual({ seg: { members: 2 } });
    expect(() => parseSets(['seg.members=0'])).toThrow(/seg.members=0: 1-8 U-Nets/);
    expect(() => parseSets(['seg.members=9'])).toThrow(UserError);
  });
  it('splits the budget\'s U-Net steps between the members and names their folders', () => {
    const seg = budgetSettings('standard').seg;
    expect(memberStepsPerEpoch(seg, 400, 1)).toBe(0); // one U-Net: the budget as it is
    expect(memberStepsPerEpoch(seg, 400, 2)).toBe(50); // 100 steps per epoch (400 pairs / batch 4) halved
    expect(memberStepsPerEpoch(seg, 400, 3)).toBe(33);
    expect(memberStepsPerEpoch({ ...seg, stepsPerEpoch: 7 }, 400, 8)).toBe(1);
    expect(memberDirs('/r', 3)).toEqual([join('/r', 'seg-model'), join('/r', 'seg-model-2'), join('/r', 'seg-model-3')]);
  });
});

describe.skipIf(!present)('pipeline --budget quick on TiO2-SEM (2 dev-pool images -> 1 dev-test image)', () => {
  it('runs every stage, writes every output, and a rerun skips them all', async () => {
    await autoSelectBackendNode({ noGpu: true });
    const r = await runPipeline(opts());
    expect(r.ran).toEqual(['tile', 'gan', 'best', 'synth', 'seg', 'predict', 'eval', 'report']);
    const run = r.runDir;
    for (const s of ['tile', 'gan', 'best', 'synth', 'seg', 'predict', 'eval'] as const) expect(readStage(run, s)?.seconds).toBeGreaterThanOrEqual(0);
    const files = [
      'pipeline.json', 'tiles/tiles.json', 'tiles/preview.png', 'gan/config.json', 'gan/metrics.jsonl', 'gan/train.log', 'gan/report.html', 'gan/best.json', 'best-epoch.json',
      'synth/dataset.json', 'synth/images/synth_00000.png', 'synth/masks/synth_00047.png', 'seg-model/config.json', 'seg-model/model.safetensors',
      'predictions/1908250_instances.png', 'predictions/1908250_classes.png', 'predictions/1908250_overlay.png', 'predictions/particles.csv',
      'predictions/summary.json', 'predictions/size-distribution.svg', 'eval/unet.json', 'eval/otsu.json', 'report.json', 'report.md',
    ];
    for (const f of files) expect(existsSync(join(run, f)), f).toBe(true);
    const report = JSON.parse(readFileSync(join(run, 'report.json'), 'utf8'));
    for (const m of ['unet', 'otsu']) {
      for (const k of ['dsc', 'ap50', 'pq']) {
        const v = report.evals[m].mean[k];
        expect(typeof v).toBe('number');
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
    }
    // The classical baseline is a fixed algorithm: it must find the particles of this image.
    expect(report.evals.otsu.mean.dsc).toBeGreaterThan(0.7);
    expect(report.stages.map((s: { stage: string }) => s.stage)).toEqual(['tile', 'gan', 'best', 'synth', 'seg', 'predict', 'eval']);
    // Each stage's CPU (all threads of the process): the U-Net's training computes.
    for (const s of report.stages as { stage: string; cpuSeconds: number }[]) expect(s.cpuSeconds, s.stage).toBeGreaterThanOrEqual(0);
    expect(report.stages.find((s: { stage: string }) => s.stage === 'seg').cpuSeconds).toBeGreaterThan(0);
    const md = readFileSync(join(run, 'report.md'), 'utf8');
    expect(md).toContain('| gan |');
    expect(resultsMarkdown(report)).toContain('Possart');
    // The sizing figures travel from segment eval into the report and results.md.
    expect(report.evals.otsu.sizing.count.truth).toBeGreaterThan(0);
    expect(report.evals.otsu.images[0].sizing.ecd.relError).toHaveProperty('d50');
    expect(md).toMatch(/## Particle counts and sizes against the masks\n\| segmenter \| particles/);
    expect(resultsMarkdown(report)).toMatch(/\| this run: Otsu \+ distance watershed \| \d+ \/ \d+ \(/);

    // Rerun: every stage is skipped, and no stage did its work again: every stage marker and every
    // stage output keeps its bytes and modification time (a stage that reran would rewrite its
    // marker, with a new finishedAt). Proven by the files, not by wall time on shared cores.
    const stamp = (f: string) => ({ mtimeMs: statSync(join(run, f)).mtimeMs, bytes: readFileSync(join(run, f)).toString('base64') });
    const stageMarkers = ['tile', 'gan', 'best', 'synth', 'seg', 'predict', 'eval'].map((s) => `stages/${s}.done.json`);
    const kept = [...stageMarkers, ...files.filter((f) => !/^(report\.(json|md)|pipeline\.json)$/.test(f))];
    const before = Object.fromEntries(kept.map((f) => [f, stamp(f)]));
    const again = await runPipeline(opts());
    expect(again.ran).toEqual([]);
    expect(again.skipped).toEqual(['tile', 'gan', 'best', 'synth', 'seg', 'predict', 'eval', 'report']);
    expect(Object.fromEntries(kept.map((f) => [f, stamp(f)]))).toEqual(before);

    // A rerun with other settings into the same folder is refused, naming what differs.
    await expect(runPipeline(opts({ budget: 'standard' }))).rejects.toThrow(/budget, settings differ/);
  }, 540_000);

  it('continues a stage that a killed run left half done, and adds Model-Real to a finished run', async () => {
    const out = join(dir, 'killed');
    // A copy of the finished run, as if killed during `seg`: its marker and the later ones are
    // gone, its model folder (with the epoch checkpoint) stays.
    cpSync(join(dir, 'run'), out, { recursive: true });
    for (const s of ['seg', 'predict', 'eval', 'report']) rmSync(join(out, 'stages', `${s}.done.json`), { force: true });
    // ... and as if started with --adapt-bn against its default: predict and eval adapt the U-Net to the training images.
    const adaptBn = !ADAPT_BN_DEFAULT;
    const specFile = join(out, 'pipeline.json');
    writeFileSync(specFile, JSON.stringify({ ...JSON.parse(readFileSync(specFile, 'utf8')), adaptBn }, null, 2) + '\n');
    const r = await runPipeline(opts({ out, adaptBn }));
    expect(r.skipped).toEqual(['tile', 'gan', 'best', 'synth']);
    expect(r.ran).toEqual(['seg', 'predict', 'eval', 'report']);
    expect(readStage(out, 'seg')?.resumed).toBe(true);
    expect(readStage(out, 'predict')?.info.batchNormAdaptedTo).toBe(adaptBn ? 2 : 0);
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).command).toContain(`--adapt-bn=${adaptBn}`);

    // --model-real can be added to a finished run: only its own stage runs.
    const withReal = await runPipeline(opts({ out, modelReal: true, adaptBn }));
    expect(withReal.ran).toEqual(['model-real']);
    const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    for (const k of ['dsc', 'ap50', 'pq']) {
      expect(rep.evals['model-real'].mean[k]).toBeGreaterThanOrEqual(0);
      expect(rep.evals['model-real'].mean[k]).toBeLessThanOrEqual(1);
    }
    expect(resultsMarkdown(rep)).toContain('Model-Real was trained on the dev-pool');
  }, 300_000);

  it('refuses bad id lists and a test image that is also trained on', async () => {
    await expect(runPipeline(opts({ out: join(dir, 'bad1'), testIds: ['nope'] }))).rejects.toThrow(/no image named 'nope'/);
    await expect(runPipeline(opts({ out: join(dir, 'bad2'), trainIds: ['1908250'] }))).rejects.toThrow(/both a training and a test image/);
  });
});
