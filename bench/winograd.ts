/**
 * Winograd against the GEMM paths, per stride-1 3x3 / 4x4 conv (forward, input gradient:
 * F(2x2, r x r); weight gradient: F(r x r, 2x2)), in one process: two wasm backends on the same
 * worker pool size, one with `winograd: 'off'` and one with 'always', timed alternately rep by
 * rep (so both see the same load on a shared machine). Reports median wall and CPU time (all
 * threads of the process) per kernel call and the ratio.
 * Default cases: the PatchGAN's stride-1 4x4 layer at the bench gan shape (256 px, 64 filters:
 * 256 -> 512 at 32 px) and the standard training's (128 px, 32 filters: 128 -> 256 at 16 px),
 * batch 2 (real + fake); and the 3x3 convs of the standard U-Net (depth 4, base 8, 128 px crops,
 * padding 1) at batch 4 (--batch sets the PatchGAN's). --sweep: channel counts x sizes per kernel
 * size, to set the shape rules.
 */
import { convOutSize, type Conv2dGeom, type Kernels } from '../src/autodiff/backend.js';
import { WasmBackend } from '../src/autodiff/backends/wasm/backend.js';
import { wasmPoolFactory } from '../src/node/wasm-pool.js';
import { enableRelaxedSimd } from '../src/node/relaxed-simd.js';
import { registerSuite, loadavg } from './registry.js';
import { parseFlags, usageOf, type FlagSpecs } from './flags.js';

const FLAGS = {
  reps: { kind: 'number', def: 7, int: true, min: 1, help: 'timed calls per kernel and path (after one warm-up each)' },
  batch: { kind: 'number', def: 2, int: true, min: 1, help: 'images per 4x4 call (the U-Net cases and the 3x3 sweep use 4, its training batch)' },
  kernel: { kind: 'string', def: 'all', choices: ['all', '3', '4', '4s2'], help: 'kernel sizes to time (4s2: the stride-2 4x4 convs, as four 2x2 convs)' },
  sweep: { kind: 'bool', help: 'channel counts x sizes (4x4: 16-512 channels, 8-64 px; 3x3: 8-128 channels, 8-128 px) instead of the layers' },
  'no-fma': { kind: 'bool', help: 'leave relaxed SIMD off (the CLI turns it on)' },
  json: { kind: 'bool', help: 'print one JSON object' },
} as const satisfies FlagSpecs;

/** An r x r conv with padding 1 (the PatchGAN's 4x4, the U-Net's 3x3), stride 1 unless given. */
function geom(r: number, n: number, cIn: number, cOut: number, hw: number, stride = 1): Conv2dGeom {
  const o = convOutSize(hw, r, stride, 1, 1);
  return { n, cIn, cOut, h: hw, w: hw, kh: r, kw: r, strideH: stride, strideW: stride, padH: 1, padW: 1, dilH: 1, dilW: 1, groups: 1, outH: o, outW: o };
}

/** U-Net batch of the standard training (segment train: 4 crops of 128 px). */
const UNET_BATCH = 4;

/** The distinct 3x3 convs of a depth-4, base-8 U-Net on 128 px crops: encoder level l (base 2^l channels at 128 / 2^l px) and decoder (concat of skip and upsampled: 2c -> c). */
function unetCases(): { name: string; g: Conv2dGeom }[] {
  const out: { name: string; g: Conv2dGeom }[] = [];
  for (let l = 0; l <= 4; l++) {
    const c = 8 << l, hw = 128 >> l, cPrev = l === 0 ? 1 : c / 2;
    out.push({ name: `U-Net enc${l}.conv1`, g: geom(3, UNET_BATCH, cPrev, c, hw) });
    out.push({ name: `U-Net enc${l}.conv2`, g: geom(3, UNET_BATCH, c, c, hw) });
    if (l < 4) out.push({ name: `U-Net dec${l}.conv1`, g: geom(3, UNET_BATCH, 2 * c, c, hw) });
  }
  return out;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

async function run(args: string[]): Promise<void> {
  const f = parseFlags('winograd', args, FLAGS);
  if (!f['no-fma']) enableRelaxedSimd();
  const gemm = new WasmBackend({ name: 'gemm', winograd: 'off', runnerFactory: wasmPoolFactory() });
  const wino = new WasmBackend({ name: 'winograd', winograd: 'always', runnerFactory: wasmPoolFactory() });
  await gemm.init();
  await wino.init();
  const cases: { name: string; g: Conv2dGeom }[] = [];
  const with3 = f.kernel === 'all' || f.kernel === '3', with4 = f.kernel === 'all' || f.kernel === '4', with4s2 = f.kernel === 'all' || f.kernel === '4s2';
  if (f.sweep) {
    if (with4) {
      for (const hw of [8, 16, 32, 64]) {
        for (const [ci, co] of [[16, 16], [32, 32], [32, 64], [64, 64], [64, 128], [128, 128], [128, 256], [256, 512]] as const) {
          if (ci * co * hw * hw <= 256 * 512 * 32 * 32) cases.push({ name: `4x4 ${ci}->${co} @${hw}`, g: geom(4, f.batch, ci, co, hw) });
        }
      }
    }
    if (with4s2) {
      for (const hw of [16, 32, 64, 128, 256]) {
        for (const [ci, co] of [[16, 32], [32, 64], [64, 128], [128, 256], [256, 512]] as const) {
          if (ci * co * hw * hw <= 64 * 128 * 128 * 128) cases.push({ name: `4x4/2 ${ci}->${co} @${hw}`, g: geom(4, f.batch, ci, co, hw, 2) });
        }
      }
    }
    if (with3) {
      for (const hw of [8, 16, 32, 64, 128]) {
        for (const [ci, co] of [[8, 8], [16, 8], [8, 16], [16, 16], [32, 16], [16, 32], [32, 32], [64, 32], [32, 64], [64, 64], [128, 64], [64, 128], [128, 128]] as const) {
          if (ci * co * hw * hw <= 32 * 32 * 64 * 64) cases.push({ name: `3x3 ${ci}->${co} @${hw}`, g: geom(3, UNET_BATCH, ci, co, hw) });
        }
      }
    }
  } else {
    if (with4) {
      cases.push({ name: 'PatchGAN 256/64 L4', g: geom(4, f.batch, 256, 512, 32) });
      cases.push({ name: 'PatchGAN 128/32 L4', g: geom(4, f.batch, 128, 256, 16) });
    }
    if (with4s2) {
      // The stride-2 layers after the first (whose 1 input channel leaves the GEMMs nothing to save).
      cases.push({ name: 'PatchGAN 256/64 L2', g: geom(4, f.batch, 64, 128, 128, 2) });
      cases.push({ name: 'PatchGAN 256/64 L3', g: geom(4, f.batch, 128, 256, 64, 2) });
      cases.push({ name: 'PatchGAN 128/32 L2', g: geom(4, f.batch, 32, 64, 64, 2) });
      cases.push({ name: 'PatchGAN 128/32 L3', g: geom(4, f.batch, 64, 128, 32, 2) });
    }
    if (with3) cases.push(...unetCases());
  }
  const load0 = loadavg();
  const rows = [];
  for (const { name, g } of cases) {
    for (const kind of ['conv2d', 'conv2dGradInput', 'conv2dGradWeight'] as const) {
      const taps = g.kh * g.kw;
      const nx = g.n * g.cIn * g.h * g.w, ny = g.n * g.cOut * g.outH * g.outW, nw = g.cOut * g.cIn * taps;
      const w = Float32Array.from({ length: nw }, (_, i) => Math.sin(i) * 0.02);
      const x = Float32Array.from({ length: nx }, (_, i) => Math.max(0, Math.sin(0.7 * i)));
      const dy = Float32Array.from({ length: ny }, (_, i) => Math.sin(0.3 * i) * 1e-3);
      const [a, b, out] = kind === 'conv2d' ? [x, w, new Float32Array(ny)] : kind === 'conv2dGradInput' ? [dy, w, new Float32Array(nx)] : [x, dy, new Float32Array(nw)];
      const call = (be: WasmBackend) => (be.kernels[kind] as Kernels['conv2d'])(a, b, out, g);
      const t: Record<string, { wall: number[]; cpu: number[] }> = { gemm: { wall: [], cpu: [] }, winograd: { wall: [], cpu: [] } };
      call(gemm);
      call(wino);
      for (let r = 0; r < f.reps; r++) {
        // Alternate which path goes first.
        for (const be of r % 2 ? [wino, gemm] : [gemm, wino]) {
          const c0 = process.cpuUsage(), t0 = performance.now();
          call(be);
          t[be.name]!.wall.push(performance.now() - t0);
          const c = process.cpuUsage(c0);
          t[be.name]!.cpu.push((c.user + c.system) / 1000);
        }
      }
      const row = {
        case: name, kernel: { conv2d: 'forward', conv2dGradInput: 'input grad', conv2dGradWeight: 'weight grad' }[kind], shape: `${g.n}x${g.cIn}x${g.h}x${g.w} -> ${g.cOut}x${g.outH}x${g.outW}`,
        gflop: (2 * g.n * g.cOut * g.cIn * taps * g.outH * g.outW) / 1e9,
        gemmMs: median(t.gemm!.wall), winoMs: median(t.winograd!.wall), gemmCpuMs: median(t.gemm!.cpu), winoCpuMs: median(t.winograd!.cpu),
        ratioCpu: median(t.winograd!.cpu) / median(t.gemm!.cpu), ratioWall: median(t.winograd!.wall) / median(t.gemm!.wall),
      };
      rows.push(row);
      if (!f.json) {
        console.log(`${row.case.padEnd(20)} ${row.kernel.padEnd(11)} ${row.shape.padEnd(30)} gemm ${row.gemmMs.toFixed(1).padStart(7)} ms (CPU ${row.gemmCpuMs.toFixed(1).padStart(7)})  ` +
          `winograd ${row.winoMs.toFixed(1).padStart(7)} ms (CPU ${row.winoCpuMs.toFixed(1).padStart(7)})  CPU ratio ${row.ratioCpu.toFixed(2)} wall ${row.ratioWall.toFixed(2)}`);
      }
    }
  }
  const result = { describe: wino.describe(), loadavgBefore: load0, loadavg: loadavg(), reps: f.reps, rows };
  if (f.json) console.log(JSON.stringify(result, null, 2));
  else console.log(`# ${result.describe}\n# load ${load0} before, ${result.loadavg} after; medians of ${f.reps} alternating calls`);
  gemm.dispose();
  wino.dispose();
}

registerSuite({
  name: 'winograd',
  description: 'Winograd F(2x2,3x3) / F(2x2,4x4) vs the GEMM paths per stride-1 3x3 / 4x4 conv (forward, input grad, weight grad), one process',
  usage: usageOf('winograd', 'Times each stride-1 3x3 / 4x4 conv kernel on the GEMM path and as Winograd (forward and input grad\n' +
    'F(2x2, r x r), weight grad F(r x r, 2x2)), alternately in one process; median wall and CPU time per call and the ratios.\n' +
    'Cases: the PatchGAN\'s stride-1 4x4 layer (256/64 and 128/32) and the 3x3 convs of the standard U-Net (depth 4, base 8, 128 px).', FLAGS),
  run,
});
