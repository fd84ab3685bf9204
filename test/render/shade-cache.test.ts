import { describe, it, expect } from 'vitest';
import { Tensor, Rng, parameter } from '../../src/autodiff/index.js';
import { sampleScene, renderScene, presetConfig, mergeSceneConfig, sceneParams } from '../../src/render/index.js';
import { clearShadeCaches } from '../../src/render/form-image.js';
import { PARAM_INDEX } from '../../src/render/params.js';
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
      it(`${preset} ${dtype}: memoised renders equal fresh ones exactly, across scenes and texture parameters`, () => {
        const a = scene(preset, 1), b = scene(preset, 2);
        // texture scale, line width, level
        type Tex = [number, number, number];
        const scale = ([s, w, l]: Tex) => (p: Tensor) => {
          p.data[PARAM_INDEX.textureScale] = s;
          p.data[PARAM_INDEX.textureWidth] = w;
          p.data[PARAM_INDEX.textureLevel] = l;
        };
        const t0: Tex = [0.05, 0.03, 0.62], t1: Tex = [0.07, 0.03, 0.62], t2: Tex = [0.05, 0.05, 0.62], t3: Tex = [0.05, 0.03, 0.55];
        const cases: [ReturnType<typeof scene>, Tex][] = [[a, t0], [b, t0], [a, t1], [a, t2], [a, t3], [a, t0], [b, t1], [b, t3], [a, t0]];
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
