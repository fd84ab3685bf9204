/**
 * Renderer benchmark: a 256 x 256 TiO2-SEM image with 30 particles (500 faces each, 15,000
 * triangles) forward + backward through the soft rasterizer and image formation (gradients
 * w.r.t. the projected vertices and the parameter vector), and exact masks for many samples.
 * Args: --reps N (default 10), --masks N (default 1000).
 * Reports the median and the minimum wall time and the process CPU time (user + system) per
 * repetition, and the load average before and after: on a shared machine the wall time of one
 * repetition mostly measures the other jobs, the minimum and the CPU time much less so.
 */
function cpuMs(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1000;
}
import { loadavg } from './registry.js';
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
  const load0 = loadavg();
  const times: Record<string, number[]> = { forward: [], backward: [], total: [], cpu: [], noGradForward: [], cached: [] };
  const seed = new Tensor(new Float32Array(scene.config.width * scene.config.height).fill(1 / (scene.config.width * scene.config.height)), [1, 1, scene.config.height, scene.config.width]);
  for (let r = 0; r < reps + 2; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const res = renderScene(scene, params, { masks: false, vertsRequireGrad: true });
    const t1 = performance.now();
    res.image.backward(seed);
    const t2 = performance.now();
    const c = cpuMs(process.cpuUsage(c0));
    params.grad = null;
    // the GAN's case: geometry fixed, gradients for the parameters only (no rasterizer backward)
    const t3 = performance.now();
    const res2 = renderScene(scene, params, { masks: false });
    res2.image.backward(seed);
    const t4 = performance.now();
    params.grad = null;
    // the same with the scene's raster reused (RenderOptions.cacheRaster; fixed configurations)
    const res3 = renderScene(scene, params, { masks: false, cacheRaster: true });
    res3.image.backward(seed);
    const t5 = performance.now();
    params.grad = null;
    if (r >= 2) {
      times.forward.push(t1 - t0);
      times.backward.push(t2 - t1);
      times.total.push(t2 - t0);
      times.cpu.push(c);
      times.noGradForward.push(t4 - t3);
      times.cached.push(t5 - t4);
    }
  }
  const sorted = (a: number[]): number[] => [...a].sort((x, y) => x - y);
  const med = (a: number[]): number => sorted(a)[Math.floor(a.length / 2)];
  const min = (a: number[]): number => sorted(a)[0];
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
  const load1 = loadavg();
  const rows: [string, string][] = [
    ['scene', `256x256, ${scene.layout.particles.length} particles, ${faces} triangles`],
    ['render forward (median ms)', med(times.forward).toFixed(1)],
    ['render backward (median ms)', med(times.backward).toFixed(1)],
    ['forward + backward (median ms)', med(times.total).toFixed(1) + ' (target <= 50)'],
    ['forward + backward (min ms)', min(times.total).toFixed(1)],
    ['forward + backward CPU (median / min ms)', `${med(times.cpu).toFixed(1)} / ${min(times.cpu).toFixed(1)}`],
    ['params-only fwd + bwd (median / min ms)', `${med(times.noGradForward).toFixed(1)} / ${min(times.noGradForward).toFixed(1)}`],
    ['  same, raster cached (median / min ms)', `${med(times.cached).toFixed(1)} / ${min(times.cached).toFixed(1)}`],
    [`masks for ${nMasks} sampled scenes (s)`, (maskTotal / 1000).toFixed(2) + ` (of which scene sampling ${(sampleMs / 1000).toFixed(2)} s)`],
  ];
  rows.push(['load average (before / after)', `${load0} / ${load1}`]);
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log('render benchmark');
  for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
}

const isMain = typeof process !== 'undefined' && process.argv[1] !== undefined && /bench[/\\]render\.(ts|js|mjs)$/.test(process.argv[1]);
if (isMain) await run(process.argv.slice(2));
