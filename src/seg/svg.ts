/**
 * A particle-size histogram as a self-contained SVG string (no scripts, fonts or external
 * references), with the fitted lognormal density drawn over it.
 */
import { UserError } from '../errors.js';
import { lognormalPdf, quantileSorted, type LognormalFit } from './summary.js';
import { escapeXml, niceStep } from '../charts/svg.js';

export interface SizeSvgOptions {
  /** Picture size in px (default 640 x 400). */
  width?: number;
  height?: number;
  /** Text before the statistics in the title (default 'Particle size distribution'). */
  title?: string;
  /** Axis label of the diameters (default 'Diameter'); the unit is appended in brackets. */
  xLabel?: string;
}

/**
 * Histogram bins: width by the Freedman-Diaconis rule 2 IQR n^(-1/3) (IQR from type-7
 * quantiles); where that is zero (IQR = 0) Sturges' rule ceil(log2 n) + 1 bins over the range
 * is used instead, and a single bin of width max(1, |value| / 10) centred on the value when all
 * values are equal. At most 200 bins (the width grows to fit). Bins start at the minimum.
 */
export function histogramBins(sorted: ArrayLike<number>): { start: number; width: number; counts: number[] } {
  const n = sorted.length;
  if (n === 0) return { start: 0, width: 1, counts: [] };
  const lo = sorted[0];
  const hi = sorted[n - 1];
  const range = hi - lo;
  if (range === 0) {
    const width = Math.max(1, Math.abs(lo) / 10);
    return { start: lo - width / 2, width, counts: [n] };
  }
  const iqr = quantileSorted(sorted, 0.75) - quantileSorted(sorted, 0.25);
  let width = (2 * iqr) / Math.cbrt(n);
  if (!(width > 0)) width = range / (Math.ceil(Math.log2(n)) + 1);
  width = Math.max(width, range / 200);
  const k = Math.max(1, Math.ceil(range / width - 1e-9));
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < n; i++) counts[Math.min(k - 1, Math.floor((sorted[i] - lo) / width))]++;
  return { start: lo, width, counts };
}

function fmt(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

/**
 * SVG of the size distribution: histogram (counts per bin, see `histogramBins`), the lognormal
 * `fit` (if not null) as a density scaled to counts (n x bin width x pdf), axes with ticks and
 * labels, and a title with N, the mean and D50 (the median) in `units`.
 */
export function sizeDistributionSvg(
  diameters: ArrayLike<number>,
  fit: LognormalFit | null,
  units: string,
  options: SizeSvgOptions = {},
): string {
  const { width = 640, height = 400, title = 'Particle size distribution', xLabel = 'Diameter' } = options;
  if (!(width >= 200 && height >= 150)) throw new UserError(`SVG size must be at least 200 x 150 (got ${width} x ${height})`);
  const d = Float64Array.from(diameters).sort();
  for (const v of d) if (!Number.isFinite(v)) throw new UserError(`size histogram: diameter ${v} is not finite`);
  const n = d.length;
  const bins = histogramBins(d);
  const mean = n ? d.reduce((s, v) => s + v, 0) / n : NaN;
  const d50 = quantileSorted(d, 0.5);
  const m = { left: 64, right: 20, top: 40, bottom: 56 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const x0 = bins.start;
  const x1 = bins.start + bins.width * Math.max(1, bins.counts.length);
  const curve: [number, number][] = [];
  if (fit && n > 0) {
    for (let i = 0; i <= 200; i++) {
      const x = x0 + ((x1 - x0) * i) / 200;
      curve.push([x, n * bins.width * lognormalPdf(x, fit)]);
    }
  }
  const yTop = Math.max(1, ...bins.counts, ...curve.map((c) => c[1])) * 1.05;
  const sx = (x: number): number => m.left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number): number => m.top + ph - (y / yTop) * ph;
  const r = (v: number): string => v.toFixed(2);
  const u = escapeXml(units);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  );
  const heading = n
    ? `${escapeXml(title)}: N = ${n}, mean = ${fmt(mean)} ${u}, D50 = ${fmt(d50)} ${u}`
    : `${escapeXml(title)}: N = 0 (no particles)`;
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="14">${heading}</text>`);
  // Bars.
  out.push('<g fill="#8fb3d9" stroke="#3a6ea5" stroke-width="1">');
  bins.counts.forEach((c, i) => {
    if (c === 0) return;
    const a = sx(x0 + i * bins.width);
    const b = sx(x0 + (i + 1) * bins.width);
    out.push(`<rect x="${r(a)}" y="${r(sy(c))}" width="${r(b - a)}" height="${r(sy(0) - sy(c))}"/>`);
  });
  out.push('</g>');
  if (curve.length) {
    const pts = curve.map(([x, y]) => `${r(sx(x))},${r(sy(y))}`).join(' ');
    out.push(`<polyline fill="none" stroke="#c0392b" stroke-width="2" points="${pts}"/>`);
    out.push(
      `<text x="${width - m.right - 4}" y="${m.top + 14}" text-anchor="end" fill="#c0392b">lognormal fit: mu = ${fmt(fit!.mu)}, sigma = ${fmt(fit!.sigma)}</text>`,
    );
  }
  // Axes, ticks, labels.
  out.push(`<g stroke="black" stroke-width="1" fill="none"><path d="M${m.left},${m.top} V${m.top + ph} H${m.left + pw}"/></g>`);
  const xs = niceStep(x1 - x0, 6);
  const ticks: string[] = [];
  for (let k = Math.ceil(x0 / xs - 1e-9); k * xs <= x1 + 1e-9 * xs; k++) {
    const t = k * xs;
    const px = r(sx(t));
    ticks.push(`<line x1="${px}" y1="${m.top + ph}" x2="${px}" y2="${m.top + ph + 5}" stroke="black"/>`);
    ticks.push(`<text x="${px}" y="${m.top + ph + 18}" text-anchor="middle">${fmt(t)}</text>`);
  }
  const ys = Math.max(1, niceStep(yTop, 5));
  for (let k = 0; k * ys <= yTop; k++) {
    const t = k * ys;
    const py = r(sy(t));
    ticks.push(`<line x1="${m.left - 5}" y1="${py}" x2="${m.left}" y2="${py}" stroke="black"/>`);
    ticks.push(`<text x="${m.left - 8}" y="${py}" text-anchor="end" dominant-baseline="middle">${fmt(t)}</text>`);
  }
  out.push(...ticks);
  out.push(`<text x="${m.left + pw / 2}" y="${height - 14}" text-anchor="middle">${escapeXml(xLabel)} (${u})</text>`);
  out.push(
    `<text x="18" y="${m.top + ph / 2}" text-anchor="middle" transform="rotate(-90 18 ${m.top + ph / 2})">Count</text>`,
  );
  out.push('</svg>');
  return out.join('\n') + '\n';
}
