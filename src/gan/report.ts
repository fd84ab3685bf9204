/**
 * report.html of a training run: one self-contained file (inline SVG charts, images as base64
 * data URLs, a few lines of plain inline JS for the epoch selector; nothing fetched), built from
 *   - the rows of metrics.jsonl: step rows {type: 'step', step, epoch, lossG, lossD, ...numbers}
 *     and epoch rows {type: 'epoch', epoch, step, realism: RealismScores, paramMean, paramStd,
 *     params} where params[name] holds the learned value of every rendered configuration;
 *   - optional per-epoch sample sheets (PNG bytes encoded by the caller) and real patches
 *     (grey Float32Arrays, encoded here);
 *   - the best-epoch choice and its reason;
 *   - optional hidden true parameter values (the demo, where the "real" images are renders with
 *     hidden parameters: every parameter plot draws the hidden value as a dashed line, so the
 *     learned values can be seen converging towards it). Taken from config.data.hidden when the
 *     config says data.kind = 'demo' and none are given.
 * Pure: runs in a browser.
 */
import { encodePngGrey8 } from '../io/png.js';
import { escapeXml, histogram, histogramChart, lineChart, PALETTE, type Series } from '../charts/svg.js';

export interface ReportInput {
  title?: string;
  /** The run's config.json content, shown folded at the end. */
  config?: unknown;
  /** metrics.jsonl rows (other row types are ignored). */
  rows: readonly Record<string, unknown>[];
  /** Per-epoch sample sheets, PNG bytes. */
  samples?: readonly { epoch: number; png: Uint8Array; caption?: string }[];
  /** Real patches (patch x patch grey values in [0, 1]) shown for comparison. */
  realSamples?: readonly Float32Array[];
  /** Side of the real patches. */
  patch?: number;
  best?: { epoch: number; reason: string } | null;
  hidden?: Record<string, number>;
  /** [min, max] of each learned parameter, for the histogram axes. */
  paramRanges?: Record<string, readonly [number, number]>;
  /** Shown in the header. */
  runDir?: string;
  /** A data citation shown in the header; the TiO2-SEM one is added when the config lists files of that data set. */
  citation?: string;
}

export const TIO2_SEM_CITATION =
  'Real images: B. Ruehle, J. F. Krumrey, V.-D. Hodoroaba, Scientific Reports 11, 4942 (2021), doi:10.1038/s41598-021-84287-6 (CC BY-NC-ND 4.0).';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Standard base64 (RFC 4648, with padding), without Buffer or btoa. */
export function base64(bytes: Uint8Array): string {
  const out: string[] = [];
  let chunk = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i];
    const b = i + 1 < bytes.length ? bytes[i + 1] : 0;
    const c = i + 2 < bytes.length ? bytes[i + 2] : 0;
    const n = (a << 16) | (b << 8) | c;
    chunk +=
      B64[(n >> 18) & 63] +
      B64[(n >> 12) & 63] +
      (i + 1 < bytes.length ? B64[(n >> 6) & 63] : '=') +
      (i + 2 < bytes.length ? B64[n & 63] : '=');
    if (chunk.length >= 8192) {
      out.push(chunk);
      chunk = '';
    }
  }
  out.push(chunk);
  return out.join('');
}

export function pngDataUrl(png: Uint8Array): string {
  return `data:image/png;base64,${base64(png)}`;
}

type Row = Record<string, unknown>;
const rowType = (r: Row): unknown => r.type ?? r.kind;
const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' && /^(NaN|-?Infinity)$/.test(v) ? Number(v) : NaN);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Averages consecutive points into at most `max` buckets (keeps long loss curves small). */
export function downsample(points: readonly (readonly [number, number])[], max: number): [number, number][] {
  if (points.length <= max) return points.map(([x, y]) => [x, y]);
  const out: [number, number][] = [];
  const per = points.length / max;
  for (let b = 0; b < max; b++) {
    const lo = Math.floor(b * per);
    const hi = Math.floor((b + 1) * per);
    let sx = 0;
    let sy = 0;
    let n = 0;
    for (let i = lo; i < hi; i++) {
      if (!Number.isFinite(points[i][1])) continue;
      sx += points[i][0];
      sy += points[i][1];
      n++;
    }
    if (n) out.push([sx / n, sy / n]);
  }
  return out;
}

function lossCharts(steps: Row[], bestStep: number | undefined): string {
  if (steps.length === 0) return '<p>No training steps logged yet.</p>';
  const keys = new Set<string>();
  for (const r of steps) {
    for (const [k, v] of Object.entries(r)) {
      const numeric = typeof v === 'number' || (typeof v === 'string' && /^(NaN|-?Infinity)$/.test(v));
      if (numeric && k !== 'step' && k !== 'epoch') keys.add(k);
    }
  }
  const series: Series[] = [...keys].map((k) => ({
    name: k,
    points: downsample(steps.map((r) => [num(r.step), num(r[k])] as const), 1500),
    markers: false,
  }));
  return lineChart({
    title: 'Losses per step',
    xLabel: 'step',
    yLabel: 'loss',
    width: 760,
    height: 300,
    series,
    vLines: bestStep !== undefined ? [{ value: bestStep, label: 'best', color: '#2ca02c' }] : [],
  });
}

/** The classifier two-sample test of the chosen epoch (a metrics row {type: 'c2st', ...C2stResult}). */
function c2stSection(r: Row): string {
  const ci = Array.isArray(r.ci) ? r.ci.map(num) : [NaN, NaN];
  const seeds = Array.isArray(r.seeds) ? r.seeds.filter(isRecord) : [];
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
  return (
    `<h2>Classifier two-sample test, chosen epoch ${num(r.epoch)}</h2>` +
    `<p>A small CNN trained to tell real from rendered ${num(r.patch)} px patches (split by source image, each patch normalised to zero mean and unit std) ` +
    `is right <b>${f(num(r.accuracy))}</b> of the time on held-out patches (95 % interval ${f(ci[0])}-${f(ci[1])}; 0.5 = it cannot tell them apart). ` +
    `Per seed: ${seeds.map((s) => f(num(s.accuracy))).join(', ')}.</p>`
  );
}

function realismCharts(epochs: Row[], best: number | undefined): string {
  const get = (r: Row, path: string[]): number => {
    let v: unknown = r.realism;
    for (const p of path) v = isRecord(v) ? v[p] : undefined;
    return num(v);
  };
  const scores: [string, string[], string][] = [
    ['combined', ['combined'], 'combined score'],
    ['SWD (mean of levels, x1e3)', ['swd', 'mean'], 'SWD'],
    ['grey-level W1', ['histogram'], 'W1'],
    ['radial log spectrum RMS', ['spectrum'], 'decades'],
  ];
  const vLines = best !== undefined ? [{ value: best, label: 'best', color: '#2ca02c' }] : [];
  return scores
    .map(([title, path, yLabel], i) =>
      lineChart({
        title,
        xLabel: 'epoch',
        yLabel,
        width: 370,
        height: 220,
        series: [{ name: title, points: epochs.map((r) => [num(r.epoch), get(r, path)] as const), color: PALETTE[i] }],
        vLines,
      }),
    )
    .join('');
}

function paramNames(epochs: Row[]): string[] {
  const names = new Set<string>();
  for (const r of epochs) for (const src of [r.paramMean, r.params]) if (isRecord(src)) for (const k of Object.keys(src)) names.add(k);
  return [...names];
}

function paramCharts(epochs: Row[], names: string[], hidden: Record<string, number> | undefined, best: number | undefined): string {
  return names
    .map((name, i) => {
      const pts = epochs.map((r) => [num(r.epoch), num(isRecord(r.paramMean) ? r.paramMean[name] : NaN)] as const);
      const band = epochs.map((r) => {
        const m = num(isRecord(r.paramMean) ? r.paramMean[name] : NaN);
        const s = num(isRecord(r.paramStd) ? r.paramStd[name] : NaN);
        return [num(r.epoch), m - s, m + s] as const;
      });
      const h = hidden?.[name];
      return lineChart({
        title: name,
        xLabel: 'epoch',
        yLabel: 'learned value',
        width: 370,
        height: 230,
        series: [{ name: 'mean -+ std over configurations', points: pts, band, color: PALETTE[i % PALETTE.length] }],
        hLines: h !== undefined ? [{ value: h, label: `hidden true value ${h}`, color: '#d62728' }] : [],
        vLines: best !== undefined ? [{ value: best, label: 'best', color: '#2ca02c' }] : [],
      });
    })
    .join('');
}

function paramRange(epochs: Row[], name: string, given: readonly [number, number] | undefined, hidden: number | undefined): [number, number] {
  if (given) return [given[0], given[1]];
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of epochs) {
    const v = isRecord(r.params) ? r.params[name] : undefined;
    if (Array.isArray(v)) for (const x of v) if (typeof x === 'number' && Number.isFinite(x)) [lo, hi] = [Math.min(lo, x), Math.max(hi, x)];
  }
  if (hidden !== undefined) [lo, hi] = [Math.min(lo, hidden), Math.max(hi, hidden)];
  return Number.isFinite(lo) ? [lo, hi] : [0, 1];
}

const SELECTOR_JS = `
(function () {
  var sel = document.getElementById('epoch-select');
  var label = document.getElementById('epoch-label');
  if (!sel) return;
  var epochs = JSON.parse(sel.getAttribute('data-epochs'));
  function show() {
    var e = String(epochs[+sel.value]);
    label.textContent = 'epoch ' + e;
    var els = document.querySelectorAll('[data-epoch]');
    for (var i = 0; i < els.length; i++) els[i].style.display = els[i].getAttribute('data-epoch') === e ? '' : 'none';
  }
  sel.addEventListener('input', show);
  show();
})();
`;

const CSS = `
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1200px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }
.grid { display: flex; flex-wrap: wrap; gap: 8px; }
.best { background: #eef8ee; border: 1px solid #9c9; padding: 8px 12px; }
.muted { color: #777; font-size: 12px; }
img.pix { image-rendering: pixelated; border: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 12px; } td, th { border: 1px solid #ddd; padding: 2px 6px; text-align: right; }
pre { background: #f6f6f6; padding: 8px; overflow: auto; font-size: 12px; }
`;

/** Builds report.html; see the module comment. */
export function buildReport(input: ReportInput): string {
  const rows = input.rows.filter(isRecord);
  const steps = rows.filter((r) => rowType(r) === 'step');
  const epochs = rows.filter((r) => rowType(r) === 'epoch').sort((a, b) => num(a.epoch) - num(b.epoch));
  const config = input.config;
  const data = isRecord(config) && isRecord(config.data) ? config.data : undefined;
  const hidden = input.hidden ?? (data && data.kind === 'demo' && isRecord(data.hidden) ? (data.hidden as Record<string, number>) : undefined);
  // Cite the data set when the run read its files (the preset name alone, as in the demo, is not its data).
  const citation = input.citation ?? (/tio2-sem\/(images|masks)\//.test(JSON.stringify(config ?? null).toLowerCase()) ? TIO2_SEM_CITATION : undefined);
  const best = input.best ?? undefined;
  const bestStep = best ? num(epochs.find((r) => num(r.epoch) === best.epoch)?.step) : NaN;
  const names = paramNames(epochs);
  const title = input.title ?? 'DiffRenderGAN training report';

  const html: string[] = [];
  html.push(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title><style>${CSS}</style></head><body>`);
  html.push(`<h1>${escapeXml(title)}</h1>`);
  if (input.runDir) html.push(`<p class="muted">run folder: ${escapeXml(input.runDir)}</p>`);
  html.push(`<p class="muted">${steps.length} steps and ${epochs.length} epochs logged${hidden ? '; demo run: the "real" patches are renders with hidden parameters' : ''}.</p>`);
  if (citation) html.push(`<p class="muted">${escapeXml(citation)}</p>`);
  html.push(best ? `<p class="best"><b>Chosen epoch: ${best.epoch}</b>. ${escapeXml(best.reason)}</p>` : '<p class="muted">No epoch chosen yet.</p>');

  const c2st = rows.filter((r) => rowType(r) === 'c2st' && best && num(r.epoch) === best.epoch).pop();
  if (c2st) html.push(c2stSection(c2st));
  html.push('<h2>Losses</h2>', lossCharts(steps, Number.isFinite(bestStep) ? bestStep : undefined));
  if (epochs.length) {
    html.push('<h2>Realism scores per epoch (lower is better)</h2><div class="grid">', realismCharts(epochs, best?.epoch), '</div>');
    html.push('<p class="muted">SWD: sliced Wasserstein distance on Laplacian-pyramid 7 x 7 patches (ProGAN); W1: earth mover\'s distance between grey-level histograms; spectrum: RMS difference of the radially averaged log power spectra.</p>');
  }
  if (names.length) {
    html.push(`<h2>Learned parameters per epoch${hidden ? ' (dashed red: hidden true value)' : ''}</h2><div class="grid">`, paramCharts(epochs, names, hidden, best?.epoch), '</div>');
  }

  // Epoch selector over the per-epoch histograms and sample sheets.
  const sampleEpochs = new Set((input.samples ?? []).map((s) => s.epoch));
  const selEpochs = [...new Set([...epochs.map((r) => num(r.epoch)), ...sampleEpochs])].filter(Number.isFinite).sort((a, b) => a - b);
  if (selEpochs.length) {
    const initial = best && selEpochs.includes(best.epoch) ? selEpochs.indexOf(best.epoch) : selEpochs.length - 1;
    html.push('<h2>Per epoch</h2>');
    html.push(
      `<p><input type="range" id="epoch-select" min="0" max="${selEpochs.length - 1}" value="${initial}" step="1" data-epochs="${escapeXml(JSON.stringify(selEpochs))}" style="width:400px"> ` +
        `<b id="epoch-label">epoch ${selEpochs[initial]}</b> <span class="muted">(without JavaScript every epoch is shown)</span></p>`,
    );
    const ranges = Object.fromEntries(names.map((n) => [n, paramRange(epochs, n, input.paramRanges?.[n], hidden?.[n])]));
    for (const ep of selEpochs) {
      const row = epochs.find((r) => num(r.epoch) === ep);
      const parts: string[] = [];
      if (row && isRecord(row.params)) {
        const charts = names
          .map((n, i) => {
            const v = (row.params as Record<string, unknown>)[n];
            if (!Array.isArray(v)) return '';
            const [lo, hi] = ranges[n];
            const h = histogram(v.map(num), lo, hi, 20);
            return histogramChart({
              ...h,
              title: `${n} (epoch ${ep}, ${v.length} configurations)`,
              xLabel: n,
              width: 300,
              height: 190,
              color: PALETTE[i % PALETTE.length],
              vLines: hidden?.[n] !== undefined ? [{ value: hidden[n], label: 'hidden', color: '#d62728' }] : [],
            });
          })
          .join('');
        parts.push(`<div class="grid">${charts}</div>`);
      }
      const r = row && isRecord(row.realism) ? row.realism : undefined;
      if (r) {
        const swd = isRecord(r.swd) ? r.swd : {};
        const levels = Array.isArray(swd.levels) ? (swd.levels as Record<string, unknown>[]) : [];
        parts.push(
          '<table><tr><th>combined</th><th>SWD mean</th>' + levels.map((l) => `<th>SWD ${num(l.resolution)} px</th>`).join('') + '<th>grey W1</th><th>spectrum</th></tr>' +
            `<tr><td>${num(r.combined).toPrecision(4)}</td><td>${num(swd.mean).toPrecision(4)}</td>` +
            levels.map((l) => `<td>${num(l.swd).toPrecision(4)}</td>`).join('') +
            `<td>${num(r.histogram).toPrecision(4)}</td><td>${num(r.spectrum).toPrecision(4)}</td></tr></table>`,
        );
      }
      for (const s of (input.samples ?? []).filter((x) => x.epoch === ep)) {
        parts.push(`<figure><img class="pix" src="${pngDataUrl(s.png)}" alt="samples of epoch ${ep}"><figcaption class="muted">${escapeXml(s.caption ?? `generated samples, epoch ${ep}`)}</figcaption></figure>`);
      }
      html.push(`<div data-epoch="${ep}"><h3>epoch ${ep}${best?.epoch === ep ? ' (chosen)' : ''}</h3>${parts.join('')}</div>`);
    }
  }

  if (input.realSamples?.length && input.patch) {
    const p = input.patch;
    html.push(`<h2>Real patches${hidden ? ' (demo: renders with the hidden parameters)' : ''}</h2><div class="grid">`);
    for (const d of input.realSamples) {
      if (d.length !== p * p) continue;
      html.push(`<img class="pix" width="${Math.min(p, 192)}" src="${pngDataUrl(encodePngGrey8(p, p, d))}" alt="real patch">`);
    }
    html.push('</div>');
  }
  if (config !== undefined) {
    html.push(`<h2>Configuration</h2><details><summary>config.json</summary><pre>${escapeXml(JSON.stringify(config, null, 2))}</pre></details>`);
  }
  if (selEpochs.length) html.push(`<script>${SELECTOR_JS}</script>`);
  html.push('</body></html>\n');
  return html.join('\n');
}
