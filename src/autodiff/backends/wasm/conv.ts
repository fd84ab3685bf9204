/**
 * The conv driver: the three conv2d passes on the module's kernels, by strategy.
 * - GEMM: forward and weight gradient pack GEMM panels straight from the image (implicit
 *   im2col; 'explicit' materialises the column matrix first), input gradient = GEMM + col2im;
 *   1x1 stride-1 convs are plain GEMMs.
 * - Stride-1 3x3 and 4x4 convs with enough channels (winograd()): Winograd F(2x2, r x r) forward
 *   and input gradient (the transposed conv is a stride-1 r x r conv too), F(r x r, 2x2) weight
 *   gradient; (r + 1)^2 GEMMs between the transforms.
 * - Stride-2 4x4 convs with enough channels and outputs (polyphase()): one stride-1 2x2 conv over
 *   x's four phase planes, as Winograd F(2x2, 2x2).
 * - Few output channels (cOut < micro-kernel rows): taps-first GEMM + gather (forward, enough
 *   taps), flipped-weight implicit GEMM (stride-1 input gradient), else direct SIMD kernels
 *   (padded planes or row AXPYs; weight gradient as row dot products).
 * Operands are staged through the heap (in place when resident); every pass declines float64
 * and degenerate shapes (the reference backend takes them).
 */
import type { Conv2dGeom, Data } from '../../backend.js';
import { CP, DP, KP, PP, WP, WD, WI, WM, WO, WW, PARAM_SLOTS, type GemmConfig } from './params.js';
import { MAX_TASKS, type WasmHeap } from './memory.js';
import type { Dispatch } from './dispatch.js';
import type { GemmDriver } from './gemm.js';

export interface ConvDriverOptions {
  /** Conv forward / weight grad pack GEMM panels from the image (true) or materialise im2col. */
  implicit: boolean;
  /** Few-output-channel direct kernel: padded planes (true) or row AXPYs. */
  padded: boolean;
  fewOut: 'taps' | 'direct';
  /** Most source channels per pass of the padded direct kernel. */
  directChunk: number;
  /** As GemmDriverOptions.directB (pathFor reports it). */
  directB: boolean;
  /** Winograd for stride-1 3x3 and 4x4 convs: by the shape rule, never, or whenever it applies (tests). */
  winograd: 'auto' | 'off' | 'always';
}

/** Where a Winograd conv reads its r x r kernels: the r^2 floats of (o, i) from addr + 4 * (o*so + i*si), taps reversed if flip (params.ts WW). */
interface WinoWeights { addr: number; so: number; si: number; flip: boolean }

function isF32(...xs: Data[]): boolean {
  for (const x of xs) if (!(x instanceof Float32Array)) return false;
  return true;
}

export class ConvDriver {
  constructor(
    private readonly cfg: GemmConfig,
    private readonly heap: WasmHeap,
    private readonly dispatch: Dispatch,
    private readonly gemms: GemmDriver,
    private readonly opts: ConvDriverOptions,
  ) {}

  /** Fills the conv parameter block for task t: geometry, image, column matrix and row range. */
  private convParams(t: number, g: Conv2dGeom, x: number, col: number, r0: number, r1: number): number {
    const p = this.dispatch.param(t);
    this.convBlock(p, g, x);
    const i32 = this.heap.i32(), o = p >> 2;
    i32[o + CP.col] = col;
    i32[o + CP.r0] = r0;
    i32[o + CP.r1] = r1;
    return p;
  }

  /** Writes a conv parameter block (for implicit im2col packing) at `at`. */
  private convBlock(at: number, g: Conv2dGeom, x: number): void {
    const i32 = this.heap.i32();
    const o = at >> 2;
    const vals: [number, number][] = [
      [CP.x, x], [CP.h, g.h], [CP.w, g.w], [CP.kh, g.kh], [CP.kw, g.kw], [CP.sh, g.strideH], [CP.sw, g.strideW],
      [CP.ph, g.padH], [CP.pw, g.padW], [CP.dh, g.dilH], [CP.dw, g.dilW], [CP.outH, g.outH], [CP.outW, g.outW],
    ];
    for (const [k, v] of vals) i32[o + k] = v;
  }

  /** Explicit im2col of rows [0, rows) of the column matrix, split over lanes when the work is large enough. */
  private runIm2col(rows: number, work: number, g: Conv2dGeom, x: number, col: number): void {
    this.dispatch.split('im2col', rows, work, CP.r0, CP.r1, 1, (i32, o) => {
      this.convBlock(o << 2, g, x);
      i32[o + CP.col] = col;
    });
  }

  /**
   * Convs with fewer output channels than the micro-kernel has rows (e.g. a 1-channel output
   * layer) waste most of each GEMM tile and are dominated by packing; at stride 1, dilation 1,
   * groups 1 they run as direct SIMD row AXPYs / dot products instead (unless tapsFirst /
   * flippedGin take them; a 1x1 forward stays a plain GEMM: it packs no image and the direct
   * kernel's padded copies cost more than the idle micro-kernel rows).
   */
  direct(g: Conv2dGeom): boolean {
    return g.cOut < this.cfg.mr && g.groups === 1 && g.strideH === 1 && g.strideW === 1 && g.dilH === 1 && g.dilW === 1;
  }

  /** copy2d of `planes` planes (rows x cols) between pitched layouts. */
  private copyPlanes(planes: number, rows: number, cols: number, src: number, sPlane: number, sPitch: number, dst: number, dPlane: number, dPitch: number): void {
    this.dispatch.split('copy2d', planes, planes * rows * cols, KP.p0, KP.p1, 1, (i32, o) => {
      i32[o + KP.src] = src; i32[o + KP.sPlane] = sPlane; i32[o + KP.sPitch] = sPitch;
      i32[o + KP.dst] = dst; i32[o + KP.dPlane] = dPlane; i32[o + KP.dPitch] = dPitch;
      i32[o + KP.rows] = rows; i32[o + KP.cols] = cols;
    });
  }

  /**
   * Direct stride-1 conv over zero-padded planes, for few output channels. Forward: planes of
   * x padded by (padH, padW), one output plane per cOut. Input gradient (transposed): planes of
   * dy padded by (kh-1-padH, kw-1-padW), flipped taps, one plane per cIn.
   */
  private paddedDirect(kind: 'fwd' | 'gin', g: Conv2dGeom, src: number, dst: number, wts: number): void {
    const fwd = kind === 'fwd';
    const kc = g.cIn * g.kh * g.kw;
    const [sC, sh, sw, dC, dh, dw] = fwd ? [g.cIn, g.h, g.w, g.cOut, g.outH, g.outW] : [g.cOut, g.outH, g.outW, g.cIn, g.h, g.w];
    const top = fwd ? g.padH : g.kh - 1 - g.padH, left = fwd ? g.padW : g.kw - 1 - g.padW;
    const wp = dw + g.kw - 1, hp = dh + g.kh - 1;
    const sPlane = hp * wp, len = dh * wp, len32 = Math.ceil(len / 32) * 32;
    const padLen = sC * sPlane + len32 + g.kh * wp + g.kw + 32;
    const psrc = this.heap.alloc(padLen), ptmp = this.heap.alloc(dC * len32);
    this.heap.f32().fill(0, psrc >> 2, (psrc >> 2) + padLen);
    this.copyPlanes(sC, sh, sw, src, sh * sw, sw, psrc + 4 * (top * wp + left), sPlane, wp);
    // Source channels per pass over the output: a chunk's planes fit in ~256 KiB (L2), but at
    // least enough channels that the output read-modify-write per chunk stays small.
    const ch = Math.min(sC, this.opts.directChunk, Math.max(Math.floor(65536 / sPlane), Math.ceil(32 / (g.kh * g.kw)), 1));
    const fill = (i32: Int32Array, o: number) => {
      i32[o + PP.src] = psrc; i32[o + PP.sPlane] = sPlane; i32[o + PP.sC] = sC; i32[o + PP.wp] = wp; i32[o + PP.ch] = ch;
      i32[o + PP.dst] = ptmp; i32[o + PP.dPlane] = len32; i32[o + PP.kh] = g.kh; i32[o + PP.kw] = g.kw; i32[o + PP.w] = wts;
      if (fwd) {
        i32[o + PP.wsD] = kc; i32[o + PP.wsS] = g.kh * g.kw; i32[o + PP.wOff] = 0; i32[o + PP.wsT] = g.kw; i32[o + PP.wsU] = 1;
      } else {
        i32[o + PP.wsD] = g.kh * g.kw; i32[o + PP.wsS] = kc; i32[o + PP.wOff] = (g.kh - 1) * g.kw + g.kw - 1; i32[o + PP.wsT] = -g.kw; i32[o + PP.wsU] = -1;
      }
    };
    const work = dC * len * sC * g.kh * g.kw;
    if (dC >= this.dispatch.lanes) {
      this.dispatch.split('dconvP', dC, work, PP.d0, PP.d1, 1, (i32, o) => { fill(i32, o); i32[o + PP.q0] = 0; i32[o + PP.q1] = len32; });
    } else {
      this.dispatch.split('dconvP', len32, work, PP.q0, PP.q1, 32, (i32, o) => { fill(i32, o); i32[o + PP.d0] = 0; i32[o + PP.d1] = dC; });
    }
    this.copyPlanes(dC, dh, dw, ptmp, len32, wp, dst, dh * dw, dw);
  }

  /** Runs dconv over `rows` destination rows split across lanes; `fill` writes the DP fields. */
  private runDconv(rows: number, work: number, fill: (i32: Int32Array, o: number) => void): void {
    this.dispatch.split('dconv', rows, work, DP.r0, DP.r1, 1, fill);
  }

  /** col2im over channels, or over image rows when there are fewer channels than lanes. */
  private runCol2im(channels: number, work: number, g: Conv2dGeom, dx: number, col: number): void {
    const lanes = work >= this.dispatch.minWork ? this.dispatch.lanes : 1;
    const params: number[] = [];
    const add = (t: number, c0: number, c1: number, y0: number, y1: number) => {
      const p = this.convParams(t, g, dx, col, c0, c1);
      const i32 = this.heap.i32();
      i32[(p >> 2) + CP.y0] = y0;
      i32[(p >> 2) + CP.y1] = y1;
      params.push(p);
    };
    if (channels >= lanes || g.h < lanes) {
      const l = Math.min(lanes, channels);
      for (let t = 0; t < l; t++) add(t, Math.floor((channels * t) / l), Math.floor((channels * (t + 1)) / l), 0, g.h);
    } else {
      // Few channels: every task takes all channels and a band of rows.
      for (let t = 0; t < lanes; t++) add(t, 0, channels, Math.floor((g.h * t) / lanes), Math.floor((g.h * (t + 1)) / lanes));
    }
    this.dispatch.run('col2im', params.filter((_, i) => i < MAX_TASKS));
  }

  /**
   * The stride-1 forward conv whose output is the input gradient of g (dy with the flipped,
   * transposed weights, padding k-1-p), or null where g is not stride 1, dilation 1, one group,
   * padding <= k-1.
   */
  static transposedGeom(g: Conv2dGeom): Conv2dGeom | null {
    if (g.groups !== 1 || g.strideH !== 1 || g.strideW !== 1 || g.dilH !== 1 || g.dilW !== 1 || g.padH > g.kh - 1 || g.padW > g.kw - 1) return null;
    return {
      n: g.n, cIn: g.cOut, cOut: g.cIn, h: g.outH, w: g.outW, outH: g.h, outW: g.w, kh: g.kh, kw: g.kw,
      strideH: 1, strideW: 1, padH: g.kh - 1 - g.padH, padW: g.kw - 1 - g.padW, dilH: 1, dilW: 1, groups: 1,
    };
  }

  /**
   * Whether pass `pass` of the conv g runs as Winograd. Forward and weight gradient need g itself
   * to be a stride-1, undilated, ungrouped 3x3 or 4x4 conv, the input gradient its transposed
   * conv (transposedGeom(g), which runs as a forward conv); and ('auto') the shape rule of the
   * kernel size, from bench winograd --sweep (CPU time against the GEMM paths, one process):
   * - 4x4 (batch 2, 8-64 px): with >= 64 channels 0.38-0.94x on every pass; with 32 0.55-0.94x
   *   from 16 px up, but the input gradient 1.04-1.18x at 8 px; with 16 the input gradient
   *   1.04-1.29x from 16 px up. So min(cIn, cOut) >= 64, or >= 32 with n * outH * outW >= 256.
   * - 3x3 (batch 4, 8-128 channels, 8-128 px): forward 0.30-0.75x and weight gradient 0.35-0.90x
   *   everywhere from 8 channels (1 input channel: 1.4x and 2.3x); the input gradient 0.33-0.95x
   *   where cIn >= 32 or cIn >= cOut, but 8 -> 8 1.14x at 128 px, 8 -> 16 1.17-1.42x, 16 -> 32
   *   0.90-1.06x (its GEMM path has cIn * 9 rows, Winograd's GEMMs only cIn). So min(cIn, cOut)
   *   >= 8, and for the input gradient also cIn >= 32, or cIn >= 16 and cIn >= cOut.
   */
  winograd(g: Conv2dGeom, pass: 'forward' | 'inputGrad' | 'weightGrad'): boolean {
    const run = pass === 'inputGrad' ? ConvDriver.transposedGeom(g) : g;
    if (!run || this.opts.winograd === 'off' || run.kh !== run.kw || run.kh < 2 || run.kh > 4 || run.groups !== 1 ||
      run.strideH !== 1 || run.strideW !== 1 || run.dilH !== 1 || run.dilW !== 1) return false;
    if (this.opts.winograd === 'always') return true;
    // Stride-1 2x2 convs (F(2x2, 2x2), the polyphase path's) are not timed on their own: tests only.
    if (g.kh === 2) return false;
    const minC = Math.min(g.cIn, g.cOut);
    if (g.kh === 4) return minC >= 64 || (minC >= 32 && run.n * run.outH * run.outW >= 256);
    return minC >= 8 && (pass !== 'inputGrad' || g.cIn >= 32 || (g.cIn >= 16 && g.cIn >= g.cOut));
  }

  /**
   * Tiles of a Winograd conv over g's output (2x2 each, tile rows a multiple of 4), its
   * zero-padded input planes, and the transform size alpha (r + 1: alpha^2 GEMMs).
   */
  private winoTiling(g: Conv2dGeom): { r: 2 | 3 | 4; alpha: number; th: number; tw: number; tiles: number; wp: number; sPlane: number } {
    const r = g.kh as 2 | 3 | 4, alpha = r + 1;
    const th = Math.ceil(g.outH / 2), tw = Math.ceil(g.outW / 8) * 4;
    // Tile rows read input rows 2ty .. 2ty+alpha-1; SIMD loads read up to column 2tw+alpha-2.
    const hp = 2 * th + alpha - 2, wp = 2 * tw + alpha - 1;
    return { r, alpha, th, tw, tiles: g.n * th * tw, wp, sPlane: hp * wp };
  }

  /** winoIn of x (n x cIn planes of h x w), zero-padded by g's padding: V (alpha^2 x cIn x tiles). */
  private winoInput(px: number, g: Conv2dGeom): number {
    const { r, alpha, th, tw, tiles, wp, sPlane } = this.winoTiling(g);
    const planes = g.n * g.cIn;
    const psrc = this.heap.alloc(planes * sPlane);
    this.heap.f32().fill(0, psrc >> 2, (psrc >> 2) + planes * sPlane);
    this.copyPlanes(planes, g.h, g.w, px, g.h * g.w, g.w, psrc + 4 * (g.padH * wp + g.padW), sPlane, wp);
    const pv = this.heap.alloc(alpha * alpha * g.cIn * tiles);
    this.dispatch.split(`winoIn${r}`, planes, planes * th * tw * alpha * alpha, WI.p0, WI.p1, 1, (i32, o) => {
      i32[o + WI.src] = psrc; i32[o + WI.sPlane] = sPlane; i32[o + WI.wp] = wp; i32[o + WI.th] = th; i32[o + WI.tw] = tw;
      i32[o + WI.cIn] = g.cIn; i32[o + WI.tiles] = tiles; i32[o + WI.dst] = pv;
    });
    return pv;
  }

  /**
   * Weight gradient of the stride-1 r x r conv g as Winograd F(r x r, 2x2): the r x r taps of
   * dw[o, i] are the correlation of x[i] with dy[o], summed over images; per 2x2 tile of dy (G2
   * transform, winoDy) and its alpha x alpha patch of x (winoIn, as the forward), Mw[xi] = sum
   * over tiles of Udy[xi] V[xi]^T (alpha^2 GEMMs of depth = tiles), then dw = ArT Mw ArT^T (winoWOut).
   */
  private winogradGradWeight(px: number, pdy: number, pdw: number, g: Conv2dGeom): void {
    const { r, alpha, th, tw, tiles } = this.winoTiling(g);
    const xis = alpha * alpha;
    const pv = this.winoInput(px, g);
    const planes = g.n * g.cOut, dPlane = 4 * th * tw;
    const pdp = this.heap.alloc(planes * dPlane);
    this.heap.f32().fill(0, pdp >> 2, (pdp >> 2) + planes * dPlane);
    this.copyPlanes(planes, g.outH, g.outW, pdy, g.outH * g.outW, g.outW, pdp, dPlane, 2 * tw);
    const pu = this.heap.alloc(xis * g.cOut * tiles);
    this.dispatch.split(`winoDy${r}`, planes, planes * th * tw * xis, WD.p0, WD.p1, 1, (i32, o) => {
      i32[o + WD.src] = pdp; i32[o + WD.sPlane] = dPlane; i32[o + WD.th] = th; i32[o + WD.tw] = tw;
      i32[o + WD.cOut] = g.cOut; i32[o + WD.tiles] = tiles; i32[o + WD.dst] = pu;
    });
    const ldm = Math.ceil(g.cIn / 4) * 4;
    const pm = this.heap.alloc(xis * g.cOut * ldm);
    this.gemms.gemmEach({
      m: g.cOut, n: g.cIn, k: tiles, batch: xis,
      a: pu, rsA: tiles, csA: 1, b: pv, rsB: 1, csB: tiles, c: pm, ldc: ldm, beta: 0,
      strideA: g.cOut * tiles, strideB: g.cIn * tiles, strideC: g.cOut * ldm,
    });
    this.dispatch.split(`winoWOut${r}`, g.cOut, g.cOut * ldm * xis, WM.o0, WM.o1, 1, (i32, o) => {
      i32[o + WM.src] = pm; i32[o + WM.cO] = g.cOut; i32[o + WM.cI] = g.cIn; i32[o + WM.ldm] = ldm; i32[o + WM.dst] = pdw;
    });
  }

  /**
   * Winograd F(2x2, r x r) of the stride-1 r x r conv g: zero-padded input planes -> V (alpha^2
   * x cIn x tiles, emit/winograd.ts winoIn), kernels -> U (alpha^2 x cOut x cIn, once per call),
   * M[xi] = U[xi] V[xi] (alpha^2 GEMMs), M -> 2x2 output tiles (winoOut), cropped to outH x outW.
   */
  private winogradConv(px: number, wt: WinoWeights, po: number, g: Conv2dGeom): void {
    const { r, alpha, th, tw, tiles } = this.winoTiling(g);
    const xis = alpha * alpha;
    const pv = this.winoInput(px, g);
    const ldu = Math.ceil(g.cIn / 4) * 4;
    const pu = this.heap.alloc(xis * g.cOut * ldu), pm = this.heap.alloc(xis * g.cOut * tiles);
    this.dispatch.split(`winoW${r}`, g.cOut, g.cOut * g.cIn * xis, WW.o0, WW.o1, 1, (i32, o) => {
      i32[o + WW.w] = wt.addr; i32[o + WW.so] = wt.so; i32[o + WW.si] = wt.si; i32[o + WW.flip] = wt.flip ? 1 : 0;
      i32[o + WW.cO] = g.cOut; i32[o + WW.cI] = g.cIn; i32[o + WW.ldu] = ldu; i32[o + WW.dst] = pu;
    });
    this.gemms.gemmEach({
      m: g.cOut, n: tiles, k: g.cIn, batch: xis,
      a: pu, rsA: ldu, csA: 1, b: pv, rsB: tiles, csB: 1, c: pm, ldc: tiles, beta: 0,
      strideA: g.cOut * ldu, strideB: g.cIn * tiles, strideC: g.cOut * tiles,
    });
    // Whole tiles cover the output exactly (even sizes, tile rows a multiple of 4): written in place.
    const exact = 2 * th === g.outH && 2 * tw === g.outW;
    const oPlane = 4 * th * tw, pout = exact ? po : this.heap.alloc(g.n * g.cOut * oPlane);
    this.dispatch.split(`winoOut${r}`, g.n * g.cOut, g.n * g.cOut * oPlane * 4, WO.p0, WO.p1, 1, (i32, o) => {
      i32[o + WO.src] = pm; i32[o + WO.th] = th; i32[o + WO.tw] = tw; i32[o + WO.cOut] = g.cOut; i32[o + WO.tiles] = tiles;
      i32[o + WO.dst] = pout; i32[o + WO.oPlane] = oPlane;
    });
    if (!exact) this.copyPlanes(g.n * g.cOut, g.outH, g.outW, pout, oPlane, 2 * tw, po, g.outH * g.outW, g.outW);
  }

  /**
   * Whether pass `pass` of the stride-2 4x4 conv g runs as four stride-1 2x2 convs (polyphase):
   * with xp = x zero-padded, y[o, r, c] = sum over i, t, u of w[o, i, t, u] xp[i, 2r + t, 2c + u];
   * splitting t = 2t' + p, u = 2u' + q, that is sum over (i, p, q), t', u' of
   * w[o, i, 2t' + p, 2u' + q] P[(i, p, q), r + t', c + u'] with the phase planes
   * P[(i, p, q), a, b] = xp[i, 2a + p, 2b + q]: a stride-1 2x2 conv with 4 cIn input channels.
   * P is x's im2col for a 2x2 stride-2 kernel ((outH + 1) x (outW + 1) columns); the 2x2 conv runs
   * as Winograd F(2x2, 2x2), 9 multiplies per 2x2 outputs instead of 16. Input gradient: col2im
   * of the 2x2 conv's input gradient; weight gradient: the 2x2 conv's, taps put back.
   * Shape rule ('auto'; bench winograd --kernel 4s2 --sweep: 16-512 channels, 16-256 px inputs,
   * batch 2, CPU time against the GEMM paths, one process): forward 0.62-0.82x and weight
   * gradient 0.53-0.77x from 16 x 16 outputs per image (at 8 x 8: 0.89-1.23x); the input gradient
   * 0.75-0.96x from 32 x 32 outputs (at 16 x 16: 0.71-1.14x, worse with more channels; at 8 x 8:
   * 1.6-2.0x). So min(cIn, cOut) >= 16 and n * outH * outW >= 512, for the input gradient >= 2048.
   */
  polyphase(g: Conv2dGeom, pass: 'forward' | 'inputGrad' | 'weightGrad'): boolean {
    if (this.opts.winograd === 'off' || g.kh !== 4 || g.kw !== 4 || g.strideH !== 2 || g.strideW !== 2 || g.dilH !== 1 ||
      g.dilW !== 1 || g.groups !== 1) return false;
    if (this.opts.winograd === 'always') return true;
    const outputs = g.n * g.outH * g.outW;
    return Math.min(g.cIn, g.cOut) >= 16 && outputs >= (pass === 'inputGrad' ? 2048 : 512);
  }

  /** The polyphase path's stride-1 2x2 conv (over the phase planes) and the 2x2 stride-2 im2col geometry that makes the planes from one image. */
  private phaseGeoms(g: Conv2dGeom): { g2: Conv2dGeom; gi: Conv2dGeom } {
    const ph = g.outH + 1, pw = g.outW + 1;
    const g2: Conv2dGeom = {
      n: g.n, cIn: 4 * g.cIn, cOut: g.cOut, h: ph, w: pw, kh: 2, kw: 2, strideH: 1, strideW: 1, padH: 0, padW: 0,
      dilH: 1, dilW: 1, groups: 1, outH: g.outH, outW: g.outW,
    };
    const gi: Conv2dGeom = { ...g, n: 1, cOut: 4 * g.cIn, kh: 2, kw: 2, outH: ph, outW: pw };
    return { g2, gi };
  }

  /** Phase planes of x (n images): n x 4 cIn planes of (outH + 1) x (outW + 1), by im2col per image. */
  private phasePlanes(px: number, g: Conv2dGeom): number {
    const { g2, gi } = this.phaseGeoms(g);
    const plane = g2.h * g2.w, rows = 4 * g.cIn;
    const pp = this.heap.alloc(g.n * rows * plane);
    for (let img = 0; img < g.n; img++) this.runIm2col(rows, rows * plane, gi, px + 4 * img * g.cIn * g.h * g.w, pp + 4 * img * rows * plane);
    return pp;
  }

  /**
   * Moves 4x4 taps between w[o, i, 2t' + p, 2u' + q] (at `w4`) and the 2x2 conv's
   * w2[o, (i, p, q), t', u'] (at `w2`): toPhases = true fills w2 from w4, false w4 from w2.
   */
  private phaseTaps(w4: number, w2: number, g: Conv2dGeom, toPhases: boolean): void {
    const f = this.heap.f32(), A = w4 >> 2, B = w2 >> 2, kernels = g.cOut * g.cIn;
    for (let k = 0; k < kernels; k++) {
      const a = A + 16 * k, b = B + 16 * k;
      for (let p = 0; p < 2; p++) {
        for (let q = 0; q < 2; q++) {
          for (let t = 0; t < 2; t++) {
            for (let u = 0; u < 2; u++) {
              const i4 = a + (2 * t + p) * 4 + 2 * u + q, i2 = b + (p * 2 + q) * 4 + t * 2 + u;
              if (toPhases) f[i2] = f[i4]!;
              else f[i4] = f[i2]!;
            }
          }
        }
      }
    }
  }

  static pointwise(g: Conv2dGeom): boolean {
    return g.kh === 1 && g.kw === 1 && g.strideH === 1 && g.strideW === 1 && g.padH === 0 && g.padW === 0;
  }

  static degenerate(g: Conv2dGeom): boolean {
    return g.n <= 0 || g.cIn <= 0 || g.cOut <= 0 || g.outH <= 0 || g.outW <= 0 || g.h <= 0 || g.w <= 0 ||
      g.cIn % g.groups !== 0 || g.cOut % g.groups !== 0;
  }

  conv2d(x: Data, w: Data, out: Data, g: Conv2dGeom): boolean {
    return this.heap.guard(isF32(x, w, out) && !ConvDriver.degenerate(g), () => {
      const cInG = g.cIn / g.groups, cOutG = g.cOut / g.groups;
      const hw = g.h * g.w, nsp = g.outH * g.outW, kc = cInG * g.kh * g.kw;
      const px = this.heap.input(x, g.n * g.cIn * hw), pw = this.heap.input(w, g.cOut * kc), po = this.heap.output(out, g.n * g.cOut * nsp, [x, w]);
      if (this.winograd(g, 'forward')) {
        this.winogradConv(px, { addr: pw, so: kc, si: g.kh * g.kw, flip: false }, po, g);
        this.heap.take(po, out);
        return;
      }
      if (this.polyphase(g, 'forward')) {
        const pp = this.phasePlanes(px, g), pw2 = this.heap.alloc(g.cOut * kc);
        this.phaseTaps(pw, pw2, g, true);
        this.winogradConv(pp, { addr: pw2, so: kc, si: 4, flip: false }, po, this.phaseGeoms(g).g2);
        this.heap.take(po, out);
        return;
      }
      if (this.direct(g) && !this.tapsFirst(g) && !ConvDriver.pointwise(g)) {
        for (let img = 0; img < g.n; img++) {
          if (this.opts.padded) {
            this.paddedDirect('fwd', g, px + 4 * img * g.cIn * hw, po + 4 * img * g.cOut * nsp, pw);
            continue;
          }
          this.runDconv(g.cOut * g.outH, g.cOut * nsp * kc, (i32, o) => {
            i32[o + DP.src] = px + 4 * img * g.cIn * hw; i32[o + DP.dst] = po + 4 * img * g.cOut * nsp;
            i32[o + DP.sC] = g.cIn; i32[o + DP.sH] = g.h; i32[o + DP.sW] = g.w; i32[o + DP.dH] = g.outH; i32[o + DP.dW] = g.outW;
            i32[o + DP.kh] = g.kh; i32[o + DP.kw] = g.kw; i32[o + DP.w] = pw; i32[o + DP.wsD] = kc; i32[o + DP.wsS] = g.kh * g.kw;
            i32[o + DP.vSign] = 1; i32[o + DP.vOff] = -g.padH; i32[o + DP.hSign] = 1; i32[o + DP.hOff] = -g.padW;
          });
        }
        this.heap.take(po, out);
        return;
      }
      if (this.tapsFirst(g)) {
        for (let img = 0; img < g.n; img++) this.tapsFirstConv(px + 4 * img * g.cIn * hw, pw, po + 4 * img * g.cOut * nsp, g);
      } else {
        this.forwardGemm(px, pw, po, g);
      }
      this.heap.take(po, out);
    });
  }

  /**
   * Few output channels, several taps (e.g. PatchGAN's 512 -> 1, 4x4 output layer): a GEMM
   * with one output row wastes most of the micro-kernel, so the taps become the rows instead:
   * per output channel co, Y[(t, u), p] = sum over s of w[co, s, t, u] * x[s, p] over every input
   * pixel p (a plain GEMM on x, no im2col), then out[co, r, c] = sum over taps of
   * Y[(t, u), r*sh - ph + t*dh, c*sw - pw + u*dw] (in-range taps only).
   */
  tapsFirst(g: Conv2dGeom): boolean {
    return this.opts.fewOut === 'taps' && g.groups === 1 && g.cOut < this.cfg.mr && g.kh * g.kw >= this.cfg.mr;
  }

  private tapsFirstConv(px: number, pw: number, po: number, g: Conv2dGeom): void {
    const hw = g.h * g.w, khw = g.kh * g.kw, nsp = g.outH * g.outW;
    const py = this.heap.alloc(khw * hw);
    for (let co = 0; co < g.cOut; co++) {
      // Y[tap x hw] = W_co^T[tap x cIn] * X[cIn x hw]; W_co^T's element (tap, s) is w[co, s, tap].
      this.gemms.gemm({
        m: khw, n: hw, k: g.cIn, batch: 1,
        a: pw + 4 * co * g.cIn * khw, rsA: 1, csA: khw,
        b: px, rsB: hw, csB: 1,
        c: py, ldc: hw, beta: 0, strideA: 0, strideB: 0, strideC: 0,
      });
      this.gatherTaps(py, po + 4 * co * nsp, g);
    }
  }

  /** out[r, c] = sum over taps (t, u) of Y[t*kw + u, iy, ix] at in-range iy, ix (tapsFirstConv). */
  private gatherTaps(py: number, po: number, g: Conv2dGeom): void {
    const f = this.heap.f32(), hw = g.h * g.w, Y = py >> 2, O = po >> 2;
    f.fill(0, O, O + g.outH * g.outW);
    for (let t = 0; t < g.kh; t++) {
      for (let u = 0; u < g.kw; u++) {
        const ox = u * g.dilW - g.padW;
        // Output columns c with 0 <= c*sw + ox < w.
        const c0 = Math.max(0, Math.ceil(-ox / g.strideW)), c1 = Math.min(g.outW, Math.floor((g.w - 1 - ox) / g.strideW) + 1);
        if (c1 <= c0) continue;
        const yt = Y + (t * g.kw + u) * hw;
        for (let r = 0; r < g.outH; r++) {
          const iy = r * g.strideH - g.padH + t * g.dilH;
          if (iy < 0 || iy >= g.h) continue;
          const row = O + r * g.outW, src = yt + iy * g.w + ox;
          for (let c = c0; c < c1; c++) f[row + c]! += f[src + c * g.strideW]!;
        }
      }
    }
  }

  /**
   * Stride-1 input gradient with few output channels: the transposed conv is a forward conv of
   * dy (cOut channels) with the flipped, transposed weights w'[ci, co, t, u] = w[co, ci, kh-1-t,
   * kw-1-u] and padding k-1-p, run as an implicit-im2col GEMM with cIn output rows (instead of a
   * GEMM of depth cOut, which is nearly empty, plus col2im).
   */
  flippedGin(g: Conv2dGeom): boolean {
    return this.opts.fewOut === 'taps' && g.groups === 1 && g.cOut < this.cfg.mr && g.strideH === 1 && g.strideW === 1 &&
      g.dilH === 1 && g.dilW === 1 && g.padH <= g.kh - 1 && g.padW <= g.kw - 1;
  }

  /** Scratch of the image operand of a conv's GEMMs: the explicit column matrix (if any), then the implicit-packing conv block. */
  private imageScratch(g: Conv2dGeom): { pcol: number; pconv: number } {
    const kc = (g.cIn / g.groups) * g.kh * g.kw, nsp = g.outH * g.outW;
    const pcol = ConvDriver.pointwise(g) || this.opts.implicit ? 0 : this.heap.alloc(kc * nsp);
    return { pcol, pconv: this.heap.alloc(PARAM_SLOTS) };
  }

  /**
   * The B operand of a conv GEMM over the image block at xg (one image, one group): the image
   * itself for a 1x1 stride-1 conv; else its im2col (mode 1, forward) or transposed im2col
   * (mode 2, weight gradient), packed implicitly from the image through the conv block, or
   * materialised in the column matrix first ('explicit').
   */
  private imageOperand(g: Conv2dGeom, xg: number, mode: 1 | 2, s: { pcol: number; pconv: number }): { b: number; bMode: 0 | 1 | 2; conv: number } {
    if (ConvDriver.pointwise(g)) return { b: xg, bMode: 0, conv: s.pconv };
    if (this.opts.implicit) {
      this.convBlock(s.pconv, g, xg);
      return { b: xg, bMode: mode, conv: s.pconv };
    }
    const kc = (g.cIn / g.groups) * g.kh * g.kw, nsp = g.outH * g.outW;
    this.runIm2col(kc, kc * nsp, g, xg, s.pcol);
    return { b: s.pcol, bMode: 0, conv: s.pconv };
  }

  /** Forward conv as (implicit) im2col GEMMs, on buffers already in wasm memory. */
  private forwardGemm(px: number, pw: number, po: number, g: Conv2dGeom): void {
    const cInG = g.cIn / g.groups, cOutG = g.cOut / g.groups;
    const hw = g.h * g.w, nsp = g.outH * g.outW, kc = cInG * g.kh * g.kw;
    const scratch = this.imageScratch(g);
    for (let img = 0; img < g.n; img++) {
      for (let gr = 0; gr < g.groups; gr++) {
        const { b, bMode, conv } = this.imageOperand(g, px + 4 * (img * g.cIn + gr * cInG) * hw, 1, scratch);
        this.gemms.gemm({
          m: cOutG, n: nsp, k: kc, batch: 1,
          a: pw + 4 * gr * cOutG * kc, rsA: kc, csA: 1,
          b, rsB: nsp, csB: 1,
          c: po + 4 * (img * g.cOut + gr * cOutG) * nsp, ldc: nsp, beta: 0,
          strideA: 0, strideB: 0, strideC: 0, bMode, conv,
        });
      }
    }
  }

  conv2dGradInput(dy: Data, w: Data, dx: Data, g: Conv2dGeom): boolean {
    return this.heap.guard(isF32(dy, w, dx) && !ConvDriver.degenerate(g), () => {
      const cInG = g.cIn / g.groups, cOutG = g.cOut / g.groups;
      const hw = g.h * g.w, nsp = g.outH * g.outW, kc = cInG * g.kh * g.kw;
      const pdy = this.heap.input(dy, g.n * g.cOut * nsp), pdx = this.heap.output(dx, g.n * g.cIn * hw, [dy, w]);
      const gt = ConvDriver.transposedGeom(g);
      if (gt && this.winograd(g, 'inputGrad')) {
        // w'[ci][co][t][u] = w[co][ci][r-1-t][r-1-u]: o = ci, i = co, taps reversed.
        const pw = this.heap.input(w, g.cOut * kc);
        this.winogradConv(pdy, { addr: pw, so: g.kh * g.kw, si: kc, flip: true }, pdx, gt);
        this.heap.take(pdx, dx);
        return;
      }
      if (this.polyphase(g, 'inputGrad')) {
        const { g2, gi } = this.phaseGeoms(g);
        const pw = this.heap.input(w, g.cOut * kc), pw2 = this.heap.alloc(g.cOut * kc);
        this.phaseTaps(pw, pw2, g, true);
        const plane = g2.h * g2.w, rows = 4 * g.cIn, pdp = this.heap.alloc(g.n * rows * plane);
        this.winogradConv(pdy, { addr: pw2, so: 4, si: kc, flip: true }, pdp, ConvDriver.transposedGeom(g2)!);
        for (let img = 0; img < g.n; img++) this.runCol2im(g.cIn, rows * plane, gi, pdx + 4 * img * g.cIn * hw, pdp + 4 * img * rows * plane);
        this.heap.take(pdx, dx);
        return;
      }
      if (this.flippedGin(g)) {
        const pw = this.heap.alloc(g.cOut * kc);
        const f = this.heap.f32(), khw = g.kh * g.kw, W = pw >> 2;
        for (let co = 0; co < g.cOut; co++) {
          for (let ci = 0; ci < g.cIn; ci++) {
            const src = (co * g.cIn + ci) * khw, dst = W + (ci * g.cOut + co) * khw + khw - 1;
            for (let t = 0; t < khw; t++) f[dst - t] = w[src + t]!;
          }
        }
        const gt: Conv2dGeom = {
          n: g.n, cIn: g.cOut, cOut: g.cIn, h: g.outH, w: g.outW, outH: g.h, outW: g.w, kh: g.kh, kw: g.kw,
          strideH: 1, strideW: 1, padH: g.kh - 1 - g.padH, padW: g.kw - 1 - g.padW, dilH: 1, dilW: 1, groups: 1,
        };
        this.forwardGemm(pdy, pw, pdx, gt);
        this.heap.take(pdx, dx);
        return;
      }
      const pw = this.heap.input(w, g.cOut * kc);
      if (this.direct(g)) {
        for (let img = 0; img < g.n; img++) {
          if (this.opts.padded && g.padH <= g.kh - 1 && g.padW <= g.kw - 1) {
            this.paddedDirect('gin', g, pdy + 4 * img * g.cOut * nsp, pdx + 4 * img * g.cIn * hw, pw);
            continue;
          }
          this.runDconv(g.cIn * g.h, g.cOut * nsp * kc, (i32, o) => {
            i32[o + DP.src] = pdy + 4 * img * g.cOut * nsp; i32[o + DP.dst] = pdx + 4 * img * g.cIn * hw;
            i32[o + DP.sC] = g.cOut; i32[o + DP.sH] = g.outH; i32[o + DP.sW] = g.outW; i32[o + DP.dH] = g.h; i32[o + DP.dW] = g.w;
            i32[o + DP.kh] = g.kh; i32[o + DP.kw] = g.kw; i32[o + DP.w] = pw; i32[o + DP.wsD] = g.kh * g.kw; i32[o + DP.wsS] = kc;
            i32[o + DP.vSign] = -1; i32[o + DP.vOff] = g.padH; i32[o + DP.hSign] = -1; i32[o + DP.hOff] = g.padW;
          });
        }
        this.heap.take(pdx, dx);
        return;
      }
      const direct = ConvDriver.pointwise(g);
      const pcol = direct ? 0 : this.heap.alloc(kc * nsp);
      for (let img = 0; img < g.n; img++) {
        for (let gr = 0; gr < g.groups; gr++) {
          const dxg = pdx + 4 * (img * g.cIn + gr * cInG) * hw;
          this.gemms.gemm({
            m: kc, n: nsp, k: cOutG, batch: 1,
            a: pw + 4 * gr * cOutG * kc, rsA: 1, csA: kc,
            b: pdy + 4 * (img * g.cOut + gr * cOutG) * nsp, rsB: nsp, csB: 1,
            c: direct ? dxg : pcol, ldc: nsp, beta: 0,
            strideA: 0, strideB: 0, strideC: 0,
          });
          if (!direct) this.runCol2im(cInG, kc * nsp, g, dxg, pcol);
        }
      }
      this.heap.take(pdx, dx);
    });
  }

  conv2dGradWeight(x: Data, dy: Data, dw: Data, g: Conv2dGeom): boolean {
    return this.heap.guard(isF32(x, dy, dw) && !ConvDriver.degenerate(g), () => {
      const cInG = g.cIn / g.groups, cOutG = g.cOut / g.groups;
      const hw = g.h * g.w, nsp = g.outH * g.outW, kc = cInG * g.kh * g.kw;
      const px = this.heap.input(x, g.n * g.cIn * hw), pdy = this.heap.input(dy, g.n * g.cOut * nsp), pdw = this.heap.output(dw, g.cOut * kc, [x, dy]);
      if (this.winograd(g, 'weightGrad')) {
        this.winogradGradWeight(px, pdy, pdw, g);
        this.heap.take(pdw, dw);
        return;
      }
      if (this.polyphase(g, 'weightGrad')) {
        const pp = this.phasePlanes(px, g), pdw2 = this.heap.alloc(g.cOut * kc);
        this.winogradGradWeight(pp, pdy, pdw2, this.phaseGeoms(g).g2);
        this.phaseTaps(pdw, pdw2, g, false);
        this.heap.take(pdw, dw);
        return;
      }
      if (this.direct(g)) {
        const pairs = g.cOut * g.cIn;
        for (let img = 0; img < g.n; img++) {
          this.dispatch.split('dconvW', pairs, g.cOut * nsp * kc, WP.r0, WP.r1, 1, (i32, o) => {
            i32[o + WP.x] = px + 4 * img * g.cIn * hw; i32[o + WP.dy] = pdy + 4 * img * g.cOut * nsp; i32[o + WP.dw] = pdw;
            i32[o + WP.cIn] = g.cIn; i32[o + WP.h] = g.h; i32[o + WP.w] = g.w; i32[o + WP.outH] = g.outH; i32[o + WP.outW] = g.outW;
            i32[o + WP.kh] = g.kh; i32[o + WP.kw] = g.kw; i32[o + WP.ph] = g.padH; i32[o + WP.pw] = g.padW;
            i32[o + WP.acc] = img > 0 ? 1 : 0;
          });
        }
        this.heap.take(pdw, dw);
        return;
      }
      const scratch = this.imageScratch(g);
      for (let img = 0; img < g.n; img++) {
        for (let gr = 0; gr < g.groups; gr++) {
          const { b, bMode, conv } = this.imageOperand(g, px + 4 * (img * g.cIn + gr * cInG) * hw, 2, scratch);
          // dW_g[cOutG x kc] (+)= dY_g[cOutG x nsp] * col^T[nsp x kc]
          this.gemms.gemm({
            m: cOutG, n: kc, k: nsp, batch: 1,
            a: pdy + 4 * (img * g.cOut + gr * cOutG) * nsp, rsA: nsp, csA: 1,
            b, rsB: 1, csB: nsp,
            c: pdw + 4 * gr * cOutG * kc, ldc: kc, beta: img > 0 ? 1 : 0,
            strideA: 0, strideB: 0, strideC: 0, bMode, conv,
          });
        }
      }
      this.heap.take(pdw, dw);
    });
  }
}
