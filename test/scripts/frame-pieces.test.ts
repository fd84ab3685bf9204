import { describe, expect, it } from 'vitest';
import { atRates, describeTile, hullArea, summarise, type ExactParticle } from '../../scripts/frame-pieces.js';
import { TILE } from '../../scripts/median-area.js';

/**
 * A tile with one particle centred on the left border (x = 0): body grey `body`, a rim band
 * inside its outline whose width alternates between 2 and 6 px around it (beads and necks),
 * grey `rim`; stage 0.1.
 */
function frameCutParticle(body: number, rim: number, r = 34, cy = 64) {
  const data = new Float32Array(TILE * TILE).fill(0.1);
  const labels = new Int32Array(TILE * TILE);
  for (let y = 0; y < TILE; y++)
    for (let x = 0; x < TILE; x++) {
      const d = Math.hypot(x, y - cy);
      if (d >= r) continue;
      const width = Math.sin(8 * Math.atan2(y - cy, x)) > 0 ? 6 : 2;
      data[y * TILE + x] = r - d < width ? rim : body;
      labels[y * TILE + x] = 1;
    }
  return { data, labels };
}

describe('frame-pieces', () => {
  it('hullArea: the convex hull of pixel squares', () => {
    expect(hullArea([[0, 0], [1, 0], [0, 1], [1, 1]])).toBe(1);
    // an L of three pixels: hull of the corners is the 2 x 2 square less a half pixel
    const corners: [number, number][] = [];
    for (const [x, y] of [[0, 0], [1, 0], [0, 1]]) corners.push([x, y], [x + 1, y], [x, y + 1], [x + 1, y + 1]);
    expect(hullArea(corners)).toBe(3.5);
  });

  it('a bright frame-cut particle is all foreground and gives no interior piece', () => {
    const { data, labels } = frameCutParticle(0.8, 0.8);
    const [p] = describeTile(data, labels);
    expect(p.frameCut).toBe(true);
    expect(p.foreground).toBeGreaterThan(0.95);
    expect(p.pieces).toBe(0);
    expect(p.rim).toBeGreaterThan(1);
    expect(p.core).toBeGreaterThan(1);
  });

  it('a dark frame-cut particle with bright rims leaves an open ring that the watershed cuts into interior pieces', () => {
    const { data, labels } = frameCutParticle(0.12, 0.8);
    const [p] = describeTile(data, labels);
    expect(p.frameCut).toBe(true);
    expect(p.foreground).toBeLessThan(0.5);
    expect(p.pieces).toBeGreaterThan(0);
    expect(p.rim).toBeGreaterThan(1);
    expect(p.core).toBeLessThan(1);
  });

  it('atRates: pieces per tile at another side\'s per-area-bin rates', () => {
    const mk = (area: number, pieces: number): ExactParticle => ({ area, frameCut: true, contact: 5, solidity: 0.9, foreground: 1, rim: NaN, core: NaN, pieces });
    const a = summarise([mk(100, 0), mk(1000, 2), mk(1000, 0)], 2);
    const b = summarise([mk(1000, 1), mk(100, 0), mk(100, 0)], 1);
    expect(a.perTile.piecesOfFrameCut).toBe(1);
    // a's two 800-1200 px particles at b's rate 1, its 50-150 px one at b's rate 0, over 2 tiles
    expect(atRates(a, b)).toBe(1);
    // b's one 800-1200 px particle at a's rate 1, over 1 tile
    expect(atRates(b, a)).toBe(1);
    expect(Number.isNaN(atRates(summarise([mk(400, 1)], 1), b))).toBe(true);
  });
});
