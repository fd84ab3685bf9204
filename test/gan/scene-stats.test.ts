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

  it('thickness (opt-in): the median local thickness of separate discs is their diameter; the rest unchanged', () => {
    const img = discs([[30, 30, 8], [90, 40, 8], [40, 110, 8], [120, 120, 8]]);
    const plain = sceneStatistics([img]);
    expect(plain).not.toHaveProperty('medianLocalThickness');
    expect(sceneStatsTable(plain, plain)).not.toMatch(/thickness/);
    const s = sceneStatistics([img], 'bright', { thickness: true });
    expect(s.medianLocalThickness).toBeGreaterThanOrEqual(15);
    expect(s.medianLocalThickness).toBeLessThanOrEqual(18);
    const { medianLocalThickness, ...rest } = s;
    expect(rest).toEqual(plain);
    expect(sceneStatsTable(s, s)).toMatch(/\| median local thickness \(px\) \| 1[5-8]\.[0-9] \| 1[5-8]\.[0-9] \| \+0 % \|/);
  });

  it('thickness: a disc cut by the image border reads as thin as its part inside (frame closed)', () => {
    const whole = sceneStatistics([discs([[80, 80, 12]])], 'bright', { thickness: true }).medianLocalThickness!;
    const cut = sceneStatistics([discs([[0, 80, 12]])], 'bright', { thickness: true }).medianLocalThickness!;
    expect(whole).toBeGreaterThanOrEqual(24);
    expect(cut).toBeLessThan(0.6 * whole);
  });
});
