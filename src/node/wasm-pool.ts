/**
 * Node worker-thread pool for the wasm backend (src/autodiff/backends/wasm). Every worker
 * instantiates the backend's compiled module over the same shared WebAssembly.Memory; the main
 * thread posts a task (function index + parameter-block address) into a shared control array,
 * runs its own share, and waits synchronously with Atomics.wait, so kernels keep their
 * synchronous interface.
 *
 * Failure handling: an exception (e.g. a wasm trap) in a worker is caught there and reported
 * through the control array with its message; a worker whose thread exits marks itself dead from
 * its 'exit' handler; the main thread waits in short slices and also gives up after
 * `timeoutMs` without completion. Each case throws an Error on the main thread and retires the
 * pool's workers (the next run starts fresh ones). Workers are unref'd and dispose() ends them.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { ParallelRunner, RunnerFactory, WasmContext, WasmFn } from '../autodiff/backends/wasm/backend.js';

export interface WasmPoolOptions {
  /** Total lanes including the calling thread (default: available parallelism). */
  threads?: number;
  /** Longest a task may run before the main thread gives up (ms). */
  timeoutMs?: number;
  /** How long to wait for a new worker to instantiate the module (ms). */
  startTimeoutMs?: number;
}

const FNS: readonly WasmFn[] = ['gemm', 'im2col', 'col2im', 'dconv', 'dconvW', 'dconvP', 'copy2d', 'packAll', 'nop', 'fail', 'spin'];
const SLOT = 16;
/** Control slot fields. */
const SEQ = 0, DONE = 1, STATUS = 2, FN = 3, ARG = 4, READY = 5, MSGLEN = 6;
const MSG_BYTES = 2048;
/** Special function codes. */
const FN_STOP = -1, FN_EXIT = -2;

// Runs inside each worker (CommonJS, eval: true), so it works both from TS sources under vitest
// and from the esbuild bundle.
const WORKER_CODE = `
const { workerData } = require('node:worker_threads');
const { module, memory, ctrl, msg, index, fns } = workerData;
const C = new Int32Array(ctrl);
const M = new Uint8Array(msg);
const o = index * ${SLOT};
const mo = index * ${MSG_BYTES};
function report(e) {
  let s = String((e && e.stack) || e);
  const b = new TextEncoder().encode(s).subarray(0, ${MSG_BYTES});
  M.set(b, mo);
  Atomics.store(C, o + ${MSGLEN}, b.length);
}
process.on('exit', () => {
  if (Atomics.load(C, o + ${STATUS}) === 0) Atomics.store(C, o + ${STATUS}, 2);
  Atomics.store(C, o + ${READY}, -1);
  Atomics.notify(C, o + ${READY});
  Atomics.store(C, o + ${DONE}, Atomics.load(C, o + ${SEQ}));
  Atomics.notify(C, o + ${DONE});
});
let ex;
try {
  ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
} catch (e) {
  report(e);
  Atomics.store(C, o + ${STATUS}, 1);
  process.exit(1);
}
const table = fns.map((n) => ex[n]);
Atomics.store(C, o + ${READY}, 1);
Atomics.notify(C, o + ${READY});
let seen = 0;
for (;;) {
  let s;
  while ((s = Atomics.load(C, o + ${SEQ})) === seen) Atomics.wait(C, o + ${SEQ}, seen, 500);
  seen = s;
  const f = Atomics.load(C, o + ${FN});
  if (f === ${FN_STOP}) break;
  if (f === ${FN_EXIT}) process.exit(3);
  try {
    table[f](Atomics.load(C, o + ${ARG}));
  } catch (e) {
    report(e);
    Atomics.store(C, o + ${STATUS}, 1);
  }
  Atomics.store(C, o + ${DONE}, seen);
  Atomics.notify(C, o + ${DONE});
}
`;

export class WasmWorkerPool implements ParallelRunner {
  readonly lanes: number;
  private workers: Worker[] = [];
  private readonly ctrl: Int32Array;
  private readonly msg: Uint8Array;
  private seq = 0;
  private disposed = false;
  private readonly timeoutMs: number;
  private readonly startTimeoutMs: number;

  constructor(private readonly ctx: WasmContext, opts: WasmPoolOptions = {}) {
    this.lanes = Math.max(1, Math.floor(opts.threads ?? availableParallelism()));
    this.timeoutMs = opts.timeoutMs ?? 300_000;
    this.startTimeoutMs = opts.startTimeoutMs ?? 30_000;
    const nw = this.lanes - 1;
    this.ctrl = new Int32Array(new SharedArrayBuffer(Math.max(1, nw) * SLOT * 4));
    this.msg = new Uint8Array(new SharedArrayBuffer(Math.max(1, nw) * MSG_BYTES));
  }

  get label(): string {
    return `${this.lanes} lanes (main thread + ${this.lanes - 1} worker_threads, shared memory, Atomics.wait)`;
  }

  /** Starts the workers and waits (synchronously) until each has instantiated the module. */
  start(): void {
    if (this.disposed) throw new Error('wasm worker pool is disposed');
    if (this.workers.length === this.lanes - 1) return;
    this.ctrl.fill(0);
    this.seq = 0;
    for (let i = 0; i < this.lanes - 1; i++) {
      const w = new Worker(WORKER_CODE, {
        eval: true,
        workerData: { module: this.ctx.module, memory: this.ctx.memory, ctrl: this.ctrl.buffer, msg: this.msg.buffer, index: i, fns: FNS },
      });
      w.unref();
      // Errors are reported through shared memory; keep 'error' events from crashing the process.
      w.on('error', () => {});
      this.workers.push(w);
    }
    const deadline = Date.now() + this.startTimeoutMs;
    for (let i = 0; i < this.workers.length; i++) {
      const o = i * SLOT;
      for (;;) {
        const r = Atomics.load(this.ctrl, o + READY);
        if (r === 1) break;
        if (r === -1 || Date.now() > deadline) {
          const why = r === -1 ? this.message(i) || 'worker exited during start-up' : 'timed out starting';
          this.retire();
          throw new Error(`wasm worker ${i}: ${why}`);
        }
        Atomics.wait(this.ctrl, o + READY, 0, 50);
      }
    }
  }

  private message(i: number): string {
    const len = Atomics.load(this.ctrl, i * SLOT + MSGLEN);
    return new TextDecoder().decode(this.msg.slice(i * MSG_BYTES, i * MSG_BYTES + len));
  }

  /** Terminates all workers (after a failure or on dispose). */
  private retire(): void {
    for (const w of this.workers) void w.terminate();
    this.workers = [];
  }

  private post(i: number, fn: number, arg: number): void {
    const o = i * SLOT;
    Atomics.store(this.ctrl, o + FN, fn);
    Atomics.store(this.ctrl, o + ARG, arg);
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
      if (Atomics.load(this.ctrl, o + STATUS) === 2) return 'worker thread exited';
      if (Atomics.load(this.ctrl, o + DONE) !== this.seq && Date.now() > deadline) {
        return `no answer after ${this.timeoutMs} ms (worker hung or died)`;
      }
    }
    const st = Atomics.load(this.ctrl, o + STATUS);
    if (st === 1) return this.message(i) || 'failed';
    if (st === 2) return 'worker thread exited';
    return null;
  }

  run(fn: WasmFn, params: readonly number[]): void {
    this.dispatch(FNS.indexOf(fn), fn, params);
  }

  /** Test hook: makes worker `i` exit its thread while running a job. */
  killWorkerForTest(i = 0): void {
    this.start();
    this.seq++;
    this.post(i, FN_EXIT, 0);
    const err = this.await(i);
    this.retire();
    throw new Error(`wasm worker ${i} failed: ${err ?? 'exited'}`);
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
      this.seq++;
      for (let i = 1; i < n; i++) this.post(i - 1, fi, params[base + i]!);
      let mainError: unknown = null;
      try {
        local(params[base]!);
      } catch (e) {
        mainError = e;
      }
      const errors: string[] = [];
      for (let i = 1; i < n; i++) {
        const e = this.await(i - 1);
        if (e !== null) errors.push(`wasm worker ${i - 1} failed in ${fn}: ${e}`);
      }
      if (errors.length) {
        this.retire();
        throw new Error(errors.join('\n'));
      }
      if (mainError) throw mainError;
    }
  }

  dispose(): void {
    if (this.disposed) return;
    for (let i = 0; i < this.workers.length; i++) {
      this.seq++;
      this.post(i, FN_STOP, 0);
    }
    this.retire();
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
