import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Rng, Tensor, parameter, sum, mul } from '../../src/autodiff/index.js';
import { backward } from '../../src/autodiff/tape.js';
import { defaultParams, sampleScene, renderScene, presetConfig, mergeSceneConfig, PARAMETER_TABLE } from '../../src/render/index.js';
import { distanceTransform, proximityMaps, CONTACT_NONE } from '../../src/render/shade/proximity.js';

/** Brute force: the distance from each pixel centre to the nearest seed pixel centre (Infinity: none). */
function bruteDistance(seed: ArrayLike<number>, W: number, H: number): Float64Array {
  const d = new Float64Array(W * H).fill(Infinity);
  for (let i = 0; i < W * H; i++) {
    for (let j = 0; j < W * H; j++) {
      if (!seed[j]) continue;
      const dx = (i % W) - (j % W), dy = Math.floor(i / W) - Math.floor(j / W);
      d[i] = Math.min(d[i], Math.hypot(dx, dy));
    }
  }
  return d;
}

const instanceMaps = fc
  .record({ W: fc.integer({ min: 1, max: 12 }), H: fc.integer({ min: 1, max: 12 }), p: fc.double({ min: 0, max: 1, noNaN: true }), ids: fc.integer({ min: 1, max: 4 }), seed: fc.integer() })
  .map(({ W, H, p, ids, seed }) => {
    const rng = new Rng(seed);
    return { W, H, inst: Uint16Array.from({ length: W * H }, () => (rng.uniform() < p ? 1 + rng.int(ids) : 0)) };
  });

describe('proximity maps (SEM halo and crease distances)', () => {
  it('the distance transform is the exact Euclidean distance to the nearest seed pixel (empty and full maps included)', () => {
    fc.assert(
      fc.property(instanceMaps, ({ W, H, inst }) => {
        const got = distanceTransform(inst, W, H);
        const want = bruteDistance(inst, W, H);
        for (let i = 0; i < W * H; i++) {
          if (want[i] === Infinity) expect(got[i]).toBeGreaterThan(1e9);
          else expect(got[i]).toBeCloseTo(want[i], 9);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('outside: 0 on particles, the distance to them minus half a pixel elsewhere; contact: 0 where two particles meet', () => {
    fc.assert(
      fc.property(instanceMaps, ({ W, H, inst }) => {
        const { outside, contact } = proximityMaps(inst, W, H);
        const particles = bruteDistance(inst, W, H);
        const isContact = Uint8Array.from(inst, (a, i) => {
          if (a === 0) return 0;
          const x = i % W, y = Math.floor(i / W);
          const nb = [x > 0 ? i - 1 : -1, x < W - 1 ? i + 1 : -1, y > 0 ? i - W : -1, y < H - 1 ? i + W : -1];
          return nb.some((j) => j >= 0 && inst[j] !== 0 && inst[j] !== a) ? 1 : 0;
        });
        const contacts = bruteDistance(isContact, W, H);
        for (let i = 0; i < W * H; i++) {
          expect(outside[i]).toBeCloseTo(inst[i] ? 0 : Math.min(CONTACT_NONE, particles[i] - 0.5), 9);
          expect(contact[i]).toBeCloseTo(isContact[i] ? 0 : Math.min(CONTACT_NONE, contacts[i] - 0.5), 9);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('with the halo on, the substrate next to particles is darker than far from them; the masks do not change', () => {
    const cfg = mergeSceneConfig(presetConfig('tio2-sem'), { width: 96, height: 96, shading: { noise: false }, particles: { count: { min: 6, max: 6 } } });
    const scene = sampleScene(cfg, new Rng(3));
    const p = defaultParams('tio2-sem');
    const set = (q: Float64Array, name: string, v: number) => (q[PARAMETER_TABLE.findIndex((s) => s.name === name)] = v);
    for (const n of ['textureAmplitude', 'shadowStrength', 'brightnessGradient', 'scanNoise']) set(p, n, 0);
    set(p, 'blurSigma', 0.2);
    const off = renderScene(scene, p);
    const on = Float64Array.from(p);
    set(on, 'haloStrength', 0.3);
    set(on, 'haloWidth', 4);
    const halo = renderScene(scene, on);
    expect(Array.from(halo.instances!)).toEqual(Array.from(off.instances!));
    const { outside } = proximityMaps(off.hard!.instances, 96, 96);
    let near = 0, nearN = 0, far = 0, farN = 0;
    for (let i = 0; i < outside.length; i++) {
      const r = halo.image.data[i] / off.image.data[i];
      if (outside[i] >= 1.5 && outside[i] <= 3) { near += r; nearN++; }
      if (outside[i] > 25) { far += r; farN++; }
    }
    expect(nearN).toBeGreaterThan(20);
    expect(farN).toBeGreaterThan(20);
    // 1 - 0.3 exp(-(d / 4)^2 / 2) at d 1.5-3: 0.72-0.78; beyond 25 px within 1e-8 of 1
    expect(near / nearN).toBeLessThan(0.79);
    expect(near / nearN).toBeGreaterThan(0.71);
    expect(far / farN).toBeCloseTo(1, 6);
  });

  it('with both strengths 0 the maps are skipped unless a gradient is wanted: the same image either way, and the strengths still get their gradient', () => {
    const cfg = mergeSceneConfig(presetConfig('tio2-sem'), { width: 64, height: 64, shading: { noise: false }, particles: { count: { min: 8, max: 8 } } });
    const scene = sampleScene(cfg, new Rng(5));
    const p = defaultParams('tio2-sem');
    const idx = (name: string) => PARAMETER_TABLE.findIndex((s) => s.name === name);
    expect(p[idx('haloStrength')]).toBe(0);
    expect(p[idx('creaseStrength')]).toBe(0);
    const plain = renderScene(scene, p, { masks: false }).image;
    const q = parameter(new Tensor(Float64Array.from(p), [p.length]));
    const tracked = renderScene(scene, q, { masks: false }).image;
    expect(Array.from(tracked.data)).toEqual(Array.from(plain.data));
    backward(sum(mul(tracked, tracked)));
    // Darkening the substrate next to particles (or the particles at their contacts) lowers the sum of squares.
    expect(q.grad!.data[idx('haloStrength')]).toBeLessThan(0);
    expect(q.grad!.data[idx('creaseStrength')]).toBeLessThan(0);
    // A plain vector with a strength on still draws it.
    for (const name of ['haloStrength', 'creaseStrength']) {
      const on = Float64Array.from(p);
      on[idx(name)] = 0.3;
      const drawn = renderScene(scene, on, { masks: false }).image;
      let darker = 0;
      for (let i = 0; i < drawn.data.length; i++) if (drawn.data[i] < plain.data[i] - 1e-9) darker++;
      expect(darker, name).toBeGreaterThan(10);
    }
  });
});
