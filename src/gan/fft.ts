/**
 * A small complex FFT for the realism scores (radially averaged power spectra): iterative radix-2
 * Cooley-Tukey for power-of-two lengths and Bluestein's chirp-z algorithm (which reduces any
 * length n to a power-of-two convolution of length >= 2n - 1) for all others. Double precision,
 * split real / imaginary arrays, forward transform X[k] = sum_j x[j] e^(-2 pi i j k / n), no
 * normalisation. Pure: runs in a browser.
 */

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** In-place radix-2 transform; `re.length` must be a power of two. `inverse` flips the sign (no 1/n). */
function radix2(re: Float64Array, im: Float64Array, inverse: boolean): void {
  const n = re.length;
  // Bit-reversal permutation.
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      let t = re[i];
      re[i] = re[j];
      re[j] = t;
      t = im[i];
      im[i] = im[j];
      im[j] = t;
    }
  }
  const sign = inverse ? 1 : -1;
  for (let len = 2; len <= n; len <<= 1) {
    const half = len >> 1;
    const ang = (sign * 2 * Math.PI) / len;
    // Twiddles computed directly (not by repeated multiplication) to keep the error O(log n) ulp.
    for (let k = 0; k < half; k++) {
      const wr = Math.cos(ang * k);
      const wi = Math.sin(ang * k);
      for (let i = k; i < n; i += len) {
        const j = i + half;
        const xr = re[j] * wr - im[j] * wi;
        const xi = re[j] * wi + im[j] * wr;
        re[j] = re[i] - xr;
        im[j] = im[i] - xi;
        re[i] += xr;
        im[i] += xi;
      }
    }
  }
}

/** Bluestein: X[k] = conj(w_k) sum_j (x_j conj(w_j)) w_(k-j), w_m = e^(i pi m^2 / n) (forward). */
function bluestein(re: Float64Array, im: Float64Array, inverse: boolean): void {
  const n = re.length;
  const m = nextPowerOfTwo(2 * n - 1);
  const sign = inverse ? -1 : 1;
  const cr = new Float64Array(n);
  const ci = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    // k^2 mod 2n keeps the angle argument small (exact for the integers involved).
    const a = (Math.PI * ((k * k) % (2 * n))) / n;
    cr[k] = Math.cos(a);
    ci[k] = sign * Math.sin(a);
  }
  const ar = new Float64Array(m);
  const ai = new Float64Array(m);
  for (let k = 0; k < n; k++) {
    // a_k = x_k * conj(w_k)
    ar[k] = re[k] * cr[k] + im[k] * ci[k];
    ai[k] = im[k] * cr[k] - re[k] * ci[k];
  }
  const br = new Float64Array(m);
  const bi = new Float64Array(m);
  br[0] = cr[0];
  bi[0] = ci[0];
  for (let k = 1; k < n; k++) {
    br[k] = br[m - k] = cr[k];
    bi[k] = bi[m - k] = ci[k];
  }
  radix2(ar, ai, false);
  radix2(br, bi, false);
  for (let k = 0; k < m; k++) {
    const r = ar[k] * br[k] - ai[k] * bi[k];
    ai[k] = ar[k] * bi[k] + ai[k] * br[k];
    ar[k] = r;
  }
  radix2(ar, ai, true);
  for (let k = 0; k < n; k++) {
    const r = ar[k] / m;
    const i = ai[k] / m;
    re[k] = r * cr[k] + i * ci[k];
    im[k] = i * cr[k] - r * ci[k];
  }
}

/**
 * In-place complex FFT of any length >= 1. `inverse` computes sum_j X[j] e^(+2 pi i j k / n)
 * and, unlike the forward transform, divides by n, so ifft(fft(x)) = x.
 */
export function fft(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  if (im.length !== n) throw new Error(`fft: real part has ${n} values, imaginary part ${im.length}`);
  if (n <= 1) return;
  if (isPowerOfTwo(n)) radix2(re, im, inverse);
  else bluestein(re, im, inverse);
  if (inverse) {
    for (let k = 0; k < n; k++) {
      re[k] /= n;
      im[k] /= n;
    }
  }
}

/**
 * 2-D FFT of a row-major width x height complex field, in place (rows, then columns).
 * Index of frequency (kx, ky) is ky * width + kx.
 */
export function fft2d(re: Float64Array, im: Float64Array, width: number, height: number, inverse = false): void {
  if (re.length !== width * height || im.length !== width * height) {
    throw new Error(`fft2d: expected ${width} x ${height} = ${width * height} values, got ${re.length} and ${im.length}`);
  }
  const rowR = new Float64Array(width);
  const rowI = new Float64Array(width);
  for (let y = 0; y < height; y++) {
    const o = y * width;
    rowR.set(re.subarray(o, o + width));
    rowI.set(im.subarray(o, o + width));
    fft(rowR, rowI, inverse);
    re.set(rowR, o);
    im.set(rowI, o);
  }
  const colR = new Float64Array(height);
  const colI = new Float64Array(height);
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      colR[y] = re[y * width + x];
      colI[y] = im[y * width + x];
    }
    fft(colR, colI, inverse);
    for (let y = 0; y < height; y++) {
      re[y * width + x] = colR[y];
      im[y * width + x] = colI[y];
    }
  }
}

/** The O(n^2) DFT the FFT is tested against (and a reference for readers). */
export function naiveDft(re: ArrayLike<number>, im: ArrayLike<number>, inverse = false): { re: Float64Array; im: Float64Array } {
  const n = re.length;
  const outR = new Float64Array(n);
  const outI = new Float64Array(n);
  const sign = inverse ? 1 : -1;
  for (let k = 0; k < n; k++) {
    let sr = 0;
    let si = 0;
    for (let j = 0; j < n; j++) {
      const a = (sign * 2 * Math.PI * ((j * k) % n)) / n;
      const c = Math.cos(a);
      const s = Math.sin(a);
      sr += re[j] * c - im[j] * s;
      si += re[j] * s + im[j] * c;
    }
    outR[k] = inverse ? sr / n : sr;
    outI[k] = inverse ? si / n : si;
  }
  return { re: outR, im: outI };
}
