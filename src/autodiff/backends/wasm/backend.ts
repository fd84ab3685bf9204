/**
 * The wasm backend: float32 matmul and the three conv2d passes as a blocked WebAssembly SIMD
 * GEMM (conv via im2col / col2im in linear memory). Inputs are copied into the module's memory,
 * computed there and copied out; the copies are O(n) against O(n*k) arithmetic.
 *
 * Threads are optional and injected: a `RunnerFactory` gets the compiled module and the (shared)
 * memory and returns a `ParallelRunner` that runs a list of tasks (each one call of an exported
 * function with the address of its parameter block) on several lanes. Without one, everything
 * runs on the calling thread. Nothing here imports Node; the Node worker pool is in src/node/.
 *
 * Float64 inputs are declined (the reference backend takes them).
 */
import type { Backend, Conv2dGeom, Data, Kernels, MatmulArgs } from '../../backend.js';
import { relaxedSimdSupported, simdSupported } from './asm.js';
import { profileCopy } from '../../profile.js';
import { buildModule, defaultGemmConfig, AP, CP, DP, GP, GP_DYN, KP, PP, WP, PARAM_SLOTS, type GemmConfig } from './module.js';

export interface WasmExports {
  gemm(p: number): void;
  im2col(p: number): void;
  col2im(p: number): void;
  dconv(p: number): void;
  dconvW(p: number): void;
  dconvP(p: number): void;
  copy2d(p: number): void;
  packAll(p: number): void;
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
}

const PAGE = 65536;
const MAX_TASKS = 64;
const PARAM_BASE = 4096;
/** Shared chunk counter of dynamically scheduled GEMMs. */
const COUNTER = PARAM_BASE - 64;
const PARAM_BYTES = PARAM_SLOTS * 4;
const SCRATCH_BASE = PARAM_BASE + MAX_TASKS * PARAM_BYTES;
const SCRATCH_BYTES = 4096;
const HEAP_BASE = SCRATCH_BASE + MAX_TASKS * SCRATCH_BYTES + PAGE;

class OutOfWasmMemory extends Error {}

interface GemmJob {
  m: number; n: number; k: number;
  a: number; rsA: number; csA: number;
  b: number; rsB: number; csB: number;
  c: number; ldc: number; beta: 0 | 1;
  batch: number; strideA: number; strideB: number; strideC: number;
  /** 0: B is the strided matrix b; 1 / 2: B = im2col / im2col^T of the conv block at `conv`. */
  bMode?: 0 | 1 | 2;
  conv?: number;
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
  private runner: ParallelRunner | null = null;
  private heapTop = HEAP_BASE;
  private readonly opts: WasmBackendOptions;
  private readonly maxPages: number;
  private readonly parallelMinFlops: number;
  private readonly implicit: boolean;
  private readonly minWork: number;
  /** Few-output-channel convs: padded-plane register-blocked kernel (true) or row AXPYs. */
  private readonly padded: boolean;
  private readonly dynamic: boolean;
  private readonly fewOut: 'taps' | 'direct';
  private readonly directChunk: number;
  private readonly directB: boolean;

  constructor(opts: WasmBackendOptions = {}) {
    this.opts = opts;
    this.name = opts.name ?? 'wasm';
    const fma = opts.fma === undefined || opts.fma === 'auto' ? relaxedSimdSupported() : opts.fma;
    this.cfg = { ...defaultGemmConfig, ...opts.gemm, fma };
    this.maxPages = opts.maxPages ?? 32768;
    this.parallelMinFlops = opts.parallelMinFlops ?? 4e6;
    this.implicit = (opts.im2col ?? 'implicit') === 'implicit';
    this.minWork = opts.parallelMinWork ?? 1 << 16;
    this.padded = (opts.direct ?? 'padded') === 'padded';
    this.dynamic = opts.dynamic ?? true;
    this.fewOut = opts.fewOut ?? 'taps';
    this.directChunk = opts.directChunk ?? Infinity;
    this.directB = opts.directB ?? true;
    this.kernels = {
      matmul: (args) => this.matmul(args),
      conv2d: (x, w, out, g) => this.conv2d(x, w, out, g),
      conv2dGradInput: (dy, w, dx, g) => this.conv2dGradInput(dy, w, dx, g),
      conv2dGradWeight: (x, dy, dw, g) => this.conv2dGradWeight(x, dy, dw, g),
    };
  }

  static supported(): boolean {
    return typeof WebAssembly === 'object' && simdSupported();
  }

  /** Compiles the module and starts the thread pool (if a factory was given). */
  async init(): Promise<void> {
    const ctx = this.context();
    if (!this.runner && this.opts.runnerFactory) this.runner = await this.opts.runnerFactory(ctx);
  }

  dispose(): void {
    this.runner?.dispose();
    this.runner = null;
  }

  describe(): string {
    const c = this.cfg;
    const lanes = this.runner ? this.runner.label : '1 lane (calling thread)';
    const conv = (this.implicit ? 'conv: implicit im2col packing (fwd, grad-w), GEMM + col2im (grad-in)' : 'conv: explicit im2col / col2im + GEMM') +
      (this.fewOut === 'taps' ? `; cOut < ${c.mr}: taps-first GEMM + gather (fwd, >= ${c.mr} taps), flipped-weight implicit GEMM (grad-in, stride 1)` : '') +
      `, direct SIMD (${this.padded ? 'padded planes, 32-wide register blocks' : 'row AXPYs'}) for the other cOut < ${c.mr} at stride 1 (not 1x1 forward: plain GEMM)`;
    return `${this.name}: wasm SIMD f32x4 GEMM, ${c.mr}x${c.nr} micro-kernel, ${c.fma ? 'relaxed_madd FMA' : 'mul+add (no relaxed SIMD)'}, kc=${c.kc} mc=${c.mc} nc=${c.nc}; ${conv}; ${lanes}`;
  }

  /** Which code path a kernel call takes (for benchmark output). */
  pathFor(kernel: keyof Kernels, g?: Conv2dGeom): string {
    const lanes = this.runner ? `${this.runner.lanes}t` : '1t';
    const simd = this.cfg.fma ? 'simd-fma' : 'simd';
    if (kernel === 'matmul' || !g) return `wasm-${simd} gemm${this.directB ? ' (B read in place when m <= 32)' : ''} ${lanes}`;
    if (kernel === 'conv2d' && this.tapsFirst(g)) {
      // The taps-first GEMM has kh*kw rows and B = x (row pitch h*w): see gemm()'s bDirect.
      const inPlace = this.directB && g.kh * g.kw <= 32 && (g.h * g.w) % 32 !== 0 && g.h * g.w <= 4096;
      return `wasm-${simd} taps-first gemm${inPlace ? ' (B read in place)' : ''}+gather ${lanes}`;
    }
    if (kernel === 'conv2dGradInput' && this.flippedGin(g)) return `wasm-${simd} flipped-weights implicit-gemm ${lanes}`;
    if (this.direct(g) && !(kernel === 'conv2d' && WasmBackend.pointwise(g))) {
      const padded = this.padded && (kernel !== 'conv2dGradInput' || (g.padH <= g.kh - 1 && g.padW <= g.kw - 1));
      if (kernel === 'conv2dGradWeight') return `wasm-${simd} direct row-dot ${lanes}`;
      return `wasm-${simd} direct ${padded ? 'padded-plane' : 'row-axpy'} ${lanes}`;
    }
    const pw = WasmBackend.pointwise(g);
    if (kernel === 'conv2dGradInput') return `wasm-${simd} gemm${pw ? '' : '+col2im'} ${lanes}`;
    return `wasm-${simd} ${pw ? 'gemm' : this.implicit ? 'implicit-gemm' : 'im2col+gemm'} ${lanes}`;
  }

  /** The runner in use (for tests). */
  get parallel(): ParallelRunner | null {
    return this.runner;
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
    if (!this.runner && this.opts.runnerFactory) {
      const r = this.opts.runnerFactory(this.ctx);
      if (!(r instanceof Promise)) this.runner = r;
      else r.then((rr) => { if (!this.runner) this.runner = rr; else rr.dispose(); }, () => {});
    }
    return this.ctx;
  }

  private get lanes(): number {
    return this.runner ? Math.min(this.runner.lanes, MAX_TASKS) : 1;
  }

  /** Runs tasks on the pool when there is more than one, else inline. */
  private run(fn: WasmFn, params: number[]): void {
    if (params.length === 0) return;
    if (params.length === 1 || !this.runner) {
      const f = this.context().exports[fn];
      for (const p of params) f(p);
    } else {
      this.runner.run(fn, params);
    }
  }

  // ---------------- memory ----------------
  // Layout above HEAP_BASE: resident blocks (resident(), live until release()) up to resTop,
  // then the per-call scratch heap, which every kernel call starts afresh at resTop.
  private reset(): void {
    this.heapTop = this.resTop;
  }

  /** Grows the memory so that it holds `end` bytes (throws OutOfWasmMemory past maxPages). */
  private ensure(end: number): void {
    const memory = this.context().memory;
    const need = Math.ceil(end / PAGE);
    const have = memory.buffer.byteLength / PAGE;
    if (need > have) {
      if (need > this.maxPages) throw new OutOfWasmMemory();
      memory.grow(need - have);
    }
  }

  /** Reserves `floats` f32 slots (64-byte aligned, with slack after), growing memory as needed. */
  private alloc(floats: number): number {
    const ptr = this.heapTop;
    const end = ptr + Math.ceil((floats * 4 + 64) / 64) * 64;
    this.ensure(end);
    this.heapTop = end;
    return ptr;
  }

  // ---------------- resident buffers (zero-copy operands) ----------------
  /** Live resident blocks: start byte -> size in bytes. */
  private readonly blocks = new Map<number, number>();
  /** Free holes below resTop, sorted by address. */
  private holes: { at: number; bytes: number }[] = [];
  private resTop = HEAP_BASE;
  /** The memory's buffer objects that resident views were made on (a shared memory's buffer object changes when it grows; old ones stay valid). */
  private readonly ownBuffers = new WeakSet<ArrayBufferLike>();

  /**
   * A zeroed Float32Array of n elements that lives in this backend's WebAssembly memory. Kernels
   * read such operands in place and write such outputs in place (no copy in or out), which is
   * what a caller that keeps its tensors on this backend gets. The view stays valid until
   * release(view) (also across memory growth: the memory is shared); using it afterwards is a
   * use-after-free. Needs a shared memory (SharedArrayBuffer), else throws.
   */
  resident(n: number): Float32Array {
    const memory = this.context().memory;
    if (!(typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer)) {
      throw new Error('wasm backend: resident buffers need a shared WebAssembly memory (SharedArrayBuffer)');
    }
    if (!Number.isInteger(n) || n < 0) throw new Error(`wasm backend: bad resident length ${n}`);
    // Slack after the data, as for scratch buffers: vector packing may read (never write) a few floats past the end.
    const bytes = Math.ceil((n * 4 + 64) / 64) * 64;
    let at = -1;
    for (let i = 0; i < this.holes.length; i++) {
      const h = this.holes[i]!;
      if (h.bytes < bytes) continue;
      at = h.at;
      if (h.bytes === bytes) this.holes.splice(i, 1);
      else { h.at += bytes; h.bytes -= bytes; }
      break;
    }
    if (at < 0) {
      at = this.resTop;
      if (Math.ceil((at + bytes) / PAGE) > this.maxPages) throw new Error(`wasm backend: no room for a resident buffer of ${n} floats (memory ceiling ${this.maxPages} pages)`);
      this.ensure(at + bytes);
      this.resTop = at + bytes;
      this.heapTop = this.resTop;
    }
    this.blocks.set(at, bytes);
    const buf = memory.buffer;
    this.ownBuffers.add(buf);
    const view = new Float32Array(buf, at, n);
    view.fill(0);
    return view;
  }

  /** Frees a view returned by resident() (throws on anything else, or on a second release). */
  release(view: Float32Array): void {
    const at = view.byteOffset;
    const bytes = this.blocks.get(at);
    if (!this.ownBuffers.has(view.buffer) || bytes === undefined || view.length * 4 > bytes) {
      throw new Error('wasm backend: release() of a view that is not a live resident buffer of this backend');
    }
    this.blocks.delete(at);
    // Insert the hole in address order and merge it with its neighbours.
    let i = 0;
    while (i < this.holes.length && this.holes[i]!.at < at) i++;
    this.holes.splice(i, 0, { at, bytes });
    if (i + 1 < this.holes.length && at + bytes === this.holes[i + 1]!.at) {
      this.holes[i]!.bytes += this.holes[i + 1]!.bytes;
      this.holes.splice(i + 1, 1);
    }
    if (i > 0 && this.holes[i - 1]!.at + this.holes[i - 1]!.bytes === at) {
      this.holes[i - 1]!.bytes += this.holes[i]!.bytes;
      this.holes.splice(i, 1);
      i--;
    }
    // A hole at the top gives its space back to the scratch heap.
    const last = this.holes[this.holes.length - 1];
    if (last && last.at + last.bytes === this.resTop) {
      this.resTop = last.at;
      this.holes.pop();
      this.heapTop = this.resTop;
    }
  }

  /** Bytes held by live resident buffers (for tests and memory reports). */
  residentBytes(): number {
    let s = 0;
    for (const b of this.blocks.values()) s += b;
    return s;
  }

  /** Byte address of x if it is a float32 view inside a live resident block, else -1. */
  private addrOf(x: Data): number {
    if (!(x instanceof Float32Array) || !this.ownBuffers.has(x.buffer)) return -1;
    const at = x.byteOffset, end = at + x.length * 4;
    // Usually the view resident() returned (O(1)); a sub-view needs a scan.
    const own = this.blocks.get(at);
    if (own !== undefined && end <= at + own) return at;
    for (const [b, bytes] of this.blocks) if (at >= b && end <= b + bytes) return at;
    return -1;
  }

  /** An input operand's address: in place when resident, else copied into scratch. */
  private input(x: Data, len = x.length): number {
    const at = this.addrOf(x);
    if (at >= 0) return at;
    const p = this.alloc(len);
    this.put(p, x, len);
    return p;
  }

  /**
   * An output's address: in place when resident and not overlapping any input (the kernels read
   * inputs while writing), else scratch that take() copies out.
   */
  private output(out: Data, len: number, inputs: Data[]): number {
    const at = this.addrOf(out);
    if (at >= 0) {
      const end = at + len * 4;
      const overlaps = inputs.some((x) => {
        if (x.buffer !== out.buffer && !(this.ownBuffers.has(x.buffer) && this.ownBuffers.has(out.buffer))) return false;
        const a = x.byteOffset, b = a + x.length * 4;
        return a < end && at < b;
      });
      if (!overlaps) return at;
    }
    return this.alloc(len);
  }

  private f32(): Float32Array {
    return new Float32Array(this.context().memory.buffer);
  }

  private i32(): Int32Array {
    return new Int32Array(this.context().memory.buffer);
  }

  private put(ptr: number, src: Data, len = src.length): void {
    profileCopy(len * 4);
    this.f32().set(len === src.length ? src : src.subarray(0, len), ptr >> 2);
  }

  /** Copies a result out of scratch (nothing to do when dst is the resident output at ptr). */
  private take(ptr: number, dst: Data): void {
    if (this.addrOf(dst) === ptr) return;
    profileCopy(dst.length * 4);
    dst.set(this.f32().subarray(ptr >> 2, (ptr >> 2) + dst.length));
  }

  /** Wraps a kernel: float32 only, catches memory exhaustion (declines), resets the heap. */
  private guard(ok: boolean, body: () => void): boolean {
    if (!ok) return false;
    this.reset();
    try {
      body();
      return true;
    } catch (e) {
      if (e instanceof OutOfWasmMemory) return false;
      throw e;
    } finally {
      this.reset();
    }
  }

  // ---------------- GEMM driver ----------------
  /** Per-task buffers: packA, packB and the edge-tile scratch. */
  private taskBuffers(tasks: number, n: number): { packA: number; packB: number }[] {
    const { mc, kc, nc, nr } = this.cfg;
    const ncUse = Math.min(nc, Math.ceil(n / nr) * nr);
    const out = [];
    for (let t = 0; t < tasks; t++) out.push({ packA: this.alloc(mc * kc), packB: this.alloc(kc * ncUse) });
    return out;
  }

  /** Packs all of A (every depth block) into the layout gemm reads with aPre; returns its address. */
  private packAllA(job: GemmJob): number {
    const { m, k } = job;
    const { mr } = this.cfg;
    const mPad = Math.ceil(m / mr) * mr;
    const dst = this.alloc(mPad * k);
    const panels = mPad / mr;
    // A small A is packed on the calling thread: waking a worker costs more than the copy.
    const lanes = m * k >= this.minWork ? Math.min(this.lanes, panels) : 1;
    const params: number[] = [];
    for (let t = 0; t < lanes; t++) {
      const r0 = Math.floor((panels * t) / lanes) * mr, r1 = Math.min(m, Math.floor((panels * (t + 1)) / lanes) * mr);
      if (r1 <= r0) continue;
      const p = PARAM_BASE + t * PARAM_BYTES, o = p >> 2, i32 = this.i32();
      i32[o + AP.a] = job.a; i32[o + AP.rsA] = job.rsA; i32[o + AP.csA] = job.csA; i32[o + AP.m] = m; i32[o + AP.k] = k;
      i32[o + AP.r0] = r0; i32[o + AP.r1] = r1; i32[o + AP.dst] = dst;
      params.push(p);
    }
    this.run('packAll', params);
    return dst;
  }

  private gemm(job: GemmJob): void {
    const { m, n, k, batch } = job;
    if (m === 0 || n === 0 || batch === 0) return;
    const { mr, nr } = this.cfg;
    const flops = 2 * m * n * k * batch;
    let lanes = flops >= this.parallelMinFlops ? this.lanes : 1;
    type Slice = { m0: number; m1: number; n0: number; n1: number; b0: number; b1: number };
    const slices: Slice[] = [];
    let dyn: { axis: 1 | 2; chunk: number; total: number } | null = null;
    if (lanes > 1 && batch >= lanes && 2 * m * n * k < this.parallelMinFlops * 4) {
      for (let t = 0; t < lanes; t++) {
        const b0 = Math.floor((batch * t) / lanes), b1 = Math.floor((batch * (t + 1)) / lanes);
        if (b1 > b0) slices.push({ m0: 0, m1: m, n0: 0, n1: n, b0, b1 });
      }
    } else {
      const nPanels = Math.ceil(n / nr), mPanels = Math.ceil(m / mr);
      // Splitting rows makes every row chunk pack all of B again; splitting columns packs A
      // once (packAllA) and every B column once. An implicit im2col B (a gather from the image)
      // costs far more to pack than a contiguous A, so convs split columns whenever there are
      // enough of them; plain GEMMs too once there are >= 64 column panels (measured, 2 lanes,
      // CPU time: matmul 1024^3 -12 %, 512^3 -8 %, PatchGAN L3 / L4 input-grad GEMMs -5 / -3 %;
      // with only 32 panels and depth 64 columns were 9 % worse).
      const splitN = nPanels >= mPanels || mPanels < lanes || (!!job.bMode && nPanels >= 4 * lanes) || nPanels >= 64;
      const panels = splitN ? nPanels : mPanels;
      lanes = Math.max(1, Math.min(lanes, panels));
      if (lanes > 1 && this.dynamic) {
        // Dynamic: ~4 chunks per lane from a shared counter (a lane that gets more CPU on a
        // shared machine takes more chunks). Column chunks share one packing of A (packAllA
        // below); row chunks each re-pack all of B, which chunks of >= 32 rows keep small.
        const unit = splitN ? nr : mr;
        const per = Math.max(Math.ceil((splitN ? 64 : 32) / unit), Math.ceil(panels / (lanes * 4)));
        dyn = { axis: splitN ? 1 : 2, chunk: per * unit, total: splitN ? n : m };
        for (let t = 0; t < lanes; t++) slices.push({ m0: 0, m1: m, n0: 0, n1: n, b0: 0, b1: batch });
      } else {
        for (let t = 0; t < lanes; t++) {
          const p0 = Math.floor((panels * t) / lanes), p1 = Math.floor((panels * (t + 1)) / lanes);
          if (p1 <= p0) continue;
          if (splitN) slices.push({ m0: 0, m1: m, n0: p0 * nr, n1: Math.min(n, p1 * nr), b0: 0, b1: batch });
          else slices.push({ m0: p0 * mr, m1: Math.min(m, p1 * mr), n0: 0, n1: n, b0: 0, b1: batch });
        }
      }
    }
    const widest = dyn && dyn.axis === 1 ? dyn.chunk : Math.max(...slices.map((s) => s.n1 - s.n0));
    const bufs = this.taskBuffers(slices.length, widest);
    // Column-split on several lanes: pack A once (rows split across lanes) instead of in every
    // lane's every chunk.
    const colSplit = slices.length > 1 && batch === 1 && (dyn ? dyn.axis === 1 : slices.every((s) => s.m0 === 0 && s.m1 === m));
    const aPre = colSplit ? this.packAllA(job) : 0;
    // Few rows: B (a plain row-major matrix) is read in place instead of packed, unless its row
    // pitch is a multiple of 128 bytes (a panel's rows then fall into few L1 sets) or over 16 KiB
    // (a panel then touches a page per row). Measured: PatchGAN L1's input-grad GEMM (rows 64
    // KiB apart) ran 15-20 % slower in place, 10 % slower with rows 64 KiB + 32 bytes apart; L5's
    // taps-first GEMM (rows 3844 bytes apart) 10-20 % faster.
    const bDirect = this.directB && !job.bMode && job.csB === 1 && m <= 32 && job.rsB % 32 !== 0 && job.rsB <= 4096;
    const i32 = this.i32();
    const params: number[] = [];
    slices.forEach((s, t) => {
      const p = PARAM_BASE + t * PARAM_BYTES;
      const o = p >> 2;
      i32[o + GP.m] = s.m1 - s.m0;
      i32[o + GP.n] = s.n1 - s.n0;
      i32[o + GP.k] = k;
      i32[o + GP.a] = job.a + 4 * (s.m0 * job.rsA + s.b0 * job.strideA);
      i32[o + GP.rsA] = job.rsA;
      i32[o + GP.csA] = job.csA;
      i32[o + GP.b] = job.b + 4 * (s.n0 * job.csB + s.b0 * job.strideB);
      i32[o + GP.rsB] = job.rsB;
      i32[o + GP.csB] = job.csB;
      i32[o + GP.c] = job.c + 4 * (s.m0 * job.ldc + s.n0 + s.b0 * job.strideC);
      i32[o + GP.ldc] = job.ldc;
      i32[o + GP.beta] = job.beta;
      i32[o + GP.packA] = bufs[t]!.packA;
      i32[o + GP.packB] = bufs[t]!.packB;
      i32[o + GP.scratch] = SCRATCH_BASE + t * SCRATCH_BYTES;
      i32[o + GP.batch] = s.b1 - s.b0;
      i32[o + GP.strideA] = 4 * job.strideA;
      i32[o + GP.strideB] = 4 * job.strideB;
      i32[o + GP.strideC] = 4 * job.strideC;
      i32[o + GP.bMode] = job.bMode ?? 0;
      i32[o + GP.conv] = job.conv ?? 0;
      i32[o + GP.n0] = s.n0;
      i32[o + GP.aPre] = aPre;
      i32[o + GP.bDirect] = bDirect ? 1 : 0;
      if (job.bMode) i32[o + GP.b] = 0;
      i32[o + GP_DYN] = dyn ? dyn.axis : 0;
      i32[o + GP_DYN + 1] = COUNTER;
      i32[o + GP_DYN + 2] = dyn ? dyn.chunk : 0;
      i32[o + GP_DYN + 3] = dyn ? dyn.total : 0;
      params.push(p);
    });
    Atomics.store(i32, COUNTER >> 2, 0);
    this.run('gemm', params);
  }

  // ---------------- matmul ----------------
  matmul(args: MatmulArgs): boolean {
    const { a, b, out, batch, m, k, n, transA, transB, strideA, strideB } = args;
    return this.guard(isF32(a, b, out), () => {
      if (k === 0) {
        out.fill(0);
        return;
      }
      const lenA = strideA === 0 ? m * k : (batch - 1) * strideA + m * k;
      const lenB = strideB === 0 ? k * n : (batch - 1) * strideB + k * n;
      const pa = this.input(a, lenA), pb = this.input(b, lenB), pc = this.output(out, batch * m * n, [a, b]);
      this.gemm({
        m, n, k, batch,
        a: pa, rsA: transA ? 1 : k, csA: transA ? m : 1,
        b: pb, rsB: transB ? 1 : n, csB: transB ? k : 1,
        c: pc, ldc: n, beta: 0,
        strideA, strideB, strideC: m * n,
      });
      this.take(pc, out.subarray(0, batch * m * n));
    });
  }

  // ---------------- conv ----------------
  /** Fills the conv parameter block for task t (x/col pointers and row range filled by caller). */
  private convParams(t: number, g: Conv2dGeom, x: number, col: number, r0: number, r1: number): number {
    const p = PARAM_BASE + t * PARAM_BYTES;
    const i32 = this.i32();
    const o = p >> 2;
    i32[o + CP.x] = x;
    i32[o + CP.h] = g.h;
    i32[o + CP.w] = g.w;
    i32[o + CP.kh] = g.kh;
    i32[o + CP.kw] = g.kw;
    i32[o + CP.sh] = g.strideH;
    i32[o + CP.sw] = g.strideW;
    i32[o + CP.ph] = g.padH;
    i32[o + CP.pw] = g.padW;
    i32[o + CP.dh] = g.dilH;
    i32[o + CP.dw] = g.dilW;
    i32[o + CP.outH] = g.outH;
    i32[o + CP.outW] = g.outW;
    i32[o + CP.col] = col;
    i32[o + CP.r0] = r0;
    i32[o + CP.r1] = r1;
    return p;
  }

  /** Writes a conv parameter block (for implicit im2col packing) at `at`. */
  private convBlock(at: number, g: Conv2dGeom, x: number): void {
    const i32 = this.i32();
    const o = at >> 2;
    const vals: [number, number][] = [
      [CP.x, x], [CP.h, g.h], [CP.w, g.w], [CP.kh, g.kh], [CP.kw, g.kw], [CP.sh, g.strideH], [CP.sw, g.strideW],
      [CP.ph, g.padH], [CP.pw, g.padW], [CP.dh, g.dilH], [CP.dw, g.dilW], [CP.outH, g.outH], [CP.outW, g.outW],
    ];
    for (const [k, v] of vals) i32[o + k] = v;
  }

  /** Splits rows [0, rows) over lanes when the work is large enough and runs fn on each range. */
  private runRows(fn: 'im2col' | 'col2im', rows: number, work: number, g: Conv2dGeom, x: number, col: number): void {
    const lanes = work >= this.minWork ? Math.min(this.lanes, rows) : 1;
    const params: number[] = [];
    for (let t = 0; t < lanes; t++) {
      const r0 = Math.floor((rows * t) / lanes), r1 = Math.floor((rows * (t + 1)) / lanes);
      if (r1 > r0) params.push(this.convParams(t, g, x, col, r0, r1));
    }
    this.run(fn, params);
  }

  /**
   * Convs with fewer output channels than the micro-kernel has rows (e.g. a 1-channel output
   * layer) waste most of each GEMM tile and are dominated by packing; at stride 1, dilation 1,
   * groups 1 they run as direct SIMD row AXPYs / dot products instead (unless tapsFirst /
   * flippedGin take them; a 1x1 forward stays a plain GEMM: it packs no image and the direct
   * kernel's padded copies cost more than the idle micro-kernel rows).
   */
  private direct(g: Conv2dGeom): boolean {
    return g.cOut < this.cfg.mr && g.groups === 1 && g.strideH === 1 && g.strideW === 1 && g.dilH === 1 && g.dilW === 1;
  }

  /** Runs `fn` on [0, n) split into per-lane ranges written at slots lo/hi (ranges rounded to `align`). */
  private runSplit(fn: WasmFn, n: number, work: number, lo: number, hi: number, align: number, fill: (i32: Int32Array, o: number) => void): void {
    const units = Math.ceil(n / align);
    const lanes = work >= this.minWork ? Math.min(this.lanes, units) : 1;
    const params: number[] = [];
    for (let t = 0; t < lanes; t++) {
      const u0 = Math.floor((units * t) / lanes), u1 = Math.floor((units * (t + 1)) / lanes);
      if (u1 <= u0) continue;
      const p = PARAM_BASE + t * PARAM_BYTES, o = p >> 2, i32 = this.i32();
      fill(i32, o);
      i32[o + lo] = u0 * align;
      i32[o + hi] = Math.min(n, u1 * align);
      params.push(p);
    }
    this.run(fn, params);
  }

  /** copy2d of `planes` planes (rows x cols) between pitched layouts. */
  private copyPlanes(planes: number, rows: number, cols: number, src: number, sPlane: number, sPitch: number, dst: number, dPlane: number, dPitch: number): void {
    this.runSplit('copy2d', planes, planes * rows * cols, KP.p0, KP.p1, 1, (i32, o) => {
      i32[o + KP.src] = src; i32[o + KP.sPlane] = sPlane; i32[o + KP.sPitch] = sPitch;
      i32[o + KP.dst] = dst; i32[o + KP.dPlane] = dPlane; i32[o + KP.dPitch] = dPitch;
      i32[o + KP.rows] = rows; i32[o + KP.cols] = cols;
    });
  }

  /**
   * Direct stride-1 conv over zero-padded planes, for few output channels. Forward: planes of
   * x padded by (padH, padW), one output plane per cOut. Input gradient (transposed): planes of
   * dy padded by (kh-1-padH, kw-1-padW), flipped taps, one plane per cIn.
   */
  private paddedDirect(kind: 'fwd' | 'gin', g: Conv2dGeom, src: number, dst: number, wts: number): void {
    const fwd = kind === 'fwd';
    const kc = g.cIn * g.kh * g.kw;
    const [sC, sh, sw, dC, dh, dw] = fwd ? [g.cIn, g.h, g.w, g.cOut, g.outH, g.outW] : [g.cOut, g.outH, g.outW, g.cIn, g.h, g.w];
    const top = fwd ? g.padH : g.kh - 1 - g.padH, left = fwd ? g.padW : g.kw - 1 - g.padW;
    const wp = dw + g.kw - 1, hp = dh + g.kh - 1;
    const sPlane = hp * wp, len = dh * wp, len32 = Math.ceil(len / 32) * 32;
    const padLen = sC * sPlane + len32 + g.kh * wp + g.kw + 32;
    const psrc = this.alloc(padLen), ptmp = this.alloc(dC * len32);
    this.f32().fill(0, psrc >> 2, (psrc >> 2) + padLen);
    this.copyPlanes(sC, sh, sw, src, sh * sw, sw, psrc + 4 * (top * wp + left), sPlane, wp);
    // Source channels per pass over the output: a chunk's planes fit in ~256 KiB (L2), but at
    // least enough channels that the output read-modify-write per chunk stays small.
    const ch = Math.min(sC, this.directChunk, Math.max(Math.floor(65536 / sPlane), Math.ceil(32 / (g.kh * g.kw)), 1));
    const fill = (i32: Int32Array, o: number) => {
      i32[o + PP.src] = psrc; i32[o + PP.sPlane] = sPlane; i32[o + PP.sC] = sC; i32[o + PP.wp] = wp; i32[o + PP.ch] = ch;
      i32[o + PP.dst] = ptmp; i32[o + PP.dPlane] = len32; i32[o + PP.kh] = g.kh; i32[o + PP.kw] = g.kw; i32[o + PP.w] = wts;
      if (fwd) {
        i32[o + PP.wsD] = kc; i32[o + PP.wsS] = g.kh * g.kw; i32[o + PP.wOff] = 0; i32[o + PP.wsT] = g.kw; i32[o + PP.wsU] = 1;
      } else {
        i32[o + PP.wsD] = g.kh * g.kw; i32[o + PP.wsS] = kc; i32[o + PP.wOff] = (g.kh - 1) * g.kw + g.kw - 1; i32[o + PP.wsT] = -g.kw; i32[o + PP.wsU] = -1;
      }
    };
    const work = dC * len * sC * g.kh * g.kw;
    if (dC >= this.lanes) {
      this.runSplit('dconvP', dC, work, PP.d0, PP.d1, 1, (i32, o) => { fill(i32, o); i32[o + PP.q0] = 0; i32[o + PP.q1] = len32; });
    } else {
      this.runSplit('dconvP', len32, work, PP.q0, PP.q1, 32, (i32, o) => { fill(i32, o); i32[o + PP.d0] = 0; i32[o + PP.d1] = dC; });
    }
    this.copyPlanes(dC, dh, dw, ptmp, len32, wp, dst, dh * dw, dw);
  }

  /** Runs dconv over `rows` destination rows split across lanes; `fill` writes the DP fields. */
  private runDconv(rows: number, work: number, fill: (i32: Int32Array, o: number) => void): void {
    const lanes = work >= this.minWork ? Math.min(this.lanes, rows) : 1;
    const params: number[] = [];
    for (let t = 0; t < lanes; t++) {
      const r0 = Math.floor((rows * t) / lanes), r1 = Math.floor((rows * (t + 1)) / lanes);
      if (r1 <= r0) continue;
      const p = PARAM_BASE + t * PARAM_BYTES;
      const i32 = this.i32();
      fill(i32, p >> 2);
      i32[(p >> 2) + DP.r0] = r0;
      i32[(p >> 2) + DP.r1] = r1;
      params.push(p);
    }
    this.run('dconv', params);
  }

  /** col2im over channels, or over image rows when there are fewer channels than lanes. */
  private runCol2im(channels: number, work: number, g: Conv2dGeom, dx: number, col: number): void {
    const lanes = work >= this.minWork ? this.lanes : 1;
    const params: number[] = [];
    const add = (t: number, c0: number, c1: number, y0: number, y1: number) => {
      const p = this.convParams(t, g, dx, col, c0, c1);
      const i32 = this.i32();
      i32[(p >> 2) + CP.y0] = y0;
      i32[(p >> 2) + CP.y1] = y1;
      params.push(p);
    };
    if (channels >= lanes || g.h < lanes) {
      const l = Math.min(lanes, channels);
      for (let t = 0; t < l; t++) add(t, Math.floor((channels * t) / l), Math.floor((channels * (t + 1)) / l), 0, g.h);
    } else {
      // Few channels: every task takes all channels and a band of rows.
      for (let t = 0; t < lanes; t++) add(t, 0, channels, Math.floor((g.h * t) / lanes), Math.floor((g.h * (t + 1)) / lanes));
    }
    this.run('col2im', params.filter((_, i) => i < MAX_TASKS));
  }

  private static pointwise(g: Conv2dGeom): boolean {
    return g.kh === 1 && g.kw === 1 && g.strideH === 1 && g.strideW === 1 && g.padH === 0 && g.padW === 0;
  }

  private static degenerate(g: Conv2dGeom): boolean {
    return g.n <= 0 || g.cIn <= 0 || g.cOut <= 0 || g.outH <= 0 || g.outW <= 0 || g.h <= 0 || g.w <= 0 ||
      g.cIn % g.groups !== 0 || g.cOut % g.groups !== 0;
  }

  conv2d(x: Data, w: Data, out: Data, g: Conv2dGeom): boolean {
    return this.guard(isF32(x, w, out) && !WasmBackend.degenerate(g), () => {
      const cInG = g.cIn / g.groups, cOutG = g.cOut / g.groups;
      const hw = g.h * g.w, nsp = g.outH * g.outW, kc = cInG * g.kh * g.kw;
      const px = this.input(x, g.n * g.cIn * hw), pw = this.input(w, g.cOut * kc), po = this.output(out, g.n * g.cOut * nsp, [x, w]);
      if (this.direct(g) && !this.tapsFirst(g) && !WasmBackend.pointwise(g)) {
        for (let img = 0; img < g.n; img++) {
          if (this.padded) {
            this.paddedDirect('fwd', g, px + 4 * img * g.cIn * hw, po + 4 * img * g.cOut * nsp, pw);
            continue;
          }
          this.runDconv(g.cOut * g.outH, g.cOut * nsp * kc, (i32, o) => {
            i32[o + DP.src] = px + 4 * img * g.cIn * hw; i32[o + DP.dst] = po + 4 * img * g.cOut * nsp;
            i32[o + DP.sC] = g.cIn; i32[o + DP.sH] = g.h; i32[o + DP.sW] = g.w; i32[o + DP.dH] = g.outH; i32[o + DP.dW] = g.outW;
            i32[o + DP.kh] = g.kh; i32[o + DP.kw] = g.kw; i32[o + DP.w] = pw; i32[o + DP.wsD] = kc; i32[o + DP.wsS] = g.kh * g.kw;
            i32[o + DP.vSign] = 1; i32[o + DP.vOff] = -g.padH; i32[o + DP.hSign] = 1; i32[o + DP.hOff] = -g.padW;
          });
        }
        this.take(po, out);
        return;
      }
      if (this.tapsFirst(g)) {
        for (let img = 0; img < g.n; img++) this.tapsFirstConv(px + 4 * img * g.cIn * hw, pw, po + 4 * img * g.cOut * nsp, g);
      } else {
        this.forwardGemm(px, pw, po, g);
      }
      this.take(po, out);
    });
  }

  /**
   * Few output channels, several taps (e.g. PatchGAN's 512 -> 1, 4x4 output layer): a GEMM
   * with one output row wastes most of the micro-kernel, so the taps become the rows instead:
   * per output channel co, Y[(t, u), p] = sum over s of w[co, s, t, u] * x[s, p] over every input
   * pixel p (a plain GEMM on x, no im2col), then out[co, r, c] = sum over taps of
   * Y[(t, u), r*sh - ph + t*dh, c*sw - pw + u*dw] (in-range taps only).
   */
  private tapsFirst(g: Conv2dGeom): boolean {
    return this.fewOut === 'taps' && g.groups === 1 && g.cOut < this.cfg.mr && g.kh * g.kw >= this.cfg.mr;
  }

  private tapsFirstConv(px: number, pw: number, po: number, g: Conv2dGeom): void {
    const hw = g.h * g.w, khw = g.kh * g.kw, nsp = g.outH * g.outW;
    const py = this.alloc(khw * hw);
    for (let co = 0; co < g.cOut; co++) {
      // Y[tap x hw] = W_co^T[tap x cIn] * X[cIn x hw]; W_co^T's element (tap, s) is w[co, s, tap].
      this.gemm({
        m: khw, n: hw, k: g.cIn, batch: 1,
        a: pw + 4 * co * g.cIn * khw, rsA: 1, csA: khw,
        b: px, rsB: hw, csB: 1,
        c: py, ldc: hw, beta: 0, strideA: 0, strideB: 0, strideC: 0,
      });
      this.gatherTaps(py, po + 4 * co * nsp, g);
    }
  }

  /** out[r, c] = sum over taps (t, u) of Y[t*kw + u, iy, ix] at in-range iy, ix (tapsFirstConv). */
  private gatherTaps(py: number, po: number, g: Conv2dGeom): void {
    const f = this.f32(), hw = g.h * g.w, Y = py >> 2, O = po >> 2;
    f.fill(0, O, O + g.outH * g.outW);
    for (let t = 0; t < g.kh; t++) {
      for (let u = 0; u < g.kw; u++) {
        const ox = u * g.dilW - g.padW;
        // Output columns c with 0 <= c*sw + ox < w.
        const c0 = Math.max(0, Math.ceil(-ox / g.strideW)), c1 = Math.min(g.outW, Math.floor((g.w - 1 - ox) / g.strideW) + 1);
        if (c1 <= c0) continue;
        const yt = Y + (t * g.kw + u) * hw;
        for (let r = 0; r < g.outH; r++) {
          const iy = r * g.strideH - g.padH + t * g.dilH;
          if (iy < 0 || iy >= g.h) continue;
          const row = O + r * g.outW, src = yt + iy * g.w + ox;
          for (let c = c0; c < c1; c++) f[row + c]! += f[src + c * g.strideW]!;
        }
      }
    }
  }

  /**
   * Stride-1 input gradient with few output channels: the transposed conv is a forward conv of
   * dy (cOut channels) with the flipped, transposed weights w'[ci, co, t, u] = w[co, ci, kh-1-t,
   * kw-1-u] and padding k-1-p, run as an implicit-im2col GEMM with cIn output rows (instead of a
   * GEMM of depth cOut, which is nearly empty, plus col2im).
   */
  private flippedGin(g: Conv2dGeom): boolean {
    return this.fewOut === 'taps' && g.groups === 1 && g.cOut < this.cfg.mr && g.strideH === 1 && g.strideW === 1 &&
      g.dilH === 1 && g.dilW === 1 && g.padH <= g.kh - 1 && g.padW <= g.kw - 1;
  }

  /** Forward conv as (implicit) im2col GEMMs, on buffers already in wasm memory. */
  private forwardGemm(px: number, pw: number, po: number, g: Conv2dGeom): void {
    const cInG = g.cIn / g.groups, cOutG = g.cOut / g.groups;
    const hw = g.h * g.w, nsp = g.outH * g.outW, kc = cInG * g.kh * g.kw;
    const direct = WasmBackend.pointwise(g);
    const pcol = direct || this.implicit ? 0 : this.alloc(kc * nsp);
    const pconv = this.alloc(PARAM_SLOTS);
    for (let img = 0; img < g.n; img++) {
      for (let gr = 0; gr < g.groups; gr++) {
        const xg = px + 4 * (img * g.cIn + gr * cInG) * hw;
        let bsrc = xg;
        let bMode: 0 | 1 = 0;
        if (!direct && this.implicit) {
          this.convBlock(pconv, g, xg);
          bMode = 1;
        } else if (!direct) {
          this.runRows('im2col', kc, kc * nsp, g, xg, pcol);
          bsrc = pcol;
        }
        this.gemm({
          m: cOutG, n: nsp, k: kc, batch: 1,
          a: pw + 4 * gr * cOutG * kc, rsA: kc, csA: 1,
          b: bsrc, rsB: nsp, csB: 1,
          c: po + 4 * (img * g.cOut + gr * cOutG) * nsp, ldc: nsp, beta: 0,
          strideA: 0, strideB: 0, strideC: 0, bMode, conv: pconv,
        });
      }
    }
  }

  conv2dGradInput(dy: Data, w: Data, dx: Data, g: Conv2dGeom): boolean {
    return this.guard(isF32(dy, w, dx) && !WasmBackend.degenerate(g), () => {
      const cInG = g.cIn / g.groups, cOutG = g.cOut / g.groups;
      const hw = g.h * g.w, nsp = g.outH * g.outW, kc = cInG * g.kh * g.kw;
      const pdy = this.input(dy, g.n * g.cOut * nsp), pdx = this.output(dx, g.n * g.cIn * hw, [dy, w]);
      if (this.flippedGin(g)) {
        const pw = this.alloc(g.cOut * kc);
        const f = this.f32(), khw = g.kh * g.kw, W = pw >> 2;
        for (let co = 0; co < g.cOut; co++) {
          for (let ci = 0; ci < g.cIn; ci++) {
            const src = (co * g.cIn + ci) * khw, dst = W + (ci * g.cOut + co) * khw + khw - 1;
            for (let t = 0; t < khw; t++) f[dst - t] = w[src + t]!;
          }
        }
        const gt: Conv2dGeom = {
          n: g.n, cIn: g.cOut, cOut: g.cIn, h: g.outH, w: g.outW, outH: g.h, outW: g.w, kh: g.kh, kw: g.kw,
          strideH: 1, strideW: 1, padH: g.kh - 1 - g.padH, padW: g.kw - 1 - g.padW, dilH: 1, dilW: 1, groups: 1,
        };
        this.forwardGemm(pdy, pw, pdx, gt);
        this.take(pdx, dx);
        return;
      }
      const pw = this.input(w, g.cOut * kc);
      if (this.direct(g)) {
        for (let img = 0; img < g.n; img++) {
          if (this.padded && g.padH <= g.kh - 1 && g.padW <= g.kw - 1) {
            this.paddedDirect('gin', g, pdy + 4 * img * g.cOut * nsp, pdx + 4 * img * g.cIn * hw, pw);
            continue;
          }
          this.runDconv(g.cIn * g.h, g.cOut * nsp * kc, (i32, o) => {
            i32[o + DP.src] = pdy + 4 * img * g.cOut * nsp; i32[o + DP.dst] = pdx + 4 * img * g.cIn * hw;
            i32[o + DP.sC] = g.cOut; i32[o + DP.sH] = g.outH; i32[o + DP.sW] = g.outW; i32[o + DP.dH] = g.h; i32[o + DP.dW] = g.w;
            i32[o + DP.kh] = g.kh; i32[o + DP.kw] = g.kw; i32[o + DP.w] = pw; i32[o + DP.wsD] = g.kh * g.kw; i32[o + DP.wsS] = kc;
            i32[o + DP.vSign] = -1; i32[o + DP.vOff] = g.padH; i32[o + DP.hSign] = -1; i32[o + DP.hOff] = g.padW;
          });
        }
        this.take(pdx, dx);
        return;
      }
      const direct = WasmBackend.pointwise(g);
      const pcol = direct ? 0 : this.alloc(kc * nsp);
      for (let img = 0; img < g.n; img++) {
        for (let gr = 0; gr < g.groups; gr++) {
          const dxg = pdx + 4 * (img * g.cIn + gr * cInG) * hw;
          this.gemm({
            m: kc, n: nsp, k: cOutG, batch: 1,
            a: pw + 4 * gr * cOutG * kc, rsA: 1, csA: kc,
            b: pdy + 4 * (img * g.cOut + gr * cOutG) * nsp, rsB: nsp, csB: 1,
            c: direct ? dxg : pcol, ldc: nsp, beta: 0,
            strideA: 0, strideB: 0, strideC: 0,
          });
          if (!direct) this.runCol2im(cInG, kc * nsp, g, dxg, pcol);
        }
      }
      this.take(pdx, dx);
    });
  }

  conv2dGradWeight(x: Data, dy: Data, dw: Data, g: Conv2dGeom): boolean {
    return this.guard(isF32(x, dy, dw) && !WasmBackend.degenerate(g), () => {
      const cInG = g.cIn / g.groups, cOutG = g.cOut / g.groups;
      const hw = g.h * g.w, nsp = g.outH * g.outW, kc = cInG * g.kh * g.kw;
      const px = this.input(x, g.n * g.cIn * hw), pdy = this.input(dy, g.n * g.cOut * nsp), pdw = this.output(dw, g.cOut * kc, [x, dy]);
      if (this.direct(g)) {
        const pairs = g.cOut * g.cIn;
        for (let img = 0; img < g.n; img++) {
          const lanes = g.cOut * nsp * kc >= this.minWork ? Math.min(this.lanes, pairs) : 1;
          const params: number[] = [];
          for (let t = 0; t < lanes; t++) {
            const r0 = Math.floor((pairs * t) / lanes), r1 = Math.floor((pairs * (t + 1)) / lanes);
            if (r1 <= r0) continue;
            const p = PARAM_BASE + t * PARAM_BYTES, o = p >> 2, i32 = this.i32();
            i32[o + WP.x] = px + 4 * img * g.cIn * hw; i32[o + WP.dy] = pdy + 4 * img * g.cOut * nsp; i32[o + WP.dw] = pdw;
            i32[o + WP.cIn] = g.cIn; i32[o + WP.h] = g.h; i32[o + WP.w] = g.w; i32[o + WP.outH] = g.outH; i32[o + WP.outW] = g.outW;
            i32[o + WP.kh] = g.kh; i32[o + WP.kw] = g.kw; i32[o + WP.ph] = g.padH; i32[o + WP.pw] = g.padW;
            i32[o + WP.r0] = r0; i32[o + WP.r1] = r1; i32[o + WP.acc] = img > 0 ? 1 : 0;
            params.push(p);
          }
          this.run('dconvW', params);
        }
        this.take(pdw, dw);
        return;
      }
      const direct = WasmBackend.pointwise(g);
      const pcol = direct || this.implicit ? 0 : this.alloc(kc * nsp);
      const pconv = this.alloc(PARAM_SLOTS);
      for (let img = 0; img < g.n; img++) {
        for (let gr = 0; gr < g.groups; gr++) {
          const xg = px + 4 * (img * g.cIn + gr * cInG) * hw;
          let src = xg;
          let bMode: 0 | 2 = 0;
          if (!direct && this.implicit) {
            this.convBlock(pconv, g, xg);
            bMode = 2;
          } else if (!direct) {
            this.runRows('im2col', kc, kc * nsp, g, xg, pcol);
            src = pcol;
          }
          // dW_g[cOutG x kc] (+)= dY_g[cOutG x nsp] * col^T[nsp x kc]
          this.gemm({
            m: cOutG, n: kc, k: nsp, batch: 1,
            a: pdy + 4 * (img * g.cOut + gr * cOutG) * nsp, rsA: nsp, csA: 1,
            b: src, rsB: 1, csB: nsp,
            c: pdw + 4 * gr * cOutG * kc, ldc: kc, beta: img > 0 ? 1 : 0,
            strideA: 0, strideB: 0, strideC: 0, bMode, conv: pconv,
          });
        }
      }
      this.take(pdw, dw);
    });
  }
}

/** A single-threaded wasm backend (works anywhere with wasm SIMD). */
export function createWasmBackend(opts: WasmBackendOptions = {}): WasmBackend {
  return new WasmBackend(opts);
}
