/**
 * Renderer benchmark: a 256 x 256 TiO2-SEM image with 30 particles (500 faces each, 15,000
 * triangles) forward + backward through the soft rasterizer and image formation (gradients
 * w.r.t. the projected vertices and the parameter vector), and exact masks for many samples.
 * Args: --reps N (default 10), --masks N (default 1000), --threads N (raster lanes including the
 * main thread, default: what `train` uses by default, defaultRasterThreads(): the cores, at most
 * 4; 1 = single-threaded only). The first line after the scene is the forward + backward median
 * with that default configuration (the target: <= 50 ms on the 2-core machine).
 * The renderer runs single-threaded and on N lanes (src/node/raster-pool.ts: the rasterizer's
 * row bands, and the blur, shading and noise rows) in alternation in the same process, so the
 * two rows see the same machine load. Reports median and minimum
 * wall time, the split into the rasterizer alone and image formation (shading, blur, noise:
 * the rest of the render), the process CPU time (user + system, all threads) per repetition,
 * and the load average before and after: on a shared machine the wall time of one repetition
 * mostly measures the other jobs, the minimum much less so.
 */
function cpuMs(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1000;
}
import { loadavg, registerSuite } from './registry.js';
import { parseFlags, usageOf, type FlagSpecs } from './flags.js';
import { Rng, Tensor, parameter } from '../src/autodiff/index.js';
import { mergeSceneConfig, presetConfig, sampleScene, renderScene, sceneMasks, sceneParams } from '../src/render/index.js';
import { project } from '../src/render/camera.js';
import { softRasterize } from '../src/render/raster/soft.js';
import { setRasterLanes } from '../src/render/lanes/lanes.js';
import { RasterWorkerPool, defaultRasterThreads } from '../src/node/raster-pool.js';

const FLAGS = {
  reps: { kind: 'number', def: 10, int: true, min: 1, help: 'timed repetitions (after two warm-ups)' },
  masks: { kind: 'number', def: 1000, int: true, min: 0, help: 'sampled scenes whose exact masks are timed' },
  threads: { kind: 'number', def: defaultRasterThreads(), int: true, min: 1, help: "raster lanes incl. the main thread (the train command's default)" },
} as const satisfies FlagSpecs;

export async function run(args: string[]): Promise<void> {
  const f = parseFlags('render', args, FLAGS);
  const reps = f.reps;
  const nMasks = f.masks;
  const cliThreads = defaultRasterThreads();
  const threads = f.threads;
  const cfg = mergeSceneConfig(presetConfig('tio2-sem'), { particles: { count: { min: 30, max: 30 } } });
  const scene = sampleScene(cfg, new Rng(42));
  const W = cfg.width, H = cfg.height;
  const faces = scene.mesh.faces.length / 3;
  const params = parameter(sceneParams(scene));
  const pool = threads > 1 ? new RasterWorkerPool({ threads }) : null;
  const modes = pool ? [1, pool.lanes] : [1];
  // the cached-raster row: one copy of the scene per mode, so each mode caches the raster it
  // made itself (with lanes, in shared memory, as in training)
  const cachedScene = new Map(modes.map((m) => [m, sampleScene(cfg, new Rng(42))]));
  const load0 = loadavg();
  type Row = Record<'forward' | 'backward' | 'total' | 'cpu' | 'rasterFwd' | 'rasterBwd' | 'noGrad' | 'cached', number[]>;
  const times = new Map<number, Row>(modes.map((m) => [m, { forward: [], backward: [], total: [], cpu: [], rasterFwd: [], rasterBwd: [], noGrad: [], cached: [] }]));
  const seed = new Tensor(new Float32Array(W * H).fill(1 / (W * H)), [1, 1, H, W]);
  // the rasterizer alone: the projected vertices and normals as renderScene passes them
  const proj = project(scene.camera, scene.mesh.positions);
  const nv = proj.length / 3;
  const attrs = new Tensor(new Float32Array(nv * 4), [nv, 4]);
  for (let i = 0; i < nv; i++) attrs.data.set([scene.normals[3 * i], scene.normals[3 * i + 1], scene.normals[3 * i + 2], 1], 4 * i);
  const rasterSeed = new Tensor(new Float32Array(5 * W * H).fill(1 / (W * H)), [5, H, W]);
  for (let r = 0; r < reps + 2; r++) {
    for (const lanes of modes) {
      setRasterLanes(lanes > 1 ? pool : null);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const res = renderScene(scene, params, { masks: false, vertsRequireGrad: true });
      const t1 = performance.now();
      res.image.backward(seed);
      const t2 = performance.now();
      const c = cpuMs(process.cpuUsage(c0));
      params.grad = null;
      const verts = new Tensor(Float32Array.from(proj), [nv, 3], true);
      const t3 = performance.now();
      const ras = softRasterize(verts, scene.mesh.faces, attrs, { width: W, height: H, sigma: cfg.raster.sigma, gamma: cfg.raster.gamma, cutoff: cfg.raster.cutoff, background: [0, 0, 1, 0] });
      const t4 = performance.now();
      ras.backward(rasterSeed);
      const t5 = performance.now();
      // the GAN's case: geometry fixed, gradients for the parameters only (no rasterizer backward)
      const res2 = renderScene(scene, params, { masks: false });
      res2.image.backward(seed);
      const t6 = performance.now();
      params.grad = null;
      // the same with the scene's raster reused (RenderOptions.cacheRaster; fixed configurations)
      const res3 = renderScene(cachedScene.get(lanes)!, params, { masks: false, cacheRaster: true });
      res3.image.backward(seed);
      const t7 = performance.now();
      params.grad = null;
      if (r >= 2) {
        const row = times.get(lanes)!;
        row.forward.push(t1 - t0);
        row.backward.push(t2 - t1);
        row.total.push(t2 - t0);
        row.cpu.push(c);
        row.rasterFwd.push(t4 - t3);
        row.rasterBwd.push(t5 - t4);
        row.noGrad.push(t6 - t5);
        row.cached.push(t7 - t6);
      }
    }
  }
  setRasterLanes(null);
  const laneRuns = pool?.completedRuns ?? 0;
  pool?.dispose();
  const sorted = (a: number[]): number[] => [...a].sort((x, y) => x - y);
  const med = (a: number[]): number => sorted(a)[Math.floor(a.length / 2)];
  const min = (a: number[]): number => sorted(a)[0];
  const mm = (a: number[]): string => `${med(a).toFixed(1)} / ${min(a).toFixed(1)}`;
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
  const rows: [string, string][] = [['scene', `${W}x${H}, ${scene.layout.particles.length} particles, ${faces} triangles`]];
  // the configuration `train` (and the pipeline) renders with by default
  const dflt = modes.includes(cliThreads) ? cliThreads : null;
  rows.push([
    `forward + backward, train's default (${cliThreads} raster lane${cliThreads > 1 ? 's' : ''}; median / min ms)`,
    dflt !== null ? mm(times.get(dflt)!.total) + ' (target <= 50)' : `not measured (--threads ${threads}; run without --threads)`,
  ]);
  for (const lanes of modes) {
    const t = times.get(lanes)!;
    const shade = t.total.map((v, i) => v - t.rasterFwd[i] - t.rasterBwd[i]);
    rows.push(
      [`raster lanes: ${lanes}`, lanes > 1 ? `(main thread + worker_threads; ${laneRuns} lane runs: rasterizer bands, image-formation row bands)` : '(single thread)'],
      ['  render forward (median / min ms)', mm(t.forward)],
      ['  render backward (median / min ms)', mm(t.backward)],
      ['  forward + backward (median / min ms)', mm(t.total) + ' (target <= 50)'],
      ['    of which rasterizer fwd (median / min ms)', mm(t.rasterFwd)],
      ['    of which rasterizer bwd (median / min ms)', mm(t.rasterBwd)],
      ['    rest: image formation etc. (median ms)', med(shade).toFixed(1)],
      ['  forward + backward CPU, all threads (median / min ms)', mm(t.cpu)],
      ['  params-only fwd + bwd (median / min ms)', mm(t.noGrad)],
      ['    same, raster cached (median / min ms)', mm(t.cached)],
    );
  }
  rows.push([`masks for ${nMasks} sampled scenes (s)`, (maskTotal / 1000).toFixed(2) + ` (of which scene sampling ${(sampleMs / 1000).toFixed(2)} s)`]);
  rows.push(['load average (before / after)', `${load0} / ${load1}`]);
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log('render benchmark');
  for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
}

registerSuite({
  name: 'render',
  description: 'soft rasterizer + image formation forward/backward, masks for many samples',
  usage: usageOf('render', 'A 30-particle 256 px TiO2-SEM render forward + backward, single-threaded and on raster lanes in\nalternation; then exact masks for many sampled scenes.', FLAGS),
  run,
});

const isMain = typeof process !== 'undefined' && process.argv[1] !== undefined && /bench[/\\]render\.(ts|js|mjs)$/.test(process.argv[1]);
if (isMain) await run(process.argv.slice(2));
