/**
 * Renderer benchmark: a 256 x 256 TiO2-SEM image with 30 particles (500 faces each, 15,000
 * triangles) forward + backward through the soft rasterizer and image formation (gradients
 * w.r.t. the projected vertices and the parameter vector), and exact masks for many samples.
 * Args: --reps N (default 10), --masks N (default 1000).
 */
import { Rng, Tensor, parameter } from '../src/autodiff/index.js';
import { mergeSceneConfig, presetConfig, sampleScene, renderScene, sceneMasks, sceneParams } from '../src/render/index.js';

function arg(args: string[], name: string, def: number): number {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
}

export async function run(args: string[]): Promise<void> {
  const reps = arg(args, '--reps', 10);
  const nMasks = arg(args, '--masks', 1000);
  const cfg = mergeSceneConfig(presetConfig('tio2-sem'), { particles: { count: { min: 30, max: 30 } } });
  const scene = sampleScene(cfg, new Rng(42));
  const faces = scene.mesh.faces.length / 3;
  const params = parameter(sceneParams(scene));
  const times: Record<string, number[]> = { forward: [], backward: [] };
  for (let r = 0; r < reps + 2; r++) {
    const t0 = performance.now();
    const res = renderScene(scene, params, { masks: false, vertsRequireGrad: true });
    const t1 = performance.now();
    res.image.backward(new Tensor(new Float32Array(res.image.size).fill(1 / res.image.size), res.image.shape));
    const t2 = performance.now();
    params.grad = null;
    if (r >= 2) {
      times.forward.push(t1 - t0);
      times.backward.push(t2 - t1);
    }
  }
  const med = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const rng = new Rng(7);
  const tm0 = performance.now();
  let sampleMs = 0;
  for (let i = 0; i < nMasks; i++) {
    const s0 = performance.now();
    const s = sampleScene('tio2-sem', rng);
    sampleMs += performance.now() - s0;
    sceneMasks(s);
  }
  const maskTotal = performance.now() - tm0;
  const rows: [string, string][] = [
    ['scene', `256x256, ${scene.layout.particles.length} particles, ${faces} triangles`],
    ['render forward (median ms)', med(times.forward).toFixed(1)],
    ['render backward (median ms)', med(times.backward).toFixed(1)],
    ['forward + backward (median ms)', (med(times.forward) + med(times.backward)).toFixed(1) + ' (target <= 50)'],
    [`masks for ${nMasks} sampled scenes (s)`, (maskTotal / 1000).toFixed(2) + ` (of which scene sampling ${(sampleMs / 1000).toFixed(2)} s)`],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log('render benchmark');
  for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
}

const isMain = typeof process !== 'undefined' && process.argv[1] !== undefined && /bench[/\\]render\.(ts|js|mjs)$/.test(process.argv[1]);
if (isMain) await run(process.argv.slice(2));
