/**
 * The wasm backend: float32 matmul and the three conv2d passes as a blocked WebAssembly SIMD
 * GEMM (conv via implicit im2col packing, col2im, or direct kernels for few output channels).
 * Plain operands are copied into the module's memory, computed there and copied out (the copies
 * are O(n) against O(n*k) arithmetic); resident operands (resident()) are used in place.
 *
 * The parts: module.ts + emit/ (the wasm code), params.ts (parameter-block layouts), memory.ts
 * (layout, scratch heap, resident blocks, operand staging), dispatch.ts (tasks, lanes), gemm.ts
 * (the GEMM driver), conv.ts (the conv strategies). This class wires them and owns the options.
 *
 * Threads are optional and injected (dispatch.ts RunnerFactory); without one, everything runs on
 * the calling thread. Nothing here imports Node; the Node worker pool is in src/node/.
 *
 * Float64 inputs are declined (the reference backend takes them).
 */
import type { Backend, Conv2dGeom, Data, Kernels, MatmulArgs } from '../../backend.js';
import { relaxedSimdSupported, simdSupported } from './asm.js';
import { buildModule } from './module.js';
import { defaultGemmConfig, type GemmConfig } from './params.js';
import { HEAP_BASE, PAGE, WasmHeap } from './memory.js';
import { Dispatch, type ParallelRunner, type RunnerFactory, type WasmContext, type WasmExports } from './dispatch.js';
import { GemmDriver } from './gemm.js';
import { ConvDriver } from './conv.js';

export type { ParallelRunner, RunnerFactory, WasmContext, WasmExports, WasmFn } from './dispatch.js';

export interface WasmBackendOptions {
  name?: string;
  /** Thread pool; default: run on the calling thread only. */
  runnerFactory?: RunnerFactory;
  /** Use relaxed-SIMD FMA: 'auto' (default) = if this engine validates it. */
  fma?: boolean | 'auto';
  gemm?: Partial<GemmConfig>;
  /** Below this many flops a GEMM runs on one lane. */
  parallelMinFlops?: number;
  /** Below this many elements im2col / col2im / direct convs run on one lane (default 65536). */
  parallelMinWork?: number;
  /** Memory ceiling in 64 KiB pages (default 32768 = 2 GiB). Calls that need more are declined. */
  maxPages?: number;
  /**
   * 'implicit' (default): conv forward / weight grad pack GEMM panels straight from the image;
   * 'explicit': materialise the im2col matrix first (more memory traffic; kept for comparison).
   */
  im2col?: 'implicit' | 'explicit';
  /** Kernel for convs with fewer output channels than micro-kernel rows (default 'padded'). */
  direct?: 'padded' | 'rows';
  /** Threaded GEMMs take chunks from a shared counter (default true) instead of fixed halves. */
  dynamic?: boolean;
  /**
   * Convs with fewer output channels than micro-kernel rows: 'taps' (default) runs the forward
   * as a GEMM with the kernel taps as rows plus a gather-sum (when there are >= mr taps) and the
   * stride-1 input gradient as a forward conv with flipped weights; 'direct' uses the direct
   * SIMD kernels for both (kept for comparison and tests).
   */
  fewOut?: 'taps' | 'direct';
  /** Most source channels per pass of the padded direct kernel (default: sized to the cache; tests use tiny chunks). */
  directChunk?: number;
  /** GEMMs with at most 32 rows read a row-major B in place instead of packing it (default true). */
  directB?: boolean;
  /**
   * Stride-1 3x3 and 4x4 convs as Winograd (F(2x2, r x r) forward and input gradient, F(r x r,
   * 2x2) weight gradient): 'auto' (default) where the shape rule (ConvDriver.winograd) says it is faster,
   * 'off' = always the GEMM paths (the A/B baseline; Node: DIFFRENDERGAN_WINOGRAD=0), 'always' =
   * wherever it applies (tests).
   */
  winograd?: 'auto' | 'off' | 'always';
}

function isF32(...xs: Data[]): boolean {
  for (const x of xs) if (!(x instanceof Float32Array)) return false;
  return true;
}

export class WasmBackend implements Backend {
  readonly name: string;
  readonly kernels: Partial<Kernels>;
  readonly cfg: GemmConfig;
  private ctx: WasmContext | null = null;
  private readonly opts: WasmBackendOptions;
  private readonly maxPages: number;
  private readonly implicit: boolean;
  /** Few-output-channel convs: padded-plane register-blocked kernel (true) or row AXPYs. */
  private readonly padded: boolean;
  private readonly fewOut: 'taps' | 'direct';
  private readonly directB: boolean;
  private readonly heap: WasmHeap;
  private readonly dispatch: Dispatch;
  private readonly gemms: GemmDriver;
  private readonly conv: ConvDriver;

  constructor(opts: WasmBackendOptions = {}) {
    this.opts = opts;
    this.name = opts.name ?? 'wasm';
    const fma = opts.fma === undefined || opts.fma === 'auto' ? relaxedSimdSupported() : opts.fma;
    this.cfg = { ...defaultGemmConfig, ...opts.gemm, fma };
    this.maxPages = opts.maxPages ?? 32768;
    this.implicit = (opts.im2col ?? 'implicit') === 'implicit';
    this.padded = (opts.direct ?? 'padded') === 'padded';
    this.fewOut = opts.fewOut ?? 'taps';
    this.directB = opts.directB ?? true;
    this.heap = new WasmHeap(() => this.context().memory, this.maxPages);
    this.dispatch = new Dispatch(() => this.context().exports, () => this.heap.i32(), opts.parallelMinWork ?? 1 << 16);
    this.gemms = new GemmDriver(this.cfg, this.heap, this.dispatch, {
      parallelMinFlops: opts.parallelMinFlops ?? 4e6, dynamic: opts.dynamic ?? true, directB: this.directB,
    });
    this.conv = new ConvDriver(this.cfg, this.heap, this.dispatch, this.gemms, {
      implicit: this.implicit, padded: this.padded, fewOut: this.fewOut, directChunk: opts.directChunk ?? Infinity, directB: this.directB,
      winograd: opts.winograd ?? 'auto',
    });
    this.kernels = {
      matmul: (args) => this.matmul(args),
      conv2d: (x, w, out, g) => this.conv.conv2d(x, w, out, g),
      conv2dGradInput: (dy, w, dx, g) => this.conv.conv2dGradInput(dy, w, dx, g),
      conv2dGradWeight: (x, dy, dw, g) => this.conv.conv2dGradWeight(x, dy, dw, g),
    };
  }

  static supported(): boolean {
    return typeof WebAssembly === 'object' && simdSupported();
  }

  /** Compiles the module and starts the thread pool (if a factory was given). */
  async init(): Promise<void> {
    const ctx = this.context();
    if (!this.dispatch.runner && this.opts.runnerFactory) this.dispatch.runner = await this.opts.runnerFactory(ctx);
  }

  dispose(): void {
    this.dispatch.runner?.dispose();
    this.dispatch.runner = null;
  }

  describe(): string {
    const c = this.cfg;
    const lanes = this.dispatch.runner ? this.dispatch.runner.label : '1 lane (calling thread)';
    const conv = (this.implicit ? 'conv: implicit im2col packing (fwd, grad-w), GEMM + col2im (grad-in)' : 'conv: explicit im2col / col2im + GEMM') +
      (this.fewOut === 'taps' ? `; cOut < ${c.mr}: taps-first GEMM + gather (fwd, >= ${c.mr} taps), flipped-weight implicit GEMM (grad-in, stride 1)` : '') +
      `, direct SIMD (${this.padded ? 'padded planes, 32-wide register blocks' : 'row AXPYs'}) for the other cOut < ${c.mr} at stride 1 (not 1x1 forward: plain GEMM)`;
    const wino = { auto: '; Winograd F(2x2,3x3) / F(2x2,4x4) for stride-1 3x3 / 4x4 convs by the shape rule', off: '; Winograd off', always: '; Winograd F(2x2,3x3) / F(2x2,4x4) for every stride-1 3x3 / 4x4 conv' }[this.opts.winograd ?? 'auto'];
    return `${this.name}: wasm SIMD f32x4 GEMM, ${c.mr}x${c.nr} micro-kernel, ${c.fma ? 'relaxed_madd FMA' : 'mul+add (no relaxed SIMD)'}, kc=${c.kc} mc=${c.mc} nc=${c.nc}; ${conv}${wino}; ${lanes}`;
  }

  /** Which code path a kernel call takes (for benchmark output). */
  pathFor(kernel: keyof Kernels, g?: Conv2dGeom): string {
    const lanes = this.dispatch.runner ? `${this.dispatch.runner.lanes}t` : '1t';
    const simd = this.cfg.fma ? 'simd-fma' : 'simd';
    if (kernel === 'matmul' || !g) return `wasm-${simd} gemm${this.directB ? ' (B read in place when m <= 32)' : ''} ${lanes}`;
    const pass = kernel === 'conv2d' ? 'forward' : kernel === 'conv2dGradInput' ? 'inputGrad' : 'weightGrad';
    if (this.conv.winograd(g, pass)) {
      const r = `${g.kh}x${g.kw}`;
      return `wasm-${simd} winograd ${kernel === 'conv2dGradWeight' ? `F(${r},2x2)` : `F(2x2,${r})`} ${lanes}`;
    }
    if (this.conv.polyphase(g, pass)) return `wasm-${simd} polyphase (stride 2 as 2x2 convs) winograd F(2x2,2x2) ${lanes}`;
    if (kernel === 'conv2d' && this.conv.tapsFirst(g)) {
      // The taps-first GEMM has kh*kw rows and B = x (row pitch h*w): see gemm()'s bDirect.
      const inPlace = this.directB && g.kh * g.kw <= 32 && (g.h * g.w) % 32 !== 0 && g.h * g.w <= 4096;
      return `wasm-${simd} taps-first gemm${inPlace ? ' (B read in place)' : ''}+gather ${lanes}`;
    }
    if (kernel === 'conv2dGradInput' && this.conv.flippedGin(g)) return `wasm-${simd} flipped-weights implicit-gemm ${lanes}`;
    if (this.conv.direct(g) && !(kernel === 'conv2d' && ConvDriver.pointwise(g))) {
      const padded = this.padded && (kernel !== 'conv2dGradInput' || (g.padH <= g.kh - 1 && g.padW <= g.kw - 1));
      if (kernel === 'conv2dGradWeight') return `wasm-${simd} direct row-dot ${lanes}`;
      return `wasm-${simd} direct ${padded ? 'padded-plane' : 'row-axpy'} ${lanes}`;
    }
    const pw = ConvDriver.pointwise(g);
    if (kernel === 'conv2dGradInput') return `wasm-${simd} gemm${pw ? '' : '+col2im'} ${lanes}`;
    return `wasm-${simd} ${pw ? 'gemm' : this.implicit ? 'implicit-gemm' : 'im2col+gemm'} ${lanes}`;
  }

  /** The runner in use (for tests). */
  get parallel(): ParallelRunner | null {
    return this.dispatch.runner;
  }

  context(): WasmContext {
    if (this.ctx) return this.ctx;
    const shared = typeof SharedArrayBuffer !== 'undefined';
    const mem = { initial: HEAP_BASE / PAGE + 256, maximum: this.maxPages, shared };
    const bytes = buildModule(this.cfg, mem);
    const module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    const memory = new WebAssembly.Memory(mem);
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    this.ctx = { module, memory, exports: instance.exports as unknown as WasmExports };
    // A synchronous factory may be used lazily, so kernels work before init() is awaited.
    if (!this.dispatch.runner && this.opts.runnerFactory) {
      const r = this.opts.runnerFactory(this.ctx);
      if (!(r instanceof Promise)) this.dispatch.runner = r;
      else r.then((rr) => { if (!this.dispatch.runner) this.dispatch.runner = rr; else rr.dispose(); }, () => {});
    }
    return this.ctx;
  }

  // ---------------- matmul ----------------
  matmul(args: MatmulArgs): boolean {
    const { a, b, out, batch, m, k, n, transA, transB, strideA, strideB } = args;
    return this.heap.guard(isF32(a, b, out), () => {
      if (k === 0) {
        out.fill(0);
        return;
      }
      const lenA = strideA === 0 ? m * k : (batch - 1) * strideA + m * k;
      const lenB = strideB === 0 ? k * n : (batch - 1) * strideB + k * n;
      const pa = this.heap.input(a, lenA), pb = this.heap.input(b, lenB), pc = this.heap.output(out, batch * m * n, [a, b]);
      this.gemms.gemm({
        m, n, k, batch,
        a: pa, rsA: transA ? 1 : k, csA: transA ? m : 1,
        b: pb, rsB: transB ? 1 : n, csB: transB ? k : 1,
        c: pc, ldc: n, beta: 0,
        strideA, strideB, strideC: m * n,
      });
      this.heap.take(pc, out.subarray(0, batch * m * n));
    });
  }

  // ---------------- resident buffers (zero-copy operands; memory.ts) ----------------
  /**
   * A zeroed Float32Array of n elements that lives in this backend's WebAssembly memory. Kernels
   * read such operands in place and write such outputs in place (no copy in or out), which is
   * what a caller that keeps its tensors on this backend gets. The view stays valid until
   * release(view) (also across memory growth: the memory is shared); using it afterwards is a
   * use-after-free. Needs a shared memory (SharedArrayBuffer), else throws.
   */
  resident(n: number): Float32Array {
    return this.heap.resident(n);
  }

  /** Frees a view returned by resident() (throws on anything else, or on a second release). */
  release(view: Float32Array): void {
    this.heap.release(view);
  }

  /** Bytes held by live resident buffers (for tests and memory reports). */
  residentBytes(): number {
    return this.heap.residentBytes();
  }
}

/** A single-threaded wasm backend (works anywhere with wasm SIMD). */
export function createWasmBackend(opts: WasmBackendOptions = {}): WasmBackend {
  return new WasmBackend(opts);
}
