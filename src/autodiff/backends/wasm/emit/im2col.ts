/**
 * Explicit im2col (the column matrix of a conv, kept for comparison) and col2im (the
 * scatter-add of a column matrix back into an image: the conv input gradient).
 */
import {
  type ModuleBuilder,   I32, type Bytes, type E, geS, add, sub, mul, divS, remS, and, shl, eq, ltS, ltU, gtS, leS, minS, select,
  get, set, f32load, f32store, f32add, f32c, v128load, v128store, f32x4shuffle, f32x4add, memfill, memcopy,
  block, loop, if_, br, brIf, forRange, cat,
} from '../asm.js';
import { CP } from '../params.js';
import { geS0, loadParams } from './common.js';

export function emitIm2col(mb: ModuleBuilder): void {
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


}
