import { describe, expect, it } from 'vitest';
import { PARTICLES_CSV_HEADER, csvField, particlesCsv } from '../../src/seg/csv.js';
import { histogramBins, sizeDistributionSvg } from '../../src/seg/svg.js';
import { escapeXml, niceStep } from '../../src/charts/svg.js';
import type { Particle } from '../../src/particles/measure.js';
import { Rng } from '../../src/autodiff/rng.js';

const particle: Particle = {
  id: 3, area: 78.5, ecd: 9.99735, perimeter: 31.4, feretMax: 10.5, feretMin: 9.25, aspectRatio: 1.1351351,
  circularity: 1, centroidX: 12.5, centroidY: -0.00001, touchesBorder: true,
};

describe('particlesCsv', () => {
  it('writes the units line, the fixed header and one row per particle', () => {
    const csv = particlesCsv([{ image: 'a.tif', particles: [particle] }, { image: 'b, "x".tif', particles: [{ ...particle, id: 4, touchesBorder: false, feretMin: NaN }] }], { unit: 'nm' });
    const lines = csv.split('\n');
    expect(lines[0]).toBe('# units: area=nm^2; ecd,feret_max,feret_min,centroid_x,centroid_y=nm; aspect_ratio,circularity=1; touches_border=0/1');
    expect(lines[1]).toBe(PARTICLES_CSV_HEADER);
    expect(lines[1]).toBe('image,id,area,ecd,feret_max,feret_min,aspect_ratio,circularity,centroid_x,centroid_y,touches_border');
    expect(lines[2]).toBe('a.tif,3,78.5,9.9974,10.5,9.25,1.1351,1,12.5,0,1');
    expect(lines[3]).toBe('"b, ""x"".tif",4,78.5,9.9974,10.5,,1.1351,1,12.5,0,0');
    expect(lines[4]).toBe('');
    expect(lines.length).toBe(5);
    expect(particlesCsv([], { unitsComment: false })).toBe(PARTICLES_CSV_HEADER + '\n');
  });

  it('quotes fields only when needed', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a\nb')).toBe('"a\nb"');
  });
});

describe('sizeDistributionSvg', () => {
  it('bins by Freedman-Diaconis with fallbacks', () => {
    const b = histogramBins([1, 2, 3, 4, 5, 6, 7, 8]);
    // IQR = 6.25 - 2.75 = 3.5 -> width 2 * 3.5 / 2 = 3.5; range 7 -> 2 bins.
    expect(b.width).toBeCloseTo(3.5, 12);
    expect(b.counts).toEqual([4, 4]);
    expect(histogramBins([5, 5, 5]).counts).toEqual([3]);
    const s = histogramBins([1, 1, 1, 1, 1, 1, 1, 9]); // IQR 0 -> Sturges: 4 bins
    expect(s.counts).toEqual([7, 0, 0, 1]);
    expect(niceStep(12)).toBe(2);
    expect(niceStep(7.3)).toBe(1);
    expect(niceStep(70, 7)).toBe(10);
  });

  it('is a well-formed, self-contained SVG with bars, fit curve, axes and title', () => {
    const rng = new Rng(1);
    const d = Array.from({ length: 300 }, () => Math.exp(3.5 + 0.25 * rng.normal()));
    const svg = sizeDistributionSvg(d, { mu: 3.5, sigma: 0.25 }, 'n<m>');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toMatch(/N = 300, mean = [\d.]+ n&lt;m&gt;, D50 = [\d.]+ n&lt;m&gt;/);
    expect(svg).toContain('<polyline');
    expect(svg).toContain('Count');
    expect(svg).not.toMatch(/NaN|undefined|Infinity|href|<script/);
    expect((svg.match(/<rect /g) ?? []).length).toBeGreaterThan(5);
    // Every opened element is closed (no nesting beyond <g>): count tags.
    expect((svg.match(/<g[ >]/g) ?? []).length).toBe((svg.match(/<\/g>/g) ?? []).length);
    // The curve's peak is near the histogram's tallest bar (density scaled to counts).
    const ys = [...svg.matchAll(/<rect x="[\d.]+" y="([\d.]+)"/g)].map((m) => Number(m[1]));
    const curveYs = svg.match(/points="([^"]+)"/)![1].split(' ').map((p) => Number(p.split(',')[1]));
    expect(Math.abs(Math.min(...ys) - Math.min(...curveYs))).toBeLessThan(60);
  });

  it('handles no particles, one particle and no fit', () => {
    expect(sizeDistributionSvg([], null, 'px')).toContain('N = 0 (no particles)');
    const one = sizeDistributionSvg([12], null, 'px');
    expect(one).toContain('N = 1, mean = 12 px, D50 = 12 px');
    expect(one).not.toContain('<polyline');
    expect(() => sizeDistributionSvg([NaN], null, 'px')).toThrow();
    expect(escapeXml(`a&b<'"`)).toBe('a&amp;b&lt;&#39;&quot;');
  });
});
