/**
 * Node worker-thread lanes (RasterLanes, src/render/lanes/lanes.ts) for the soft rasterizer and
 * the image formation's blur, shading and noise (row bands; src/render/lanes/lanes.ts): each
 * worker evaluates the source of the registered kernels (src/render/lanes/kernels.ts:
 * self-contained functions over typed arrays, plus the helpers they call, declared beside
 * them), then waits on its slot of the shared control array (atomics-pool.ts, the protocol the
 * wasm pool uses too). For a run the main thread posts every worker its job (plain objects of
 * SharedArrayBuffer-backed typed arrays: they are shared, not copied) on a MessagePort, bumps the
 * worker's slot, runs job 0 itself and waits; the worker takes the job with receiveMessageOnPort
 * (synchronous, so it never needs an event-loop turn).
 *
 * A job that throws, a worker that exits and a timeout (`timeoutMs`) each throw on the main
 * thread and retire the workers (the next run starts fresh ones; the render stages then redo
 * the bands on the calling thread). The train command installs a pool by default (withRasterPool, defaultRasterThreads).
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { rasterLanes, setRasterLanes, type RasterLanes, type LaneKernelName } from '../render/lanes/lanes.js';
import { LANE_KERNELS, LANE_HELPERS } from '../render/lanes/kernels.js';
import { AtomicsPool } from './atomics-pool.js';

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

/** Every kernel a lane runs and the helpers they call (the registry, src/render/lanes/kernels.ts). */
const KERNELS: Record<LaneKernelName, (job: never) => number | void> = LANE_KERNELS;
const KERNEL_NAMES = Object.keys(KERNELS) as LaneKernelName[];

/** Runs inside each worker (see AtomicsPoolSpec.setup): the job itself comes on the worker's port. */
function setupCode(): string {
  const kernels = KERNEL_NAMES.map((k) => `${JSON.stringify(k)}: (${KERNELS[k].toString()})`).join(',\n');
  // helpers as function declarations (their source carries their name)
  const helpers = LANE_HELPERS.map((f) => f.toString()).join('\n');
  return `
const { port } = workerData;
${helpers}
const K = {\n${kernels}\n};
function handle() {
  // posted just before the slot was bumped; rarely not delivered yet
  const s = Atomics.load(C, o); // the slot's SEQ field (atomics-pool.ts)
  let m = receiveMessageOnPort(port);
  for (let i = 0; !m && i < 1000; i++) { Atomics.wait(C, o, s, 1); m = receiveMessageOnPort(port); }
  if (!m) throw new Error('no job on the port');
  const { kernel, job } = m.message;
  return K[kernel](job);
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
  private readonly pool: AtomicsPool;
  private ports: MessagePort[] = [];

  constructor(opts: RasterPoolOptions = {}) {
    this.lanes = Math.max(1, Math.floor(opts.threads ?? Math.min(4, availableParallelism())));
    this.minFaces = opts.minFaces ?? 256;
    this.minPixels = opts.minPixels ?? 4096;
    this.minBlurPixels = opts.minBlurPixels ?? 128 * 128;
    this.pool = new AtomicsPool({
      name: 'raster',
      workers: this.lanes - 1,
      timeoutMs: opts.timeoutMs ?? 60_000,
      startTimeoutMs: 30_000,
      setup: setupCode(),
      data: (i) => {
        const ch = new MessageChannel();
        ch.port1.unref();
        this.ports[i] = ch.port1;
        return { workerData: { port: ch.port2 }, transferList: [ch.port2] };
      },
    });
  }

  private start(): void {
    if (this.pool.started) return;
    this.closePorts();
    this.pool.start();
  }

  private retire(): void {
    this.pool.retire();
    this.closePorts();
  }

  private closePorts(): void {
    for (const p of this.ports) p?.close();
    this.ports = [];
  }

  run(kernel: LaneKernelName, jobs: readonly object[]): number[] {
    const fn = KERNELS[kernel] as (j: object) => number | void;
    if (this.lanes === 1 || jobs.length === 1) return jobs.map((j) => (fn(j) as number) ?? 0);
    if (jobs.length > this.lanes) throw new Error(`raster lanes: ${jobs.length} jobs for ${this.lanes} lanes`);
    for (const j of jobs) checkShared(j);
    this.start();
    this.pool.nextRound();
    for (let i = 1; i < jobs.length; i++) {
      this.ports[i - 1].postMessage({ kernel, job: jobs[i] });
      this.pool.post(i - 1, 0);
    }
    const results = new Array<number>(jobs.length).fill(0);
    let mainError: unknown = null;
    try {
      results[0] = (fn(jobs[0]) as number) ?? 0;
    } catch (e) {
      mainError = e;
    }
    const errors: string[] = [];
    for (let i = 1; i < jobs.length; i++) {
      const e = this.pool.await(i - 1);
      if (e !== null) errors.push(`raster worker ${i - 1} failed in ${kernel}: ${e}`);
      else results[i] = this.pool.result(i - 1);
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
    try {
      this.pool.killWorkerForTest(i);
    } finally {
      this.closePorts();
    }
  }

  dispose(): void {
    if (rasterLanes() === this) setRasterLanes(null);
    this.pool.stop();
    this.closePorts();
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
