/**
 * The worker-thread protocol both thread pools use (raster-pool.ts for the render lanes,
 * wasm-pool.ts for the wasm backend): a shared Int32 control slot per worker and synchronous
 * waits with Atomics, so that the calling thread runs its own share of a job and waits without
 * an event-loop turn (the kernels keep their synchronous interface).
 *
 * Slot fields: SEQ (the job number the main thread posted), DONE (the last job the worker
 * finished), STATUS (0 ok, 1 the job threw, 2 the thread exited), FN / ARG (what to run), RESULT
 * (the job's number), READY (1 started, -1 failed to start) and MSGLEN (the length of an error
 * message the worker wrote into its part of a shared byte buffer).
 *
 * Failure handling, the same for both pools: an exception in a worker is caught there and reported
 * with its message; a worker whose thread exits marks itself dead from its 'exit' handler, which
 * the waiting main thread notices at once; the main thread waits in short slices and gives up
 * after `timeoutMs`. Each case is returned as a message by `await`; the owner then retires the
 * workers (the next run starts fresh ones). Workers are unref'd.
 */
import { Worker, type TransferListItem } from 'node:worker_threads';

const SLOT = 16;
const SEQ = 0, DONE = 1, STATUS = 2, FN = 3, ARG = 4, READY = 5, MSGLEN = 6, RESULT = 7;
const MSG_BYTES = 2048;
/** Function codes the protocol itself handles. */
const FN_STOP = -1, FN_EXIT = -2;

export interface AtomicsPoolSpec {
  /** Names the workers in messages ('raster worker 0 failed ...'). */
  name: string;
  workers: number;
  /** Longest a job may run before the main thread gives up (ms). */
  timeoutMs: number;
  /** How long to wait for a new worker to finish `setup` (ms). */
  startTimeoutMs: number;
  /**
   * CommonJS source run once in each worker, as a function body (with `workerData`,
   * `receiveMessageOnPort` and the control array `C` with this worker's slot offset `o` in
   * scope); it must declare `function handle(fn, arg)`, which runs one job and may return a
   * number. Throwing from it fails the worker's start-up with that message.
   */
  setup: string;
  /** Extra workerData (and what to transfer) for worker i. */
  data(i: number): { workerData: Record<string, unknown>; transferList?: TransferListItem[] };
}

function workerCode(setup: string): string {
  return `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const { ctrl, msg, index } = workerData;
const C = new Int32Array(ctrl);
const M = new Uint8Array(msg);
const o = index * ${SLOT};
const mo = index * ${MSG_BYTES};
function report(e) {
  const b = new TextEncoder().encode(String((e && e.stack) || e)).subarray(0, ${MSG_BYTES});
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
let handle;
try {
  handle = (function () {
${setup}
    return handle;
  })();
} catch (e) {
  report(e);
  Atomics.store(C, o + ${STATUS}, 1);
  process.exit(1);
}
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
    const r = handle(f, Atomics.load(C, o + ${ARG}));
    Atomics.store(C, o + ${RESULT}, typeof r === 'number' ? r : 0);
  } catch (e) {
    report(e);
    Atomics.store(C, o + ${STATUS}, 1);
  }
  Atomics.store(C, o + ${DONE}, seen);
  Atomics.notify(C, o + ${DONE});
}
`;
}

export class AtomicsPool {
  private workers: Worker[] = [];
  private readonly ctrl: Int32Array;
  private readonly msg: Uint8Array;
  private seq = 0;
  private code: string | null = null;

  constructor(private readonly spec: AtomicsPoolSpec) {
    const n = Math.max(1, spec.workers);
    this.ctrl = new Int32Array(new SharedArrayBuffer(n * SLOT * 4));
    this.msg = new Uint8Array(new SharedArrayBuffer(n * MSG_BYTES));
  }

  get started(): boolean {
    return this.workers.length === this.spec.workers;
  }

  /** Starts the workers (when not running) and waits synchronously until each has run its setup. */
  start(): void {
    if (this.started) return;
    this.ctrl.fill(0);
    this.seq = 0;
    this.code ??= workerCode(this.spec.setup);
    for (let i = 0; i < this.spec.workers; i++) {
      const { workerData, transferList } = this.spec.data(i);
      const w = new Worker(this.code, { eval: true, workerData: { ...workerData, ctrl: this.ctrl.buffer, msg: this.msg.buffer, index: i }, transferList });
      w.unref();
      // Errors are reported through shared memory; keep 'error' events from crashing the process.
      w.on('error', () => {});
      this.workers.push(w);
    }
    const deadline = Date.now() + this.spec.startTimeoutMs;
    for (let i = 0; i < this.workers.length; i++) {
      const o = i * SLOT;
      for (;;) {
        const r = Atomics.load(this.ctrl, o + READY);
        if (r === 1) break;
        if (r === -1 || Date.now() > deadline) {
          const why = r === -1 ? this.message(i) || 'worker exited during start-up' : 'timed out starting';
          this.retire();
          throw new Error(`${this.spec.name} worker ${i}: ${why}`);
        }
        Atomics.wait(this.ctrl, o + READY, 0, 50);
      }
    }
  }

  /** Terminates all workers (after a failure or on dispose); the next start makes fresh ones. */
  retire(): void {
    for (const w of this.workers) void w.terminate();
    this.workers = [];
  }

  /** A new round of jobs: one post per worker, then one await per posted worker. */
  nextRound(): void {
    this.seq++;
  }

  /** Posts job (fn, arg) of this round to worker i. */
  post(i: number, fn: number, arg = 0): void {
    const o = i * SLOT;
    Atomics.store(this.ctrl, o + STATUS, 0);
    Atomics.store(this.ctrl, o + MSGLEN, 0);
    Atomics.store(this.ctrl, o + FN, fn);
    Atomics.store(this.ctrl, o + ARG, arg);
    Atomics.store(this.ctrl, o + SEQ, this.seq);
    Atomics.notify(this.ctrl, o + SEQ);
  }

  /** Waits until worker i finished this round's job; returns an error message or null. */
  await(i: number): string | null {
    const o = i * SLOT;
    const deadline = Date.now() + this.spec.timeoutMs;
    for (;;) {
      const d = Atomics.load(this.ctrl, o + DONE);
      if (d === this.seq) break;
      Atomics.wait(this.ctrl, o + DONE, d, 100);
      if (Atomics.load(this.ctrl, o + STATUS) === 2) return 'worker thread exited';
      if (Atomics.load(this.ctrl, o + DONE) !== this.seq && Date.now() > deadline) {
        return `no answer after ${this.spec.timeoutMs} ms (worker hung or died)`;
      }
    }
    const st = Atomics.load(this.ctrl, o + STATUS);
    if (st === 1) return this.message(i) || 'the job threw';
    if (st === 2) return 'worker thread exited';
    return null;
  }

  /** The number worker i's job of this round returned. */
  result(i: number): number {
    return Atomics.load(this.ctrl, i * SLOT + RESULT);
  }

  private message(i: number): string {
    const len = Atomics.load(this.ctrl, i * SLOT + MSGLEN);
    return new TextDecoder().decode(this.msg.slice(i * MSG_BYTES, i * MSG_BYTES + len));
  }

  /** Test hook: makes worker i exit its thread while running a job; throws with what the wait saw. */
  killWorkerForTest(i = 0): never {
    this.start();
    this.nextRound();
    this.post(i, FN_EXIT);
    const e = this.await(i);
    this.retire();
    throw new Error(`${this.spec.name} worker ${i} failed: ${e ?? 'exited'}`);
  }

  /** Stops the workers (each leaves its loop) and terminates them. */
  stop(): void {
    if (this.started) {
      this.nextRound();
      for (let i = 0; i < this.workers.length; i++) this.post(i, FN_STOP);
    }
    this.retire();
  }
}
