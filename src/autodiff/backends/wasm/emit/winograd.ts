/**
 * Winograd F(2x2, 4x4) transforms for stride-1 4x4 convs (the products in between are 25 GEMMs
 * on the GEMM driver; conv.ts winogradConv). Y = AT [ (G g G^T) .* (BT d BT^T) ] AT^T for a 5x5
 * input patch d, a 4x4 kernel g (correlation, as conv2d) and a 2x2 output tile Y: 25 multiplies
 * per 2x2 outputs instead of 64.
 *
 * The matrices are the Toom-Cook construction for correlation (AT = Vh^T, G = Vg, BT = V^{-T}
 * for the evaluation points) at the points 0, 1, -1, 1/2 and infinity; BT's rows are scaled to
 * integers (G's rows take the inverse factors). In float32 simulation (256-channel sums of
 * post-activation-like inputs) these points had the smallest error of the sets tried (0, +-1,
 * +-1/2 or +-2, infinity; 0, +-1/2, 1, infinity; 0, +-1, +-1/2): ~2e-6 of the output's magnitude,
 * against ~1.3e-5 for the points without infinity. test/kernels/winograd.test.ts checks the
 * identity in float64.
 *
 * SIMD runs over 4 consecutive tiles of a tile row (their patches start 2 columns apart: even /
 * odd lanes of two loads); the weight transform (once per call) over 4 kernels (a 4x4 transpose
 * of their taps).
 */
import {
  type ModuleBuilder, I32, V128, type Bytes, type E, add, sub, mul, divS, shl, ltS, select, get, set, if_,
  v128load, v128store, f32x4add, f32x4sub, f32x4mul, f32x4neg, f32x4const, f32x4shuffle, forRange,
} from '../asm.js';
import { WD, WI, WM, WO, WW } from '../params.js';
import { loadParams } from './common.js';

/** Output transform (2 x 5). */
export const WINO_AT: readonly (readonly number[])[] = [
  [1, 1, 1, 1, 0],
  [0, 1, -1, 1 / 2, 1],
];
/** Kernel transform (5 x 4). */
export const WINO_G: readonly (readonly number[])[] = [
  [1, 0, 0, 0],
  [1 / 2, 1 / 2, 1 / 2, 1 / 2],
  [1 / 6, -1 / 6, 1 / 6, -1 / 6],
  [8 / 3, 4 / 3, 2 / 3, 1 / 3],
  [0, 0, 0, 1 / 2],
];
/** Input transform (5 x 5). */
export const WINO_BT: readonly (readonly number[])[] = [
  [1, -2, -1, 2, 0],
  [0, -1, 1, 2, 0],
  [0, -1, 3, -2, 0],
  [0, 1, 0, -1, 0],
  [0, 1, -2, -1, 2],
];

/**
 * F(4x4, 2x2) at the same points (the weight gradient: 4x4 taps from 5x5 patches of x and 2x2
 * tiles of dy; its BT is WINO_BT): output transform (4 x 5) and filter transform (5 x 2).
 */
export const WINO4_AT: readonly (readonly number[])[] = [
  [1, 1, 1, 1, 0],
  [0, 1, -1, 1 / 2, 0],
  [0, 1, 1, 1 / 4, 0],
  [0, 1, -1, 1 / 8, 1],
];
export const WINO4_G: readonly (readonly number[])[] = [
  [1, 0],
  [1 / 2, 1 / 2],
  [1 / 6, -1 / 6],
  [8 / 3, 4 / 3],
  [0, 1 / 2],
];

type Ops = { add: (a: E, b: E) => Bytes; sub: (a: E, b: E) => Bytes; mul: (a: E, b: E) => Bytes; neg: (a: E) => Bytes; c: (x: number) => Bytes };
const vecOps: Ops = { add: f32x4add, sub: f32x4sub, mul: f32x4mul, neg: f32x4neg, c: f32x4const };

/** sum_j coefs[j] * xs[j] as an expression (zero terms skipped, +-1 as add / sub). */
function lin(ops: Ops, coefs: readonly number[], xs: number[]): Bytes {
  const terms = coefs.map((c, j) => ({ c, x: xs[j]! })).filter((t) => t.c !== 0);
  // A positive unit term first saves a negation.
  terms.sort((a, b) => Number(b.c === 1) - Number(a.c === 1));
  let acc: Bytes | null = null;
  for (const { c, x } of terms) {
    const mag = Math.abs(c);
    const v: Bytes = mag === 1 ? get(x) : ops.mul(get(x), ops.c(mag));
    acc = acc === null ? (c > 0 ? v : ops.neg(v)) : c > 0 ? ops.add(acc, v) : ops.sub(acc, v);
  }
  return acc ?? ops.c(0);
}

export function emitWinograd(mb: ModuleBuilder): void {
  // ---------- winoIn(P): input tiles -> V (see WI) ----------
  {
    const f = mb.fn('winoIn', [I32]);
    const P = loadParams(f, 0, WI) as Record<keyof typeof WI, number>;
    const L = () => f.local(I32);
    const p = L(), img = L(), c = L(), sb = L(), db = L(), ty = L(), tx = L(), r = L(), o = L(), xiB = L();
    const col = Array.from({ length: 5 }, () => f.local(V128));
    const ld = Array.from({ length: 5 }, () => f.local(V128));
    const rt = Array.from({ length: 25 }, () => f.local(V128));
    const tpi = L();
    const rowBody = (y: number): Bytes[] => {
      const code: Bytes[] = [set(r, add(get(o), mul(get(P.wp), 4 * y)))];
      // Floats b, b+4 (cols 0 / 1: even / odd lanes), b+2, b+6 (cols 2 / 3), b+8 (col 4 with b+4).
      [0, 4, 2, 6, 8].forEach((off, i) => code.push(set(ld[i]!, v128load(get(r), off * 4))));
      code.push(
        set(col[0]!, f32x4shuffle(get(ld[0]!), get(ld[1]!), [0, 2, 4, 6])),
        set(col[1]!, f32x4shuffle(get(ld[0]!), get(ld[1]!), [1, 3, 5, 7])),
        set(col[2]!, f32x4shuffle(get(ld[2]!), get(ld[3]!), [0, 2, 4, 6])),
        set(col[3]!, f32x4shuffle(get(ld[2]!), get(ld[3]!), [1, 3, 5, 7])),
        set(col[4]!, f32x4shuffle(get(ld[1]!), get(ld[4]!), [0, 2, 4, 6])),
      );
      for (let i = 0; i < 5; i++) code.push(set(rt[y * 5 + i]!, lin(vecOps, WINO_BT[i]!, col)));
      return code;
    };
    const stores: Bytes[] = [];
    for (let k = 0; k < 5; k++) {
      for (let i = 0; i < 5; i++) {
        const xi = k * 5 + i;
        const addr = xi === 0 ? get(o) : add(get(o), mul(get(xiB), xi));
        stores.push(v128store(addr, lin(vecOps, WINO_BT[k]!, [0, 1, 2, 3, 4].map((y) => rt[y * 5 + i]!))));
      }
    }
    f.emit(
      set(xiB, shl(mul(get(P.cIn), get(P.tiles)), 2)),
      set(tpi, mul(get(P.th), get(P.tw))),
      forRange(p, get(P.p0), get(P.p1), 1,
        set(img, divS(get(p), get(P.cIn))),
        set(c, sub(get(p), mul(get(img), get(P.cIn)))),
        set(sb, add(get(P.src), shl(mul(get(p), get(P.sPlane)), 2))),
        set(db, add(get(P.dst), shl(add(mul(get(c), get(P.tiles)), mul(get(img), get(tpi))), 2))),
        forRange(ty, 0, get(P.th), 1,
          forRange(tx, 0, get(P.tw), 4,
            set(o, add(get(sb), shl(add(mul(mul(get(ty), 2), get(P.wp)), mul(get(tx), 2)), 2))),
            ...[0, 1, 2, 3, 4].flatMap(rowBody),
            set(o, add(get(db), shl(add(mul(get(ty), get(P.tw)), get(tx)), 2))),
            ...stores,
          ),
        ),
      ),
    );
  }

  // ---------- winoOut(P): M -> output tiles (see WO) ----------
  {
    const f = mb.fn('winoOut', [I32]);
    const P = loadParams(f, 0, WO) as Record<keyof typeof WO, number>;
    const L = () => f.local(I32);
    const p = L(), img = L(), oc = L(), sb = L(), db = L(), ty = L(), tx = L(), o = L(), xiB = L(), tpi = L(), pitch = L();
    const m = Array.from({ length: 5 }, () => f.local(V128));
    const tc = Array.from({ length: 10 }, () => f.local(V128));
    const y = Array.from({ length: 4 }, () => f.local(V128));
    const body: Bytes[] = [set(o, add(get(sb), shl(add(mul(get(ty), get(P.tw)), get(tx)), 2)))];
    for (let k = 0; k < 5; k++) {
      for (let i = 0; i < 5; i++) {
        const xi = k * 5 + i;
        body.push(set(m[i]!, v128load(xi === 0 ? get(o) : add(get(o), mul(get(xiB), xi)))));
      }
      for (let b = 0; b < 2; b++) body.push(set(tc[k * 2 + b]!, lin(vecOps, WINO_AT[b]!, m)));
    }
    for (let a = 0; a < 2; a++) {
      for (let b = 0; b < 2; b++) body.push(set(y[a * 2 + b]!, lin(vecOps, WINO_AT[a]!, [0, 1, 2, 3, 4].map((k) => tc[k * 2 + b]!))));
    }
    body.push(set(o, add(get(db), shl(add(mul(mul(get(ty), 2), get(pitch)), mul(get(tx), 2)), 2))));
    for (let a = 0; a < 2; a++) {
      const row = a === 0 ? get(o) : add(get(o), shl(get(pitch), 2));
      body.push(
        v128store(row, f32x4shuffle(get(y[a * 2]!), get(y[a * 2 + 1]!), [0, 4, 1, 5])),
        v128store(row, f32x4shuffle(get(y[a * 2]!), get(y[a * 2 + 1]!), [2, 6, 3, 7]), 16),
      );
    }
    f.emit(
      set(xiB, shl(mul(get(P.cOut), get(P.tiles)), 2)),
      set(tpi, mul(get(P.th), get(P.tw))),
      set(pitch, mul(get(P.tw), 2)),
      forRange(p, get(P.p0), get(P.p1), 1,
        set(img, divS(get(p), get(P.cOut))),
        set(oc, sub(get(p), mul(get(img), get(P.cOut)))),
        set(sb, add(get(P.src), shl(add(mul(get(oc), get(P.tiles)), mul(get(img), get(tpi))), 2))),
        set(db, add(get(P.dst), shl(mul(get(p), get(P.oPlane)), 2))),
        forRange(ty, 0, get(P.th), 1, forRange(tx, 0, get(P.tw), 4, ...body)),
      ),
    );
  }

  // ---------- winoW(P): kernels -> U (see WW), 4 kernels i at a time ----------
  {
    const f = mb.fn('winoW', [I32]);
    const P = loadParams(f, 0, WW) as Record<keyof typeof WW, number>;
    const L = () => f.local(I32);
    const oo = L(), i = L(), dst = L(), xiB = L(), last = L();
    const b = Array.from({ length: 4 }, () => L());
    const r = Array.from({ length: 4 }, () => f.local(V128));
    const tt = Array.from({ length: 4 }, () => f.local(V128));
    // tm[m] = float m of the 4 kernels' 16 (lane l = kernel i + l).
    const tm = Array.from({ length: 16 }, () => f.local(V128));
    const gg = Array.from({ length: 20 }, () => f.local(V128));
    const body = (flip: boolean): Bytes[] => {
      const code: Bytes[] = [];
      for (let j = 0; j < 4; j++) {
        for (let l = 0; l < 4; l++) code.push(set(r[l]!, v128load(get(b[l]!), 16 * j)));
        code.push(
          set(tt[0]!, f32x4shuffle(get(r[0]!), get(r[1]!), [0, 4, 1, 5])),
          set(tt[1]!, f32x4shuffle(get(r[2]!), get(r[3]!), [0, 4, 1, 5])),
          set(tt[2]!, f32x4shuffle(get(r[0]!), get(r[1]!), [2, 6, 3, 7])),
          set(tt[3]!, f32x4shuffle(get(r[2]!), get(r[3]!), [2, 6, 3, 7])),
          set(tm[4 * j]!, f32x4shuffle(get(tt[0]!), get(tt[1]!), [0, 1, 4, 5])),
          set(tm[4 * j + 1]!, f32x4shuffle(get(tt[0]!), get(tt[1]!), [2, 3, 6, 7])),
          set(tm[4 * j + 2]!, f32x4shuffle(get(tt[2]!), get(tt[3]!), [0, 1, 4, 5])),
          set(tm[4 * j + 3]!, f32x4shuffle(get(tt[2]!), get(tt[3]!), [2, 3, 6, 7])),
        );
      }
      const tap = (t: number, u: number) => tm[flip ? 15 - 4 * t - u : 4 * t + u]!;
      // gg[k][u] = sum_t G[k][t] g[t][u]; U[k][j] = sum_u gg[k][u] G[j][u].
      for (let k = 0; k < 5; k++) for (let u = 0; u < 4; u++) code.push(set(gg[k * 4 + u]!, lin(vecOps, WINO_G[k]!, [0, 1, 2, 3].map((t) => tap(t, u)))));
      for (let k = 0; k < 5; k++) {
        for (let j = 0; j < 5; j++) {
          const xi = k * 5 + j;
          code.push(v128store(xi === 0 ? get(dst) : add(get(dst), mul(get(xiB), xi)), lin(vecOps, WINO_G[j]!, [0, 1, 2, 3].map((u) => gg[k * 4 + u]!))));
        }
      }
      return code;
    };
    const kernelAt = (lane: number): Bytes => {
      const ii = lane === 0 ? get(i) : add(get(i), lane);
      const clamped = lane === 0 ? ii : select(ii, get(last), ltS(ii, get(last)));
      return set(b[lane]!, add(get(P.w), shl(add(mul(get(oo), get(P.so)), mul(clamped, get(P.si))), 2)));
    };
    f.emit(
      set(xiB, shl(mul(get(P.cO), get(P.ldu)), 2)),
      set(last, sub(get(P.cI), 1)),
      forRange(oo, get(P.o0), get(P.o1), 1, forRange(i, 0, get(P.cI), 4,
        ...[0, 1, 2, 3].map(kernelAt),
        set(dst, add(get(P.dst), shl(add(mul(get(oo), get(P.ldu)), get(i)), 2))),
        if_(get(P.flip), body(true), body(false)),
      )),
    );
  }

  // ---------- winoDy(P): 2x2 tiles of dy -> Udy (see WD) ----------
  {
    const f = mb.fn('winoDy', [I32]);
    const P = loadParams(f, 0, WD) as Record<keyof typeof WD, number>;
    const L = () => f.local(I32);
    const p = L(), img = L(), oc = L(), sb = L(), db = L(), ty = L(), tx = L(), o = L(), xiB = L(), tpi = L(), pitchB = L();
    const ld = Array.from({ length: 2 }, () => f.local(V128));
    const e = Array.from({ length: 4 }, () => f.local(V128));
    const rt = Array.from({ length: 10 }, () => f.local(V128));
    const body: Bytes[] = [set(o, add(get(sb), shl(add(mul(mul(get(ty), 2), mul(get(P.tw), 2)), mul(get(tx), 2)), 2)))];
    for (let y = 0; y < 2; y++) {
      const row = y === 0 ? get(o) : add(get(o), get(pitchB));
      body.push(
        set(ld[0]!, v128load(row)), set(ld[1]!, v128load(row, 16)),
        set(e[y * 2]!, f32x4shuffle(get(ld[0]!), get(ld[1]!), [0, 2, 4, 6])),
        set(e[y * 2 + 1]!, f32x4shuffle(get(ld[0]!), get(ld[1]!), [1, 3, 5, 7])),
      );
      for (let i = 0; i < 5; i++) body.push(set(rt[y * 5 + i]!, lin(vecOps, WINO4_G[i]!, [e[y * 2]!, e[y * 2 + 1]!])));
    }
    body.push(set(o, add(get(db), shl(add(mul(get(ty), get(P.tw)), get(tx)), 2))));
    for (let k = 0; k < 5; k++) {
      for (let i = 0; i < 5; i++) {
        const xi = k * 5 + i;
        body.push(v128store(xi === 0 ? get(o) : add(get(o), mul(get(xiB), xi)), lin(vecOps, WINO4_G[k]!, [rt[i]!, rt[5 + i]!])));
      }
    }
    f.emit(
      set(xiB, shl(mul(get(P.cOut), get(P.tiles)), 2)),
      set(tpi, mul(get(P.th), get(P.tw))),
      set(pitchB, shl(mul(get(P.tw), 2), 2)),
      forRange(p, get(P.p0), get(P.p1), 1,
        set(img, divS(get(p), get(P.cOut))),
        set(oc, sub(get(p), mul(get(img), get(P.cOut)))),
        set(sb, add(get(P.src), shl(mul(get(p), get(P.sPlane)), 2))),
        set(db, add(get(P.dst), shl(add(mul(get(oc), get(P.tiles)), mul(get(img), get(tpi))), 2))),
        forRange(ty, 0, get(P.th), 1, forRange(tx, 0, get(P.tw), 4, ...body)),
      ),
    );
  }

  // ---------- winoWOut(P): Mw -> 4x4 weight gradients (see WM), 4 kernels i at a time ----------
  {
    const f = mb.fn('winoWOut', [I32]);
    const P = loadParams(f, 0, WM) as Record<keyof typeof WM, number>;
    const L = () => f.local(I32);
    const oo = L(), i = L(), src = L(), dst = L(), xiB = L();
    const m = Array.from({ length: 5 }, () => f.local(V128));
    const tc = Array.from({ length: 20 }, () => f.local(V128));
    const y = Array.from({ length: 4 }, () => f.local(V128));
    const tt = Array.from({ length: 4 }, () => f.local(V128));
    const body: Bytes[] = [set(src, add(get(P.src), shl(add(mul(get(oo), get(P.ldm)), get(i)), 2)))];
    // tc[k][b] = sum_j A4T[b][j] M[k][j] (k < 5, b < 4).
    for (let k = 0; k < 5; k++) {
      for (let j = 0; j < 5; j++) {
        const xi = k * 5 + j;
        body.push(set(m[j]!, v128load(xi === 0 ? get(src) : add(get(src), mul(get(xiB), xi)))));
      }
      for (let b = 0; b < 4; b++) body.push(set(tc[k * 4 + b]!, lin(vecOps, WINO4_AT[b]!, m)));
    }
    body.push(set(dst, add(get(P.dst), shl(mul(add(mul(get(oo), get(P.cI)), get(i)), 16), 2))));
    for (let a = 0; a < 4; a++) {
      // Row a of the 4 kernels' taps: y[b] (lane l = kernel i + l), transposed to one vector per kernel.
      for (let b = 0; b < 4; b++) body.push(set(y[b]!, lin(vecOps, WINO4_AT[a]!, [0, 1, 2, 3, 4].map((k) => tc[k * 4 + b]!))));
      body.push(
        set(tt[0]!, f32x4shuffle(get(y[0]!), get(y[1]!), [0, 4, 1, 5])),
        set(tt[1]!, f32x4shuffle(get(y[2]!), get(y[3]!), [0, 4, 1, 5])),
        set(tt[2]!, f32x4shuffle(get(y[0]!), get(y[1]!), [2, 6, 3, 7])),
        set(tt[3]!, f32x4shuffle(get(y[2]!), get(y[3]!), [2, 6, 3, 7])),
        v128store(get(dst), f32x4shuffle(get(tt[0]!), get(tt[1]!), [0, 1, 4, 5]), a * 16),
      );
      // Kernels past cI are not stored.
      const lanes: [number, [number, number, number, number], number][] = [[1, [2, 3, 6, 7], 0], [2, [0, 1, 4, 5], 2], [3, [2, 3, 6, 7], 2]];
      for (const [l, sh, from] of lanes) {
        body.push(if_(ltS(add(get(i), l), get(P.cI)), [
          v128store(get(dst), f32x4shuffle(get(tt[from]!), get(tt[from + 1]!), sh), l * 64 + a * 16),
        ]));
      }
    }
    f.emit(
      set(xiB, shl(mul(get(P.cO), get(P.ldm)), 2)),
      forRange(oo, get(P.o0), get(P.o1), 1, forRange(i, 0, get(P.cI), 4, ...body)),
    );
  }
}
