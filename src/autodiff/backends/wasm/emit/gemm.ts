/**
 * The GEMM entry points: gemmCore (one static slice of a blocked, batched GEMM), gemm (a task:
 * a static slice or dynamic chunks taken from a shared counter) and packAll (all of A packed
 * once, for column-split threaded GEMMs).
 */
import {
  type ModuleBuilder, type Fn,   I32, type Bytes, type E, geS, atomicAdd, add, sub, mul, divS, and, or, shl, eq, ltS, gtS, eqz, minS,
  select, get, set, block, loop, if_, br, brIf, call, forRange, cat,
} from '../asm.js';
import { AP, GP, GP_DYN, type GemmConfig } from '../params.js';
import { loadParams } from './common.js';

export function emitGemm(mb: ModuleBuilder, cfg: GemmConfig, k: { mk: Fn; mkB: Fn; packA: Fn; packB: Fn; packBConv: Fn; packBConvT: Fn }): void {
  const { mr: MR, nr: NR, kc: KC, mc: MC, nc: NC } = cfg;
  const { mk, mkB, packA, packB, packBConv, packBConvT } = k;
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

}
