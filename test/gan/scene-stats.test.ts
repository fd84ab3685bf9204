import { describe, expect, it } from 'vitest';
import { sceneStatistics, sceneStatsTable, LARGE_COMPONENT_PARTICLES } from '../../src/gan/scene-stats.js';

const W = 160;

/** Bright discs (grey 0.8) on a dark stage (0.1). */
function discs(list: [number, number, number][]): { width: number; height: number; data: Float32Array } {
  const data = new Float32Array(W * W).fill(0.1);
  for (const [cx, cy, r] of list)
    for (let y = 0; y < W; y++) for (let x = 0; x < W; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) data[y * W + x] = 0.8;
  return { width: W, height: W, data };
}

describe('scene statistics', () => {
  it('separate discs: one particle per component, no large component, coverage and area of the discs', () => {
    const s = sceneStatistics([discs([[30, 30, 8], [90, 40, 8], [40, 110, 8], [120, 120, 8]])]);
    expect(s.particlesPerComponent).toBe(1);
    expect(s.components).toBe(4);
    expect(s.largeComponentAreaFraction).toBe(0);
    expect(s.medianParticleArea).toBeGreaterThan(0.85 * Math.PI * 64);
    expect(s.medianParticleArea).toBeLessThan(1.15 * Math.PI * 64);
    expect(s.coverage).toBeCloseTo((4 * s.medianParticleArea) / (W * W), 2);
    expect(s.borderComponentFraction).toBe(0);
  });

  it('border share: the components cut by the image edge over all components', () => {
    const s = sceneStatistics([discs([[2, 50, 10], [80, 80, 8], [157, 150, 12], [50, 120, 8]])]);
    expect(s.borderComponentFraction).toBe(0.5);
    expect(sceneStatsTable(s, s)).toMatch(/\| share of Otsu components cut by the image border \| 0\.500 \| 0\.500 \| \+0 % \|/);
  });

  it('a chain of touching discs is one component of several particles; a long one counts as large', () => {
    // Four lone discs set the median particle; a chain of 14 overlapping discs is one component.
    const chain: [number, number, number][] = Array.from({ length: 14 }, (_, i) => [12 + i * 10, 80, 7]);
    const s = sceneStatistics([discs([[20, 20, 7], [60, 20, 7], [100, 20, 7], [140, 20, 7], ...chain])]);
    expect(s.components).toBe(5);
    expect(s.particlesPerComponent).toBeGreaterThan(2);
    const chainArea = (s.coverage * W * W) - 4 * Math.PI * 49;
    expect(chainArea).toBeGreaterThan(LARGE_COMPONENT_PARTICLES * s.medianParticleArea);
    expect(s.largeComponentAreaFraction).toBeGreaterThan(0.7);
    expect(sceneStatsTable(s, s)).toMatch(/\| particles per Otsu component \| [0-9.]+ \| [0-9.]+ \| \+0 % \|/);
  });

  it('size statistic thickness: the median local thickness of separate discs is their diameter; off by default', () => {
    const img = discs([[30, 30, 8], [90, 40, 8], [40, 110, 8], [120, 120, 8]]);
    expect(sceneStatistics([img])).not.toHaveProperty('medianLocalThickness');
    expect(sceneStatsTable(sceneStatistics([img]), sceneStatistics([img]))).not.toMatch(/thickness/);
    const s = sceneStatistics([img], 'bright', 'thickness');
    expect(s.medianLocalThickness).toBeGreaterThanOrEqual(15);
    expect(s.medianLocalThickness).toBeLessThanOrEqual(18);
    expect(s.medianParticleArea).toBe(sceneStatistics([img]).medianParticleArea);
    expect(sceneStatsTable(s, s)).toMatch(/\| median local thickness \(px\) \| 1[5-8]\.[0-9] \| 1[5-8]\.[0-9] \| \+0 % \|/);
    expect(sceneStatsTable(s, s)).toMatch(/components > 12 discs of the median local thickness/);
  });

  it('size statistic thickness: the large threshold is 12 discs of the median thickness', () => {
    // A chain of 14 overlapping discs (radius 7, 10 px apart) is about 10 discs of its own
    // thickness (its discs overlap): large for 12 watershed particles (the test above), not for 12
    // discs; a chain of 30 in an image twice as wide is.
    const chain = (n: number): [number, number, number][] => Array.from({ length: n }, (_, i) => [12 + i * 10, 80, 7]);
    const lone: [number, number, number][] = [[20, 20, 7], [60, 20, 7], [100, 20, 7], [140, 20, 7]];
    const s = sceneStatistics([discs([...lone, ...chain(14)])], 'bright', 'thickness');
    const unit = (Math.PI * s.medianLocalThickness! ** 2) / 4;
    expect(s.coverage * W * W - 4 * Math.PI * 49).toBeLessThan(LARGE_COMPONENT_PARTICLES * unit);
    expect(s.largeComponentAreaFraction).toBe(0);
    const wide = { width: 2 * W, height: W, data: new Float32Array(2 * W * W).fill(0.1) };
    for (const [cx, cy, r] of [...lone, ...chain(30)]) for (let y = 0; y < W; y++) for (let x = 0; x < 2 * W; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) wide.data[y * 2 * W + x] = 0.8;
    const l = sceneStatistics([wide], 'bright', 'thickness');
    expect(l.coverage * 2 * W * W - 4 * Math.PI * 49).toBeGreaterThan(LARGE_COMPONENT_PARTICLES * (Math.PI * l.medianLocalThickness! ** 2) / 4);
    expect(l.largeComponentAreaFraction).toBeGreaterThan(0.8);
  });
});
