import { describe, expect, it } from 'vitest';
import { resultsPage, withResultsBlock, RESULTS_BEGIN, RESULTS_END, type EvalSummary, type PipelineReport } from '../../src/node/pipeline-report.js';
import { BUDGETS } from '../../src/node/pipeline.js';

const evalSummary = (dsc: number, pred: number): EvalSummary => ({
  mean: { dsc, ap50: 0.6, pq: 0.6, sq: 0.9, rq: 0.7 },
  images: [],
  sizing: {
    count: { pred, truth: 100, relError: pred / 100 - 1 },
    ecd: { pred: { d10: 1, d50: 2, d90: 3 }, truth: { d10: 1, d50: 2, d90: 3 }, relError: { d10: 0, d50: -0.05, d90: 0 }, relErrorCI: { d10: [0, 0], d50: [-0.1, 0], d90: [0, 0] }, ks: 0.1, ksCI: [0, 0.2] },
    feretMax: { pred: { d10: 1, d50: 2, d90: 3 }, truth: { d10: 1, d50: 2, d90: 3 }, relError: { d10: 0, d50: 0.01, d90: 0 }, relErrorCI: { d10: [0, 0], d50: [0, 0.02], d90: [0, 0] }, ks: 0.1, ksCI: [0, 0.2] },
    outlineBias: 0.2,
    merges: 1,
    splits: 2,
  } as unknown as EvalSummary['sizing'],
});

function report(preset: string): PipelineReport {
  return {
    version: 1, runDir: '/tmp/run', preset, budget: 'standard', overrides: [], settings: BUDGETS.standard, seed: 0, cropBottom: 56,
    trainImages: ['a', 'b'], testImages: ['c'], modelReal: true,
    stages: [{ stage: 'gan', seconds: 120, resumed: false, loadAverage: [3, 2, 1], info: { c2st: { epoch: 7, accuracy: 0.71, ci: [0.65, 0.77], patch: 128, seeds: [0.7, 0.72, 0.71] } } }],
    totalSeconds: 120,
    evals: { unet: evalSummary(0.951, 93), otsu: evalSummary(0.97, 101), 'model-real': evalSummary(0.9, 130) },
    predictions: null,
    machine: { cpu: 'cpu', cores: 2, memoryGiB: 8, node: 'v22', platform: 'linux', loadAverage: [1, 1, 1] },
    backend: 'wasm', command: 'node dist/cli.js pipeline --preset ' + preset, generatedAt: '2026-12-06T00:00:00Z',
  };
}

describe('results pages', () => {
  it('tio2-tsem: the TSEM page (dev-test scores, counts and D50, C2ST, stages with load), no SEM paper rows', () => {
    const md = resultsPage(report('tio2-tsem'));
    expect(md).toMatch(/^<!-- Written by `diffrendergan pipeline ... --results-md docs\/tio2-tsem.md`/);
    expect(md).toContain('| U-Net trained on DiffRenderGAN synthetic pairs | 0.951 | 0.600 | 0.600 |');
    expect(md).toContain('| U-Net trained on synthetic pairs only | 93 / 100 (-7.0 %) |');
    expect(md).toContain('-5.0 % [-10.0 %, +0.0 %]');
    expect(md).toContain('accuracy 0.710 (95 % interval 0.650-0.770');
    expect(md).toContain('| gan | DiffRenderGAN training | 2.0 min | 3 / 2 / 1 |');
    expect(md).toContain('node dist/cli.js pipeline --preset tio2-tsem --results-md docs/tio2-tsem.md');
    expect(md).not.toContain('Possart');
  });

  it("the U-Net settings line names the preset's augmentation overrides, and nothing without them", () => {
    const r = report('tio2-tsem');
    r.stages.push({ stage: 'seg', seconds: 60, resumed: false, info: { augmentOverrides: { fgContrast: 0 } } });
    expect(resultsPage(r)).toMatch(/- U-Net: depth 4, .*; augmentation as the defaults except fgContrast 0 \(the preset's\)/);
    expect(resultsPage(report('tio2-tsem'))).not.toContain('augmentation as the defaults');
  });

  it('the U-Net settings line names the opt-in interior re-shading when --set gave it', () => {
    const r = report('tio2-sem');
    r.settings = { ...BUDGETS.standard, seg: { ...BUDGETS.standard.seg, interiorAugmentPercent: 50 } };
    expect(resultsPage(r)).toContain("; particle interiors re-shaded on 50 % of the synthetic U-Net's crops");
    expect(resultsPage(report('tio2-sem'))).not.toContain('interiors re-shaded');
    // the share the seg stage recorded (the preset's default) wins over the settings
    const fromPreset = report('tio2-sem');
    fromPreset.stages.push({ stage: 'seg', seconds: 60, resumed: false, info: { interiorAugmentPercent: 50 } });
    expect(resultsPage(fromPreset)).toContain("; particle interiors re-shaded on 50 % of the synthetic U-Net's crops");
  });

  it('other presets: docs/results.md (TiO2 SEM, with the paper rows)', () => {
    const md = resultsPage(report('tio2-sem'));
    expect(md).toMatch(/^# Results: TiO2 SEM \(generated\)/);
    expect(md).toContain('Possart');
  });

  it('goes between the results markers of an existing page, keeping the prose around; no markers: the page alone', () => {
    const page = '## generated\n\n| a |\n';
    const doc = `# TSEM\n\nprose before\n\n${RESULTS_BEGIN}\nold table\n${RESULTS_END}\n\nprose after\n`;
    const once = withResultsBlock(doc, page);
    expect(once).toBe(`# TSEM\n\nprose before\n\n${RESULTS_BEGIN}\n## generated\n\n| a |\n${RESULTS_END}\n\nprose after\n`);
    expect(withResultsBlock(once, page)).toBe(once);
    expect(withResultsBlock(null, page)).toBe(page);
    expect(withResultsBlock('# no markers\n', page)).toBe(page);
    expect(withResultsBlock(`${RESULTS_END}\n${RESULTS_BEGIN}\n`, page)).toBe(page);
  });
});
