import { describe, expect, it } from 'vitest';
import { Rng, Tensor } from '../../src/autodiff/index.js';
import { softRasterize } from '../../src/render/raster/soft.js';
import { giveF64, takeF64Dirty } from '../../src/render/scratch.js';
import { mergeSceneConfig, presetConfig, sampleScene } from '../../src/render/index.js';
import { project } from '../../src/render/camera.js';

// The rasterizer writes the per-pixel records (forward PX, backward BX) only for pixels some
// fragment reached (the forward's hit flags). Its work buffers come dirty from the scratch pool:
// poisoning the pool with NaN shows that no unwritten record is ever read (outputs and gradients
// stay equal to a run with a clean pool), down to cutoffs where fragments have D = 0 exactly.

const W = 48, H = 40, C = 4;

function poisonRecords(): void {
  const bufs = Array.from({ length: 8 }, () => takeF64Dirty((C + 4) * W * H));
  for (const b of bufs) b.fill(NaN);
  giveF64(...bufs);
}

function run(cutoff: number, poison: boolean) {
  const cfg = mergeSceneConfig(presetConfig('tio2-sem'), { width: W, height: H, particles: { count: { min: 5, max: 5 } } });
  const scene = sampleScene(cfg, new Rng(23));
  const proj = project(scene.camera, scene.mesh.positions);
  const nv = proj.length / 3;
  const A = new Float64Array(nv * C);
  for (let i = 0; i < nv; i++) A.set([scene.normals[3 * i], scene.normals[3 * i + 1], scene.normals[3 * i + 2], 1], 4 * i);
  // the forward's PX gets a NaN buffer too
  if (poison) poisonRecords();
  const v = new Tensor(Float64Array.from(proj), [nv, 3], true);
  const a = new Tensor(A, [nv, C], true);
  const out = softRasterize(v, scene.mesh.faces, a, { width: W, height: H, sigma: cfg.raster.sigma, gamma: cfg.raster.gamma, cutoff, background: [0, 0, 1, 0] });
  if (poison) {
    // every pooled buffer of the per-pixel record size now holds NaN (the backward's BX)
    const bufs = Array.from({ length: 8 }, () => takeF64Dirty((C + 4) * W * H));
    for (const b of bufs) b.fill(NaN);
    giveF64(...bufs);
  }
  out.backward(new Tensor(Float64Array.from({ length: out.size }, (_, i) => Math.sin(0.23 * i)), out.shape));
  return { out: Array.from(out.data), gv: Array.from(v.grad!.data), ga: Array.from(a.grad!.data) };
}

describe('rasterizer backward: records of unreached pixels', () => {
  for (const cutoff of [1e-4, 1e-13, 1e-17]) {
    it(`cutoff ${cutoff}: gradients do not depend on what the pooled work buffers held`, () => {
      const clean = run(cutoff, false);
      const dirty = run(cutoff, true);
      expect(dirty.out).toEqual(clean.out);
      expect(dirty.gv).toEqual(clean.gv);
      expect(dirty.ga).toEqual(clean.ga);
      expect(clean.gv.every(Number.isFinite)).toBe(true);
      expect(clean.gv.some((g) => g !== 0)).toBe(true);
    });
  }
});
