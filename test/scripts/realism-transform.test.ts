import { describe, expect, it } from 'vitest';
import { componentsByParticles, diskMask, dilate, hullMask, keptTiles, otsuForeground, smoothMask, tiles, transform, transformStitched, zeroDropped, type Img } from '../../scripts/realism-transform.js';

/** A 64 x 64 dark substrate with mild texture and one bright disc (radius 12 at (30, 34)). */
function discImage(bright = 0.8): Img {
  const width = 64;
  const height = 64;
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = Math.hypot(x - 30, y - 34) < 12;
      data[y * width + x] = (inside ? bright : 0.15) + 0.02 * Math.sin(x * 1.7 + y * 0.9);
    }
  }
  return { width, height, data };
}

const at = (img: Img, x: number, y: number): number => img.data[y * img.width + x];

describe('realism-transform', () => {
  it('finds the disc as the Otsu foreground', () => {
    const fg = otsuForeground(discImage());
    expect(fg[34 * 64 + 30]).toBe(1);
    expect(fg[34 * 64 + 40]).toBe(1);
    expect(fg[5 * 64 + 5]).toBe(0);
    expect(fg[34 * 64 + 45]).toBe(0);
  });

  it('silhouette: the same for any body grey level, 1 inside, 0 far outside', () => {
    const a = transform(discImage(0.8), 'silhouette');
    const b = transform(discImage(0.5), 'silhouette');
    expect(at(a, 30, 34)).toBeCloseTo(1, 5);
    expect(at(a, 5, 5)).toBeCloseTo(0, 5);
    for (let i = 0; i < a.data.length; i++) expect(a.data[i]).toBeCloseTo(b.data[i], 5);
    // blurred outline: an edge pixel lies strictly between
    const edge = [...a.data].filter((v) => v > 0.05 && v < 0.95).length;
    expect(edge).toBeGreaterThan(20);
  });

  it('particles: substrate set to one constant, the body kept', () => {
    const src = discImage();
    const p = transform(src, 'particles');
    expect(at(p, 30, 34)).toBe(at(src, 30, 34));
    expect(at(p, 5, 5)).toBe(at(p, 60, 60));
    expect(at(p, 5, 5)).toBeCloseTo(0.15, 1);
  });

  it('substrate: the dilated body set to the substrate mean, the rest kept', () => {
    const src = discImage();
    const s = transform(src, 'substrate');
    expect(at(s, 30, 34)).toBeCloseTo(0.15, 1);
    // 13 px from the centre: outside the disc but within the 2 px dilation
    expect(at(s, 43, 34)).toBe(at(s, 30, 34));
    expect(at(s, 5, 5)).toBe(at(src, 5, 5));
  });

  it('down2: half the size, 2 x 2 means', () => {
    const src = discImage();
    const d = transform(src, 'down2');
    expect([d.width, d.height]).toEqual([32, 32]);
    const m = (at(src, 10, 6) + at(src, 11, 6) + at(src, 10, 7) + at(src, 11, 7)) / 4;
    expect(at(d, 5, 3)).toBeCloseTo(m, 6);
  });

  it('lowpass: smooths the edge', () => {
    const l = transform(discImage(), 'lowpass');
    const v = at(l, 42, 34);
    expect(v).toBeGreaterThan(0.2);
    expect(v).toBeLessThan(0.75);
  });

  it('dilate grows a pixel to a (2r + 1)^2 square, clipped at the border', () => {
    const m = new Uint8Array(25);
    m[0] = 1;
    m[12] = 1;
    const g = dilate(m, 5, 5, 1);
    expect([...g].reduce((a, v) => a + v, 0)).toBe(9 + 3);
  });

  it('tiles: non-overlapping, the last row / column aligned to the edge', () => {
    const img: Img = { width: 5, height: 3, data: Float32Array.from({ length: 15 }, (_, i) => i) };
    const t = tiles(img, 2);
    expect(t.length).toBe(3 * 2);
    expect([...t[2].data]).toEqual([3, 4, 8, 9]);
    expect([...t[5].data]).toEqual([8, 9, 13, 14]);
  });

  it('stitch: each tile thresholded on its own, written back in place', () => {
    // left tile: a bright disc on a dark substrate; right tile: a disc on a substrate so much
    // brighter that one threshold over the whole image calls all of it particle
    const width = 128;
    const height = 64;
    const data = new Float32Array(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const left = x < 64;
        const inside = Math.hypot(x - (left ? 30 : 94), y - 32) < 12;
        data[y * width + x] = left ? (inside ? 0.95 : 0.05) : inside ? 0.7 : 0.55;
      }
    }
    const img = { width, height, data };
    const whole = transform(img, 'silhouette');
    const stitched = transformStitched(img, 'silhouette', 64);
    expect(at(whole, 120, 5)).toBeCloseTo(1, 5);
    expect(at(stitched, 120, 5)).toBeCloseTo(0, 5);
    expect(at(stitched, 94, 32)).toBeCloseTo(1, 5);
    expect(at(stitched, 30, 32)).toBeCloseTo(1, 5);
    const right = transform(tiles(img, 64)[1], 'silhouette');
    for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) expect(at(stitched, 64 + x, y)).toBe(at(right, x, y));
    expect(() => transformStitched(img, 'down2', 64)).toThrow(/size-preserving/);
  });

  /** A 64 x 64 mask from a predicate on (x, y). */
  const maskOf = (f: (x: number, y: number) => boolean): Uint8Array => {
    const m = new Uint8Array(64 * 64);
    for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) m[y * 64 + x] = f(x, y) ? 1 : 0;
    return m;
  };
  const sum = (m: Uint8Array): number => m.reduce((a, v) => a + v, 0);

  it('hull: fills a C-shaped component to its convex hull, keeps separate components apart', () => {
    // a 20 x 20 square (10..29) with a 10 x 10 notch cut from its right side, and a far 4 x 4 square
    const c = (x: number, y: number): boolean => x >= 10 && x < 30 && y >= 10 && y < 30 && !(x >= 20 && y >= 15 && y < 25);
    const far = (x: number, y: number): boolean => x >= 50 && x < 54 && y >= 50 && y < 54;
    const m = maskOf((x, y) => c(x, y) || far(x, y));
    const h = hullMask(m, 64, 64);
    expect(h[20 * 64 + 25]).toBe(1); // the notch is filled
    expect(sum(h)).toBe(400 + 16); // exactly the two squares' hulls
    for (let i = 0; i < m.length; i++) if (m[i]) expect(h[i]).toBe(1);
    expect(h[40 * 64 + 40]).toBe(0); // not one hull over both components
  });

  it('disks: a component becomes a disk of the same area at its centroid', () => {
    const m = maskOf((x, y) => x >= 10 && x < 40 && y >= 20 && y < 30); // 30 x 10 bar, centroid (24.5, 24.5)
    const d = diskMask(m, 64, 64);
    expect(Math.abs(sum(d) - 300)).toBeLessThan(15);
    expect(d[24 * 64 + 24]).toBe(1);
    expect(d[34 * 64 + 24]).toBe(1); // 9.5 px below the centroid: inside the r = 9.8 disk, outside the bar
    expect(d[24 * 64 + 11]).toBe(0); // inside the bar, 13.5 px from the centroid
  });

  it('smooth: removes a one-pixel spur and a one-pixel notch, keeps the body', () => {
    const m = maskOf((x, y) => (Math.hypot(x - 30, y - 30) < 12 && !(y === 30 && x > 38)) || (y === 30 && x >= 42 && x < 50));
    const s = smoothMask(m, 64, 64, 3);
    expect(s[30 * 64 + 30]).toBe(1);
    expect(s[30 * 64 + 46]).toBe(0); // the spur
    expect(s[30 * 64 + 40]).toBe(1); // the notch
  });

  it('lone / agglomerates: split the components by the watershed particle count', () => {
    // a lone disc and two overlapping discs (a figure eight); grey image, bright on dark
    const width = 96;
    const height = 64;
    const data = new Float32Array(width * height);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const inside = Math.hypot(x - 16, y - 32) < 10 || Math.hypot(x - 50, y - 32) < 11 || Math.hypot(x - 70, y - 32) < 11;
        data[y * width + x] = inside ? 0.8 : 0.1;
      }
    const img = { width, height, data };
    const fg = otsuForeground(img);
    const lone = componentsByParticles(img, fg, 'lone');
    const agg = componentsByParticles(img, fg, 'agglomerates');
    expect(lone[32 * width + 16]).toBe(1);
    expect(lone[32 * width + 50]).toBe(0);
    expect(agg[32 * width + 16]).toBe(0);
    expect(agg[32 * width + 50]).toBe(1);
    expect(agg[32 * width + 70]).toBe(1);
    for (let i = 0; i < fg.length; i++) expect(lone[i] + agg[i]).toBe(fg[i]);
  });

  it('kept-only: the empty-patch rule of the untransformed image picks the tiles; dropped tiles stay 0', () => {
    // left 64 px tile: a bright disc on a noisy dark stage; right tile: the noisy stage only
    const width = 128;
    const height = 64;
    const data = new Float32Array(width * height);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) data[y * width + x] = (Math.hypot(x - 30, y - 32) < 12 ? 0.9 : 0.1) + 0.03 * Math.sin(x * 2.3 + y * 1.1);
    const img = { width, height, data };
    const kept = keptTiles(img, 64);
    expect([...kept]).toEqual(['0,0']);
    const whole = transformStitched(img, 'silhouette', 64);
    const only = transformStitched(img, 'silhouette', 64, kept);
    expect(whole.data[32 * width + 30]).toBeCloseTo(1, 5);
    let rightSpecks = 0;
    for (let y = 0; y < 64; y++) for (let x = 64; x < 128; x++) rightSpecks += whole.data[y * width + x] > 0.5 ? 1 : 0;
    expect(rightSpecks).toBeGreaterThan(0); // the stage tile thresholded on its own: specks
    for (let y = 0; y < 64; y++) for (let x = 0; x < 128; x++) expect(only.data[y * width + x]).toBe(x < 64 ? whole.data[y * width + x] : 0);
    const z = zeroDropped(whole, 64, kept);
    for (let y = 0; y < 64; y++) expect(z.data[y * width + 100]).toBe(0);
    expect(z.data[32 * width + 30]).toBe(whole.data[32 * width + 30]);
  });
});
