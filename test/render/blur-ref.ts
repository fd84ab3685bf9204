/**
 * The Gaussian blur passes as they were before the tap-major rewrite of
 * src/render/shade/blur.ts (per-pixel loops over all 2R + 1 taps, left to right; the adjoints
 * written directly from the definition: a gather for passHT, a row scatter for passVT). Kept as
 * the reference the fast passes are property-tested against (test/render/blur-fast.test.ts).
 */
/** The row-skip flags the fast passes use too (not a pass; the tests hand the same flags to both). */
export { rowPrefix } from '../../src/render/shade/blur.js';

/** out[y, x] = sum_i k[i] src[y, clamp(x + i)]; rows without a nonzero (per nz) are written as 0. */
export function passH(src: ArrayLike<number>, out: Float64Array, H: number, W: number, k: Float64Array, R: number, nz: Int32Array | null = null): void {
  const n = 2 * R + 1;
  for (let y = 0; y < H; y++) {
    const row = y * W;
    if (nz && nz[y + 1] === nz[y]) {
      out.fill(0, row, row + W);
      continue;
    }
    for (let x = 0; x < W; x++) {
      let acc = 0;
      if (x >= R && x + R < W) {
        const b = row + x - R;
        for (let i = 0; i < n; i++) acc += k[i] * src[b + i];
      } else {
        for (let i = -R; i <= R; i++) {
          const xx = x + i;
          acc += k[i + R] * src[row + (xx < 0 ? 0 : xx >= W ? W - 1 : xx)];
        }
      }
      out[row + x] = acc;
    }
  }
}

/**
 * out[y, x] = sum_i k[i] src[clamp(y + i), x]: per output row the 2R + 1 clamped source rows are
 * summed in a register per pixel (one write per pixel); rows whose whole window is zero (per nz)
 * are written as 0.
 */
export function passV(src: ArrayLike<number>, out: Float64Array, H: number, W: number, k: Float64Array, R: number, nz: Int32Array | null = null): void {
  const n = 2 * R + 1;
  const off = new Int32Array(n);
  for (let y = 0; y < H; y++) {
    const row = y * W;
    if (nz && nz[Math.min(H, y + R + 1)] === nz[Math.max(0, y - R)]) {
      out.fill(0, row, row + W);
      continue;
    }
    for (let i = 0; i < n; i++) {
      const yy = y + i - R;
      off[i] = (yy < 0 ? 0 : yy >= H ? H - 1 : yy) * W;
    }
    for (let x = 0; x < W; x++) {
      let acc = 0;
      for (let i = 0; i < n; i++) acc += k[i] * src[off[i] + x];
      out[row + x] = acc;
    }
  }
}

/** Adjoint of passH: out[y, s] = sum over (x, i) with clamp(x + i) = s of k[i] g[y, x]. */
export function passHT(g: ArrayLike<number>, out: Float64Array, H: number, W: number, k: Float64Array, R: number): void {
  for (let y = 0; y < H; y++) {
    const row = y * W;
    for (let s = 0; s < W; s++) {
      // unclamped taps: x = s - i inside the row
      let acc = 0;
      const lo = Math.max(-R, s - (W - 1)), hi = Math.min(R, s);
      for (let i = lo; i <= hi; i++) acc += k[i + R] * g[row + s - i];
      out[row + s] = acc;
    }
    // clamped taps: x + i < 0 lands on 0, x + i > W - 1 lands on W - 1
    for (let x = 0; x < Math.min(R, W); x++) {
      const gv = g[row + x];
      for (let i = -R; i < -x; i++) out[row] += k[i + R] * gv;
    }
    for (let x = Math.max(0, W - R); x < W; x++) {
      const gv = g[row + x];
      for (let i = W - x; i <= R; i++) out[row + W - 1] += k[i + R] * gv;
    }
  }
}

/** Adjoint of passV (row-wise scatter of whole rows; the clamping only moves rows). */
export function passVT(g: ArrayLike<number>, out: Float64Array, H: number, W: number, k: Float64Array, R: number): void {
  out.fill(0, 0, H * W);
  for (let y = 0; y < H; y++) {
    const row = y * W;
    for (let i = -R; i <= R; i++) {
      const yy = y + i;
      const dr = (yy < 0 ? 0 : yy >= H ? H - 1 : yy) * W;
      const w = k[i + R];
      for (let x = 0; x < W; x++) out[dr + x] += w * g[row + x];
    }
  }
}

