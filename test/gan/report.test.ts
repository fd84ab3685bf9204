import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64, buildReport, downsample, TIO2_SEM_CITATION } from '../../src/gan/report.js';
import { escapeXml, histogram, histogramChart, lineChart, niceTicks } from '../../src/charts/svg.js';
import { encodePngGrey8 } from '../../src/io/png.js';

/** Every element opened is closed in order (a cheap well-formedness check for our own output). */
function expectBalanced(markup: string): void {
  const stack: string[] = [];
  const voids = new Set(['meta', 'input', 'img', 'br']);
  const body = markup.replace(/<script>[\s\S]*?<\/script>/g, '').replace(/<!DOCTYPE[^>]*>/, '');
  for (const m of body.matchAll(/<(\/?)([a-zA-Z][\w:-]*)([^>]*?)(\/?)>/g)) {
    const [, close, tag, , self] = m;
    if (self || voids.has(tag)) continue;
    if (close) expect(stack.pop(), `closing </${tag}>`).toBe(tag);
    else stack.push(tag);
  }
  expect(stack).toEqual([]);
}

describe('svg-chart', () => {
  it('niceTicks gives round steps covering the range', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.13, 0.87, 4)).toEqual([0.2, 0.4, 0.6, 0.8]);
    expect(niceTicks(0, 50, 5)).toEqual([0, 10, 20, 30, 40, 50]);
    expect(niceTicks(3, 3).length).toBeGreaterThan(1);
    expect(niceTicks(NaN, 1)).toEqual([]);
    expect(niceTicks(-7e-4, 2e-4, 5)).toEqual([-6e-4, -4e-4, -2e-4, 0, 2e-4]);
  });

  it('escapes text', () => {
    expect(escapeXml(`a<b & "c" 'd'>`)).toBe('a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;');
  });

  it('draws series, bands, reference lines and a legend; splits lines at NaN', () => {
    const svg = lineChart({
      title: 'T <1>',
      xLabel: 'epoch',
      yLabel: 'value',
      series: [
        { name: 'a', points: [[0, 1], [1, 2], [2, NaN], [3, 3], [4, 2]], band: [[0, 0, 2], [1, 1, 3]] },
        { name: 'b', points: [[0, 0.5], [4, 0.7]], dash: '4 2' },
      ],
      hLines: [{ value: 2.5, label: 'hidden' }],
      vLines: [{ value: 3, label: 'best' }],
    });
    expect(svg.startsWith('<svg')).toBe(true);
    expectBalanced(svg);
    expect(svg.match(/<polyline/g)).toHaveLength(3); // a: two pieces, b: one
    expect(svg.match(/<polygon/g)).toHaveLength(1);
    expect(svg).toContain('T &lt;1&gt;');
    expect(svg).toContain('>hidden<');
    expect(svg).toContain('>best<');
    expect(svg).toContain('stroke-dasharray="4 2"');
    expect(svg).not.toContain('NaN');
  });

  it('handles empty, constant and log-scaled data', () => {
    for (const svg of [
      lineChart({ series: [] }),
      lineChart({ series: [{ name: 'c', points: [[1, 5]] }] }),
      lineChart({ series: [{ name: 'l', points: [[0, 1e-3], [1, 1], [2, 0], [3, 10]] }], logY: true }),
    ]) {
      expectBalanced(svg);
      expect(svg).not.toMatch(/NaN|Infinity/);
    }
  });

  it('histogram counts and chart', () => {
    const h = histogram([0, 0.1, 0.5, 0.99, 1, 2, -1, NaN], 0, 1, 4);
    expect(h.edges).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(h.counts).toEqual([3, 0, 1, 3]);
    const svg = histogramChart({ ...h, title: 'h', vLines: [{ value: 0.3, label: 'hidden' }] });
    expectBalanced(svg);
    expect(svg.match(/<rect/g)!.length).toBe(1 + 3); // frame + 3 non-empty bins
  });
});

describe('report', () => {
  it('base64 matches the standard encoding', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(base64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
      }),
    );
    expect(base64(new Uint8Array(20000).fill(7))).toBe(Buffer.alloc(20000, 7).toString('base64'));
  });

  it('downsample averages into buckets', () => {
    const pts = Array.from({ length: 10 }, (_, i) => [i, i * 2] as const);
    expect(downsample(pts, 20)).toHaveLength(10);
    expect(downsample(pts, 5)).toEqual([[0.5, 1], [2.5, 5], [4.5, 9], [6.5, 13], [8.5, 17]]);
  });

  function demoRows() {
    const rows: Record<string, unknown>[] = [];
    for (let e = 1; e <= 4; e++) {
      for (let s = 1; s <= 5; s++) rows.push({ type: 'step', epoch: e, step: (e - 1) * 5 + s, lossG: 1 / (e + s), lossD: e === 2 && s === 3 ? 'NaN' : 0.25 });
      const rough = Array.from({ length: 8 }, (_, i) => 0.5 + (0.3 - 0.5) * (e / 4) + 0.01 * i);
      rows.push({
        type: 'epoch',
        epoch: e,
        step: e * 5,
        realism: { swd: { levels: [{ resolution: 64, swd: 10 / e }, { resolution: 32, swd: 5 / e }], mean: 7.5 / e }, histogram: 0.1 / e, spectrum: 1 / e, combined: 2 / e },
        paramMean: { roughness: rough.reduce((a, b) => a + b) / 8 },
        paramStd: { roughness: 0.023 },
        params: { roughness: rough },
      });
    }
    return rows;
  }

  it('is one self-contained HTML file with charts, hidden values, samples and the choice', () => {
    const png = encodePngGrey8(2, 2, Float32Array.from([0, 0.5, 1, 0.25]));
    const html = buildReport({
      config: { version: 1, data: { kind: 'demo', hidden: { roughness: 0.3 }, count: 8 } },
      rows: [...demoRows(), { type: 'other', x: 1 }],
      samples: [{ epoch: 4, png }],
      realSamples: [new Float32Array(16).fill(0.5)],
      patch: 4,
      best: { epoch: 4, reason: 'epoch 4: lowest score <and> broad' },
      runDir: '/runs/demo',
    });
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expectBalanced(html);
    // Nothing external.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link/);
    expect(html.match(/<script>/g)).toHaveLength(1);
    // Content.
    expect(html).toContain('Chosen epoch: 4');
    expect(html).toContain('lowest score &lt;and&gt; broad');
    expect(html).toContain('hidden true value 0.3');
    expect(html).toContain('Losses per step');
    expect(html).toContain('>lossG<');
    expect(html).toContain('>lossD<');
    expect(html).not.toContain('>type<');
    expect(html).toContain(`src="data:image/png;base64,${base64(png)}"`);
    expect(html.match(/data-epoch="\d"/g)).toHaveLength(4);
    expect(html).toContain('roughness (epoch 4, 8 configurations)');
    expect(html).toContain('SWD 32 px');
    expect(html).toContain('demo run');
    expect(html).not.toContain(TIO2_SEM_CITATION);
  });

  it('cites the TiO2-SEM data when the config uses it, and copes with no rows', () => {
    const html = buildReport({ rows: [], config: { data: { kind: 'real', files: ['/x/shared/data/tio2-sem/images/1.tif'] } } });
    expectBalanced(html);
    expect(html).toContain(escapeXml(TIO2_SEM_CITATION));
    expect(html).toContain('No training steps logged yet');
    expect(html).toContain('No epoch chosen yet');
    expect(html).not.toContain('<script>');
  });

  it('does not cite the TiO2-SEM data for a demo run that only uses the preset name', () => {
    const html = buildReport({ rows: [], config: { gan: { preset: 'tio2-sem' }, data: { kind: 'demo' } } });
    expect(html).not.toContain(escapeXml(TIO2_SEM_CITATION));
  });
});
