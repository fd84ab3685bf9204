/**
 * Direct stride-1 convolutions for few output channels: dconv (row AXPYs), dconvW (weight
 * gradient as row dot products) and dconvP (register-blocked over zero-padded planes).
 */
import {
  type ModuleBuilder,   I32, F32, V128, type Bytes, type E, f32mul, f32x4splat, f32x4extract, geS, add, sub, mul, divS, shl, eq,
  ltU, gtS, eqz, minS, select, get, set, f32load, f32store, f32add, f32c, v128load, v128store,
  v128load32splat, v128zero, f32x4add, f32x4mul, f32x4relaxedMadd, memfill, block, loop, if_, br, brIf,
  forRange, cat,
} from '../asm.js';
import { DP, PP, WP, type GemmConfig } from '../params.js';
import { geS0, loadParams } from './common.js';

export function emitDirectConv(mb: ModuleBuilder, cfg: GemmConfig): void {
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


}
