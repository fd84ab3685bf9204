/**
 * Packing of GEMM operands into the micro-kernel's panel layouts: packA (MR-row panels of A)
 * and packB (NR-column panels of a strided B).
 */
import {
  type ModuleBuilder, type Fn,   I32, V128, type Bytes, type E, geS, add, sub, mul, and, shl, eq, ltS, gtS, minS, select, get, set, f32load,
  f32store, f32c, v128load, v128store, f32x4shuffle, block, loop, if_, br, brIf, forRange, cat,
} from '../asm.js';
import type { GemmConfig } from '../params.js';

export function emitPacking(mb: ModuleBuilder, cfg: GemmConfig): { packA: Fn; packB: Fn } {
  const { mr: MR, nr: NR } = cfg;
  const NV = NR / 4;
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

  return { packA, packB };
}
