/**
 * Task dispatch of the wasm backend: a kernel call becomes one or more tasks, each one call of
 * an exported function with the address of its parameter block (params.ts), run inline or on a
 * ParallelRunner's lanes. Threads are optional and injected: a RunnerFactory gets the compiled
 * module and the (shared) memory and returns the runner. Nothing here imports Node; the Node
 * worker pool is in src/node/.
 */
import { MAX_TASKS, PARAM_BASE, PARAM_BYTES } from './memory.js';

export interface WasmExports {
  gemm(p: number): void;
  im2col(p: number): void;
  col2im(p: number): void;
  dconv(p: number): void;
  dconvW(p: number): void;
  dconvP(p: number): void;
  copy2d(p: number): void;
  packAll(p: number): void;
  /** Winograd transforms (emit/winograd.ts), one set per kernel size 2, 3 and 4. */
  winoIn2(p: number): void;
  winoOut2(p: number): void;
  winoW2(p: number): void;
  winoDy2(p: number): void;
  winoWOut2(p: number): void;
  winoIn3(p: number): void;
  winoOut3(p: number): void;
  winoW3(p: number): void;
  winoDy3(p: number): void;
  winoWOut3(p: number): void;
  winoIn4(p: number): void;
  winoOut4(p: number): void;
  winoW4(p: number): void;
  winoDy4(p: number): void;
  winoWOut4(p: number): void;
  nop(p: number): void;
  fail(p: number): void;
  /** Test hook: never returns. */
  spin(p: number): void;
}
export type WasmFn = keyof WasmExports;

export interface WasmContext {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** The calling thread's instance. */
  exports: WasmExports;
}

/** Runs tasks of one exported function, possibly across threads sharing the memory. */
export interface ParallelRunner {
  /** Number of lanes that run concurrently (the calling thread counts as one). */
  readonly lanes: number;
  /** A line for describe(). */
  readonly label: string;
  /**
   * Calls exports[fn](p) for every p in params (byte addresses of parameter blocks), at most
   * `lanes` at once, and returns when all are done. Throws (never hangs) if one fails.
   */
  run(fn: WasmFn, params: readonly number[]): void;
  dispose(): void;
}

export type RunnerFactory = (ctx: WasmContext) => ParallelRunner | Promise<ParallelRunner>;

export class Dispatch {
  runner: ParallelRunner | null = null;

  /**
   * `exports` gives the calling thread's instance (created lazily); below `minWork` elements
   * the split helpers keep a job on one lane.
   */
  constructor(private readonly exports: () => WasmExports, private readonly i32: () => Int32Array, readonly minWork: number) {}

  get lanes(): number {
    return this.runner ? Math.min(this.runner.lanes, MAX_TASKS) : 1;
  }

  /** Byte address of task t's parameter block. */
  param(t: number): number {
    return PARAM_BASE + t * PARAM_BYTES;
  }

  /** Runs tasks on the pool when there is more than one, else inline. */
  run(fn: WasmFn, params: number[]): void {
    if (params.length === 0) return;
    if (params.length === 1 || !this.runner) {
      const f = this.exports()[fn];
      for (const p of params) f(p);
    } else {
      this.runner.run(fn, params);
    }
  }

  /**
   * Runs `fn` on [0, n) split into per-lane ranges (rounded to `align`) written at slots lo / hi
   * of each task's parameter block, after `fill` has written the other slots. One lane when
   * `work` is below minWork.
   */
  split(fn: WasmFn, n: number, work: number, lo: number, hi: number, align: number, fill: (i32: Int32Array, o: number) => void): void {
    const units = Math.ceil(n / align);
    const lanes = work >= this.minWork ? Math.min(this.lanes, units) : 1;
    const params: number[] = [];
    for (let t = 0; t < lanes; t++) {
      const u0 = Math.floor((units * t) / lanes), u1 = Math.floor((units * (t + 1)) / lanes);
      if (u1 <= u0) continue;
      const p = this.param(t), o = p >> 2, i32 = this.i32();
      fill(i32, o);
      i32[o + lo] = u0 * align;
      i32[o + hi] = Math.min(n, u1 * align);
      params.push(p);
    }
    this.run(fn, params);
  }
}
