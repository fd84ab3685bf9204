/**
 * Node worker-thread pool for the wasm backend (src/autodiff/backends/wasm). Every worker
 * instantiates the backend's compiled module over the same shared WebAssembly.Memory; the main
 * thread posts a task (function index + parameter-block address) to each worker, runs its own
 * share, and waits synchronously, so kernels keep their synchronous interface. The slot protocol
 * and its failure handling (a trap, a dead worker, a timeout: an Error on the main thread, and
 * fresh workers next run) are atomics-pool.ts's, shared with the raster lanes.
 */
import { availableParallelism } from 'node:os';
import type { ParallelRunner, RunnerFactory, WasmContext, WasmFn } from '../autodiff/backends/wasm/backend.js';
import { AtomicsPool } from './atomics-pool.js';

export interface WasmPoolOptions {
  /** Total lanes including the calling thread (default: available parallelism). */
  threads?: number;
  /** Longest a task may run before the main thread gives up (ms). */
  timeoutMs?: number;
  /** How long to wait for a new worker to instantiate the module (ms). */
  startTimeoutMs?: number;
}

// Every export, by a record so that the type checker finds one missing from the workers' table.
const EXPORTED: Record<WasmFn, true> = {
  gemm: true, im2col: true, col2im: true, dconv: true, dconvW: true, dconvP: true, copy2d: true, packAll: true, nop: true, fail: true, spin: true,
  winoIn2: true, winoOut2: true, winoW2: true, winoDy2: true, winoWOut2: true,
  winoIn3: true, winoOut3: true, winoW3: true, winoDy3: true, winoWOut3: true,
  winoIn4: true, winoOut4: true, winoW4: true, winoDy4: true, winoWOut4: true,
};
const FNS = Object.keys(EXPORTED) as WasmFn[];

// Runs inside each worker (see AtomicsPoolSpec.setup).
const SETUP = `
const { module, memory, fns } = workerData;
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
const table = fns.map((n) => ex[n]);
function handle(f, arg) {
  table[f](arg);
}
`;

export class WasmWorkerPool implements ParallelRunner {
  readonly lanes: number;
  private readonly pool: AtomicsPool;
  private disposed = false;

  constructor(private readonly ctx: WasmContext, opts: WasmPoolOptions = {}) {
    this.lanes = Math.max(1, Math.floor(opts.threads ?? availableParallelism()));
    this.pool = new AtomicsPool({
      name: 'wasm',
      workers: this.lanes - 1,
      timeoutMs: opts.timeoutMs ?? 300_000,
      startTimeoutMs: opts.startTimeoutMs ?? 30_000,
      setup: SETUP,
      data: () => ({ workerData: { module: ctx.module, memory: ctx.memory, fns: FNS } }),
    });
  }

  get label(): string {
    return `${this.lanes} lanes (main thread + ${this.lanes - 1} worker_threads, shared memory, Atomics.wait)`;
  }

  /** Starts the workers and waits (synchronously) until each has instantiated the module. */
  start(): void {
    if (this.disposed) throw new Error('wasm worker pool is disposed');
    this.pool.start();
  }

  run(fn: WasmFn, params: readonly number[]): void {
    this.dispatch(FNS.indexOf(fn), fn, params);
  }

  /** Test hook: makes worker `i` exit its thread while running a job. */
  killWorkerForTest(i = 0): void {
    this.pool.killWorkerForTest(i);
  }

  /** Test hook: runs the tasks on the workers only (the calling thread just waits). */
  runOnWorkersForTest(fn: WasmFn, params: readonly number[]): void {
    this.dispatch(FNS.indexOf(fn), fn, [0, ...params], true);
  }

  private dispatch(fi: number, fn: WasmFn, params: readonly number[], mainIdle = false): void {
    if (fi < 0) throw new Error(`unknown wasm function ${fn}`);
    const local = mainIdle ? () => {} : this.ctx.exports[fn];
    if (!mainIdle && (this.lanes === 1 || params.length === 1)) {
      for (const p of params) local(p);
      return;
    }
    this.start();
    for (let base = 0; base < params.length; base += this.lanes) {
      const n = Math.min(this.lanes, params.length - base);
      this.pool.nextRound();
      for (let i = 1; i < n; i++) this.pool.post(i - 1, fi, params[base + i]!);
      let mainError: unknown = null;
      try {
        local(params[base]!);
      } catch (e) {
        mainError = e;
      }
      const errors: string[] = [];
      for (let i = 1; i < n; i++) {
        const e = this.pool.await(i - 1);
        if (e !== null) errors.push(`wasm worker ${i - 1} failed in ${fn}: ${e}`);
      }
      if (errors.length) {
        this.pool.retire();
        throw new Error(errors.join('\n'));
      }
      if (mainError) throw mainError;
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.pool.stop();
    this.disposed = true;
  }
}

/** A RunnerFactory for WasmBackend that starts the pool immediately. */
export function wasmPoolFactory(opts: WasmPoolOptions = {}): RunnerFactory {
  return (ctx: WasmContext) => {
    const pool = new WasmWorkerPool(ctx, opts);
    pool.start();
    return pool;
  };
}
