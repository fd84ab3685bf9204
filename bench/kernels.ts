/**
 * Kernel benchmarks: matmul, every PatchGAN conv layer (forward, input grad, weight grad), the
 * whole PatchGAN forward+backward (64 and 32 base filters) and a U-Net-like conv stack, on the
 * wasm backend (threaded), against gpu.js (webasm) and TensorFlow.js's pure-JS cpu backend run in
 * this process.
 *
 *   node dist/bench.js kernels [--json] [--filter SUBSTR] [--no-tfjs] [--no-gpujs] [--single]
 *                              [--no-relaxed-simd] [--breakdown] [--min-reps N] [--budget-ms MS]
 *
 * Like the CLI, the bench turns on V8's relaxed-SIMD flag first, so the kernels use
 * f32x4.relaxed_madd (FMA); --no-relaxed-simd or DIFFRENDERGAN_RELAXED_SIMD=0 keeps separate
 * mul + add (the header line says which ran).
 *
 * Timings are medians. TensorFlow.js (and gpu.js) are far slower, so for big cases they are
 * timed (one warm-up run, then the median of the runs fitting ~0.6 s, at least 3) on a scaled-down
 * copy (fewer output/input channels, then smaller images) and their throughput is extrapolated
 * linearly in FLOPs; the `peer case` column says when.
 *
 * Every case runs twice on the wasm backend, interleaved: with plain Float32Array operands (the
 * kernel copies them into its WebAssembly memory and the result out; what the autodiff ops do
 * today) and with resident operands (views from backend.resident(): read and written in place,
 * as tfjs's tensors live in its backend). The per-case lines print tfjs ms, the 100x budget
 * (tfjs ms / 100), both of our times and ratios, and a compute floor: FLOPs at the GEMM's own
 * peak (matmul 1024^3 GFLOP per CPU-second, times the lanes).
 */
import { registerSuite } from './registry.js';
import { parseFlags, usageOf, type FlagSpecs } from './flags.js';
import { convOutSize, type Conv2dGeom, type Kernels, type MatmulArgs } from '../src/autodiff/backend.js';
import { WasmBackend } from '../src/autodiff/backends/wasm/backend.js';
import { GpujsBackend } from '../src/autodiff/backends/gpujs.js';
import { wasmPoolFactory } from '../src/node/wasm-pool.js';
import { enableRelaxedSimd } from '../src/node/relaxed-simd.js';

type ConvKernel = 'conv2d' | 'conv2dGradInput' | 'conv2dGradWeight';
type Op = { kind: 'matmul'; m: number; k: number; n: number } | { kind: ConvKernel; g: Conv2dGeom };

interface Opts {
  json: boolean;
  filter: string | null;
  tfjs: boolean;
  gpujs: boolean;
  single: boolean;
  relaxed: boolean;
  breakdown: boolean;
  minReps: number;
  budgetMs: number;
}

const FLAGS = {
  json: { kind: 'bool', help: 'print the rows as JSON (progress goes to stderr)' },
  filter: { kind: 'string', def: '', help: 'only cases whose name contains this text' },
  'no-tfjs': { kind: 'bool', help: 'skip the TensorFlow.js cpu peer' },
  'no-gpujs': { kind: 'bool', help: 'skip the gpu.js peer' },
  single: { kind: 'bool', help: 'also time the single-threaded wasm backend' },
  'relaxed-simd': { kind: 'bool', help: 'use relaxed-SIMD FMA (the default unless DIFFRENDERGAN_RELAXED_SIMD=0)' },
  'no-relaxed-simd': { kind: 'bool', help: 'plain SIMD mul + add' },
  breakdown: { kind: 'bool', help: 'per-layer breakdown of the network cases' },
  'min-reps': { kind: 'number', def: 5, int: true, min: 1, help: 'fewest timed runs per case' },
  'budget-ms': { kind: 'number', def: 3000, min: 0, help: 'time budget per case' },
} as const satisfies FlagSpecs;

function parse(args: string[]): Opts {
  const f = parseFlags('kernels', args, FLAGS);
  const relaxed = f['no-relaxed-simd'] ? false : f['relaxed-simd'] ? true : process.env.DIFFRENDERGAN_RELAXED_SIMD !== '0';
  return {
    json: f.json, filter: f.filter || null, tfjs: !f['no-tfjs'], gpujs: !f['no-gpujs'], single: f.single, relaxed,
    breakdown: f.breakdown, minReps: f['min-reps'], budgetMs: f['budget-ms'],
  };
}

// ---------------- shapes ----------------
function geom(n: number, cIn: number, cOut: number, h: number, w: number, k: number, s: number, p: number): Conv2dGeom {
  return {
    n, cIn, h, w, cOut, kh: k, kw: k, strideH: s, strideW: s, padH: p, padW: p, dilH: 1, dilW: 1, groups: 1,
    outH: convOutSize(h, k, s, p, 1), outW: convOutSize(w, k, s, p, 1),
  };
}

function flopsOf(op: Op): number {
  if (op.kind === 'matmul') return 2 * op.m * op.n * op.k;
  const g = op.g;
  return 2 * g.n * g.cOut * g.outH * g.outW * (g.cIn / g.groups) * g.kh * g.kw;
}

function shapeOf(op: Op): string {
  if (op.kind === 'matmul') return `${op.m}x${op.k} @ ${op.k}x${op.n}`;
  const g = op.g;
  return `${g.n}x${g.cIn}x${g.h}x${g.w} -> ${g.cOut}x${g.outH}x${g.outW}, k${g.kh} s${g.strideH} p${g.padH}`;
}

/** PatchGAN discriminator layers (input 1x256x256). */
function patchganLayers(base: number, size = 256): Conv2dGeom[] {
  const spec: [number, number, number, number, number][] = [
    [1, base, 4, 2, 1], [base, 2 * base, 4, 2, 1], [2 * base, 4 * base, 4, 2, 1], [4 * base, 8 * base, 4, 1, 1], [8 * base, 1, 4, 1, 1],
  ];
  const out: Conv2dGeom[] = [];
  let h = size;
  for (const [ci, co, k, s, p] of spec) {
    const g = geom(1, ci, co, h, h, k, s, p);
    out.push(g);
    h = g.outH;
  }
  return out;
}

/** Forward then backward (weight + input gradient for every layer, last to first). */
function patchganOps(base: number): Op[] {
  const layers = patchganLayers(base);
  const ops: Op[] = layers.map((g) => ({ kind: 'conv2d', g }));
  for (const g of [...layers].reverse()) ops.push({ kind: 'conv2dGradWeight', g }, { kind: 'conv2dGradInput', g });
  return ops;
}

/**
 * U-Net-like stack: depth 4, base channels, 3x3 pad 1 conv pairs, 2x2 pooling (free here),
 * transposed conv 2x2 stride 2 up (run as conv2dGradInput), skip concat, final 1x1 conv.
 * Backward of a conv: weight grad + input grad; of a transposed conv: conv2d + weight grad.
 */
function unetOps(base = 16, size = 256, depth = 4): Op[] {
  const fwd: Op[] = [];
  const bwd: Op[] = [];
  const conv = (g: Conv2dGeom) => {
    fwd.push({ kind: 'conv2d', g });
    bwd.unshift({ kind: 'conv2dGradWeight', g }, { kind: 'conv2dGradInput', g });
  };
  const up = (g: Conv2dGeom) => {
    fwd.push({ kind: 'conv2dGradInput', g });
    bwd.unshift({ kind: 'conv2dGradWeight', g }, { kind: 'conv2d', g });
  };
  let cin = 1;
  for (let l = 0; l <= depth; l++) {
    const r = size >> l, c = base << l;
    conv(geom(1, cin, c, r, r, 3, 1, 1));
    conv(geom(1, c, c, r, r, 3, 1, 1));
    cin = c;
  }
  for (let l = depth - 1; l >= 0; l--) {
    const r = size >> l, c = base << l;
    up(geom(1, c, 2 * c, r, r, 2, 2, 0)); // the conv whose input-gradient is this up-conv
    conv(geom(1, 2 * c, c, r, r, 3, 1, 1));
    conv(geom(1, c, c, r, r, 3, 1, 1));
  }
  conv(geom(1, base, 1, size, size, 1, 1, 0));
  return [...fwd, ...bwd];
}

// ---------------- buffers and running ----------------
function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

interface Bound { op: Op; run(k: Partial<Kernels>): boolean; inputs: Float32Array[]; release(): void }

/** Binds an op to operands: plain arrays, or resident views of `be` when given (same values). */
function bind(op: Op, seed = 1, be: WasmBackend | null = null): Bound {
  const held: Float32Array[] = [];
  const mkArr = (n: number, fill?: Float32Array): Float32Array => {
    if (!be) return fill ?? new Float32Array(n);
    const v = be.resident(n);
    if (fill) v.set(fill);
    held.push(v);
    return v;
  };
  const rnd = (n: number, sd: number) => mkArr(n, rand(n, sd));
  const release = () => { if (be) for (const v of held.splice(0)) be.release(v); };
  if (op.kind === 'matmul') {
    const { m, k, n } = op;
    const a = rnd(m * k, seed), b = rnd(k * n, seed + 1), out = mkArr(m * n);
    const args: MatmulArgs = { a, b, out, batch: 1, m, k, n, transA: false, transB: false, strideA: 0, strideB: 0 };
    return { op, inputs: [a, b], run: (ks) => ks.matmul?.(args) ?? false, release };
  }
  const g = op.g;
  const nx = g.n * g.cIn * g.h * g.w, nw = g.cOut * (g.cIn / g.groups) * g.kh * g.kw, ny = g.n * g.cOut * g.outH * g.outW;
  const kind = op.kind;
  const [p, q, len] = kind === 'conv2d' ? [rnd(nx, seed), rnd(nw, seed + 1), ny] : kind === 'conv2dGradInput' ? [rnd(ny, seed), rnd(nw, seed + 1), nx] : [rnd(nx, seed), rnd(ny, seed + 1), nw];
  const out = mkArr(len);
  return { op, inputs: [p, q], run: (ks) => ks[kind]?.(p, q, out, g) ?? false, release };
}

/** Wall-clock and CPU-time (all threads) medians of one measurement. */
interface Timing { ms: number; cpuMs: number }

/** Median ms of repeated runs (1 warm-up), at least minReps and until budgetMs is spent (max 25). */
function timeIt(fn: () => void, minReps: number, budgetMs: number, warm = true): number {
  return timeItCpu(fn, minReps, budgetMs, warm).ms;
}

function timeItCpu(fn: () => void, minReps: number, budgetMs: number, warm = true): Timing {
  if (warm) fn();
  const ts: number[] = [];
  const cs: number[] = [];
  const t0 = performance.now();
  while (ts.length < minReps || (performance.now() - t0 < budgetMs && ts.length < 25)) {
    const c0 = process.cpuUsage();
    const s = performance.now();
    fn();
    ts.push(performance.now() - s);
    const c = process.cpuUsage(c0);
    cs.push((c.user + c.system) / 1000);
    if (ts.length >= 2 && performance.now() - t0 > budgetMs * 4) break;
  }
  ts.sort((a, b) => a - b);
  cs.sort((a, b) => a - b);
  return { ms: ts[Math.floor(ts.length / 2)]!, cpuMs: cs[Math.floor(cs.length / 2)]! };
}

/** Two functions timed alternately (1 warm-up each), as timeItCpu: medians for each. */
function timePair(a: () => void, b: () => void, minReps: number, budgetMs: number): [Timing, Timing] {
  a();
  b();
  const ts: number[][] = [[], []], cs: number[][] = [[], []];
  const t0 = performance.now();
  while (ts[0]!.length < minReps || (performance.now() - t0 < budgetMs && ts[0]!.length < 25)) {
    [a, b].forEach((fn, i) => {
      const c0 = process.cpuUsage();
      const s = performance.now();
      fn();
      ts[i]!.push(performance.now() - s);
      const c = process.cpuUsage(c0);
      cs[i]!.push((c.user + c.system) / 1000);
    });
    if (ts[0]!.length >= 2 && performance.now() - t0 > budgetMs * 4) break;
  }
  const med = (x: number[]) => x.slice().sort((p, q) => p - q)[Math.floor(x.length / 2)]!;
  return [{ ms: med(ts[0]!), cpuMs: med(cs[0]!) }, { ms: med(ts[1]!), cpuMs: med(cs[1]!) }];
}

// ---------------- scaled peer cases ----------------
/** Shrinks an op (output channels, then input channels, then image size) to about `target` FLOPs. */
function scaleOp(op: Op, target: number): Op {
  if (flopsOf(op) <= target) return op;
  if (op.kind === 'matmul') {
    const f = flopsOf(op) / target;
    return { ...op, n: Math.max(1, Math.floor(op.n / f)) };
  }
  let g = { ...op.g };
  const fl = () => flopsOf({ kind: op.kind, g });
  if (fl() > target) g.cOut = Math.max(1, Math.floor(g.cOut / (fl() / target)));
  if (fl() > target) g.cIn = Math.max(1, Math.floor(g.cIn / (fl() / target)));
  if (fl() > target) {
    const s = Math.sqrt(fl() / target);
    const h = Math.max(g.kh + 1, Math.floor(g.h / s)), w = Math.max(g.kw + 1, Math.floor(g.w / s));
    g = geom(g.n, g.cIn, g.cOut, h, w, g.kh, g.strideH, g.padH);
  }
  return { kind: op.kind, g };
}

function scaledLabel(orig: Op, s: Op): string {
  if (s === orig) return 'full';
  if (s.kind === 'matmul') return `n=${s.n}`;
  const g = s.g;
  return `${g.cIn}->${g.cOut} @${g.h}x${g.w}`;
}

/** Peer FLOP targets per timed call (~0.3-0.6 s at the peers' measured speeds). */
const TFJS_TARGET: Record<Op['kind'], number> = { matmul: 3e7, conv2d: 6e7, conv2dGradInput: 8e7, conv2dGradWeight: 1.5e6 };
const GPUJS_TARGET: Record<Op['kind'], number> = { matmul: 3e8, conv2d: 3e8, conv2dGradInput: 3e8, conv2dGradWeight: 3e8 };

type TF = typeof import('@tensorflow/tfjs-core');

async function loadTf(): Promise<TF | null> {
  try {
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-cpu');
    // Silence the "install tfjs-node" banner.
    const warn = console.warn, log = console.log;
    console.warn = () => {};
    console.log = () => {};
    try {
      await tf.setBackend('cpu');
      tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(1)).dataSync());
    } finally {
      console.warn = warn;
      console.log = log;
    }
    return tf;
  } catch {
    return null;
  }
}

/** Times one tfjs call of the op (NHWC, same values reinterpreted): GFLOP/s (wall, CPU). */
function tfjsGflops(tf: TF, op: Op): { wall: number; cpu: number } {
  const b = bind(op, 5);
  const [p, q] = b.inputs as [Float32Array, Float32Array];
  let fn: () => void;
  if (op.kind === 'matmul') {
    const a = tf.tensor2d(p, [op.m, op.k]), bb = tf.tensor2d(q, [op.k, op.n]);
    fn = () => tf.tidy(() => void tf.matMul(a, bb).dataSync());
  } else {
    const g = op.g;
    const pad: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [g.padH, g.padH], [g.padW, g.padW], [0, 0]];
    const strides: [number, number] = [g.strideH, g.strideW];
    const x = () => tf.tensor4d(p, [g.n, g.h, g.w, g.cIn]);
    const w = (d: Float32Array) => tf.tensor4d(d, [g.kh, g.kw, g.cIn, g.cOut]);
    const dy = (d: Float32Array) => tf.tensor4d(d, [g.n, g.outH, g.outW, g.cOut]);
    if (op.kind === 'conv2d') {
      const xt = x(), wt = w(q);
      fn = () => tf.tidy(() => void tf.conv2d(xt, wt, strides, pad).dataSync());
    } else if (op.kind === 'conv2dGradInput') {
      const dyt = dy(p), wt = w(q);
      fn = () => tf.tidy(() => void (tf.engine().runKernel('Conv2DBackpropInput', { dy: dyt, filter: wt }, { strides, pad, dataFormat: 'NHWC', inputShape: [g.n, g.h, g.w, g.cIn] } as never) as import('@tensorflow/tfjs-core').Tensor).dataSync());
    } else {
      const xt = x(), dyt = dy(q);
      fn = () => tf.tidy(() => void (tf.engine().runKernel('Conv2DBackpropFilter', { x: xt, dy: dyt }, { strides, pad, dataFormat: 'NHWC', filterShape: [g.kh, g.kw, g.cIn, g.cOut] } as never) as import('@tensorflow/tfjs-core').Tensor).dataSync());
    }
  }
  // One warm-up run (as ours get: the first call of a tfjs kernel is slower), then the median
  // of the runs that fit in ~0.6 s, at least 3.
  const t = timeItCpu(fn, 3, 600, true);
  return { wall: flopsOf(op) / t.ms / 1e6, cpu: flopsOf(op) / t.cpuMs / 1e6 };
}

function gpujsGflops(be: GpujsBackend, op: Op): number {
  const b = bind(op, 7);
  if (!b.run(be.kernels)) return NaN; // compiles (warm-up)
  const ms = timeIt(() => b.run(be.kernels), 1, 0, false);
  return flopsOf(op) / ms / 1e6;
}

// ---------------- report ----------------
interface Row {
  case: string;
  shape: string;
  gflop: number;
  ms: number;
  gflops: number;
  /** GFLOP per CPU-second summed over all threads (robust to other load on a shared machine). */
  cpuGflops: number;
  path: string;
  wasm1tGflops?: number;
  gpujsGflops?: number;
  gpujsCase?: string;
  tfjsGflops?: number;
  tfjsCase?: string;
  /** Estimated tfjs time for the full case (ms, wall) and the 100x budget (tfjs ms / 100). */
  tfjsMs?: number;
  budgetMs?: number;
  /** Our time with resident (zero-copy) operands, and its GFLOP per CPU-second. */
  residentMs?: number;
  residentCpuGflops?: number;
  /** Compute floor: FLOPs at the GEMM's peak (matmul 1024^3 GFLOP/CPU-s x lanes), ms. */
  floorMs?: number;
  /** Estimated tfjs time / our time (wall clock, same process). */
  vsTfjs?: number;
  /** tfjs time / our resident time. */
  vsTfjsResident?: number;
  /** vsTfjsCpu for the resident run. */
  vsTfjsResidentCpu?: number;
  /** Same ratio from CPU time: (our GFLOP/CPU-s x lanes) / tfjs GFLOP/CPU-s, i.e. projected to an idle machine. */
  vsTfjsCpu?: number;
  rssMB: number;
  peakRssMB: number;
}

const f1 = (x: number | undefined, d = 1) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d));

const fx = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '-' : `${Math.round(x)}x`);
const fms = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '-' : x < 10 ? x.toFixed(2) : x.toFixed(1));

function printTable(rows: Row[]): void {
  const head = ['case', 'shape', 'GFLOP', 'ms (median)', 'ms resident', 'floor ms', 'GFLOP/s', 'GFLOP/CPU-s', 'path', '1-thread GFLOP/s', 'gpu.js GFLOP/s', 'tfjs GFLOP/s', 'tfjs peer case', 'tfjs ms', '100x budget ms', 'x tfjs', 'x tfjs resident', 'x tfjs (CPU)', 'x tfjs resident (CPU)', 'RSS MB', 'peak RSS MB'];
  const cells = rows.map((r) => [
    r.case, r.shape, f1(r.gflop, 3), fms(r.ms), fms(r.residentMs), fms(r.floorMs), f1(r.gflops, 1), f1(r.cpuGflops, 1), r.path, f1(r.wasm1tGflops), f1(r.gpujsGflops, 2),
    f1(r.tfjsGflops, 3), r.tfjsCase ?? '-', fms(r.tfjsMs), fms(r.budgetMs), fx(r.vsTfjs), fx(r.vsTfjsResident), fx(r.vsTfjsCpu), fx(r.vsTfjsResidentCpu), f1(r.rssMB, 0), f1(r.peakRssMB, 0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => '| ' + c.map((x, i) => x.padEnd(widths[i]!)).join(' | ') + ' |';
  console.log(line(head));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const c of cells) console.log(line(c));
}

async function run(args: string[]): Promise<void> {
  const o = parse(args);
  const log = (s: string) => (o.json ? process.stderr.write(s + '\n') : console.log(s));
  if (o.relaxed) enableRelaxedSimd();
  const wasm = new WasmBackend({ name: 'wasm', runnerFactory: wasmPoolFactory() });
  await wasm.init();
  const wasm1 = o.single ? new WasmBackend({ name: 'wasm-1t' }) : null;
  const gpujs = o.gpujs ? new GpujsBackend({ mode: 'webasm' }) : null;
  const tf = o.tfjs ? await loadTf() : null;
  log(`# kernels bench, node ${process.version}, ${(await import('node:os')).cpus()[0]?.model ?? '?'} x${(await import('node:os')).availableParallelism()}`);
  log(`# ${wasm.describe()}`);
  if (gpujs) log('# gpu.js: mode webasm (synchronous calls are single-threaded in gpu.js)');
  if (o.tfjs && !tf) log('# tfjs: not available');

  const rows: Row[] = [];
  const tfjsCache = new Map<string, { gflops: number; cpu: number; label: string }>();
  const lanes = wasm.parallel?.lanes ?? 1;
  const want = (name: string) => !o.filter || name.includes(o.filter);

  const peers = (op: Op, row: Row) => {
    if (tf) {
      const key = `${op.kind}:${shapeOf(op)}`;
      let r = tfjsCache.get(key);
      if (!r) {
        const s = scaleOp(op, TFJS_TARGET[op.kind]);
        const t = tfjsGflops(tf, s);
        r = { gflops: t.wall, cpu: t.cpu, label: scaledLabel(op, s) };
        tfjsCache.set(key, r);
      }
      row.tfjsGflops = r.gflops;
      row.tfjsCase = r.label;
      row.tfjsMs = flopsOf(op) / r.gflops / 1e6;
      row.budgetMs = row.tfjsMs / 100;
      row.vsTfjs = row.tfjsMs / row.ms;
      if (row.residentMs !== undefined) row.vsTfjsResident = row.tfjsMs / row.residentMs;
      row.vsTfjsCpu = (row.cpuGflops * lanes) / r.cpu;
      if (row.residentCpuGflops !== undefined) row.vsTfjsResidentCpu = (row.residentCpuGflops * lanes) / r.cpu;
    }
    if (gpujs) {
      const s = scaleOp(op, GPUJS_TARGET[op.kind]);
      row.gpujsGflops = gpujsGflops(gpujs, s);
      row.gpujsCase = scaledLabel(op, s);
      gpujs.dispose();
    }
  };

  const finish = (row: Row) => {
    const mem = process.memoryUsage();
    row.rssMB = mem.rss / 2 ** 20;
    row.peakRssMB = process.resourceUsage().maxRSS / 1024;
    // Which path is faster for this kernel: the benchmark's decision.
    if (row.gpujsGflops !== undefined && row.gpujsGflops > row.gflops) row.path += ' (gpu.js faster: prefer gpujs here)';
    rows.push(row);
    const res = row.residentMs !== undefined ? `; resident operands ${fms(row.residentMs)} ms` : '';
    const tf = row.tfjsMs !== undefined
      ? `; tfjs ${fms(row.tfjsMs)} ms (100x budget ${fms(row.budgetMs)} ms): ${fx(row.vsTfjs)}${row.vsTfjsResident !== undefined ? `, resident ${fx(row.vsTfjsResident)}` : ''} (CPU-normalised ${fx(row.vsTfjsCpu)}${row.vsTfjsResidentCpu !== undefined ? `, resident ${fx(row.vsTfjsResidentCpu)}` : ''})`
      : '';
    const floor = row.floorMs !== undefined ? `; compute floor ${fms(row.floorMs)} ms` : '';
    log(`  ${row.case}: ${fms(row.ms)} ms, ${f1(row.gflops)} GFLOP/s (${f1(row.cpuGflops)} GFLOP/CPU-s)${res}${floor}${tf}; path ${row.path}`);
  };

  // The GEMM's peak per CPU-second (matmul 1024^3, measured first), for the compute floors.
  let peakCpuGflops = 0;
  const floorOf = (op: Op) => (peakCpuGflops > 0 ? flopsOf(op) / (peakCpuGflops * lanes) / 1e6 : undefined);

  const single = (name: string, op: Op) => {
    if (!want(name) && !(name === 'matmul 1024^3' && peakCpuGflops === 0)) return;
    const b = bind(op);
    const br = bind(op, 1, wasm);
    if (!b.run(wasm.kernels) || !br.run(wasm.kernels)) throw new Error(`wasm declined ${name}`);
    const [t, tr] = timePair(() => b.run(wasm.kernels), () => br.run(wasm.kernels), o.minReps, o.budgetMs);
    br.release();
    const fl = flopsOf(op);
    if (name === 'matmul 1024^3') peakCpuGflops = fl / t.cpuMs / 1e6;
    if (!want(name)) return;
    const path = (op.kind === 'matmul' ? wasm.pathFor('matmul') : wasm.pathFor(op.kind, op.g)) + '; copies operands in / result out (resident: in place)';
    const row: Row = {
      case: name, shape: shapeOf(op), gflop: fl / 1e9, ms: t.ms, gflops: fl / t.ms / 1e6, cpuGflops: fl / t.cpuMs / 1e6, path, rssMB: 0, peakRssMB: 0,
      residentMs: tr.ms, residentCpuGflops: fl / tr.cpuMs / 1e6, floorMs: floorOf(op),
    };
    if (wasm1) row.wasm1tGflops = fl / timeIt(() => b.run(wasm1.kernels), Math.min(3, o.minReps), o.budgetMs / 2) / 1e6;
    peers(op, row);
    finish(row);
  };

  const network = (name: string, ops: Op[]) => {
    if (!want(name)) return;
    const bound = ops.map((op, i) => bind(op, 11 + i));
    const boundRes = ops.map((op, i) => bind(op, 11 + i, wasm));
    const runAll = () => { for (const b of bound) if (!b.run(wasm.kernels)) throw new Error('declined'); };
    const runRes = () => { for (const b of boundRes) if (!b.run(wasm.kernels)) throw new Error('declined'); };
    const [{ ms, cpuMs }, tr] = timePair(runAll, runRes, Math.max(3, Math.min(o.minReps, 5)), o.budgetMs);
    for (const b of boundRes) b.release();
    const fl = ops.reduce((s, op) => s + flopsOf(op), 0);
    if (o.breakdown) {
      // Per-call CPU time (best of 3), largest first.
      const per = bound.map((b) => {
        let best = Infinity;
        for (let r = 0; r < 3; r++) {
          const c0 = process.cpuUsage();
          b.run(wasm.kernels);
          const c = process.cpuUsage(c0);
          best = Math.min(best, (c.user + c.system) / 1000);
        }
        return { what: `${b.op.kind} ${shapeOf(b.op)}`, cpuMs: best, gf: flopsOf(b.op) / best / 1e6 };
      });
      per.sort((a, b) => b.cpuMs - a.cpuMs);
      for (const p of per.slice(0, 12)) log(`    ${p.cpuMs.toFixed(1).padStart(7)} CPU-ms ${p.gf.toFixed(1).padStart(5)} GFLOP/CPU-s  ${p.what}`);
    }
    const row: Row = {
      case: name, shape: `${ops.length} conv calls`, gflop: fl / 1e9, ms, gflops: fl / ms / 1e6, cpuGflops: fl / cpuMs / 1e6, path: `wasm (per-op paths as above)`, rssMB: 0, peakRssMB: 0,
      residentMs: tr.ms, residentCpuGflops: fl / tr.cpuMs / 1e6, floorMs: ops.reduce((s, op) => s + (floorOf(op) ?? NaN), 0),
    };
    if (wasm1) {
      const run1 = () => { for (const b of bound) b.run(wasm1.kernels); };
      row.wasm1tGflops = fl / timeIt(run1, 1, 0) / 1e6;
    }
    if (tf) {
      // Sum of per-op tfjs estimates (each op timed once on its scaled copy, cached by shape).
      let tfMs = 0, tfCpuMs = 0;
      for (const op of ops) {
        const key = `${op.kind}:${shapeOf(op)}`;
        let r = tfjsCache.get(key);
        if (!r) {
          const s = scaleOp(op, TFJS_TARGET[op.kind]);
          const t = tfjsGflops(tf, s);
          r = { gflops: t.wall, cpu: t.cpu, label: scaledLabel(op, s) };
          tfjsCache.set(key, r);
        }
        tfMs += flopsOf(op) / r.gflops / 1e6;
        tfCpuMs += flopsOf(op) / r.cpu / 1e6;
      }
      row.tfjsGflops = fl / tfMs / 1e6;
      row.tfjsCase = 'sum of per-op';
      row.tfjsMs = tfMs;
      row.budgetMs = tfMs / 100;
      row.vsTfjs = tfMs / ms;
      row.vsTfjsResident = tfMs / tr.ms;
      row.vsTfjsCpu = (row.cpuGflops * lanes) / (fl / tfCpuMs / 1e6);
      row.vsTfjsResidentCpu = ((row.residentCpuGflops ?? NaN) * lanes) / (fl / tfCpuMs / 1e6);
    }
    finish(row);
  };

  // matmul 1024^3 first: its GFLOP/CPU-s is the GEMM peak behind the compute floors (measured even when filtered out).
  for (const n of [1024, 256, 512]) single(`matmul ${n}^3`, { kind: 'matmul', m: n, k: n, n });
  patchganLayers(64).forEach((g, i) => {
    single(`patchgan64 L${i + 1} fwd`, { kind: 'conv2d', g });
    single(`patchgan64 L${i + 1} grad-in`, { kind: 'conv2dGradInput', g });
    single(`patchgan64 L${i + 1} grad-w`, { kind: 'conv2dGradWeight', g });
  });
  network('PatchGAN-64 fwd+bwd', patchganOps(64));
  network('PatchGAN-32 fwd+bwd', patchganOps(32));
  network('U-Net d4 b16 256^2 fwd+bwd', unetOps(16, 256, 4));

  wasm.dispose();
  gpujs?.dispose();
  if (o.json) console.log(JSON.stringify({ backend: wasm.describe(), rows }, null, 2));
  else {
    console.log('');
    printTable(rows);
    console.log('\nNotes: ms = median wall time; GFLOP/CPU-s = FLOPs / CPU time of all threads (what each busy core delivers;\nwall GFLOP/s approaches lanes x that on an idle machine); peers timed once, on the "peer case" (scaled-down copy) when not "full", throughput extrapolated linearly in FLOPs.\nx tfjs = tfjs wall time / ours (same process); x tfjs resident = the same with our operands resident in wasm memory (no copies);\nx tfjs (CPU) = (our GFLOP/CPU-s x lanes) / tfjs GFLOP/CPU-s, the ratio projected to an idle machine;\n100x budget = tfjs ms / 100; floor ms = FLOPs / (matmul 1024^3 GFLOP/CPU-s x lanes), the time at the GEMM\'s own peak on every lane.');
  }
}

registerSuite({
  name: 'kernels',
  description: 'matmul / conv2d kernels: wasm SIMD vs gpu.js vs TensorFlow.js cpu',
  usage: usageOf('kernels', 'matmul, every PatchGAN conv layer (forward, input grad, weight grad), the whole PatchGAN forward + backward\n' +
    'and a U-Net-like conv stack on the threaded wasm backend, with plain and resident operands interleaved, against\n' +
    'gpu.js (webasm) and TensorFlow.js cpu in this process.', FLAGS),
  run,
});
