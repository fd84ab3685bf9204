/**
 * The parameter blocks of the wasm module's entry points (which i32 slot holds what), and the
 * GEMM blocking. Shared by the emitters (emit/) and the host-side drivers (gemm.ts, conv.ts):
 * every entry point takes the byte address of such a block, so any thread can run any slice of
 * any job given only an address (that is what makes the worker pool generic).
 *
 * No Node imports: this file runs in browsers too.
 */
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
/**
 * Winograd F(2x2, r x r) for stride-1 r x r convs, r = 3 or 4 (emit/winograd.ts, conv.ts
 * winograd(); each function below exists per r, e.g. winoIn3, winoIn4; alpha = r + 1). Tiles:
 * 2x2 outputs from alpha x alpha inputs, `tw` tiles per tile row (a multiple of 4: SIMD over 4
 * tiles), `th` tile rows per image; tile index T = img * th * tw + ty * tw + tx over all `tiles`
 * of the batch; xi < alpha^2 indexes the transformed matrices.
 *
 * `winoIn`: V[xi, c, T] = (BT d BT^T)[xi] of the alpha x alpha patch d at rows 2ty.., columns 2tx.. of
 * zero-padded plane p = img * cIn + c (plane pitch `wp`, `sPlane` floats apart), for planes [p0, p1).
 */
export const WI = { src: 0, sPlane: 1, wp: 2, th: 3, tw: 4, cIn: 5, tiles: 6, dst: 7, p0: 8, p1: 9 } as const;
/**
 * `winoOut`: out plane p = img * cOut + o (pitch 2 tw, `oPlane` floats apart) = AT M[., o, T] AT^T
 * per tile, for planes [p0, p1); M[xi, o, T] at src + 4 * (xi * cOut * tiles + o * tiles + T).
 */
export const WO = { src: 0, th: 1, tw: 2, cOut: 3, tiles: 4, dst: 5, oPlane: 6, p0: 7, p1: 8 } as const;
/**
 * `winoW`: U[xi, o, i] = (G g G^T)[xi] for the r x r kernel g of (o, i), whose r^2 floats start at
 * w + 4 * (o*so + i*si): g[t][u] at float t*r + u, or (flip = 1: the input gradient's flipped,
 * transposed weights) at r^2 - 1 - t*r - u. U at dst + 4 * (xi * cO * ldu + o * ldu + i) with ldu =
 * cI rounded up to 4 (SIMD over 4 kernels i; columns past cI repeat the last kernel), rows o in [o0, o1).
 */
export const WW = { w: 0, so: 1, si: 2, flip: 3, cO: 4, cI: 5, ldu: 6, dst: 7, o0: 8, o1: 9 } as const;
/**
 * Weight gradient as Winograd F(r x r, 2x2) (the r x r taps are the outputs, 2x2 tiles of dy the
 * filters; same points, so the same BT and winoIn for x). `winoDy`: Udy[xi, o, T] = (G2 e G2^T)[xi]
 * of the 2x2 tile e of zero-padded dy plane p = img * cOut + o (pitch 2 tw, `sPlane` floats apart)
 * at rows 2ty.., columns 2tx.., for planes [p0, p1).
 */
export const WD = { src: 0, sPlane: 1, th: 2, tw: 3, cOut: 4, tiles: 5, dst: 6, p0: 7, p1: 8 } as const;
/**
 * `winoWOut`: dw[o, i, t, u] = (ArT Mw[., o, i] ArT^T)[t][u], Mw[xi, o, i] at src + 4 * (xi * cO *
 * ldm + o * ldm + i) (ldm = cI rounded up to 4: SIMD over 4 i), for rows o in [o0, o1).
 */
export const WM = { src: 0, cO: 1, cI: 2, ldm: 3, dst: 4, o0: 5, o1: 6 } as const;
