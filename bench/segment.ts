/**
 * Segmentation U-Net benchmark: wall time of one training step (forward, the loss of `segment
 * train` (segLoss: CE + Dice, plus the distance head's BCE), backward, Adam) on random crops, for
 * a few architectures, and of tiled inference on one 1024 x 704 micrograph. Prints what a
 * training run of 1,000 images would cost.
 *
 *   node dist/bench.js segment [--backend auto|wasm|wasm-1t|reference] [--reps N] [--crop PX]
 *       [--batch B] [--configs d4b16,d4b8,d3b16] [--head distance|classes] [--infer] [--json]
 *
 * (Registered as suite 'segment'; bench/main.ts must import './segment.js' to list it.)
 */
import { Adam, Rng, Tensor, rand, randn, startProfile, stopProfile, formatProfile, phase, profileStepStart, profileStepEnd } from '../src/autodiff/index.js';
import { selectBackend } from '../src/cli/backend-flag.js';
import { relaxedSimdSupported } from '../src/autodiff/backends/wasm/asm.js';
import { UNet } from '../src/seg/unet.js';
import { segLoss } from '../src/seg/train.js';
import { segmentImage } from '../src/seg/infer.js';
import { loadavg, registerSuite } from './registry.js';
import { BenchFlagError, parseFlags, usageOf, type FlagSpecs } from './flags.js';

const FLAGS = {
  backend: { kind: 'string', def: 'auto', choices: ['auto', 'wasm', 'wasm-1t', 'reference'], help: 'compute backend' },
  reps: { kind: 'number', def: 5, int: true, min: 1, help: 'timed steps per configuration (after one warm-up)' },
  crop: { kind: 'number', def: 128, int: true, min: 16, help: 'crop side in pixels' },
  batch: { kind: 'number', def: 4, int: true, min: 1, help: 'crops per step' },
  configs: { kind: 'string', def: 'd4b16,d4b8,d3b16', help: 'U-Nets as d<depth>b<base>, comma-separated' },
  head: { kind: 'string', def: 'distance', choices: ['distance', 'classes'], help: "output head: distance = the 3 classes + the distance channel, as segment train's default --instance-target distance; classes = the 3 classes only (CE + Dice; the figures before the distance head)" },
  profile: { kind: 'bool', help: 'then profile as many more steps per configuration (time per op kind, allocations, copies)' },
  infer: { kind: 'bool', help: 'also time tiled inference of one 1024 x 704 image' },
  json: { kind: 'bool', help: 'print one JSON object' },
} as const satisfies FlagSpecs;

export async function run(args: string[]): Promise<void> {
  const f = parseFlags('segment', args, FLAGS);
  const backendName = f.backend;
  const reps = f.reps;
  const crop = f.crop;
  const batch = f.batch;
  const configs = f.configs.split(',');
  const json = f.json;
  // As `segment train` selects it: relaxed SIMD (FMA) on unless DIFFRENDERGAN_RELAXED_SIMD=0.
  const backend = await selectBackend(backendName, false, { gpu: false });
  const rows: Record<string, unknown>[] = [];
  for (const c of configs) {
    const m = /^d(\d+)b(\d+)$/.exec(c);
    if (!m) throw new BenchFlagError(`bench segment: --configs: '${c}' is not of the form d<depth>b<base>`);
    const rng = new Rng(1);
    const distanceHead = f.head === 'distance';
    const net = new UNet({ depth: Number(m[1]), base: Number(m[2]), distanceHead }, rng);
    const opt = new Adam(net.parameters(), { lr: 1e-3 });
    const x = randn([batch, 1, crop, crop], rng);
    const t = Int32Array.from({ length: batch * crop * crop }, () => rng.int(3));
    const distance: Tensor | null = distanceHead ? rand([batch, 1, crop, crop], rng) : null;
    // segment train's loss: class weights of the order it computes, Dice and distance weights 1.
    const loss = (out: Tensor) => segLoss(out, 3, t, distance, [0.6, 1.9, 4.1], 1, 1).loss;
    const shared: number[] = [], cpu: number[] = [];
    for (let r = 0; r < reps + 1; r++) {
      const c0 = process.cpuUsage(), t0 = performance.now();
      loss(net.forward(x)).backward();
      opt.step();
      opt.zeroGrad();
      const c = process.cpuUsage(c0);
      // The first step warms up.
      if (r > 0) {
        shared.push(performance.now() - t0);
        cpu.push((c.user + c.system) / 1000);
      }
    }
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
    const med = median(shared);
    let profile: string | null = null;
    if (f.profile) {
      startProfile();
      for (let r = 0; r < reps; r++) {
        profileStepStart();
        loss(net.forward(x)).backward();
        phase('optimizer', () => {
          opt.step();
          opt.zeroGrad();
        });
        profileStepEnd();
      }
      profile = formatProfile(stopProfile()!);
    }
    const row: Record<string, unknown> = {
      config: c,
      head: f.head,
      parameters: net.parameterCount(),
      crop,
      batch,
      msPerStep: Math.round(med),
      // CPU time of all the process's threads (the compute lanes), median per step.
      cpuMsPerStep: Math.round(median(cpu)),
      stepsPerSecond: +(1000 / med).toFixed(3),
      hours1000x20: +(((1000 / batch) * 20 * med) / 3.6e6).toFixed(2),
    };
    if (f.infer) {
      net.eval();
      const img = new Float32Array(1024 * 704).map((_, i) => ((i * 2654435761) % 1000) / 1000);
      const t0 = performance.now();
      segmentImage(net, img, 1024, 704, { tile: 2 * crop });
      row.inferSeconds1024x704 = +((performance.now() - t0) / 1000).toFixed(1);
    }
    rows.push(row);
    if (!json) console.log(Object.entries(row).map(([k, v]) => `${k}=${String(v)}`).join(' '));
    if (profile) (json ? console.error : console.log)(`\n${c}, load ${loadavg()}: ${profile}\n`);
  }
  const relaxedSimd = backend !== 'reference' && relaxedSimdSupported();
  if (json) console.log(JSON.stringify({ suite: 'segment', backend, relaxedSimd, rows }, null, 2));
  else console.log(`backend ${backend}${relaxedSimd ? ' (relaxed-SIMD FMA)' : ''}; hours1000x20 = 20 epochs of one ${crop} px crop per image over 1,000 images`);
}

registerSuite({
  name: 'segment',
  description: 'U-Net training step and tiled inference (seg/unet, seg/infer)',
  usage: usageOf('segment', 'Wall time of one U-Net training step (forward, segment train\'s loss, backward, Adam) on random crops per\n' +
    'configuration, and optionally of tiled inference on one 1024 x 704 image.', FLAGS),
  run,
});
