/**
 * Implicit im2col: packs NR-column panels of the column matrix (packBConv) or of its transpose
 * (packBConvT) straight from the image, so no column matrix is ever written to memory.
 */
import {
  type ModuleBuilder, type Fn,   I32, type E, add, sub, mul, divS, and, or, shl, eq, ltS, ltU, leS, minS, select, get, set, f32load,
  f32store, f32c, v128load, v128store, f32x4shuffle, memfill, if_, forRange,
} from '../asm.js';
import { CP, type GemmConfig } from '../params.js';
import { geS0, loadParams } from './common.js';

export function emitImplicitPacking(mb: ModuleBuilder, cfg: GemmConfig): { packBConv: Fn; packBConvT: Fn } {
  const { nr: NR } = cfg;
  const NV = NR / 4;
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
  return { packBConv, packBConvT };
}
