/**
 * Winograd transforms for stride-1 r x r convs, r = 2, 3 or 4 (the products in between are GEMMs on
 * the GEMM driver; conv.ts winogradConv). Forward F(2x2, r x r): Y = AT [ (G g G^T) .* (BT d BT^T) ] AT^T
 * for an alpha x alpha input patch d (alpha = r + 1), an r x r kernel g (correlation, as conv2d)
 * and a 2x2 output tile Y: alpha^2 multiplies per 2x2 outputs instead of 4 r^2 (16 vs 36 for
 * 3x3, 25 vs 64 for 4x4). Weight gradient F(r x r, 2x2) at the same points: the r x r taps are
 * the outputs, 2x2 tiles of dy the filters, and its input transform is the forward's BT.
 *
 * The matrices are the Toom-Cook construction for correlation (AT = Vh^T, G = Vg, BT = V^{-T}
 * for the evaluation points); BT's rows are scaled to integers (G's rows take the inverse
 * factors). 3x3: the points 0, 1, -1 and infinity (Lavin and Gray's F(2x2, 3x3)). 4x4: 0, 1,
 * -1, 1/2 and infinity: in float32 simulation (256-channel sums of post-activation-like
 * inputs) the smallest error of the sets tried (0, +-1, +-1/2 or +-2, infinity; 0, +-1/2, 1,
 * infinity; 0, +-1, +-1/2): ~2e-6 of the output's magnitude, against ~1.3e-5 for the points
 * without infinity. test/kernels/winograd.test.ts checks the identities in float64.
 *
 * SIMD runs over 4 consecutive tiles of a tile row (their patches start 2 columns apart: even /
 * odd lanes of two loads); the weight transforms (once per call) over 4 kernels (4x4
 * transposes of their taps). Every function is emitted once per kernel size, named with it
 * (winoIn3, winoIn4, ...).
 */
import {
  type ModuleBuilder, I32, V128, type Bytes, type E, add, sub, mul, divS, shl, ltS, select, get, set, if_,
  v128load, v128store, f32load, f32store, f32x4add, f32x4sub, f32x4mul, f32x4neg, f32x4const, f32x4shuffle,
  f32x4splat, f32x4replace, f32x4extract, forRange,
} from '../asm.js';
import { WD, WI, WM, WO, WW } from '../params.js';
import { loadParams } from './common.js';

type Mat = readonly (readonly number[])[];

/** The transforms of the Winograd convs of one kernel size r (alpha = r + 1 points). */
export interface WinoSpec {
  r: 2 | 3 | 4;
  alpha: number;
  /** Forward F(2x2, r x r): output transform (2 x alpha), kernel transform (alpha x r), input transform (alpha x alpha). */
  AT: Mat;
  G: Mat;
  BT: Mat;
  /** Weight gradient F(r x r, 2x2): output transform (r x alpha), dy-tile transform (alpha x 2); its input transform is BT. */
  WAT: Mat;
  WG: Mat;
}

/**
 * 2x2 (the stride-2 4x4 convs' four polyphase taps, conv.ts polyphase): points 0, 1, infinity;
 * every entry is 0 or 1, so the transforms add without rounding beyond the sums themselves. The
 * weight gradient's F(2x2, 2x2) is the forward's.
 */
export const WINO2: WinoSpec = {
  r: 2,
  alpha: 3,
  AT: [
    [1, 1, 0],
    [0, 1, 1],
  ],
  G: [
    [1, 0],
    [1, 1],
    [0, 1],
  ],
  BT: [
    [1, -1, 0],
    [0, 1, 0],
    [0, -1, 1],
  ],
  WAT: [
    [1, 1, 0],
    [0, 1, 1],
  ],
  WG: [
    [1, 0],
    [1, 1],
    [0, 1],
  ],
};

export const WINO3: WinoSpec = {
  r: 3,
  alpha: 4,
  AT: [
    [1, 1, 1, 0],
    [0, 1, -1, -1],
  ],
  G: [
    [1, 0, 0],
    [1 / 2, 1 / 2, 1 / 2],
    [1 / 2, -1 / 2, 1 / 2],
    [0, 0, 1],
  ],
  BT: [
    [1, 0, -1, 0],
    [0, 1, 1, 0],
    [0, -1, 1, 0],
    [0, 1, 0, -1],
  ],
  WAT: [
    [1, 1, 1, 0],
    [0, 1, -1, 0],
    [0, 1, 1, -1],
  ],
  WG: [
    [1, 0],
    [1 / 2, 1 / 2],
    [1 / 2, -1 / 2],
    [0, 1],
  ],
};

export const WINO4: WinoSpec = {
  r: 4,
  alpha: 5,
  AT: [
    [1, 1, 1, 1, 0],
    [0, 1, -1, 1 / 2, 1],
  ],
  G: [
    [1, 0, 0, 0],
    [1 / 2, 1 / 2, 1 / 2, 1 / 2],
    [1 / 6, -1 / 6, 1 / 6, -1 / 6],
    [8 / 3, 4 / 3, 2 / 3, 1 / 3],
    [0, 0, 0, 1 / 2],
  ],
  BT: [
    [1, -2, -1, 2, 0],
    [0, -1, 1, 2, 0],
    [0, -1, 3, -2, 0],
    [0, 1, 0, -1, 0],
    [0, 1, -2, -1, 2],
  ],
  WAT: [
    [1, 1, 1, 1, 0],
    [0, 1, -1, 1 / 2, 0],
    [0, 1, 1, 1 / 4, 0],
    [0, 1, -1, 1 / 8, 1],
  ],
  WG: [
    [1, 0],
    [1 / 2, 1 / 2],
    [1 / 6, -1 / 6],
    [8 / 3, 4 / 3],
    [0, 1 / 2],
  ],
};

export const WINO_SPECS: readonly WinoSpec[] = [WINO2, WINO3, WINO4];

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

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Byte address base + xi * xiB (the xi-th of the alpha^2 transformed matrices). */
const at = (base: number, xiB: number, xi: number): Bytes => (xi === 0 ? get(base) : add(get(base), mul(get(xiB), xi)));

export function emitWinograd(mb: ModuleBuilder): void {
  for (const spec of WINO_SPECS) emitSpec(mb, spec);
}

function emitSpec(mb: ModuleBuilder, spec: WinoSpec): void {
  const { r, alpha: A, AT, G, BT, WAT, WG } = spec;
  const rr = r * r;

  // ---------- winoIn(P): input tiles -> V (see WI) ----------
  {
    const f = mb.fn(`winoIn${r}`, [I32]);
    const P = loadParams(f, 0, WI) as Record<keyof typeof WI, number>;
    const L = () => f.local(I32);
    const p = L(), img = L(), c = L(), sb = L(), db = L(), ty = L(), tx = L(), row = L(), o = L(), xiB = L();
    const col = range(A).map(() => f.local(V128));
    // Patch column j of the 4 tiles = floats j, j+2, j+4, j+6 of the row: the even (j even) or odd
    // lanes of the loads at floats j & ~1 and (j & ~1) + 4.
    const offs = [...new Set(range(A).flatMap((j) => [j & ~1, (j & ~1) + 4]))];
    const ld = new Map(offs.map((off) => [off, f.local(V128)]));
    const rt = range(A * A).map(() => f.local(V128));
    const tpi = L();
    const rowBody = (y: number): Bytes[] => {
      const code: Bytes[] = [set(row, add(get(o), mul(get(P.wp), 4 * y)))];
      for (const [off, l] of ld) code.push(set(l, v128load(get(row), off * 4)));
      for (let j = 0; j < A; j++) {
        const b = j & ~1;
        code.push(set(col[j]!, f32x4shuffle(get(ld.get(b)!), get(ld.get(b + 4)!), j & 1 ? [1, 3, 5, 7] : [0, 2, 4, 6])));
      }
      for (let i = 0; i < A; i++) code.push(set(rt[y * A + i]!, lin(vecOps, BT[i]!, col)));
      return code;
    };
    const stores: Bytes[] = [];
    for (let k = 0; k < A; k++) {
      for (let i = 0; i < A; i++) stores.push(v128store(at(o, xiB, k * A + i), lin(vecOps, BT[k]!, range(A).map((y) => rt[y * A + i]!))));
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
            ...range(A).flatMap(rowBody),
            set(o, add(get(db), shl(add(mul(get(ty), get(P.tw)), get(tx)), 2))),
            ...stores,
          ),
        ),
      ),
    );
  }

  // ---------- winoOut(P): M -> output tiles (see WO) ----------
  {
    const f = mb.fn(`winoOut${r}`, [I32]);
    const P = loadParams(f, 0, WO) as Record<keyof typeof WO, number>;
    const L = () => f.local(I32);
    const p = L(), img = L(), oc = L(), sb = L(), db = L(), ty = L(), tx = L(), o = L(), xiB = L(), tpi = L(), pitch = L();
    const m = range(A).map(() => f.local(V128));
    const tc = range(2 * A).map(() => f.local(V128));
    const y = range(4).map(() => f.local(V128));
    const body: Bytes[] = [set(o, add(get(sb), shl(add(mul(get(ty), get(P.tw)), get(tx)), 2)))];
    for (let k = 0; k < A; k++) {
      for (let i = 0; i < A; i++) body.push(set(m[i]!, v128load(at(o, xiB, k * A + i))));
      for (let b = 0; b < 2; b++) body.push(set(tc[k * 2 + b]!, lin(vecOps, AT[b]!, m)));
    }
    for (let a = 0; a < 2; a++) {
      for (let b = 0; b < 2; b++) body.push(set(y[a * 2 + b]!, lin(vecOps, AT[a]!, range(A).map((k) => tc[k * 2 + b]!))));
    }
    body.push(set(o, add(get(db), shl(add(mul(mul(get(ty), 2), get(pitch)), mul(get(tx), 2)), 2))));
    for (let a = 0; a < 2; a++) {
      const rowAddr = a === 0 ? get(o) : add(get(o), shl(get(pitch), 2));
      body.push(
        v128store(rowAddr, f32x4shuffle(get(y[a * 2]!), get(y[a * 2 + 1]!), [0, 4, 1, 5])),
        v128store(rowAddr, f32x4shuffle(get(y[a * 2]!), get(y[a * 2 + 1]!), [2, 6, 3, 7]), 16),
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
    const f = mb.fn(`winoW${r}`, [I32]);
    const P = loadParams(f, 0, WW) as Record<keyof typeof WW, number>;
    const L = () => f.local(I32);
    const oo = L(), i = L(), dst = L(), xiB = L(), last = L();
    const b = range(4).map(() => L());
    const rv = range(4).map(() => f.local(V128));
    const tt = range(4).map(() => f.local(V128));
    // tm[m] = float m of the 4 kernels' r^2 (lane l = kernel i + l).
    const tm = range(rr).map(() => f.local(V128));
    const gg = range(A * r).map(() => f.local(V128));
    // Taps 0 .. 4 full - 1 by vector loads and 4x4 transposes; the rest (r = 3: the last tap) by
    // scalar loads, which never read past a kernel's r^2 floats.
    const full = Math.floor(rr / 4);
    const body = (flip: boolean): Bytes[] => {
      const code: Bytes[] = [];
      for (let j = 0; j < full; j++) {
        for (let l = 0; l < 4; l++) code.push(set(rv[l]!, v128load(get(b[l]!), 16 * j)));
        code.push(
          set(tt[0]!, f32x4shuffle(get(rv[0]!), get(rv[1]!), [0, 4, 1, 5])),
          set(tt[1]!, f32x4shuffle(get(rv[2]!), get(rv[3]!), [0, 4, 1, 5])),
          set(tt[2]!, f32x4shuffle(get(rv[0]!), get(rv[1]!), [2, 6, 3, 7])),
          set(tt[3]!, f32x4shuffle(get(rv[2]!), get(rv[3]!), [2, 6, 3, 7])),
          set(tm[4 * j]!, f32x4shuffle(get(tt[0]!), get(tt[1]!), [0, 1, 4, 5])),
          set(tm[4 * j + 1]!, f32x4shuffle(get(tt[0]!), get(tt[1]!), [2, 3, 6, 7])),
          set(tm[4 * j + 2]!, f32x4shuffle(get(tt[2]!), get(tt[3]!), [0, 1, 4, 5])),
          set(tm[4 * j + 3]!, f32x4shuffle(get(tt[2]!), get(tt[3]!), [2, 3, 6, 7])),
        );
      }
      for (let t = 4 * full; t < rr; t++) {
        let v = f32x4splat(f32load(get(b[0]!), 4 * t));
        for (let l = 1; l < 4; l++) v = f32x4replace(v, f32load(get(b[l]!), 4 * t), l);
        code.push(set(tm[t]!, v));
      }
      const tap = (t: number, u: number) => tm[flip ? rr - 1 - r * t - u : r * t + u]!;
      // gg[k][u] = sum_t G[k][t] g[t][u]; U[k][j] = sum_u gg[k][u] G[j][u].
      for (let k = 0; k < A; k++) for (let u = 0; u < r; u++) code.push(set(gg[k * r + u]!, lin(vecOps, G[k]!, range(r).map((t) => tap(t, u)))));
      for (let k = 0; k < A; k++) {
        for (let j = 0; j < A; j++) code.push(v128store(at(dst, xiB, k * A + j), lin(vecOps, G[j]!, range(r).map((u) => gg[k * r + u]!))));
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
        ...range(4).map(kernelAt),
        set(dst, add(get(P.dst), shl(add(mul(get(oo), get(P.ldu)), get(i)), 2))),
        if_(get(P.flip), body(true), body(false)),
      )),
    );
  }

  // ---------- winoDy(P): 2x2 tiles of dy -> Udy (see WD) ----------
  {
    const f = mb.fn(`winoDy${r}`, [I32]);
    const P = loadParams(f, 0, WD) as Record<keyof typeof WD, number>;
    const L = () => f.local(I32);
    const p = L(), img = L(), oc = L(), sb = L(), db = L(), ty = L(), tx = L(), o = L(), xiB = L(), tpi = L(), pitchB = L();
    const ld = range(2).map(() => f.local(V128));
    const e = range(4).map(() => f.local(V128));
    const rt = range(2 * A).map(() => f.local(V128));
    const body: Bytes[] = [set(o, add(get(sb), shl(add(mul(mul(get(ty), 2), mul(get(P.tw), 2)), mul(get(tx), 2)), 2)))];
    for (let y = 0; y < 2; y++) {
      const rowAddr = y === 0 ? get(o) : add(get(o), get(pitchB));
      body.push(
        set(ld[0]!, v128load(rowAddr)), set(ld[1]!, v128load(rowAddr, 16)),
        set(e[y * 2]!, f32x4shuffle(get(ld[0]!), get(ld[1]!), [0, 2, 4, 6])),
        set(e[y * 2 + 1]!, f32x4shuffle(get(ld[0]!), get(ld[1]!), [1, 3, 5, 7])),
      );
      for (let i = 0; i < A; i++) body.push(set(rt[y * A + i]!, lin(vecOps, WG[i]!, [e[y * 2]!, e[y * 2 + 1]!])));
    }
    body.push(set(o, add(get(db), shl(add(mul(get(ty), get(P.tw)), get(tx)), 2))));
    for (let k = 0; k < A; k++) {
      for (let i = 0; i < A; i++) body.push(v128store(at(o, xiB, k * A + i), lin(vecOps, WG[k]!, [rt[i]!, rt[A + i]!])));
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

  // ---------- winoWOut(P): Mw -> r x r weight gradients (see WM), 4 kernels i at a time ----------
  {
    const f = mb.fn(`winoWOut${r}`, [I32]);
    const P = loadParams(f, 0, WM) as Record<keyof typeof WM, number>;
    const L = () => f.local(I32);
    const oo = L(), i = L(), src = L(), dst = L(), xiB = L();
    const m = range(A).map(() => f.local(V128));
    const tc = range(A * r).map(() => f.local(V128));
    const y = range(r).map(() => f.local(V128));
    const tt = range(4).map(() => f.local(V128));
    const body: Bytes[] = [set(src, add(get(P.src), shl(add(mul(get(oo), get(P.ldm)), get(i)), 2)))];
    // tc[k][b] = sum_j WAT[b][j] M[k][j] (k < alpha, b < r).
    for (let k = 0; k < A; k++) {
      for (let j = 0; j < A; j++) body.push(set(m[j]!, v128load(at(src, xiB, k * A + j))));
      for (let b = 0; b < r; b++) body.push(set(tc[k * r + b]!, lin(vecOps, WAT[b]!, m)));
    }
    body.push(set(dst, add(get(P.dst), shl(mul(add(mul(get(oo), get(P.cI)), get(i)), rr), 2))));
    // Kernels past cI are not stored.
    const guarded = (l: number, code: Bytes): Bytes => (l === 0 ? code : if_(ltS(add(get(i), l), get(P.cI)), [code]));
    for (let a = 0; a < r; a++) {
      // Row a of the 4 kernels' taps: y[b] (lane l = kernel i + l).
      for (let b = 0; b < r; b++) body.push(set(y[b]!, lin(vecOps, WAT[a]!, range(A).map((k) => tc[k * r + b]!))));
      if (r === 4) {
        // Transposed to one vector per kernel: its row a.
        body.push(
          set(tt[0]!, f32x4shuffle(get(y[0]!), get(y[1]!), [0, 4, 1, 5])),
          set(tt[1]!, f32x4shuffle(get(y[2]!), get(y[3]!), [0, 4, 1, 5])),
          set(tt[2]!, f32x4shuffle(get(y[0]!), get(y[1]!), [2, 6, 3, 7])),
          set(tt[3]!, f32x4shuffle(get(y[2]!), get(y[3]!), [2, 6, 3, 7])),
        );
        const lanes: [[number, number, number, number], number][] = [[[0, 1, 4, 5], 0], [[2, 3, 6, 7], 0], [[0, 1, 4, 5], 2], [[2, 3, 6, 7], 2]];
        lanes.forEach(([sh, from], l) => body.push(guarded(l, v128store(get(dst), f32x4shuffle(get(tt[from]!), get(tt[from + 1]!), sh), 4 * (l * rr + a * r)))));
      } else {
        // Rows of r < 4 taps: lane by lane (a vector store would overrun the kernel).
        for (let l = 0; l < 4; l++) {
          const code = range(r).flatMap((bb) => f32store(get(dst), f32x4extract(get(y[bb]!), l), 4 * (l * rr + a * r + bb)));
          body.push(guarded(l, code));
        }
      }
    }
    f.emit(
      set(xiB, shl(mul(get(P.cO), get(P.ldm)), 2)),
      forRange(oo, get(P.o0), get(P.o1), 1, forRange(i, 0, get(P.cI), 4, ...body)),
    );
  }
}
