/**
 * GAN training cost (issue: one full training step at 256 x 256 with 64 base filters, one epoch
 * of 174 patches, the reference protocol of 50 epochs). A step = ParamNet forward, render,
 * one D pass on real + fake, G backward and update, D backward and update (GanTrainer.trainStep);
 * its peer, timed interleaved in the same process, runs D twice (trainStepTwoPass).
 * Args: --patch N (256) --filters N (64) --steps N (5) --backend NAME (auto) --no-peer --json.
 * Reports the median and minimum step time with the load average (the machine may be shared),
 * the per-epoch evaluation (renders + realism score), and the extrapolated reference protocol.
 */
import { Rng } from '../src/autodiff/rng.js';
import { noGrad } from '../src/autodiff/tape.js';
import { GanTrainer, type GanConfig } from '../src/gan/trainer.js';
import { scaleSceneConfig } from '../src/gan/demo.js';
import { RealismReference } from '../src/gan/realism.js';
import { presetConfig, LEARNED_BY_PRESET, defaultParams } from '../src/render/presets/index.js';
import { sampleScene, renderScene } from '../src/render/scene.js';
import { selectBackend } from '../src/cli/backend-flag.js';
import { getBackend } from '../src/autodiff/backend.js';
import { formatProfile, startProfile, stopProfile } from '../src/autodiff/profile.js';
import { registerSuite, loadavg } from './registry.js';
import { parseFlags, usageOf, type FlagSpecs } from './flags.js';
import { defaultRasterThreads, withRasterPool } from '../src/node/raster-pool.js';
import { Conv2d } from '../src/autodiff/nn/index.js';
import { conv2dGeom } from '../src/autodiff/ops/conv.js';
import type { PatchDiscriminator } from '../src/gan/models.js';

/**
 * Multiply-adds of the discriminator's convolutions for one forward pass over `batch` images,
 * split into the first layer (whose input gradient is needed for the fake only) and the rest.
 * A step with the shared forward costs fwd + G backward (input gradients) + D backward (weight
 * gradients, input gradients but the first layer's): about 4 forwards; the two-pass step one more.
 */
function discMacs(disc: PatchDiscriminator, patch: number, batch: number): { first: number; rest: number } {
  let shape = [batch, 1, patch, patch];
  const macs: number[] = [];
  for (const m of disc.net.layers) {
    if (!(m instanceof Conv2d)) continue;
    const g = conv2dGeom(shape, m.weight.shape, m.opts);
    macs.push(g.n * g.outH * g.outW * g.cOut * (g.cIn / g.groups) * g.kh * g.kw);
    shape = [g.n, g.cOut, g.outH, g.outW];
  }
  return { first: macs[0], rest: macs.slice(1).reduce((a, b) => a + b, 0) };
}

const FLAGS = {
  patch: { kind: 'number', def: 256, int: true, min: 8, help: 'patch side in pixels' },
  filters: { kind: 'number', def: 64, int: true, min: 1, help: 'discriminator base filters' },
  steps: { kind: 'number', def: 5, int: true, min: 1, help: 'timed steps (after one warm-up)' },
  backend: { kind: 'string', def: 'auto', help: 'compute backend, as the CLI\'s --backend' },
  'raster-threads': { kind: 'number', def: defaultRasterThreads(), int: true, min: 1, help: "raster lanes incl. the main thread (the train command's default)" },
  'no-peer': { kind: 'bool', help: 'skip the interleaved two-pass peer step' },
  profile: { kind: 'bool', help: 'then profile --steps more steps (time per op kind, allocations, copies; to stderr with --json)' },
  json: { kind: 'bool', help: 'print one JSON object' },
} as const satisfies FlagSpecs;

export async function run(args: string[]): Promise<void> {
  const f = parseFlags('gan', args, FLAGS);
  const patch = f.patch;
  const filters = f.filters;
  const steps = f.steps;
  const peer = !f['no-peer'];
  const rasterThreads = f['raster-threads'];
  await selectBackend(f.backend, false);
  // The renderer on the same raster lanes as `train` uses by default.
  await withRasterPool(rasterThreads, async () => measure(args, patch, filters, steps, peer, rasterThreads, f.profile));
}

async function measure(args: string[], patch: number, filters: number, steps: number, peer: boolean, rasterThreads: number, profile: boolean): Promise<void> {
  const scene = scaleSceneConfig(presetConfig('tio2-sem'), patch, { keepParticleSize: true });
  // "Real" patches: renders with the preset's defaults (the cost does not depend on their content).
  const rng = new Rng(5);
  const reals = noGrad(() => Array.from({ length: 16 }, () => Float32Array.from(renderScene(sampleScene(scene, rng), defaultParams('tio2-sem'), { masks: false }).image.data)));
  const config: GanConfig = {
    preset: 'tio2-sem', scene, learned: LEARNED_BY_PRESET['tio2-sem'], patch, epochs: 1, stepsPerEpoch: steps, batch: 1, lrG: 2e-4, lrD: 1e-4,
    betas: [0.5, 0.999], baseFilters: filters, discLayers: 3, norm: 'batch', seed: 1, numConfigs: 16, evalSamples: 16,
  };
  const t = new GanTrainer(config, reals);
  const p = peer ? new GanTrainer(config, reals) : null;
  // Warm-up (kernel compilation, worker start-up).
  t.trainStep();
  p?.trainStepTwoPass();
  const times: number[] = [];
  const peerTimes: number[] = [];
  const load0 = loadavg();
  // Interleaved, so that both see the same load on a shared machine.
  // CPU time (all threads of the process) as well: far less sensitive to other processes than
  // wall time on a shared machine.
  const cpu: number[] = [];
  const peerCpu: number[] = [];
  const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
  for (let i = 0; i < steps; i++) {
    let t0 = performance.now();
    let c0 = process.cpuUsage();
    t.trainStep();
    times.push(performance.now() - t0);
    cpu.push(cpuMs(process.cpuUsage(c0)));
    if (!p) continue;
    t0 = performance.now();
    c0 = process.cpuUsage();
    p.trainStepTwoPass();
    peerTimes.push(performance.now() - t0);
    peerCpu.push(cpuMs(process.cpuUsage(c0)));
  }
  if (profile) {
    startProfile();
    for (let i = 0; i < steps; i++) t.trainStep();
    const text = `profile of trainStep, load ${loadavg()}: ${formatProfile(stopProfile()!)}\n`;
    (args.includes('--json') ? console.error : console.log)(text);
  }
  const median = medianOf(times);
  const peerMedian = p ? medianOf(peerTimes) : null;
  // Per-epoch evaluation as src/node/train.ts runs it: evalSamples renders, then the realism
  // score against the real patches (whose side is computed once per run, over all 174 patches).
  const reals174 = Array.from({ length: 174 }, (_, i) => ({ width: patch, height: patch, data: reals[i % reals.length] }));
  let t1 = performance.now();
  const ref = new RealismReference(reals174, { seed: 1 });
  const referenceMs = performance.now() - t1;
  t1 = performance.now();
  const ev = t.evaluate();
  const renderMs = performance.now() - t1;
  t1 = performance.now();
  ref.score(ev.samples.map((data) => ({ width: patch, height: patch, data })));
  const scoreMs = performance.now() - t1;
  const evalMs = renderMs + scoreMs;
  const epochS = (174 * median + evalMs) / 1000;
  // 50 epochs of 174 steps, 51 evaluations (epoch 0, the untrained generator, and each epoch),
  // the realism reference once. Checkpoint and report writing are not included.
  const protocolMin = (50 * 174 * median + 51 * evalMs + referenceMs) / 60_000;
  // Convolution work per step (GFLOP = 2 x multiply-adds / 1e9), for the shared-forward step:
  // forward, G backward (input gradients, all layers), D backward (weight gradients, all layers;
  // input gradients but the first layer's).
  const { first, rest } = discMacs(t.disc, patch, 2 * config.batch);
  const all = first + rest;
  const stepGflop = (3 * all + rest) * 2 / 1e9;
  const peerGflop = stepGflop + all * 2 / 1e9;
  const result = {
    backend: getBackend().name, patch, filters, steps, medianStepMs: median, minStepMs: Math.min(...times),
    medianStepCpuMs: medianOf(cpu), peerMedianStepCpuMs: p ? medianOf(peerCpu) : null,
    peerMedianStepMs: peerMedian, peerMinStepMs: p ? Math.min(...peerTimes) : null, ratioToPeer: peerMedian ? median / peerMedian : null,
    pairRatios: p ? times.map((x, i) => x / peerTimes[i]) : null,
    convGflopPerStep: stepGflop, peerConvGflopPerStep: peerGflop,
    evalRenderMs: renderMs, realismScoreMs: scoreMs, realismReferenceMs: referenceMs, evalMs,
    rasterThreads, epoch174s: epochS, protocol50Min: protocolMin, loadavgBefore: load0, loadavg: loadavg(), rssMB: process.memoryUsage().rss / 2 ** 20,
  };
  if (args.includes('--json')) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  console.log(`GAN training step, ${patch} x ${patch}, ${filters} base filters, backend ${result.backend}, ${rasterThreads} raster lane(s) (load ${load0} before, ${result.loadavg} after)`);
  console.log(`  step, shared D forward (median of ${steps})   ${median.toFixed(0)} ms (min ${result.minStepMs.toFixed(0)} ms; CPU ${result.medianStepCpuMs.toFixed(0)} ms)`);
  if (p) {
    console.log(`  peer: two D forwards (median of ${steps})    ${peerMedian!.toFixed(0)} ms (min ${result.peerMinStepMs!.toFixed(0)} ms; CPU ${result.peerMedianStepCpuMs!.toFixed(0)} ms); ratio ${result.ratioToPeer!.toFixed(2)}` +
      ` (per pair ${result.pairRatios!.map((r) => r.toFixed(2)).join(' ')}; CPU ${(result.medianStepCpuMs / result.peerMedianStepCpuMs!).toFixed(2)})`);
  }
  // Counted as direct convolutions: the Winograd layers (src/autodiff/backends/wasm/conv.ts) do fewer
  // multiplies, so the rate below can exceed the GEMM ceiling.
  console.log(`  D convolutions per step                   ${stepGflop.toFixed(1)} GFLOP as direct convolutions (two-pass ${peerGflop.toFixed(1)}): ${(stepGflop / (median / 1000)).toFixed(0)} GFLOP/s of the step's wall time`);
  console.log(`  per-epoch evaluation                      ${evalMs.toFixed(0)} ms (16 renders ${renderMs.toFixed(0)} ms, realism score ${scoreMs.toFixed(0)} ms; reference side once per run ${referenceMs.toFixed(0)} ms)`);
  console.log(`  one epoch of 174 patches                  ${epochS.toFixed(0)} s`);
  console.log(`  reference protocol (50 epochs)            ${protocolMin.toFixed(0)} min (issue 20's target <= 100 min; the paper's run took ~75 min on an A40)`);
  console.log(`  RSS                                       ${result.rssMB.toFixed(0)} MiB`);
}

function medianOf(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[s.length >> 1];
}

registerSuite({
  name: 'gan',
  description: 'one DiffRenderGAN training step, epoch and reference-protocol estimate',
  usage: usageOf('gan', 'Times trainStep (one shared D forward) and, interleaved in the same process, its peer trainStepTwoPass\n' +
    '(D run twice); then the per-epoch evaluation (renders + realism score) and the reference protocol estimate.', FLAGS),
  run,
});
