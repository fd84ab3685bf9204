import { describe, it, expect } from 'vitest';
import { Tensor, Rng, parameter } from '../../src/autodiff/index.js';
import { sampleScene, renderScene, presetConfig, mergeSceneConfig, sceneParams } from '../../src/render/index.js';
import { clearShadeCaches } from '../../src/render/shade/sem.js';
import { PARAM_INDEX } from '../../src/render/shade/params.js';
import type { DType } from '../../src/autodiff/tensor.js';

function scene(preset: 'tio2-sem' | 'sio2-him', seed: number) {
  const cfg = mergeSceneConfig(presetConfig(preset), { width: 40, height: 32, particles: { count: { min: 4, max: 4 } } });
  return sampleScene(cfg, new Rng(seed));
}

/** Image, parameter gradient and vertex gradient of one forward + backward render. */
function run(sc: ReturnType<typeof scene>, dtype: DType, edit?: (p: Tensor) => void) {
  const p = parameter(sceneParams(sc, dtype));
  edit?.(p);
  const res = renderScene(sc, p, { masks: false, vertsRequireGrad: true });
  const g = new Tensor(Float64Array.from({ length: res.image.size }, (_, i) => Math.cos(0.29 * i)), res.image.shape);
  res.image.backward(g);
  return [Array.from(res.image.data), Array.from(p.grad!.data), Array.from(res.verts.grad!.data)];
}

describe('image formation memos (fixed maps, texture noise)', () => {
  for (const preset of ['tio2-sem', 'sio2-him'] as const) {
    for (const dtype of ['float32', 'float64'] as DType[]) {
      it(`${preset} ${dtype}: memoised renders equal fresh ones exactly, across scenes and texture scales`, () => {
        const a = scene(preset, 1), b = scene(preset, 2);
        const scale = (v: number) => (p: Tensor) => (p.data[PARAM_INDEX.textureScale] = v);
        const cases: [ReturnType<typeof scene>, number][] = [[a, 0.05], [b, 0.05], [a, 0.07], [a, 0.05], [b, 0.07], [a, 0.05]];
        const fresh = cases.map(([sc, s]) => {
          clearShadeCaches();
          return run(sc, dtype, scale(s));
        });
        clearShadeCaches();
        cases.forEach(([sc, s], k) => {
          // a second pass over the same sequence reuses the memos
          run(sc, dtype, scale(s));
          expect(run(sc, dtype, scale(s))).toEqual(fresh[k]);
        });
      });
    }
  }
});
