/**
 * Node worker-thread lanes (RasterLanes, src/render/lanes/lanes.ts) for the soft rasterizer and
 * the image formation's blur, shading and noise (row bands; src/render/lanes/lanes.ts): each
 * worker evaluates the source of the registered kernels (src/render/lanes/kernels.ts:
 * self-contained functions over typed arrays, plus the helpers they call, declared beside
 * them), then waits on a shared control array. For a run the main thread
 * posts every worker its job (plain objects of SharedArrayBuffer-backed typed arrays: they are
 * shared, not copied) on a MessagePort, bumps the worker's sequence number, runs job 0 itself
 * and waits with Atomics.wait; the worker takes the job with receiveMessageOnPort (synchronous,
 * so it never needs an event-loop turn).
 *
 * Failure handling as in wasm-pool.ts: an exception in a worker is caught and reported through
 * the control array, a worker that exits marks itself dead, and the main thread gives up after
 * `timeoutMs`; each case throws on the main thread and retires the workers (the next run starts
 * fresh ones; softRasterize / gaussianBlur then redo the bands on the calling thread). Workers
 * are unref'd. The train command installs a pool by default (withRasterPool, defaultRasterThreads).
 */
import { Worker, MessageChannel, type MessagePort } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { rasterLanes, setRasterLanes, type RasterLanes, type LaneKernelName } from '../render/lanes/lanes.js';
import { LANE_KERNELS, LANE_HELPERS } from '../render/lanes/kernels.js';

export interface RasterPoolOptions {
  /** Total lanes including the calling thread (default: available parallelism, at most 4). */
  threads?: number;
  /** Longest a band may take before the main thread gives up (ms). */
  timeoutMs?: number;
  /** Renders with fewer surviving faces / pixels stay on the calling thread (default 256 / 4096). */
  minFaces?: number;
  minPixels?: number;
  /** Image-formation ops (blur, shading, noise) on smaller images stay on the calling thread (default 128 x 128). */
  minBlurPixels?: number;
}

const SLOT = 8;
/** Control slot fields. */
const SEQ = 0, DONE = 1, STATUS = 2, RESULT = 3;
/** Every kernel a lane runs and the helpers they call (the registry, src/render/lanes/kernels.ts). */
const KERNELS: Record<LaneKernelName, (job: never) => number | void> = LANE_KERNELS;
const KERNEL_NAMES = Object.keys(KERNELS) as LaneKernelName[];

function workerCode(): string {
  const kernels = KERNEL_NAMES.map((k) => `${JSON.stringify(k)}: (${KERNELS[k].toString()})`).join(',\n');
  // helpers as top-level function declarations (their source carries their name)
  const helpers = LANE_HELPERS.map((f) => f.toString()).join('\n');
  return `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const { ctrl, port, index } = workerData;
${helpers}
const K = {\n${kernels}\n};
const C = new Int32Array(ctrl);
const o = index * ${SLOT};
process.on('exit', () => {
  if (Atomics.load(C, o + ${STATUS}) === 0) Atomics.store(C, o + ${STATUS}, 2);
  Atomics.store(C, o + ${DONE}, Atomics.load(C, o + ${SEQ}));
  Atomics.notify(C, o + ${DONE});
});
let seen = 0;
for (;;) {
  let s;
  while ((s = Atomics.load(C, o + ${SEQ})) === seen) Atomics.wait(C, o + ${SEQ}, seen, 1000);
  seen = s;
  let m = receiveMessageOnPort(port);
  for (let i = 0; !m && i < 1000; i++) { Atomics.wait(C, o + ${SEQ}, s, 1); m = receiveMessageOnPort(port); }
  try {
    if (!m) throw new Error('no job on the port');
    const { kernel, job } = m.message;
    if (kernel === 'stop') break;
    if (kernel === 'exit') process.exit(3);
    const r = K[kernel](job);
    Atomics.store(C, o + ${RESULT}, typeof r === 'number' ? r : 0);
    Atomics.store(C, o + ${STATUS}, 0);
  } catch (e) {
    Atomics.store(C, o + ${STATUS}, 1);
  }
  Atomics.store(C, o + ${DONE}, seen);
  Atomics.notify(C, o + ${DONE});
}
`;
}

/** Every typed array in a job must be over shared memory (a copy would lose the lane's writes). */
function checkShared(job: object): void {
  for (const [k, v] of Object.entries(job)) {
    if (ArrayBuffer.isView(v) && !(v.buffer instanceof SharedArrayBuffer)) throw new Error(`raster lanes: job field ${k} is not in shared memory`);
  }
}

export class RasterWorkerPool implements RasterLanes {
  readonly lanes: number;
  readonly minFaces: number;
  readonly minPixels: number;
  readonly minBlurPixels: number;
  /** Runs completed on several threads (tests check that the lanes were really used). */
  completedRuns = 0;
  private workers: { w: Worker; port: MessagePort }[] = [];
  private readonly ctrl: Int32Array;
  private seq = 0;
  private readonly timeoutMs: number;

  constructor(opts: RasterPoolOptions = {}) {
    this.lanes = Math.max(1, Math.floor(opts.threads ?? Math.min(4, availableParallelism())));
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.minFaces = opts.minFaces ?? 256;
    this.minPixels = opts.minPixels ?? 4096;
    this.minBlurPixels = opts.minBlurPixels ?? 128 * 128;
    this.ctrl = new Int32Array(new SharedArrayBuffer(Math.max(1, this.lanes - 1) * SLOT * 4));
  }

  private start(): void {
    if (this.workers.length === this.lanes - 1) return;
    this.ctrl.fill(0);
    this.seq = 0;
    const code = workerCode();
    for (let i = 0; i < this.lanes - 1; i++) {
      const ch = new MessageChannel();
      const w = new Worker(code, { eval: true, workerData: { ctrl: this.ctrl.buffer, port: ch.port2, index: i }, transferList: [ch.port2] });
      w.unref();
      ch.port1.unref();
      w.on('error', () => {});
      this.workers.push({ w, port: ch.port1 });
    }
  }

  private retire(): void {
    for (const { w, port } of this.workers) {
      port.close();
      void w.terminate();
    }
    this.workers = [];
  }

  private post(i: number, msg: unknown): void {
    const o = i * SLOT;
    this.workers[i].port.postMessage(msg);
    Atomics.store(this.ctrl, o + STATUS, 0);
    Atomics.store(this.ctrl, o + SEQ, this.seq);
    Atomics.notify(this.ctrl, o + SEQ);
  }

  /** Waits until worker i finished job this.seq; returns an error message or null. */
  private await(i: number): string | null {
    const o = i * SLOT;
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const d = Atomics.load(this.ctrl, o + DONE);
      if (d === this.seq) break;
      Atomics.wait(this.ctrl, o + DONE, d, 100);
      if (Atomics.load(this.ctrl, o + DONE) !== this.seq && Date.now() > deadline) return `no answer after ${this.timeoutMs} ms`;
    }
    const st = Atomics.load(this.ctrl, o + STATUS);
    return st === 1 ? 'the kernel threw' : st === 2 ? 'worker thread exited' : null;
  }

  run(kernel: LaneKernelName, jobs: readonly object[]): number[] {
    const fn = KERNELS[kernel] as (j: object) => number | void;
    if (this.lanes === 1 || jobs.length === 1) return jobs.map((j) => (fn(j) as number) ?? 0);
    if (jobs.length > this.lanes) throw new Error(`raster lanes: ${jobs.length} jobs for ${this.lanes} lanes`);
    for (const j of jobs) checkShared(j);
    this.start();
    this.seq++;
    for (let i = 1; i < jobs.length; i++) this.post(i - 1, { kernel, job: jobs[i] });
    const results = new Array<number>(jobs.length).fill(0);
    let mainError: unknown = null;
    try {
      results[0] = (fn(jobs[0]) as number) ?? 0;
    } catch (e) {
      mainError = e;
    }
    const errors: string[] = [];
    for (let i = 1; i < jobs.length; i++) {
      const e = this.await(i - 1);
      if (e !== null) errors.push(`raster worker ${i - 1} failed in ${kernel}: ${e}`);
      else results[i] = Atomics.load(this.ctrl, (i - 1) * SLOT + RESULT);
    }
    if (errors.length) {
      this.retire();
      throw new Error(errors.join('\n'));
    }
    if (mainError) throw mainError;
    this.completedRuns++;
    return results;
  }

  /** Test hook: makes worker `i` exit its thread while running a job (the run throws). */
  killWorkerForTest(i = 0): void {
    this.start();
    this.seq++;
    this.post(i, { kernel: 'exit', job: {} });
    const e = this.await(i);
    this.retire();
    throw new Error(`raster worker ${i} failed: ${e ?? 'exited'}`);
  }

  dispose(): void {
    if (rasterLanes() === this) setRasterLanes(null);
    for (let i = 0; i < this.workers.length; i++) {
      this.seq++;
      this.post(i, { kernel: 'stop', job: {} });
    }
    this.retire();
  }
}

/**
 * Raster lanes the Node commands (train, generate, bench render) use unless told otherwise: the
 * available parallelism, at most 4 (2 on the 2-core reference machine). The lanes change no
 * rendered value (every pixel is computed by one lane with the same expressions), so runs stay
 * reproducible with any count; 1 keeps the rasterizer on the calling thread.
 */
export function defaultRasterThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

/**
 * Runs fn with a raster pool of `threads` lanes installed (none for 1 or fewer), then disposes
 * it and restores the lanes installed before, also when fn throws.
 */
export async function withRasterPool<T>(threads: number, fn: () => Promise<T>): Promise<T> {
  if (!(threads > 1)) return fn();
  const before = rasterLanes();
  const pool = new RasterWorkerPool({ threads });
  setRasterLanes(pool);
  try {
    return await fn();
  } finally {
    pool.dispose();
    setRasterLanes(before);
  }
}

/** Starts a pool and installs it as the soft rasterizer's lanes; returns it (dispose() ends it). */
export function useRasterPool(opts: RasterPoolOptions = {}): RasterWorkerPool {
  const pool = new RasterWorkerPool(opts);
  setRasterLanes(pool.lanes > 1 ? pool : null);
  return pool;
}
