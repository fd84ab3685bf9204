/**
 * Transmission image formation: path lengths through the particles (src/render/thickness.ts) and
 * the mass-thickness / diffraction / film model (src/render/shade/transmission.ts).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng } from '../../src/autodiff/index.js';
import { Tensor } from '../../src/autodiff/tensor.js';
import { gradcheck } from '../../src/autodiff/gradcheck.js';
import * as ops from '../../src/autodiff/ops/index.js';
import { pathLengths } from '../../src/render/thickness.js';
import { transmissionImage } from '../../src/render/shade/transmission.js';
import { icosphere } from '../../src/render/mesh/icosphere.js';
import { mergeMeshes, transformMesh } from '../../src/render/mesh/types.js';

const ID: [number, number, number, number] = [1, 0, 0, 0];

describe('path lengths', () => {
  it('a sphere: each vertex carries the chord 2 sqrt(R^2 - r^2) at its (x, y), up to the facets', () => {
    const R = 10;
    const m = transformMesh(icosphere(4), R, ID, [20, 20, R]);
    const pl = pathLengths(m.positions, m.faces, new Uint16Array(m.faces.length / 3), [0.5]);
    let worst = 0;
    for (let i = 0; i < m.positions.length / 3; i++) {
      const r2 = (m.positions[3 * i] - 20) ** 2 + (m.positions[3 * i + 1] - 20) ** 2;
      const want = 2 * Math.sqrt(Math.max(0, R * R - r2));
      worst = Math.max(worst, Math.abs(pl.thickness[i] - want));
      expect(pl.diffractionThickness[i]).toBeCloseTo(0.5 * pl.thickness[i], 12);
    }
    // freq 4 facets lie at most R (1 - cos(~9 deg)) ~ 0.12 R inside the sphere, per side.
    expect(worst).toBeLessThan(0.3 * R);
    const top = m.positions.reduce((best, _, i, a) => (i % 3 === 2 && a[i] > a[best] ? i : best), 2);
    expect(pl.thickness[(top - 2) / 3]).toBeGreaterThan(1.95 * R);
  });

  it('a particle resting on another adds its chord; particles side by side do not', () => {
    const R = 6;
    const low = transformMesh(icosphere(3), R, ID, [20, 20, R]);
    const high = transformMesh(icosphere(3), R, ID, [20, 20, 3 * R]);
    const apart = transformMesh(icosphere(3), R, ID, [40, 20, R]);
    const { mesh, faceOwner } = mergeMeshes([low, high, apart]);
    const pl = pathLengths(mesh.positions, mesh.faces, faceOwner, [0, 1, 0]);
    const nv = low.positions.length / 3;
    // The top vertex of the upper sphere: about 2R of its own plus 2R of the lower one.
    let top = nv;
    for (let i = nv; i < 2 * nv; i++) if (mesh.positions[3 * i + 2] > mesh.positions[3 * top + 2]) top = i;
    expect(pl.thickness[top]).toBeGreaterThan(3.8 * R);
    expect(pl.thickness[top]).toBeLessThanOrEqual(4 * R + 1e-9);
    // only the upper sphere diffracts (u = 1): its own chord, about 2R
    expect(pl.diffractionThickness[top]).toBeGreaterThan(1.9 * R);
    expect(pl.diffractionThickness[top]).toBeLessThanOrEqual(2 * R + 1e-9);
    // the sphere apart: its own chord only
    let topApart = 2 * nv;
    for (let i = 2 * nv; i < 3 * nv; i++) if (mesh.positions[3 * i + 2] > mesh.positions[3 * topApart + 2]) topApart = i;
    expect(pl.thickness[topApart]).toBeLessThanOrEqual(2 * R + 1e-9);
    expect(pl.diffractionThickness[topApart]).toBe(0);
  });

  it('is never negative or NaN and vanishes on the outline (random spheres)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), (seed) => {
        const rng = new Rng(seed);
        const meshes = Array.from({ length: 3 }, () => {
          const r = rng.range(2, 8);
          return transformMesh(icosphere(2), r, ID, [rng.range(0, 30), rng.range(0, 30), r + rng.range(0, 4)]);
        });
        const { mesh, faceOwner } = mergeMeshes(meshes);
        const pl = pathLengths(mesh.positions, mesh.faces, faceOwner, [rng.uniform(), rng.uniform(), rng.uniform()]);
        for (let i = 0; i < pl.thickness.length; i++) {
          expect(pl.thickness[i]).toBeGreaterThanOrEqual(0);
          expect(pl.diffractionThickness[i]).toBeGreaterThanOrEqual(0);
          expect(pl.diffractionThickness[i]).toBeLessThanOrEqual(pl.thickness[i] + 1e-9);
        }
      }),
      { numRuns: 20 },
    );
    expect(() => pathLengths([0, 0, 0, 1, 0, 0, 0, 1, 0], [0, 1, 2], [1], [0.5])).toThrow(/particle 1/);
  });
});

const NAMES = ['filmBrightness', 'massAttenuation', 'diffractionContrast', 'filmMottle', 'filmGradientX', 'filmGradientY', 'filmResidue'];
const pOf = (v: Tensor) => (name: string): Tensor => {
  const i = NAMES.indexOf(name);
  if (i < 0) throw new Error(name);
  return ops.slice(v, [[i, i + 1]]);
};
const t64 = (a: number[], shape: number[]) => new Tensor(Float64Array.from(a), shape);

describe('transmission image', () => {
  it('is the film times exp(-mu t - kappa t_d), with the gradient and mottle on the film', () => {
    const H = 2, W = 3;
    const raster = new Tensor(new Float64Array(5 * H * W), [5, H, W]);
    const t = [0, 5, 10, 0, 20, 1], td = [0, 1, 10, 0, 0, 1];
    t.forEach((v, i) => (raster.data[i] = v));
    td.forEach((v, i) => (raster.data[H * W + i] = v));
    const T = t64([0, 1, 0.5, 0.2, 0, 1], [H, W]);
    const B = t64([1, 0, 0.5, 0.1, 0.3, 0], [H, W]);
    const pv = t64([0.8, 0.05, 0.03, 0.2, 0.1, -0.2, 0.3], [7]);
    const I = transmissionImage(raster, pOf(pv), T, B);
    expect(I.shape).toEqual([H, W]);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const i = y * W + x;
        const film = 0.8 * (1 + 0.1 * ((x + 0.5) / W - 0.5) - 0.2 * ((y + 0.5) / H - 0.5)) * (1 - 0.2 * T.data[i]) * (1 - 0.3 * B.data[i]);
        expect(I.data[i]).toBeCloseTo(film * Math.exp(-0.05 * t[i] - 0.03 * td[i]), 12);
      }
    // Thicker is darker, never negative; the film alone where t = 0.
    expect(I.data[2]).toBeLessThan(I.data[1]);
  });

  it('float64 gradients match finite differences (raster, every parameter, the film patterns; random inputs and edge values)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e6 }),
        fc.constantFrom('random', 'bare film', 'opaque', 'no mottle'),
        (seed, edge) => {
          const rng = new Rng(seed);
          const H = 4, W = 5;
          const r = new Float64Array(5 * H * W);
          for (let i = 0; i < 2 * H * W; i++) r[i] = edge === 'bare film' ? 0 : rng.range(0, edge === 'opaque' ? 80 : 20);
          const pv = [rng.range(0.3, 1), rng.range(0.002, 0.2), rng.range(0, 0.1), edge === 'no mottle' ? 0 : rng.range(0, 0.4), rng.range(-0.3, 0.3), rng.range(-0.3, 0.3), edge === 'no mottle' ? 0 : rng.range(0, 0.4)];
          const T = Float64Array.from({ length: H * W }, () => rng.uniform());
          const B = Float64Array.from({ length: H * W }, () => rng.uniform());
          const res = gradcheck((ra, p, tx, b) => transmissionImage(ra, pOf(p), tx, b), [new Tensor(r, [5, H, W]), t64(pv, [7]), new Tensor(T, [H, W]), new Tensor(B, [H, W])], { seed, atol: 1e-7, rtol: 1e-5 });
          expect(res.failure).toBeUndefined();
          expect(res.ok).toBe(true);
        },
      ),
      { numRuns: 12 },
    );
  });
});
