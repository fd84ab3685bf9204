/**
 * Small inline-SVG charts and their helpers, for the GAN's report.html (gan/report.ts) and the
 * segmenter's size histogram (seg/svg.ts): line charts (with optional +-band, reference lines,
 * legend) and histograms, "nice" axis ticks, XML escaping, histogram binning. Output is a
 * self-contained <svg> string; no scripts, no external styles. Non-finite points are skipped
 * (they break the line). Pure: runs in a browser.
 */

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

/** Escapes the five XML special characters (&#39; for the apostrophe: valid in XML and every HTML). */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * About `count` round tick values (1, 2, 5 x 10^k steps) covering [min, max]. A zero-width range
 * is widened around its value first.
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (max < min) [min, max] = [max, min];
  if (max === min) {
    const d = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= d;
    max += d;
  }
  const step = niceStep(max - min, Math.max(1, count));
  const out: number[] = [];
  const first = Math.ceil(min / step - 1e-9);
  const last = Math.floor(max / step + 1e-9);
  for (let i = first; i <= last; i++) out.push(+(i * step).toPrecision(12));
  return out;
}

/** A "nice" step (1, 2 or 5 x 10^k) near range / target. */
export function niceStep(range: number, target = 5): number {
  if (!(range > 0) || !Number.isFinite(range)) return 1;
  const raw = range / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

/** Tick label: short, no float noise. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace('e+', 'e');
  return String(+v.toPrecision(4));
}

export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
  color?: string;
  /** SVG stroke-dasharray, e.g. "4 3". */
  dash?: string;
  /** Shaded band: [x, lo, hi] per point (e.g. mean -+ std). */
  band?: readonly (readonly [number, number, number])[];
  /** Draw a dot at every point (default: when there are at most 60 points). */
  markers?: boolean;
}

export interface RefLine {
  value: number;
  label?: string;
  color?: string;
  dash?: string;
}

export interface ChartFrame {
  width?: number;
  height?: number;
  title?: string;
  xLabel?: string;
  yLabel?: string;
}

export interface LineChartOptions extends ChartFrame {
  series: readonly Series[];
  /** Horizontal reference lines (e.g. a hidden true value). */
  hLines?: readonly RefLine[];
  /** Vertical reference lines (e.g. the chosen epoch). */
  vLines?: readonly RefLine[];
  /** Fixed y range; by default the data (and reference lines) with a 5 % margin. */
  yRange?: readonly [number, number];
  /** Plot log10(y) (values <= 0 are skipped), labelled in y. */
  logY?: boolean;
}

interface Layout {
  w: number;
  h: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

function layout(frame: ChartFrame, legendRows: number): Layout {
  const w = frame.width ?? 480;
  const h = frame.height ?? 260;
  return { w, h, left: 56, right: 12, top: (frame.title ? 22 : 8) + legendRows * 16, bottom: frame.xLabel ? 40 : 26 };
}

const fmtN = (v: number) => String(Math.round(v * 100) / 100);

function axes(L: Layout, frame: ChartFrame, xs: number[], ys: number[], sx: (v: number) => number, sy: (v: number) => number, yLabelOf = formatTick): string {
  const out: string[] = [];
  const x0 = L.left;
  const x1 = L.w - L.right;
  const y0 = L.h - L.bottom;
  const y1 = L.top;
  out.push(`<rect x="${x0}" y="${y1}" width="${fmtN(x1 - x0)}" height="${fmtN(y0 - y1)}" fill="#fff" stroke="#999"/>`);
  for (const v of ys) {
    const y = fmtN(sy(v));
    out.push(`<line x1="${x0}" x2="${x1}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    out.push(`<line x1="${x0 - 4}" x2="${x0}" y1="${y}" y2="${y}" stroke="#666"/>`);
    out.push(`<text x="${x0 - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(yLabelOf(v))}</text>`);
  }
  for (const v of xs) {
    const x = fmtN(sx(v));
    out.push(`<line x1="${x}" x2="${x}" y1="${y0}" y2="${y0 + 4}" stroke="#666"/>`);
    out.push(`<text x="${x}" y="${y0 + 15}" text-anchor="middle">${escapeXml(formatTick(v))}</text>`);
  }
  if (frame.title) out.push(`<text x="${L.w / 2}" y="15" text-anchor="middle" font-weight="bold">${escapeXml(frame.title)}</text>`);
  if (frame.xLabel) out.push(`<text x="${(x0 + x1) / 2}" y="${L.h - 6}" text-anchor="middle">${escapeXml(frame.xLabel)}</text>`);
  if (frame.yLabel) {
    out.push(`<text transform="translate(12 ${(y0 + y1) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(frame.yLabel)}</text>`);
  }
  return out.join('');
}

function svgOpen(L: Layout, label: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${L.w}" height="${L.h}" viewBox="0 0 ${L.w} ${L.h}" ` +
    `font-family="sans-serif" font-size="11" role="img" aria-label="${escapeXml(label)}">`
  );
}

function legend(L: Layout, entries: { name: string; color: string; dash?: string }[], top: number): string {
  const out: string[] = [];
  let x = L.left;
  let y = top;
  for (const e of entries) {
    const wText = 7 * e.name.length + 30;
    if (x + wText > L.w - L.right && x > L.left) {
      x = L.left;
      y += 16;
    }
    out.push(`<line x1="${x}" x2="${x + 18}" y1="${y}" y2="${y}" stroke="${e.color}" stroke-width="2"${e.dash ? ` stroke-dasharray="${e.dash}"` : ''}/>`);
    out.push(`<text x="${x + 22}" y="${y}" dominant-baseline="middle">${escapeXml(e.name)}</text>`);
    x += wText;
  }
  return out.join('');
}

function legendRowCount(entries: { name: string }[], width: number): number {
  if (entries.length === 0) return 0;
  let rows = 1;
  let x = 56;
  for (const e of entries) {
    const w = 7 * e.name.length + 30;
    if (x + w > width - 12 && x > 56) {
      rows++;
      x = 56;
    }
    x += w;
  }
  return rows;
}

/** A line chart; see LineChartOptions. */
export function lineChart(opts: LineChartOptions): string {
  const tf = opts.logY ? (v: number) => (v > 0 ? Math.log10(v) : NaN) : (v: number) => v;
  const series = opts.series.map((s, i) => ({ ...s, color: s.color ?? PALETTE[i % PALETTE.length] }));
  const legendEntries = [
    ...series.map((s) => ({ name: s.name, color: s.color, dash: s.dash })),
    ...(opts.hLines ?? []).filter((l) => l.label).map((l) => ({ name: l.label!, color: l.color ?? '#444', dash: l.dash ?? '5 4' })),
  ];
  const showLegend = legendEntries.length > 1 || (opts.hLines ?? []).some((l) => l.label);
  const L = layout(opts, showLegend ? legendRowCount(legendEntries, opts.width ?? 480) : 0);
  const xsAll: number[] = [];
  const ysAll: number[] = [];
  for (const s of series) {
    for (const [x, y] of s.points) {
      if (Number.isFinite(x) && Number.isFinite(tf(y))) {
        xsAll.push(x);
        ysAll.push(tf(y));
      }
    }
    for (const [x, lo, hi] of s.band ?? []) {
      if (Number.isFinite(x) && Number.isFinite(tf(lo)) && Number.isFinite(tf(hi))) ysAll.push(tf(lo), tf(hi));
    }
  }
  for (const l of opts.hLines ?? []) if (Number.isFinite(tf(l.value))) ysAll.push(tf(l.value));
  for (const l of opts.vLines ?? []) if (Number.isFinite(l.value)) xsAll.push(l.value);
  let [xmin, xmax] = xsAll.length ? [Math.min(...xsAll), Math.max(...xsAll)] : [0, 1];
  let [ymin, ymax] = opts.yRange ? [tf(opts.yRange[0]), tf(opts.yRange[1])] : ysAll.length ? [Math.min(...ysAll), Math.max(...ysAll)] : [0, 1];
  if (xmax === xmin) [xmin, xmax] = [xmin - 1, xmax + 1];
  if (ymax === ymin) [ymin, ymax] = ymin === 0 ? [-1, 1] : [ymin - Math.abs(ymin) * 0.1, ymax + Math.abs(ymax) * 0.1];
  if (!opts.yRange) {
    const m = (ymax - ymin) * 0.05;
    ymin -= m;
    ymax += m;
  }
  const x0 = L.left;
  const x1 = L.w - L.right;
  const y0 = L.h - L.bottom;
  const y1 = L.top;
  const sx = (v: number) => x0 + ((v - xmin) / (xmax - xmin)) * (x1 - x0);
  const sy = (v: number) => y0 - ((v - ymin) / (ymax - ymin)) * (y0 - y1);
  const yTicks = opts.logY ? logTicks(ymin, ymax) : niceTicks(ymin, ymax, 5).filter((v) => v >= ymin && v <= ymax);
  const xTicks = niceTicks(xmin, xmax, 6).filter((v) => v >= xmin && v <= xmax);
  const out: string[] = [svgOpen(L, opts.title ?? 'chart')];
  out.push(axes(L, opts, xTicks, yTicks, sx, sy, opts.logY ? (v) => formatTick(10 ** v) : formatTick));
  out.push(`<g clip-path="none">`);
  for (const s of series) {
    if (s.band && s.band.length > 1) {
      const pts = s.band.filter(([x, lo, hi]) => Number.isFinite(x) && Number.isFinite(tf(lo)) && Number.isFinite(tf(hi)));
      if (pts.length > 1) {
        const upper = pts.map(([x, , hi]) => `${fmtN(sx(x))},${fmtN(sy(tf(hi)))}`);
        const lower = pts.map(([x, lo]) => `${fmtN(sx(x))},${fmtN(sy(tf(lo)))}`).reverse();
        out.push(`<polygon points="${[...upper, ...lower].join(' ')}" fill="${s.color}" fill-opacity="0.15" stroke="none"/>`);
      }
    }
    // Split the polyline at non-finite points.
    let seg: string[] = [];
    const segs: string[][] = [];
    for (const [x, y] of s.points) {
      const ty = tf(y);
      if (Number.isFinite(x) && Number.isFinite(ty)) seg.push(`${fmtN(sx(x))},${fmtN(sy(ty))}`);
      else if (seg.length) {
        segs.push(seg);
        seg = [];
      }
    }
    if (seg.length) segs.push(seg);
    for (const sg of segs) {
      out.push(`<polyline points="${sg.join(' ')}" fill="none" stroke="${s.color}" stroke-width="1.5"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    }
    if (s.markers ?? s.points.length <= 60) {
      for (const sg of segs) for (const p of sg) {
        const [cx, cy] = p.split(',');
        out.push(`<circle cx="${cx}" cy="${cy}" r="2.2" fill="${s.color}"/>`);
      }
    }
  }
  for (const l of opts.hLines ?? []) {
    const v = tf(l.value);
    if (!Number.isFinite(v)) continue;
    const y = fmtN(sy(v));
    out.push(`<line x1="${x0}" x2="${x1}" y1="${y}" y2="${y}" stroke="${l.color ?? '#444'}" stroke-width="1.5" stroke-dasharray="${l.dash ?? '5 4'}"/>`);
  }
  for (const l of opts.vLines ?? []) {
    if (!Number.isFinite(l.value)) continue;
    const x = fmtN(sx(l.value));
    out.push(`<line x1="${x}" x2="${x}" y1="${y1}" y2="${y0}" stroke="${l.color ?? '#444'}" stroke-dasharray="${l.dash ?? '2 3'}"/>`);
    if (l.label) out.push(`<text x="${x}" y="${y1 + 10}" text-anchor="middle" fill="${l.color ?? '#444'}">${escapeXml(l.label)}</text>`);
  }
  out.push('</g>');
  if (showLegend) out.push(legend(L, legendEntries, (opts.title ? 22 : 8) + 6));
  out.push('</svg>');
  return out.join('');
}

function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let k = Math.ceil(lo); k <= Math.floor(hi); k++) out.push(k);
  return out.length >= 2 ? out : niceTicks(lo, hi, 4).filter((v) => v >= lo && v <= hi);
}

export interface HistogramOptions extends ChartFrame {
  /** Bin edges (bins + 1 values, ascending). */
  edges: readonly number[];
  counts: readonly number[];
  color?: string;
  vLines?: readonly RefLine[];
  /** Fixed top of the y axis (e.g. to compare small multiples); default the largest count. */
  yMax?: number;
}

/** Histogram counts over `bins` equal bins of [lo, hi] (values outside are clamped into the end bins). */
export function histogram(values: readonly number[], lo: number, hi: number, bins: number): { edges: number[]; counts: number[] } {
  if (!(hi > lo)) [lo, hi] = [lo - 0.5, lo + 0.5];
  const edges = Array.from({ length: bins + 1 }, (_, i) => lo + ((hi - lo) * i) / bins);
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    const k = Math.floor(((v - lo) / (hi - lo)) * bins);
    counts[k < 0 ? 0 : k >= bins ? bins - 1 : k]++;
  }
  return { edges, counts };
}

/** A bar histogram with optional vertical reference lines. */
export function histogramChart(opts: HistogramOptions): string {
  const labelled = (opts.vLines ?? []).filter((l) => l.label);
  const L = layout(opts, labelled.length ? 1 : 0);
  const { edges, counts } = opts;
  const lo = edges[0];
  const hi = edges[edges.length - 1];
  const top = Math.max(1, opts.yMax ?? Math.max(0, ...counts));
  const x0 = L.left;
  const x1 = L.w - L.right;
  const y0 = L.h - L.bottom;
  const y1 = L.top;
  const sx = (v: number) => x0 + ((v - lo) / (hi - lo || 1)) * (x1 - x0);
  const sy = (v: number) => y0 - (v / top) * (y0 - y1);
  const out: string[] = [svgOpen(L, opts.title ?? 'histogram')];
  const yTicks = niceTicks(0, top, 4).filter((v) => v >= 0 && v <= top && Number.isInteger(v));
  out.push(axes(L, opts, niceTicks(lo, hi, 5).filter((v) => v >= lo && v <= hi), yTicks, sx, sy));
  const color = opts.color ?? PALETTE[0];
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] <= 0) continue;
    const xa = sx(edges[i]);
    const xb = sx(edges[i + 1]);
    out.push(`<rect x="${fmtN(xa + 0.5)}" y="${fmtN(sy(counts[i]))}" width="${fmtN(Math.max(0.5, xb - xa - 1))}" height="${fmtN(y0 - sy(counts[i]))}" fill="${color}" fill-opacity="0.8"/>`);
  }
  for (const l of opts.vLines ?? []) {
    if (!Number.isFinite(l.value)) continue;
    const x = fmtN(sx(Math.min(hi, Math.max(lo, l.value))));
    out.push(`<line x1="${x}" x2="${x}" y1="${y1}" y2="${y0}" stroke="${l.color ?? '#d62728'}" stroke-width="1.5" stroke-dasharray="${l.dash ?? '5 4'}"/>`);
  }
  if (labelled.length) out.push(legend(L, labelled.map((l) => ({ name: l.label!, color: l.color ?? '#d62728', dash: l.dash ?? '5 4' })), (opts.title ? 22 : 8) + 6));
  out.push('</svg>');
  return out.join('');
}
