/**
 * Emits the wasm backend's module: a cache-blocked SIMD GEMM (packed panels + a register-blocked
 * MR x NR micro-kernel), im2col and col2im. Every entry point takes the byte address of a block
 * of i32 parameters in linear memory, so any thread can run any slice of any job given only an
 * address (that is what makes the worker pool generic).
 *
 * No Node imports: this file runs in browsers too.
 */
import {
  ModuleBuilder, I32, F32, V128, type Bytes, type E, type Fn, i32c, f32mul, f32x4splat, f32x4extract, geS, tee, atomicAdd,
  add, sub, mul, divS, remS, and, or, shl, eq, ltS, ltU, gtS, leS, eqz, minS, select,
  get, set, i32load, f32load, f32store, f32add, f32c, v128load, v128store, v128load32splat, v128zero, f32x4shuffle,
  f32x4add, f32x4mul, f32x4relaxedMadd, memfill, memcopy, block, loop, if_, br, brIf, call, forRange, unreachable, cat,
} from './asm.js';

export interface GemmConfig {
  /** Micro-kernel rows (accumulator rows). */
  mr: number;
  /** Micro-kernel columns; a multiple of 4. */
  nr: number;
  /** Depth of a packed block. */
  kc: number;
  /** Rows of a packed A block (multiple of mr). */
  mc: number;
  /** Columns of a packed B block (multiple of nr). */
  nc: number;
  /** k-loop unroll of the micro-kernel. */
  unroll: number;
  /** Use relaxed-SIMD f32x4.relaxed_madd (only when it validates). */
  fma: boolean;
}

export const defaultGemmConfig: GemmConfig = { mr: 4, nr: 8, kc: 512, mc: 128, nc: 2048, unroll: 1, fma: false };

/** Layout of the i32 parameter block of `gemm` (index = i32 slot). */
export const GP = {
  m: 0, n: 1, k: 2, a: 3, rsA: 4, csA: 5, b: 6, rsB: 7, csB: 8, c: 9, ldc: 10, beta: 11,
  packA: 12, packB: 13, scratch: 14, batch: 15, strideA: 16, strideB: 17, strideC: 18,
  /** 0: B is a strided matrix; 1: B = im2col(x) (implicit); 2: B = im2col(x)^T (implicit). */
  bMode: 19,
  /** For bMode 1/2: address of a conv parameter block (CP layout; x = image of this group). */
  conv: 20,
  /** For bMode 1/2: first column of this task. */
  n0: 21,
  /** 0, or the address of all of A already packed by `packAll` (then A is not packed here). */
  aPre: 22,
  /** 1: B (bMode 0, csB = 1) is read in place by microkernelB instead of being packed. */
  bDirect: 23,
} as const;
/** gemm task slots after the GP fields: dyn (0 static, 1 column chunks, 2 row chunks), counter address, chunk, total. */
export const GP_DYN = 24;
/**
 * `packAll`: packs rows [r0, r1) (a multiple of MR apart, or up to m) of A for every depth block
 * of the GEMM, the layout `gemm` reads with aPre: depth block at pc (of kc rows), row block at ic
 * is at dst + 4 * (pc * mPad + ic * kc), mPad = m rounded up to MR. Threaded GEMMs that split
 * columns would otherwise each pack all of A again for every chunk.
 */
export const AP = { a: 0, rsA: 1, csA: 2, m: 3, k: 4, r0: 5, r1: 6, dst: 7 } as const;
/** Layout of the i32 parameter block of `im2col` / `col2im`. */
export const CP = {
  x: 0, h: 1, w: 2, kh: 3, kw: 4, sh: 5, sw: 6, ph: 7, pw: 8, dh: 9, dw: 10, outH: 11, outW: 12,
  col: 13, r0: 14, r1: 15,
  /** col2im only: image rows [y0, y1) of each channel. */
  y0: 16, y1: 17,
} as const;
/**
 * Layout of the parameter block of `dconv` (direct stride-1 convolution as row AXPYs, used for
 * convs with fewer output channels than the micro-kernel has rows):
 *   dst[d, r, j] = sum over s, t < kh, u < kw of
 *                  w[d*wsD + s*wsS + t*kw + u] * src[s, r + vSign*t + vOff, j + hSign*u + hOff]
 * for destination rows [r0, r1) of the flattened (d, r) index; out-of-range source taps are 0.
 */
export const DP = {
  src: 0, dst: 1, sC: 2, sH: 3, sW: 4, dH: 5, dW: 6, kh: 7, kw: 8, w: 9, wsD: 10, wsS: 11,
  vSign: 12, vOff: 13, hSign: 14, hOff: 15, r0: 16, r1: 17,
} as const;
/**
 * Layout of the parameter block of `dconvW` (direct stride-1 weight gradient as row dot products):
 *   dw[co, c, ky, kx] = sum over oy, ox of dy[co, oy, ox] * x[c, oy - ph + ky, ox - pw + kx]
 * for pairs [r0, r1) of the flattened (co, c) index.
 */
export const WP = {
  x: 0, dy: 1, dw: 2, cIn: 3, h: 4, w: 5, outH: 6, outW: 7, kh: 8, kw: 9, ph: 10, pw: 11, r0: 12, r1: 13,
  /** 1: add into dw instead of overwriting (batch accumulation). */
  acc: 14,
} as const;
/**
 * `dconvP`: direct stride-1 convolution over zero-padded planes (few output channels). With the
 * source padded so every tap is in range, output plane d is, in the flattened index q of a
 * plane with row pitch `wp`:
 *   dst[d*dPlane + q] = sum over s, t, u of w[d*wsD + s*wsS + wOff + t*wsT + u*wsU] * src[s*sPlane + q + t*wp + u]
 * (columns past the true width are garbage and dropped by the caller). q runs over [q0, q1) in
 * blocks of 32 held in 8 registers (q0, q1 multiples of 32); planes over [d0, d1); source channels
 * in chunks of `ch`.
 */
export const PP = {
  src: 0, sPlane: 1, sC: 2, wp: 3, dst: 4, dPlane: 5, kh: 6, kw: 7, w: 8, wsD: 9, wsS: 10, wOff: 11, wsT: 12, wsU: 13,
  d0: 14, d1: 15, q0: 16, q1: 17, ch: 18,
} as const;
/** `copy2d`: planes [p0, p1) of rows x cols floats from (src, sPlane, sPitch) to (dst, dPlane, dPitch). */
export const KP = { src: 0, sPlane: 1, sPitch: 2, dst: 3, dPlane: 4, dPitch: 5, rows: 6, cols: 7, p0: 8, p1: 9 } as const;
export const PARAM_SLOTS = 32;

const geS0 = (a: E): Bytes => cat(a, i32c(0), [0x4e]);

/** Loads i32 slot `i` of the parameter block at local `p` into a fresh local. */
function loadParams(f: Fn, p: number, slots: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, i] of Object.entries(slots)) {
    const l = f.local(I32);
    f.emit(set(l, i32load(get(p), i * 4)));
    out[name] = l;
  }
  return out;
}

export function buildModule(cfg: GemmConfig, memory: { initial: number; maximum: number; shared: boolean }): Uint8Array {
  const { mr: MR, nr: NR, kc: KC, mc: MC, nc: NC, unroll: U } = cfg;
  if (NR % 4 !== 0 || MC % MR !== 0 || NC % NR !== 0) throw new Error('bad gemm config');
  const NV = NR / 4;
  const mb = new ModuleBuilder(memory);

  // ---------- micro-kernel: C[mr x nr] (+)= Apanel[kc x MR]^T-ish * Bpanel[kc x NR] ----------
  // params: kc, pa, pb, c, ldcBytes, beta, mr, nr, scratch, tiles. With tiles > 1 it runs that
  // many consecutive tiles along a row block (each NR columns: B panels are contiguous, so pb
  // simply runs on; c steps by NR), which saves a call per tile when the depth is small.
  //
  // microkernelB (directB): the same, reading B in place from a row-major matrix (ldb = bytes
  // between its rows; one more parameter) instead of a packed panel: for GEMMs with few rows
  // (m <= 32) every B panel serves at most 8 tiles, so packing B costs about as much as using it.
  // Partial tiles read (never use) up to NR-1 floats past a row's end: inside the next row or a
  // buffer's 64-byte slack.
  const emitMicro = (mk: Fn, directB: boolean): void => {
    const [kc, pa, pb, c, ldc, beta, mr, nr, scratch, tiles, ldb] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const acc: number[][] = [];
    for (let i = 0; i < MR; i++) acc.push(Array.from({ length: NV }, () => mk.local(V128)));
    const bv = Array.from({ length: NV }, () => mk.local(V128));
    const av = mk.local(V128);
    const p = mk.local(I32);
    const i = mk.local(I32);
    const j = mk.local(I32);
    const addr = mk.local(I32);
    const pa0 = mk.local(I32);
    const pb0 = mk.local(I32);
    const t = mk.local(I32);
    const zero: E[] = [];
    for (const row of acc) for (const a of row) zero.push(set(a, v128zero()));
    const step = (u: number): Bytes => {
      const code: E[] = [];
      if (directB) {
        for (let v = 0; v < NV; v++) code.push(set(bv[v]!, v128load(get(pb), v * 16)));
        code.push(set(pb, add(get(pb), get(ldb))));
      } else {
        for (let v = 0; v < NV; v++) code.push(set(bv[v]!, v128load(get(pb), (u * NR + v * 4) * 4)));
      }
      for (let r = 0; r < MR; r++) {
        code.push(set(av, v128load32splat(get(pa), (u * MR + r) * 4)));
        for (let v = 0; v < NV; v++) {
          const a = acc[r]![v]!;
          code.push(set(a, cfg.fma ? f32x4relaxedMadd(get(av), get(bv[v]!), get(a)) : f32x4add(get(a), f32x4mul(get(av), get(bv[v]!)))));
        }
      }
      return cat(...code);
    };
    const unrolled: E[] = [];
    for (let u = 0; u < U; u++) unrolled.push(step(u));
    const body: E[] = [
      ...zero,
      set(p, get(kc)),
      set(pa, get(pa0)),
      ...(directB ? [set(pb, add(get(pb0), mul(get(t), NR * 4)))] : []),
      // do { U steps } while ((p -= U) >= U): one conditional branch per iteration.
      if_(geS(get(p), U), [
        loop(
          ...unrolled,
          set(pa, add(get(pa), U * MR * 4)),
          ...(directB ? [] : [set(pb, add(get(pb), U * NR * 4))]),
          brIf(0, geS(tee(p, sub(get(p), U)), U)),
        ),
      ]),
      block(loop(
        brIf(1, eqz(get(p))),
        step(0),
        set(pa, add(get(pa), MR * 4)),
        ...(directB ? [] : [set(pb, add(get(pb), NR * 4))]),
        set(p, sub(get(p), 1)),
        br(0),
      )),
    ];
    // Write back.
    const full: E[] = [];
    const fullBeta: E[] = [];
    for (let r = 0; r < MR; r++) {
      for (let v = 0; v < NV; v++) {
        const a = acc[r]![v]!;
        const rowAddr = r === 0 ? get(c) : add(get(c), mul(get(ldc), r));
        full.push(v128store(rowAddr, get(a), v * 16));
        fullBeta.push(v128store(rowAddr, f32x4add(get(a), v128load(rowAddr, v * 16)), v * 16));
      }
    }
    const toScratch: E[] = [];
    for (let r = 0; r < MR; r++) for (let v = 0; v < NV; v++) toScratch.push(v128store(get(scratch), get(acc[r]![v]!), (r * NR + v * 4) * 4));
    body.push(
      if_(and(eq(get(mr), MR), eq(get(nr), NR)),
        [if_(get(beta), fullBeta, full)],
        [
          ...toScratch,
          forRange(i, 0, get(mr), 1,
            forRange(j, 0, get(nr), 1,
              set(addr, add(add(get(c), mul(get(i), get(ldc))), shl(get(j), 2))),
              f32store(get(addr), f32add(
                f32load(add(get(scratch), shl(add(mul(get(i), NR), get(j)), 2))),
                select(f32load(get(addr)), f32c(0), get(beta)),
              )),
            ),
          ),
        ],
      ),
      set(c, add(get(c), NR * 4)),
    );
    mk.emit(set(pa0, get(pa)), set(pb0, get(pb)), forRange(t, 0, get(tiles), 1, ...body));
  };
  const mk = mb.fn('microkernel', [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32], [], false);
  emitMicro(mk, false);
  const mkB = mb.fn('microkernelB', [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32], [], false);
  emitMicro(mkB, true);

  // ---------- packA: rows [0, mc) x depth [0, kc) of A (element strides rs, cs) into MR-row panels ----------
  // params: src, rs, cs, mc, kc, dst
  const packA = mb.fn('packA', [I32, I32, I32, I32, I32, I32], [], false);
  {
    const [src, rs, cs, mc, kc, dst] = [0, 1, 2, 3, 4, 5];
    const i0 = packA.local(I32), ii = packA.local(I32), p = packA.local(I32), m = packA.local(I32);
    const s = packA.local(I32), d = packA.local(I32), ps = packA.local(I32), rsb = packA.local(I32);
    const va = [0, 1, 2, 3].map(() => packA.local(V128)), vt = [0, 1, 2, 3].map(() => packA.local(V128));
    // Full 4-row panels (MR = 4): rows contiguous along k are read 4 k at a time and transposed
    // in registers; rows adjacent in memory (rs = 1) are one vector per k.
    const quad = MR === 4;
    const transpose4 = quad ? if_(and(eq(get(cs), 1), eq(get(m), 4)), [
      set(s, add(get(src), shl(mul(get(i0), get(rs)), 2))),
      set(rsb, shl(get(rs), 2)),
      set(d, add(get(dst), shl(mul(get(i0), get(kc)), 2))),
      set(p, 0),
      block(loop(
        brIf(1, gtS(add(get(p), 4), get(kc))),
        ...va.map((v, r) => set(v, v128load(r === 0 ? get(s) : add(get(s), mul(get(rsb), r))))),
        set(vt[0]!, f32x4shuffle(get(va[0]!), get(va[1]!), [0, 4, 1, 5])),
        set(vt[1]!, f32x4shuffle(get(va[2]!), get(va[3]!), [0, 4, 1, 5])),
        set(vt[2]!, f32x4shuffle(get(va[0]!), get(va[1]!), [2, 6, 3, 7])),
        set(vt[3]!, f32x4shuffle(get(va[2]!), get(va[3]!), [2, 6, 3, 7])),
        v128store(get(d), f32x4shuffle(get(vt[0]!), get(vt[1]!), [0, 1, 4, 5])),
        v128store(get(d), f32x4shuffle(get(vt[0]!), get(vt[1]!), [2, 3, 6, 7]), 16),
        v128store(get(d), f32x4shuffle(get(vt[2]!), get(vt[3]!), [0, 1, 4, 5]), 32),
        v128store(get(d), f32x4shuffle(get(vt[2]!), get(vt[3]!), [2, 3, 6, 7]), 48),
        set(s, add(get(s), 16)),
        set(d, add(get(d), 64)),
        set(p, add(get(p), 4)),
        br(0),
      )),
      // k tail
      block(loop(
        brIf(1, geS(get(p), get(kc))),
        ...[0, 1, 2, 3].map((r) => f32store(get(d), f32load(r === 0 ? get(s) : add(get(s), mul(get(rsb), r))), r * 4)),
        set(s, add(get(s), 4)),
        set(d, add(get(d), 16)),
        set(p, add(get(p), 1)),
        br(0),
      )),
    ], [generic()]) : generic();
    const rowsAdjacent = quad ? if_(and(eq(get(rs), 1), eq(get(m), 4)), [
      set(d, add(get(dst), shl(mul(get(i0), get(kc)), 2))),
      set(ps, shl(get(cs), 2)),
      set(s, add(get(src), shl(get(i0), 2))),
      forRange(p, 0, get(kc), 1,
        v128store(get(d), v128load(get(s))),
        set(s, add(get(s), get(ps))),
        set(d, add(get(d), 16)),
      ),
    ], [strided()]) : strided();
    function generic(): Bytes {
      return cat(
            // contiguous along k: walk each row
            forRange(ii, 0, MR, 1,
              set(d, add(add(get(dst), shl(mul(get(i0), get(kc)), 2)), shl(get(ii), 2))),
              if_(ltS(get(ii), get(m)),
                [
                  set(s, add(get(src), shl(mul(add(get(i0), get(ii)), get(rs)), 2))),
                  forRange(p, 0, get(kc), 1,
                    f32store(get(d), f32load(get(s))),
                    set(s, add(get(s), 4)),
                    set(d, add(get(d), MR * 4)),
                  ),
                ],
                [forRange(p, 0, get(kc), 1, f32store(get(d), f32c(0)), set(d, add(get(d), MR * 4)))],
              ),
            ));
    }
    function strided(): Bytes {
      return cat(
            set(d, add(get(dst), shl(mul(get(i0), get(kc)), 2))),
            set(ps, shl(get(cs), 2)),
            set(s, add(get(src), shl(mul(get(i0), get(rs)), 2))),
            forRange(p, 0, get(kc), 1,
              forRange(ii, 0, MR, 1,
                f32store(add(get(d), shl(get(ii), 2)),
                  select(f32load(add(get(s), shl(mul(get(ii), get(rs)), 2))), f32c(0), ltS(get(ii), get(m)))),
              ),
              set(s, add(get(s), get(ps))),
              set(d, add(get(d), MR * 4)),
            ));
    }
    packA.emit(
      forRange(i0, 0, get(mc), MR,
        set(m, minS(MR, sub(get(mc), get(i0)))),
        if_(eq(get(cs), 1), [transpose4], [rowsAdjacent]),
      ),
    );
  }

  // ---------- packB: depth [0, kc) x cols [0, nc) of B into NR-column panels ----------
  const packB = mb.fn('packB', [I32, I32, I32, I32, I32, I32], [], false);
  {
    const [src, rs, cs, kc, nc, dst] = [0, 1, 2, 3, 4, 5];
    const j0 = packB.local(I32), jj = packB.local(I32), p = packB.local(I32), n = packB.local(I32);
    const s = packB.local(I32), d = packB.local(I32), rsb = packB.local(I32), d2 = packB.local(I32);
    const copyRow: E[] = [];
    for (let v = 0; v < NV; v++) copyRow.push(v128store(get(d), v128load(get(s), v * 16), v * 16));
    const copyRow2: E[] = [];
    for (let v = 0; v < NV; v++) copyRow2.push(v128store(get(d2), v128load(get(s), (NR + v * 4) * 4), v * 16));
    packB.emit(
      set(rsb, shl(get(rs), 2)),
      forRange(j0, 0, get(nc), NR,
        set(n, minS(NR, sub(get(nc), get(j0)))),
        set(d, add(get(dst), shl(mul(get(j0), get(kc)), 2))),
        // Two full panels per pass down the rows: each row's read then covers 2 * NR floats (a
        // whole cache line for NR = 8), so no line is fetched twice when the row pitch is a
        // multiple of 4 KiB and the rows all land in one L1 set.
        if_(and(eq(get(cs), 1), geS(sub(get(nc), get(j0)), 2 * NR)),
          [
            set(s, add(get(src), shl(get(j0), 2))),
            set(d2, add(get(d), shl(mul(get(kc), NR), 2))),
            forRange(p, 0, get(kc), 1, ...copyRow, ...copyRow2, set(s, add(get(s), get(rsb))), set(d, add(get(d), NR * 4)), set(d2, add(get(d2), NR * 4))),
            set(j0, add(get(j0), NR)),
          ],
          [if_(and(eq(get(cs), 1), eq(get(n), NR)),
          [
            set(s, add(get(src), shl(get(j0), 2))),
            forRange(p, 0, get(kc), 1, ...copyRow, set(s, add(get(s), get(rsb))), set(d, add(get(d), NR * 4))),
          ],
          [
            forRange(jj, 0, NR, 1,
              if_(ltS(get(jj), get(n)),
                [
                  set(s, add(get(src), shl(mul(add(get(j0), get(jj)), get(cs)), 2))),
                  forRange(p, 0, get(kc), 1,
                    f32store(add(get(d), shl(add(mul(get(p), NR), get(jj)), 2)), f32load(get(s))),
                    set(s, add(get(s), get(rsb))),
                  ),
                ],
                [forRange(p, 0, get(kc), 1, f32store(add(get(d), shl(add(mul(get(p), NR), get(jj)), 2)), f32c(0)))],
              ),
            ),
          ],
        )]),
      ),
    );
  }

  // ---------- implicit im2col packing (no column matrix in memory) ----------
  // packBConv(cp, p0, kc, j0, nc, dst): B[p][j] = col[p0 + p][j0 + j], col = im2col(x) with
  // rows (c, ky, kx) and columns (oy, ox); NR-column panels like packB.
  const packBConv = mb.fn('packBConv', [I32, I32, I32, I32, I32, I32], [], false);
  {
    const [cp, p0, kc, j0, nc, dst] = [0, 1, 2, 3, 4, 5];
    const f = packBConv;
    const G = loadParams(f, cp, CP) as Record<keyof typeof CP, number>;
    const L = () => f.local(I32);
    const jp = L(), n = L(), jabs = L(), oy0 = L(), ox0 = L(), noWrap = L(), d = L(), c = L(), ky = L(), kx = L(), r = L();
    const p = L(), iy = L(), ix0 = L(), xs = L(), jj = L(), oy = L(), ox = L(), ix = L(), iyy = L(), khw = L(), hw = L(), ok = L();
    const copyVec: E[] = [];
    for (let v = 0; v < NV; v++) copyVec.push(v128store(get(d), v128load(add(get(xs), shl(get(ix0), 2)), v * 16), v * 16));
    const strided: E[] = [];
    for (let q = 0; q < NR; q++) strided.push(f32store(get(d), f32load(add(get(xs), shl(add(get(ix0), mul(get(G.sw), q)), 2))), q * 4));
    // Stride 2: even lanes of 2*NR contiguous floats (reads one float past the last tap used,
    // inside the row or the buffer's slack; that lane is dropped).
    const evens: E[] = [];
    for (let v = 0; v < NV; v++) {
      const at = add(get(xs), shl(get(ix0), 2));
      evens.push(v128store(get(d), f32x4shuffle(v128load(at, v * 32), v128load(at, v * 32 + 16), [0, 2, 4, 6]), v * 16));
    }
    f.emit(
      set(khw, mul(get(G.kh), get(G.kw))),
      set(hw, mul(get(G.h), get(G.w))),
      forRange(jp, 0, get(nc), NR,
        set(n, minS(NR, sub(get(nc), get(jp)))),
        set(jabs, add(get(j0), get(jp))),
        set(oy0, divS(get(jabs), get(G.outW))),
        set(ox0, sub(get(jabs), mul(get(oy0), get(G.outW)))),
        set(noWrap, and(eq(get(n), NR), leS(add(get(ox0), NR), get(G.outW)))),
        set(d, add(get(dst), shl(mul(get(jp), get(kc)), 2))),
        set(c, divS(get(p0), get(khw))),
        set(r, sub(get(p0), mul(get(c), get(khw)))),
        set(ky, divS(get(r), get(G.kw))),
        set(kx, sub(get(r), mul(get(ky), get(G.kw)))),
        forRange(p, 0, get(kc), 1,
          if_(get(noWrap),
            [
              // All NR columns lie in output row oy0.
              set(iy, add(sub(mul(get(oy0), get(G.sh)), get(G.ph)), mul(get(ky), get(G.dh)))),
              set(ix0, add(sub(mul(get(ox0), get(G.sw)), get(G.pw)), mul(get(kx), get(G.dw)))),
              if_(ltU(get(iy), get(G.h)),
                [
                  set(xs, add(get(G.x), shl(add(mul(get(c), get(hw)), mul(get(iy), get(G.w))), 2))),
                  if_(and(geS0(get(ix0)), ltS(add(get(ix0), mul(get(G.sw), NR - 1)), get(G.w))),
                    [if_(eq(get(G.sw), 1), copyVec, [if_(eq(get(G.sw), 2), evens, strided)])],
                    [
                      forRange(jj, 0, NR, 1,
                        set(ix, add(get(ix0), mul(get(G.sw), get(jj)))),
                        f32store(add(get(d), shl(get(jj), 2)),
                          select(f32load(add(get(xs), shl(get(ix), 2))), f32c(0), ltU(get(ix), get(G.w)))),
                      ),
                    ],
                  ),
                ],
                [memfill(get(d), 0, NR * 4)],
              ),
            ],
            [
              // Generic: columns may wrap to the next output row, or the panel is partial.
              set(oy, get(oy0)),
              set(ox, get(ox0)),
              forRange(jj, 0, NR, 1,
                set(iyy, add(sub(mul(get(oy), get(G.sh)), get(G.ph)), mul(get(ky), get(G.dh)))),
                set(ix, add(sub(mul(get(ox), get(G.sw)), get(G.pw)), mul(get(kx), get(G.dw)))),
                set(ok, and(and(ltU(get(iyy), get(G.h)), ltU(get(ix), get(G.w))), ltS(get(jj), get(n)))),
                // Out-of-range taps load from x itself (never outside memory) and store 0.
                f32store(add(get(d), shl(get(jj), 2)),
                  select(
                    f32load(select(add(get(G.x), shl(add(add(mul(get(c), get(hw)), mul(get(iyy), get(G.w))), get(ix)), 2)), get(G.x), get(ok))),
                    f32c(0),
                    get(ok),
                  )),
                set(ox, add(get(ox), 1)),
                if_(eq(get(ox), get(G.outW)), [set(ox, 0), set(oy, add(get(oy), 1))]),
              ),
            ],
          ),
          set(d, add(get(d), NR * 4)),
          set(kx, add(get(kx), 1)),
          if_(eq(get(kx), get(G.kw)), [
            set(kx, 0),
            set(ky, add(get(ky), 1)),
            if_(eq(get(ky), get(G.kh)), [set(ky, 0), set(c, add(get(c), 1))]),
          ]),
        ),
      ),
    );
  }

  // packBConvT(cp, p0, kc, j0, nc, dst): B[p][j] = col[j0 + j][p0 + p] (the transposed column
  // matrix, for the weight gradient); scalar, one column (c, ky, kx) at a time.
  const packBConvT = mb.fn('packBConvT', [I32, I32, I32, I32, I32, I32], [], false);
  {
    const [cp, p0, kc, j0, nc, dst] = [0, 1, 2, 3, 4, 5];
    const f = packBConvT;
    const G = loadParams(f, cp, CP) as Record<keyof typeof CP, number>;
    const L = () => f.local(I32);
    const jp = L(), n = L(), jj = L(), j = L(), c = L(), r = L(), ky = L(), kx = L(), d = L(), p = L();
    const oy = L(), ox = L(), iy = L(), ix = L(), xs = L(), khw = L(), hw = L(), offY = L(), offX = L(), ok = L();
    f.emit(
      set(khw, mul(get(G.kh), get(G.kw))),
      set(hw, mul(get(G.h), get(G.w))),
      forRange(jp, 0, get(nc), NR,
        set(n, minS(NR, sub(get(nc), get(jp)))),
        forRange(jj, 0, NR, 1,
          set(d, add(add(get(dst), shl(mul(get(jp), get(kc)), 2)), shl(get(jj), 2))),
          if_(ltS(get(jj), get(n)),
            [
              set(j, add(add(get(j0), get(jp)), get(jj))),
              set(c, divS(get(j), get(khw))),
              set(r, sub(get(j), mul(get(c), get(khw)))),
              set(ky, divS(get(r), get(G.kw))),
              set(kx, sub(get(r), mul(get(ky), get(G.kw)))),
              set(xs, add(get(G.x), shl(mul(get(c), get(hw)), 2))),
              set(offY, sub(mul(get(ky), get(G.dh)), get(G.ph))),
              set(offX, sub(mul(get(kx), get(G.dw)), get(G.pw))),
              set(oy, divS(get(p0), get(G.outW))),
              set(ox, sub(get(p0), mul(get(oy), get(G.outW)))),
              set(iy, add(mul(get(oy), get(G.sh)), get(offY))),
              set(ix, add(mul(get(ox), get(G.sw)), get(offX))),
              forRange(p, 0, get(kc), 1,
                set(ok, and(ltU(get(iy), get(G.h)), ltU(get(ix), get(G.w)))),
                f32store(get(d), select(
                  f32load(select(add(get(xs), shl(add(mul(get(iy), get(G.w)), get(ix)), 2)), get(xs), get(ok))),
                  f32c(0),
                  get(ok),
                )),
                set(d, add(get(d), NR * 4)),
                set(ox, add(get(ox), 1)),
                set(ix, add(get(ix), get(G.sw))),
                if_(eq(get(ox), get(G.outW)), [
                  set(ox, 0),
                  set(ix, get(offX)),
                  set(iy, add(get(iy), get(G.sh))),
                ]),
              ),
            ],
            [forRange(p, 0, get(kc), 1, f32store(get(d), f32c(0)), set(d, add(get(d), NR * 4)))],
          ),
        ),
      ),
    );
  }

  // ---------- gemm(P): C (+)= op(A) op(B) for one task, batched ----------
  // gemmCore(...GP fields as parameters, in slot order): one static slice.
  const GP_KEYS = Object.keys(GP) as (keyof typeof GP)[];
  const gemm = mb.fn('gemmCore', GP_KEYS.map(() => I32), [], false);
  {
    const P = GP as Record<keyof typeof GP, number>;
    const L = () => gemm.local(I32);
    const bi = L(), jc = L(), pc = L(), ic = L(), jr = L(), ir = L(), nc = L(), kc = L(), mc = L(), bet = L(), kcb = L();
    // Depth blocks of equal size (k = 288 -> 144 + 144, not 256 + 32).
    const nb = L(), pa = L(), mPad = L();
    gemm.emit(
      set(nb, divS(add(get(P.k), KC - 1), KC)),
      set(nb, select(get(nb), 1, gtS(get(nb), 0))),
      set(kcb, divS(add(get(P.k), sub(get(nb), 1)), get(nb))),
      set(mPad, mul(divS(add(get(P.m), MR - 1), MR), MR)),
    );
    const tiles = (count: E, width: E): Bytes => call(mb.index(mk),
      get(kc),
      add(get(pa), shl(mul(get(ir), get(kc)), 2)),
      add(get(P.packB), shl(mul(get(jr), get(kc)), 2)),
      add(get(P.c), shl(add(mul(add(get(ic), get(ir)), get(P.ldc)), add(get(jc), get(jr))), 2)),
      shl(get(P.ldc), 2),
      get(bet),
      minS(MR, sub(get(mc), get(ir))),
      width,
      get(P.scratch),
      count,
    );
    const tile = tiles(1, minS(NR, sub(get(nc), get(jr))));
    const tileDirect = call(mb.index(mkB),
      get(kc),
      add(get(pa), shl(mul(get(ir), get(kc)), 2)),
      add(get(P.b), shl(add(mul(get(pc), get(P.rsB)), add(get(jc), get(jr))), 2)),
      add(get(P.c), shl(add(mul(add(get(ic), get(ir)), get(P.ldc)), add(get(jc), get(jr))), 2)),
      shl(get(P.ldc), 2),
      get(bet),
      minS(MR, sub(get(mc), get(ir))),
      minS(NR, sub(get(nc), get(jr))),
      get(P.scratch),
      1,
      shl(get(P.rsB), 2),
    );
    // Small depth, one row block: all full-width tiles in one call, then the partial one.
    const nFull = L();
    const rowOfTiles = cat(
      set(jr, 0),
      set(nFull, divS(get(nc), NR)),
      if_(gtS(get(nFull), 0), [tiles(get(nFull), NR)]),
      set(jr, mul(get(nFull), NR)),
      if_(ltS(get(jr), get(nc)), [tiles(1, sub(get(nc), get(jr)))]),
    );
    gemm.emit(
      forRange(bi, 0, get(P.batch), 1,
        forRange(jc, 0, get(P.n), NC,
          set(nc, minS(NC, sub(get(P.n), get(jc)))),
          forRange(pc, 0, get(P.k), get(kcb),
            set(kc, minS(get(kcb), sub(get(P.k), get(pc)))),
            if_(get(P.bDirect), [], [if_(eqz(get(P.bMode)),
              [call(mb.index(packB),
                add(get(P.b), shl(add(mul(get(pc), get(P.rsB)), mul(get(jc), get(P.csB))), 2)),
                get(P.rsB), get(P.csB), get(kc), get(nc), get(P.packB))],
              [if_(eq(get(P.bMode), 1),
                [call(mb.index(packBConv), get(P.conv), get(pc), get(kc), add(get(P.n0), get(jc)), get(nc), get(P.packB))],
                [call(mb.index(packBConvT), get(P.conv), get(pc), get(kc), add(get(P.n0), get(jc)), get(nc), get(P.packB))],
              )],
            )]),
            set(bet, or(get(P.beta), gtS(get(pc), 0))),
            forRange(ic, 0, get(P.m), MC,
              set(mc, minS(MC, sub(get(P.m), get(ic)))),
              if_(get(P.aPre),
                [set(pa, add(get(P.aPre), shl(add(mul(get(pc), get(mPad)), mul(get(ic), get(kc))), 2)))],
                [
                  set(pa, get(P.packA)),
                  call(mb.index(packA),
                    add(get(P.a), shl(add(mul(get(ic), get(P.rsA)), mul(get(pc), get(P.csA))), 2)),
                    get(P.rsA), get(P.csA), get(mc), get(kc), get(P.packA)),
                ],
              ),
              // Large depth: keep one B micro-panel in L1 and stream A panels (jr outer). Small
              // depth: C traffic dominates, so sweep each row block along contiguous C (ir outer).
              if_(get(P.bDirect),
                // B in place: keep one B panel's lines in L1 across the few row tiles.
                [forRange(jr, 0, get(nc), NR, forRange(ir, 0, get(mc), MR, tileDirect))],
                [if_(gtS(get(kc), 64),
                  [forRange(jr, 0, get(nc), NR, forRange(ir, 0, get(mc), MR, tile))],
                  [forRange(ir, 0, get(mc), MR, rowOfTiles)],
                )],
              ),
            ),
          ),
        ),
        set(P.a, add(get(P.a), get(P.strideA))),
        set(P.b, add(get(P.b), get(P.strideB))),
        set(P.c, add(get(P.c), get(P.strideC))),
      ),
    );
  }

  // ---------- gemm(P): a static slice, or dynamic chunks taken from a shared counter ----------
  // dyn = 0: run the slice in P. dyn = 1 / 2: repeatedly take chunk i = atomic counter++ and run
  // columns (1) or rows (2) [i*chunk, min(total, (i+1)*chunk)) until the counter passes the end,
  // so a lane that gets more CPU does more of the work (the machine may be shared).
  const gemmTask = mb.fn('gemm', [I32]);
  {
    const f = gemmTask;
    const P = loadParams(f, 0, { ...GP, dyn: GP_DYN, counter: GP_DYN + 1, chunk: GP_DYN + 2, total: GP_DYN + 3 }) as Record<string, number>;
    const L = () => f.local(I32);
    const i = L(), s0 = L(), cnt = L();
    const args = (over: Partial<Record<keyof typeof GP, E>>): E[] => GP_KEYS.map((k) => over[k] ?? get(P[k]!));
    f.emit(
      if_(eqz(get(P.dyn!)),
        [call(mb.index(gemm), ...args({}))],
        [block(loop(
          set(i, atomicAdd(get(P.counter!), 1)),
          set(s0, mul(get(i), get(P.chunk!))),
          brIf(1, geS(get(s0), get(P.total!))),
          set(cnt, minS(get(P.chunk!), sub(get(P.total!), get(s0)))),
          if_(eq(get(P.dyn!), 1),
            [call(mb.index(gemm), ...args({
              n: get(cnt),
              b: add(get(P.b!), shl(mul(get(s0), get(P.csB!)), 2)),
              c: add(get(P.c!), shl(get(s0), 2)),
              n0: add(get(P.n0!), get(s0)),
            }))],
            [call(mb.index(gemm), ...args({
              m: get(cnt),
              a: add(get(P.a!), shl(mul(get(s0), get(P.rsA!)), 2)),
              c: add(get(P.c!), shl(mul(get(s0), get(P.ldc!)), 2)),
            }))],
          ),
          br(0),
        ))],
      ),
    );
  }

  // ---------- packAll(P): all depth blocks of rows [r0, r1) of A (see AP) ----------
  const packAll = mb.fn('packAll', [I32]);
  {
    const f = packAll;
    const P = loadParams(f, 0, AP) as Record<keyof typeof AP, number>;
    const L = () => f.local(I32);
    const nb = L(), kcb = L(), pc = L(), kc = L(), ic = L(), mPad = L();
    f.emit(
      set(nb, select(divS(add(get(P.k), KC - 1), KC), 1, gtS(get(P.k), 0))),
      set(kcb, divS(add(get(P.k), sub(get(nb), 1)), get(nb))),
      set(mPad, mul(divS(add(get(P.m), MR - 1), MR), MR)),
      forRange(pc, 0, get(P.k), get(kcb),
        set(kc, minS(get(kcb), sub(get(P.k), get(pc)))),
        forRange(ic, get(P.r0), get(P.r1), MC,
          call(mb.index(packA),
            add(get(P.a), shl(add(mul(get(ic), get(P.rsA)), mul(get(pc), get(P.csA))), 2)),
            get(P.rsA), get(P.csA), minS(MC, sub(get(P.r1), get(ic))), get(kc),
            add(get(P.dst), shl(add(mul(get(pc), get(mPad)), mul(get(ic), get(kc))), 2))),
        ),
      ),
    );
  }

  // ---------- im2col(P): rows [r0, r1) of the column matrix [C*kh*kw, outH*outW] ----------
  const im2col = mb.fn('im2col', [I32]);
  {
    const P = loadParams(im2col, 0, CP) as Record<keyof typeof CP, number>;
    const L = () => im2col.local(I32);
    const r = L(), kx = L(), ky = L(), c = L(), xs = L(), d = L(), oy = L(), ox = L(), iy = L(), ix = L(), row = L(), t = L();
    const oxa = L(), oxb = L();
    im2col.emit(
      set(d, add(get(P.col), shl(mul(get(P.r0), mul(get(P.outH), get(P.outW))), 2))),
      forRange(r, get(P.r0), get(P.r1), 1,
        set(kx, remS(get(r), get(P.kw))),
        set(t, divS(get(r), get(P.kw))),
        set(ky, remS(get(t), get(P.kh))),
        set(c, divS(get(t), get(P.kh))),
        set(xs, add(get(P.x), shl(mul(get(c), mul(get(P.h), get(P.w))), 2))),
        forRange(oy, 0, get(P.outH), 1,
          set(iy, add(sub(mul(get(oy), get(P.sh)), get(P.ph)), mul(get(ky), get(P.dh)))),
          if_(ltU(get(iy), get(P.h)),
            [
              set(row, add(get(xs), shl(mul(get(iy), get(P.w)), 2))),
              set(ix, sub(mul(get(kx), get(P.dw)), get(P.pw))),
              if_(eq(get(P.sw), 1),
                [
                  // Stride 1: zeros | contiguous copy | zeros.
                  set(oxa, select(sub(0, get(ix)), 0, gtS(sub(0, get(ix)), 0))),
                  set(oxb, minS(get(P.outW), sub(get(P.w), get(ix)))),
                  if_(leS(get(oxb), get(oxa)),
                    [memfill(get(d), 0, shl(get(P.outW), 2))],
                    [
                      memfill(get(d), 0, shl(get(oxa), 2)),
                      memcopy(add(get(d), shl(get(oxa), 2)), add(get(row), shl(add(get(ix), get(oxa)), 2)), shl(sub(get(oxb), get(oxa)), 2)),
                      memfill(add(get(d), shl(get(oxb), 2)), 0, shl(sub(get(P.outW), get(oxb)), 2)),
                    ],
                  ),
                  set(d, add(get(d), shl(get(P.outW), 2))),
                ],
                [
                  forRange(ox, 0, get(P.outW), 1,
                    f32store(get(d), select(f32load(add(get(row), shl(get(ix), 2))), f32c(0), ltU(get(ix), get(P.w)))),
                    set(ix, add(get(ix), get(P.sw))),
                    set(d, add(get(d), 4)),
                  ),
                ],
              ),
            ],
            [memfill(get(d), 0, shl(get(P.outW), 2)), set(d, add(get(d), shl(get(P.outW), 2)))],
          ),
        ),
      ),
    );
  }

  // ---------- col2im(P): channels [r0, r1), image rows [y0, y1) of dx = scatter-add of the column matrix ----------
  const col2im = mb.fn('col2im', [I32]);
  {
    const P = loadParams(col2im, 0, CP) as Record<keyof typeof CP, number>;
    const L = () => col2im.local(I32);
    const c = L(), kx = L(), ky = L(), xs = L(), s = L(), oy = L(), ox = L(), iy = L(), ix = L(), row = L(), a = L();
    const ix0 = L(), oxa = L(), oxb = L(), sp = L(), plane = L(), ixa = L();
    // Stride 2, dilation 1: taps kx and kx+1 land on interleaved columns (even / odd), so they
    // are added together: 4 outputs of each tap interleave (two shuffles) into 8 contiguous dx.
    const tapAt = (oxE: E, second: boolean): Bytes => cat(
      set(ixa, add(add(shl(oxE, 1), get(ix0)), second ? 1 : 0)),
      if_(ltU(get(ixa), get(P.w)), [
        set(a, add(get(row), shl(get(ixa), 2))),
        f32store(get(a), f32add(f32load(get(a)), f32load(add(add(get(s), shl(oxE, 2)), second ? get(plane) : 0)))),
      ]),
    );
    const scalarPairs = (to: E): Bytes => block(loop(
      brIf(1, geS(get(ox), to)),
      tapAt(get(ox), false),
      tapAt(get(ox), true),
      set(ox, add(get(ox), 1)),
      br(0),
    ));
    const pairBody = cat(
      set(ix0, sub(get(kx), get(P.pw))),
      set(plane, shl(mul(get(P.outH), get(P.outW)), 2)),
      // Vector range: 0 <= 2*ox + ix0 and 2*ox + ix0 + 1 <= w - 1.
      set(oxa, select(divS(sub(1, get(ix0)), 2), 0, ltS(get(ix0), 0))),
      set(oxb, minS(get(P.outW), divS(sub(get(P.w), get(ix0)), 2))),
      forRange(oy, 0, get(P.outH), 1,
        set(iy, add(sub(mul(get(oy), get(P.sh)), get(P.ph)), mul(get(ky), get(P.dh)))),
        if_(and(geS(get(iy), get(P.y0)), ltS(get(iy), get(P.y1))), [
          set(row, add(get(xs), shl(mul(get(iy), get(P.w)), 2))),
          set(ox, 0),
          scalarPairs(minS(get(oxa), get(P.outW))),
          block(loop(
            brIf(1, gtS(add(get(ox), 4), get(oxb))),
            set(sp, add(get(s), shl(get(ox), 2))),
            set(a, add(get(row), shl(add(shl(get(ox), 1), get(ix0)), 2))),
            v128store(get(a), f32x4add(v128load(get(a)), f32x4shuffle(v128load(get(sp)), v128load(add(get(sp), get(plane))), [0, 4, 1, 5]))),
            v128store(get(a), f32x4add(v128load(get(a), 16), f32x4shuffle(v128load(get(sp)), v128load(add(get(sp), get(plane))), [2, 6, 3, 7])), 16),
            set(ox, add(get(ox), 4)),
            br(0),
          )),
          scalarPairs(get(P.outW)),
        ]),
        set(s, add(get(s), shl(get(P.outW), 2))),
      ),
      // Past the second tap's rows too.
      set(s, add(get(s), get(plane))),
    );
    col2im.emit(
      forRange(c, get(P.r0), get(P.r1), 1,
        set(xs, add(get(P.x), shl(mul(get(c), mul(get(P.h), get(P.w))), 2))),
        memfill(add(get(xs), shl(mul(get(P.y0), get(P.w)), 2)), 0, shl(mul(sub(get(P.y1), get(P.y0)), get(P.w)), 2)),
        set(s, add(get(P.col), shl(mul(mul(get(c), mul(get(P.kh), get(P.kw))), mul(get(P.outH), get(P.outW))), 2))),
        forRange(ky, 0, get(P.kh), 1,
          set(kx, 0),
          block(loop(
           brIf(1, geS(get(kx), get(P.kw))),
           if_(and(and(eq(get(P.sw), 2), eq(get(P.dw), 1)), ltS(add(get(kx), 1), get(P.kw))),
            [pairBody, set(kx, add(get(kx), 2))],
            [
            set(ix0, sub(mul(get(kx), get(P.dw)), get(P.pw))),
            set(oxa, select(sub(0, get(ix0)), 0, gtS(sub(0, get(ix0)), 0))),
            set(oxb, minS(get(P.outW), sub(get(P.w), get(ix0)))),
            forRange(oy, 0, get(P.outH), 1,
              set(iy, add(sub(mul(get(oy), get(P.sh)), get(P.ph)), mul(get(ky), get(P.dh)))),
              if_(and(geS(get(iy), get(P.y0)), ltS(get(iy), get(P.y1))),
                [
                  set(row, add(get(xs), shl(mul(get(iy), get(P.w)), 2))),
                  if_(eq(get(P.sw), 1),
                    [
                      // Stride 1: contiguous on both sides; f32x4 then scalar tail.
                      set(ox, get(oxa)),
                      block(loop(
                        brIf(1, gtS(add(get(ox), 4), get(oxb))),
                        set(a, add(get(row), shl(add(get(ox), get(ix0)), 2))),
                        v128store(get(a), f32x4add(v128load(get(a)), v128load(add(get(s), shl(get(ox), 2))))),
                        set(ox, add(get(ox), 4)),
                        br(0),
                      )),
                      block(loop(
                        brIf(1, geS(get(ox), get(oxb))),
                        set(a, add(get(row), shl(add(get(ox), get(ix0)), 2))),
                        f32store(get(a), f32add(f32load(get(a)), f32load(add(get(s), shl(get(ox), 2))))),
                        set(ox, add(get(ox), 1)),
                        br(0),
                      )),
                    ],
                    [
                      set(ix, get(ix0)),
                      set(sp, get(s)),
                      forRange(ox, 0, get(P.outW), 1,
                        if_(ltU(get(ix), get(P.w)), [
                          set(a, add(get(row), shl(get(ix), 2))),
                          f32store(get(a), f32add(f32load(get(a)), f32load(get(sp)))),
                        ]),
                        set(ix, add(get(ix), get(P.sw))),
                        set(sp, add(get(sp), 4)),
                      ),
                    ],
                  ),
                ],
              ),
              set(s, add(get(s), shl(get(P.outW), 2))),
            ),
            set(kx, add(get(kx), 1)),
            ],
           ),
           br(0),
          )),
        ),
      ),
    );
  }

  // ---------- dconv(P): direct stride-1 conv / transposed conv as SIMD row AXPYs ----------
  const dconv = mb.fn('dconv', [I32]);
  {
    const f = dconv;
    const P = loadParams(f, 0, DP) as Record<keyof typeof DP, number>;
    const L = () => f.local(I32);
    const row = L(), d = L(), r = L(), dr = L(), sc = L(), t = L(), u = L(), sr = L(), srow = L(), off = L();
    const ja = L(), jb = L(), j = L(), a = L(), wi = L();
    const wv = f.local(V128);
    const wsc = f.local(F32);
    f.emit(
      forRange(row, get(P.r0), get(P.r1), 1,
        set(d, divS(get(row), get(P.dH))),
        set(r, sub(get(row), mul(get(d), get(P.dH)))),
        set(dr, add(get(P.dst), shl(mul(get(row), get(P.dW)), 2))),
        memfill(get(dr), 0, shl(get(P.dW), 2)),
        forRange(sc, 0, get(P.sC), 1,
          forRange(t, 0, get(P.kh), 1,
            set(sr, add(add(get(r), mul(get(P.vSign), get(t))), get(P.vOff))),
            if_(ltU(get(sr), get(P.sH)), [
              set(srow, add(get(P.src), shl(mul(add(mul(get(sc), get(P.sH)), get(sr)), get(P.sW)), 2))),
              forRange(u, 0, get(P.kw), 1,
                set(wi, add(add(mul(get(d), get(P.wsD)), mul(get(sc), get(P.wsS))), add(mul(get(t), get(P.kw)), get(u)))),
                set(wsc, f32load(add(get(P.w), shl(get(wi), 2)))),
                set(wv, f32x4splat(get(wsc))),
                // source column = j + off; valid j: [max(0, -off), min(dW, sW - off))
                set(off, add(mul(get(P.hSign), get(u)), get(P.hOff))),
                set(ja, select(sub(0, get(off)), 0, gtS(sub(0, get(off)), 0))),
                set(jb, minS(get(P.dW), sub(get(P.sW), get(off)))),
                set(j, get(ja)),
                block(loop(
                  brIf(1, gtS(add(get(j), 4), get(jb))),
                  set(a, add(get(dr), shl(get(j), 2))),
                  v128store(get(a), f32x4add(v128load(get(a)), f32x4mul(get(wv), v128load(add(get(srow), shl(add(get(j), get(off)), 2)))))),
                  set(j, add(get(j), 4)),
                  br(0),
                )),
                block(loop(
                  brIf(1, geS(get(j), get(jb))),
                  set(a, add(get(dr), shl(get(j), 2))),
                  f32store(get(a), f32add(f32load(get(a)), f32mul(get(wsc), f32load(add(get(srow), shl(add(get(j), get(off)), 2)))))),
                  set(j, add(get(j), 1)),
                  br(0),
                )),
              ),
            ]),
          ),
        ),
      ),
    );
  }

  // ---------- dconvW(P): direct stride-1 weight gradient as SIMD row dot products ----------
  const dconvW = mb.fn('dconvW', [I32]);
  {
    const f = dconvW;
    const P = loadParams(f, 0, WP) as Record<keyof typeof WP, number>;
    const L = () => f.local(I32);
    const pr = L(), co = L(), c = L(), ky = L(), kx = L(), oy = L(), iy = L(), dyr = L(), xr = L(), off = L(), ja = L(), jb = L(), j = L(), dst = L();
    const acc = f.local(V128);
    const sacc = f.local(F32);
    const hsum = cat(
      f32x4extract(get(acc), 0), f32x4extract(get(acc), 1), [0x92], f32x4extract(get(acc), 2), [0x92], f32x4extract(get(acc), 3), [0x92],
    );
    f.emit(
      forRange(pr, get(P.r0), get(P.r1), 1,
        set(co, divS(get(pr), get(P.cIn))),
        set(c, sub(get(pr), mul(get(co), get(P.cIn)))),
        forRange(ky, 0, get(P.kh), 1,
          forRange(kx, 0, get(P.kw), 1,
            set(acc, v128zero()),
            set(sacc, f32c(0)),
            set(off, sub(get(kx), get(P.pw))),
            set(ja, select(sub(0, get(off)), 0, gtS(sub(0, get(off)), 0))),
            set(jb, minS(get(P.outW), sub(get(P.w), get(off)))),
            forRange(oy, 0, get(P.outH), 1,
              set(iy, add(sub(get(oy), get(P.ph)), get(ky))),
              if_(ltU(get(iy), get(P.h)), [
                set(dyr, add(get(P.dy), shl(mul(add(mul(get(co), get(P.outH)), get(oy)), get(P.outW)), 2))),
                set(xr, add(get(P.x), shl(mul(add(mul(get(c), get(P.h)), get(iy)), get(P.w)), 2))),
                set(j, get(ja)),
                block(loop(
                  brIf(1, gtS(add(get(j), 4), get(jb))),
                  set(acc, f32x4add(get(acc), f32x4mul(v128load(add(get(dyr), shl(get(j), 2))), v128load(add(get(xr), shl(add(get(j), get(off)), 2)))))),
                  set(j, add(get(j), 4)),
                  br(0),
                )),
                block(loop(
                  brIf(1, geS(get(j), get(jb))),
                  set(sacc, f32add(get(sacc), f32mul(f32load(add(get(dyr), shl(get(j), 2))), f32load(add(get(xr), shl(add(get(j), get(off)), 2)))))),
                  set(j, add(get(j), 1)),
                  br(0),
                )),
              ]),
            ),
            set(dst, add(get(P.dw), shl(add(mul(add(mul(get(pr), get(P.kh)), get(ky)), get(P.kw)), get(kx)), 2))),
            f32store(get(dst), f32add(f32add(hsum, get(sacc)), select(f32load(get(dst)), f32c(0), get(P.acc)))),
          ),
        ),
      ),
    );
  }

  // ---------- dconvP(P): register-blocked direct conv over padded planes ----------
  // Blocks of 32 outputs in 8 accumulators. Source channels run in chunks of `ch` (sized by the
  // caller so a chunk's planes stay in cache); every chunk after the first adds into dst. Kernel
  // rows of width 1..4 are unrolled (wider ones loop).
  const dconvP = mb.fn('dconvP', [I32]);
  {
    const f = dconvP;
    const P = loadParams(f, 0, PP) as Record<keyof typeof PP, number>;
    const L = () => f.local(I32);
    const d = L(), q = L(), sc = L(), t = L(), u = L(), sp = L(), rowp = L(), tap = L(), wp0 = L(), wrow = L(), wtap = L(), out = L();
    const c0 = L(), c1 = L(), wsU4 = L(), first = L();
    const QV = 8;
    const acc = Array.from({ length: QV }, () => f.local(V128));
    const wv = f.local(V128);
    const madd = (a: number, x: E): Bytes => set(a, cfg.fma ? f32x4relaxedMadd(get(wv), x, get(a)) : f32x4add(get(a), f32x4mul(get(wv), x)));
    // One tap at source `tapE` (+ 4*uo bytes) with weight at `wE` (+ uo * wsU floats).
    const oneTap = (uo: number): Bytes => cat(
      set(wv, v128load32splat(uo === 0 ? get(wtap) : add(get(wtap), mul(get(wsU4), uo)))),
      ...acc.map((a, v) => madd(a, v128load(get(tap), v * 16 + uo * 4))),
    );
    const rowBody = (kw: number): Bytes => cat(...Array.from({ length: kw }, (_, uo) => oneTap(uo)));
    const genericRow = forRange(u, 0, get(P.kw), 1,
      oneTap(0),
      set(tap, add(get(tap), 4)),
      set(wtap, add(get(wtap), get(wsU4))),
    );
    const row = if_(eq(get(P.kw), 4), [rowBody(4)], [if_(eq(get(P.kw), 3), [rowBody(3)], [if_(eq(get(P.kw), 2), [rowBody(2)], [if_(eq(get(P.kw), 1), [rowBody(1)], [genericRow])])])]);
    f.emit(
      set(wsU4, shl(get(P.wsU), 2)),
      forRange(d, get(P.d0), get(P.d1), 1,
        forRange(c0, 0, get(P.sC), get(P.ch),
          set(c1, minS(get(P.sC), add(get(c0), get(P.ch)))),
          set(first, eqz(get(c0))),
          forRange(q, get(P.q0), get(P.q1), QV * 4,
            set(out, add(get(P.dst), shl(add(mul(get(d), get(P.dPlane)), get(q)), 2))),
            if_(get(first),
              acc.map((a) => set(a, v128zero())),
              acc.map((a, v) => set(a, v128load(get(out), v * 16))),
            ),
            set(sp, add(get(P.src), shl(add(mul(get(c0), get(P.sPlane)), get(q)), 2))),
            set(wp0, add(get(P.w), shl(add(add(mul(get(d), get(P.wsD)), mul(get(c0), get(P.wsS))), get(P.wOff)), 2))),
            forRange(sc, get(c0), get(c1), 1,
              set(rowp, get(sp)),
              set(wrow, get(wp0)),
              forRange(t, 0, get(P.kh), 1,
                set(tap, get(rowp)),
                set(wtap, get(wrow)),
                row,
                set(rowp, add(get(rowp), shl(get(P.wp), 2))),
                set(wrow, add(get(wrow), shl(get(P.wsT), 2))),
              ),
              set(sp, add(get(sp), shl(get(P.sPlane), 2))),
              set(wp0, add(get(wp0), shl(get(P.wsS), 2))),
            ),
            ...acc.map((a, v) => v128store(get(out), get(a), v * 16)),
          ),
        ),
      ),
    );
  }

  // ---------- copy2d(P): strided plane/row copy (padding and unpadding) ----------
  const copy2d = mb.fn('copy2d', [I32]);
  {
    const f = copy2d;
    const P = loadParams(f, 0, KP) as Record<keyof typeof KP, number>;
    const L = () => f.local(I32);
    const pl = L(), r = L(), sr = L(), dr = L();
    f.emit(
      forRange(pl, get(P.p0), get(P.p1), 1,
        set(sr, add(get(P.src), shl(mul(get(pl), get(P.sPlane)), 2))),
        set(dr, add(get(P.dst), shl(mul(get(pl), get(P.dPlane)), 2))),
        forRange(r, 0, get(P.rows), 1,
          memcopy(get(dr), get(sr), shl(get(P.cols), 2)),
          set(sr, add(get(sr), shl(get(P.sPitch), 2))),
          set(dr, add(get(dr), shl(get(P.dPitch), 2))),
        ),
      ),
    );
  }

  // ---------- test hooks ----------
  const nop = mb.fn('nop', [I32]);
  nop.emit([]);
  const fail = mb.fn('fail', [I32]);
  fail.emit(unreachable());
  const spin = mb.fn('spin', [I32]);
  spin.emit(loop(br(0)));
  return mb.build();
}
