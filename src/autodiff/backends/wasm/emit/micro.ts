/**
 * The register-blocked MR x NR micro-kernels of the GEMM: C tile (+)= A panel * B panel, with
 * B from a packed panel (microkernel) or read in place from a row-major matrix (microkernelB).
 */
import {
  type ModuleBuilder,   I32, V128, type Bytes, type E, type Fn, geS, tee, add, sub, mul, and, or, shl, eq, eqz, select, get, set,
  f32load, f32store, f32add, f32c, v128load, v128store, v128load32splat, v128zero, f32x4add, f32x4mul,
  f32x4relaxedMadd, block, loop, if_, br, brIf, call, forRange, cat,
} from '../asm.js';
import type { GemmConfig } from '../params.js';

export function emitMicrokernels(mb: ModuleBuilder, cfg: GemmConfig): { mk: Fn; mkB: Fn } {
  const { mr: MR, nr: NR, unroll: U } = cfg;
  const NV = NR / 4;
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
  return { mk, mkB };
}
