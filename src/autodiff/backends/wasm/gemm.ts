/**
 * The GEMM driver: splits C (+)= op(A) op(B) into tasks (batch slices, or column / row chunks,
 * static or taken dynamically from a shared counter), gives each task its packing buffers, packs
 * A once for column-split jobs, and fills the gemm parameter blocks (params.ts GP). Operands are
 * byte addresses in the module's memory; B may be the implicit im2col of a conv (bMode 1 / 2).
 */
import { AP, GP, GP_DYN, type GemmConfig } from './params.js';
import { COUNTER, SCRATCH_BASE, SCRATCH_BYTES, type WasmHeap } from './memory.js';
import type { Dispatch } from './dispatch.js';

export interface GemmJob {
  m: number; n: number; k: number;
  a: number; rsA: number; csA: number;
  b: number; rsB: number; csB: number;
  c: number; ldc: number; beta: 0 | 1;
  batch: number; strideA: number; strideB: number; strideC: number;
  /** 0: B is the strided matrix b; 1 / 2: B = im2col / im2col^T of the conv block at `conv`. */
  bMode?: 0 | 1 | 2;
  conv?: number;
}

export interface GemmDriverOptions {
  /** Below this many flops a GEMM runs on one lane. */
  parallelMinFlops: number;
  /** Threaded GEMMs take chunks from a shared counter instead of fixed halves. */
  dynamic: boolean;
  /** GEMMs with at most 32 rows read a row-major B in place instead of packing it. */
  directB: boolean;
}

export class GemmDriver {
  constructor(
    private readonly cfg: GemmConfig,
    private readonly heap: WasmHeap,
    private readonly dispatch: Dispatch,
    private readonly opts: GemmDriverOptions,
  ) {}

  /** Per-task buffers: packA, packB and the edge-tile scratch. */
  private taskBuffers(tasks: number, n: number): { packA: number; packB: number }[] {
    const { mc, kc, nc, nr } = this.cfg;
    const ncUse = Math.min(nc, Math.ceil(n / nr) * nr);
    const out = [];
    for (let t = 0; t < tasks; t++) out.push({ packA: this.heap.alloc(mc * kc), packB: this.heap.alloc(kc * ncUse) });
    return out;
  }

  /** Packs all of A (every depth block) into the layout gemm reads with aPre; returns its address. */
  private packAllA(job: GemmJob): number {
    const { m, k } = job;
    const { mr } = this.cfg;
    const mPad = Math.ceil(m / mr) * mr;
    const dst = this.heap.alloc(mPad * k);
    // A small A is packed on the calling thread: waking a worker costs more than the copy.
    this.dispatch.split('packAll', m, m * k, AP.r0, AP.r1, mr, (i32, o) => {
      i32[o + AP.a] = job.a; i32[o + AP.rsA] = job.rsA; i32[o + AP.csA] = job.csA; i32[o + AP.m] = m; i32[o + AP.k] = k;
      i32[o + AP.dst] = dst;
    });
    return dst;
  }

  /**
   * A batch of equal-shaped GEMMs: one batched call when each is small (the driver then splits
   * the batch across lanes), else one call per GEMM, so that each packs its A once (packAllA)
   * and splits its columns across lanes (a batched call packs A again in every column chunk).
   */
  gemmEach(job: GemmJob): void {
    if (job.batch <= 1 || 2 * job.m * job.n * job.k < 4 * this.opts.parallelMinFlops) {
      this.gemm(job);
      return;
    }
    for (let i = 0; i < job.batch; i++) {
      this.gemm({ ...job, batch: 1, a: job.a + 4 * i * job.strideA, b: job.b + 4 * i * job.strideB, c: job.c + 4 * i * job.strideC });
    }
  }

  gemm(job: GemmJob): void {
    const { m, n, k, batch } = job;
    if (m === 0 || n === 0 || batch === 0) return;
    const { mr, nr } = this.cfg;
    const flops = 2 * m * n * k * batch;
    let lanes = flops >= this.opts.parallelMinFlops ? this.dispatch.lanes : 1;
    type Slice = { m0: number; m1: number; n0: number; n1: number; b0: number; b1: number };
    const slices: Slice[] = [];
    let dyn: { axis: 1 | 2; chunk: number; total: number } | null = null;
    if (lanes > 1 && batch >= lanes && 2 * m * n * k < this.opts.parallelMinFlops * 4) {
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
      if (lanes > 1 && this.opts.dynamic) {
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
    const bDirect = this.opts.directB && !job.bMode && job.csB === 1 && m <= 32 && job.rsB % 32 !== 0 && job.rsB <= 4096;
    const i32 = this.heap.i32();
    const params: number[] = [];
    slices.forEach((s, t) => {
      const p = this.dispatch.param(t);
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
    this.dispatch.run('gemm', params);
  }
}
