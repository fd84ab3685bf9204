import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Tensor, Rng } from '../../src/autodiff/index.js';
import { gradcheck } from '../../src/autodiff/gradcheck.js';
import { softRasterize, hardRasterize, coverageSupport } from '../../src/render/raster/index.js';
import { icosphere, transformMesh, mergeMeshes, vertexNormals } from '../../src/render/mesh/index.js';

function t64(values: number[], shape: number[]): Tensor {
  return new Tensor(Float64Array.from(values), shape);
}

describe('softRasterize', () => {
  it('gradcheck w.r.t. projected vertices and attributes (two overlapping triangles)', () => {
    // two overlapping triangles at different heights, one clockwise (culling off)
    const verts = t64([1.3, 1.1, 2.0, 7.2, 2.4, 1.0, 3.1, 6.7, 1.5, 2.2, 3.3, 0.5, 6.4, 5.9, 2.5, 5.6, 1.2, 1.2], [6, 3]);
    const attrs = t64([0.1, 0.9, 0.5, 0.3, 0.8, 0.2, 0.7, 0.4, 0.6, 0.35, 0.25, 0.15], [6, 2]);
    const faces = Uint32Array.from([0, 1, 2, 3, 4, 5]);
    const opts = { width: 8, height: 8, sigma: 0.6, gamma: 0.7, background: [0.2, 0.1], cutoff: 1e-12, cullBackfaces: false };
    const r = gradcheck((v, a) => softRasterize(v, faces, a, opts), [verts, attrs], { atol: 1e-5, rtol: 1e-4 });
    expect(r.failure).toBeUndefined();
    expect(r.ok).toBe(true);
  });

  it('no NaN/Inf in values or gradients for degenerate, sliver, far-away and coincident triangles', () => {
    const coord = fc.double({ min: -4, max: 12, noNaN: true });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(coord, coord, fc.double({ min: 0, max: 5, noNaN: true })), { minLength: 3, maxLength: 9 }),
        fc.integer({ min: 0, max: 4 }),
        fc.constantFrom(1e-6, 0.05, 1),
        fc.constantFrom(1e-6, 0.1, 2),
        (pts, mode, sigma, gamma) => {
          const p = pts.slice(0, pts.length - (pts.length % 3));
          if (mode === 1) p[1] = [...p[0]]; // repeated vertex -> zero area
          if (mode === 2) p[2] = [2 * p[1][0] - p[0][0], 2 * p[1][1] - p[0][1], p[0][2]]; // collinear
          if (mode === 3) p[2] = [p[1][0] + 1e-9, p[1][1], p[1][2]]; // sliver
          if (mode === 4) p.push(...p.slice(0, 3)); // coincident duplicate face
          const flat = p.flat();
          const nv = flat.length / 3;
          const v = new Tensor(Float64Array.from(flat), [nv, 3], true);
          const a = new Tensor(Float64Array.from({ length: nv * 2 }, (_, i) => (i % 5) / 5), [nv, 2], true);
          const faces = Uint32Array.from({ length: nv }, (_, i) => i);
          const out = softRasterize(v, faces, a, { width: 8, height: 8, sigma, gamma, cullBackfaces: false });
          for (const x of out.data) if (!Number.isFinite(x)) return false;
          out.backward(new Tensor(Float64Array.from({ length: out.size }, (_, i) => Math.sin(i)), out.shape));
          for (const x of v.grad!.data) if (!Number.isFinite(x)) return false;
          for (const x of a.grad!.data) if (!Number.isFinite(x)) return false;
          return true;
        },
      ),
      { numRuns: 150, seed: 7 },
    );
  });

  it('sigma, gamma -> 0 reproduce the hard z-buffer (two overlapping spheres)', () => {
    const s = icosphere(4);
    const a = transformMesh(s, 9.3, [1, 0, 0, 0], [13.37, 15.21, 9.3]);
    const b = transformMesh(s, 7.1, [1, 0, 0, 0], [21.13, 17.77, 12.2]);
    const { mesh, faceOwner } = mergeMeshes([a, b]);
    const n = vertexNormals(mesh);
    const W = 36, H = 32;
    const verts = new Tensor(Float64Array.from(mesh.positions), [mesh.positions.length / 3, 3]);
    // attributes: normal xyz and the owner id
    const nv = verts.shape[0];
    const attrs = new Float64Array(nv * 4);
    for (let i = 0; i < nv; i++) {
      attrs.set([n[3 * i], n[3 * i + 1], n[3 * i + 2], i < s.positions.length / 3 ? 1 : 2], 4 * i);
    }
    const soft = softRasterize(verts, mesh.faces, new Tensor(attrs, [nv, 4]), { width: W, height: H, sigma: 1e-14, gamma: 1e-9, background: [0, 0, 1, 0] });
    const hard = hardRasterize(mesh.positions, mesh.faces, faceOwner, { width: W, height: H }, n);
    const HW = W * H;
    let covered = 0;
    for (let p = 0; p < HW; p++) {
      expect(soft.data[4 * HW + p]).toBeCloseTo(hard.instances[p] > 0 ? 1 : 0, 6);
      expect(soft.data[3 * HW + p]).toBeCloseTo(hard.instances[p], 6);
      if (hard.instances[p] > 0) covered++;
      for (let c = 0; c < 3; c++) {
        // the soft output blends unnormalised interpolated normals; compare direction
        const sv = soft.data[c * HW + p];
        const hv = hard.normals[c * HW + p];
        expect(Math.abs(sv - hv)).toBeLessThan(0.05);
      }
    }
    expect(covered).toBeGreaterThan(200);
  });

  it('support radius shrinks with sigma and covers D >= cutoff', () => {
    expect(coverageSupport(1, 1e-4)).toBeCloseTo(Math.sqrt(Math.log(9999)), 9);
    expect(coverageSupport(1e-8)).toBeLessThan(1e-3);
  });
});

describe('hardRasterize', () => {
  it('top-left rule: a square split into two triangles covers each pixel exactly once', () => {
    // square [2,6]x[2,6] with integer-aligned edges passing through no pixel centres, plus a
    // diagonal passing exactly through pixel centres
    const v = Float32Array.from([2.5, 2.5, 1, 6.5, 2.5, 1, 6.5, 6.5, 1, 2.5, 6.5, 1]);
    const faces = Uint32Array.from([0, 1, 2, 0, 2, 3]);
    const r = hardRasterize(v, faces, [0, 1], { width: 9, height: 9 });
    let count = 0;
    for (let p = 0; p < 81; p++) if (r.instances[p] > 0) count++;
    expect(count).toBe(16);
    // left and top edges drawn, right and bottom edges not
    expect(r.instances[2 * 9 + 2]).toBeGreaterThan(0);
    expect(r.instances[6 * 9 + 6]).toBe(0);
  });
  it('keeps the nearest (highest) surface', () => {
    const v = Float32Array.from([0, 0, 1, 8, 0, 1, 0, 8, 1, 0, 0, 3, 8, 0, 3, 0, 8, 3]);
    const r = hardRasterize(v, Uint32Array.from([0, 1, 2, 3, 4, 5]), [0, 1], { width: 8, height: 8 });
    expect(r.instances[9]).toBe(2);
    expect(r.depth[9]).toBeCloseTo(3);
  });
});
