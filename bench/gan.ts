/**
 * GAN training cost (issue: one full training step at 256 x 256 with 64 base filters, one epoch
 * of 174 patches, the reference protocol of 50 epochs). A step = ParamNet forward, render,
 * D on real + fake for G (weights frozen), G update, D on real + fake, D update.
 * Args: --patch N (256) --filters N (64) --steps N (5) --backend NAME (auto) --json.
 * Reports the median and minimum step time with the load average (the machine may be shared),
 * the realism scoring time of one epoch, and the extrapolated reference protocol.
 */
import { Rng } from '../src/autodiff/rng.js';
import { noGrad } from '../src/autodiff/tape.js';
import { GanTrainer, type GanConfig } from '../src/gan/trainer.js';
import { scaleSceneConfig } from '../src/gan/demo.js';
import { LEARNED_BY_PRESET } from '../src/gan/generator.js';
import { RealismReference } from '../src/gan/realism.js';
import { presetConfig } from '../src/render/presets.js';
import { sampleScene, renderScene } from '../src/render/scene.js';
import { defaultParams } from '../src/render/shade/params.js';
import { selectBackend } from '../src/cli/backend-flag.js';
import { getBackend } from '../src/autodiff/backend.js';
import { registerSuite, loadavg } from './registry.js';

function arg(args: string[], name: string, def: string): string {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
}


export async function run(args: string[]): Promise<void> {
  const patch = Number(arg(args, '--patch', '256'));
  const filters = Number(arg(args, '--filters', '64'));
  const steps = Number(arg(args, '--steps', '5'));
  await selectBackend(arg(args, '--backend', 'auto'), false);
  const scene = scaleSceneConfig(presetConfig('tio2-sem'), patch, { keepParticleSize: true });
  // "Real" patches: renders with the preset's defaults (the cost does not depend on their content).
  const rng = new Rng(5);
  const reals = noGrad(() => Array.from({ length: 16 }, () => Float32Array.from(renderScene(sampleScene(scene, rng), defaultParams('tio2-sem'), { masks: false }).image.data)));
  const config: GanConfig = {
    preset: 'tio2-sem', scene, learned: LEARNED_BY_PRESET['tio2-sem'], patch, epochs: 1, stepsPerEpoch: steps, batch: 1, lrG: 2e-4, lrD: 1e-4,
    betas: [0.5, 0.999], baseFilters: filters, discLayers: 3, norm: 'batch', seed: 1, numConfigs: 16, evalSamples: 16,
  };
  const t = new GanTrainer(config, reals);
  t.trainStep(); // warm-up (kernel compilation, buffer pools)
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    t.trainStep();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[times.length >> 1];
  const t1 = performance.now();
  const ev = t.evaluate();
  const ref = new RealismReference(reals.map((data) => ({ width: patch, height: patch, data })));
  ref.score(ev.samples.map((data) => ({ width: patch, height: patch, data })));
  const evalMs = performance.now() - t1;
  const epochS = (174 * median) / 1000 + evalMs / 1000;
  const result = {
    backend: getBackend().name, patch, filters, steps, medianStepMs: median, minStepMs: times[0], evalMs,
    epoch174s: epochS, protocol50Min: (50 * epochS) / 60, loadavg: loadavg(), rssMB: process.memoryUsage().rss / 2 ** 20,
  };
  if (args.includes('--json')) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  console.log(`GAN training step, ${patch} x ${patch}, ${filters} base filters, backend ${result.backend} (load ${result.loadavg})`);
  console.log(`  step (median of ${steps})          ${median.toFixed(0)} ms (min ${times[0].toFixed(0)} ms)`);
  console.log(`  per-epoch evaluation (16 renders + realism) ${evalMs.toFixed(0)} ms`);
  console.log(`  one epoch of 174 patches          ${epochS.toFixed(0)} s`);
  console.log(`  reference protocol (50 epochs)    ${result.protocol50Min.toFixed(0)} min (target <= 75 min; the reference took ~75 min on an A40)`);
  console.log(`  RSS                               ${result.rssMB.toFixed(0)} MiB`);
}

registerSuite({ name: 'gan', description: 'one DiffRenderGAN training step, epoch and reference-protocol estimate', run });
