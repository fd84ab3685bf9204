/**
 * A small DEFLATE encoder (RFC 1951) with the zlib wrapper (RFC 1950), for the PNG writers, free of
 * Node modules. It uses LZ77 with hash chains and the fixed Huffman code (one block): simpler than
 * zlib's dynamic codes and within a few tens of percent of its size on masks and micrographs.
 */
import { DIST_BASE, DIST_EXTRA, FIXED_LITLEN_LENGTHS, LENGTH_BASE, LENGTH_EXTRA, adler32 } from './inflate.js';

const WINDOW = 32768;
const MIN_MATCH = 3;
const MAX_MATCH = 258;
const MAX_CHAIN = 48;
const HASH_BITS = 15;

/** Bit-reversed canonical codes for the fixed literal/length alphabet, and their lengths. */
const FIXED_CODES: Uint16Array = (() => {
  const lengths = FIXED_LITLEN_LENGTHS;
  const blCount = new Uint16Array(16);
  for (const l of lengths) blCount[l]!++;
  const next = new Uint16Array(16);
  let code = 0;
  for (let bits = 1; bits < 16; bits++) {
    code = (code + blCount[bits - 1]!) << 1;
    next[bits] = code;
  }
  next[0] = 0;
  const codes = new Uint16Array(lengths.length);
  for (let i = 0; i < lengths.length; i++) codes[i] = reverse(next[lengths[i]!]!++, lengths[i]!);
  return codes;
})();

function reverse(code: number, len: number): number {
  let r = 0;
  for (let i = 0; i < len; i++) r = (r << 1) | ((code >> i) & 1);
  return r;
}

/** Length 3..258 -> index into LENGTH_BASE. */
const LENGTH_INDEX: Uint8Array = (() => {
  const t = new Uint8Array(MAX_MATCH + 1);
  for (let i = 0; i < LENGTH_BASE.length; i++) {
    const hi = i + 1 < LENGTH_BASE.length ? LENGTH_BASE[i + 1]! : MAX_MATCH + 1;
    t.fill(i, LENGTH_BASE[i]!, Math.min(hi, MAX_MATCH + 1));
  }
  t[MAX_MATCH] = 28;
  return t;
})();

function distIndex(d: number): number {
  let i = 0;
  while (i + 1 < DIST_BASE.length && DIST_BASE[i + 1]! <= d) i++;
  return i;
}

class BitWriter {
  buf: Uint8Array;
  len = 0;
  private acc = 0;
  private n = 0;
  constructor(initial: number) {
    this.buf = new Uint8Array(Math.max(64, initial));
  }
  private room(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.len + extra, this.buf.length * 2));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  /** Writes `n` (<= 16) bits of `v`, least significant first. */
  bits(v: number, n: number): void {
    this.acc |= v << this.n;
    this.n += n;
    if (this.n >= 16) {
      this.room(2);
      this.buf[this.len++] = this.acc & 255;
      this.buf[this.len++] = (this.acc >>> 8) & 255;
      this.acc >>>= 16;
      this.n -= 16;
    }
  }
  flushToByte(): void {
    this.room(3);
    while (this.n > 0) {
      this.buf[this.len++] = this.acc & 255;
      this.acc >>>= 8;
      this.n = Math.max(0, this.n - 8);
    }
    this.acc = 0;
  }
  byte(b: number): void {
    this.room(1);
    this.buf[this.len++] = b & 255;
  }
}

/** Compresses `data` into a zlib stream that any inflater (Node's zlib, browsers, inflate.ts) reads. */
export function zlibDeflate(data: Uint8Array): Uint8Array {
  const w = new BitWriter((data.length >> 1) + 64);
  w.byte(0x78); // CMF: deflate, 32 KiB window
  w.byte(0x01); // FLG: (0x7801 % 31 === 0), fastest-compression level hint
  w.bits(1, 1); // BFINAL
  w.bits(1, 2); // BTYPE = fixed Huffman
  const lit = (sym: number): void => w.bits(FIXED_CODES[sym]!, FIXED_LITLEN_LENGTHS[sym]!);

  const head = new Int32Array(1 << HASH_BITS).fill(-1);
  const prev = new Int32Array(WINDOW);
  const n = data.length;
  const hashAt = (i: number): number =>
    (((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!) * 0x9e3779b1) >>> (32 - HASH_BITS);
  const insert = (i: number): void => {
    if (i + MIN_MATCH > n) return;
    const h = hashAt(i);
    prev[i & (WINDOW - 1)] = head[h]!;
    head[h] = i;
  };

  let i = 0;
  while (i < n) {
    let bestLen = 0;
    let bestDist = 0;
    if (i + MIN_MATCH <= n) {
      let cand = head[hashAt(i)]!;
      const maxLen = Math.min(MAX_MATCH, n - i);
      for (let chain = 0; cand >= 0 && i - cand <= WINDOW && chain < MAX_CHAIN; chain++) {
        if (data[cand + bestLen] === data[i + bestLen]) {
          let l = 0;
          while (l < maxLen && data[cand + l] === data[i + l]) l++;
          if (l > bestLen) {
            bestLen = l;
            bestDist = i - cand;
            if (l === maxLen) break;
          }
        }
        const p = prev[cand & (WINDOW - 1)]!;
        if (p >= cand) break; // stale entry from an older window position
        cand = p;
      }
    }
    if (bestLen >= MIN_MATCH) {
      const li = LENGTH_INDEX[bestLen]!;
      lit(257 + li);
      if (LENGTH_EXTRA[li]! > 0) w.bits(bestLen - LENGTH_BASE[li]!, LENGTH_EXTRA[li]!);
      const di = distIndex(bestDist);
      w.bits(reverse(di, 5), 5);
      if (DIST_EXTRA[di]! > 0) w.bits(bestDist - DIST_BASE[di]!, DIST_EXTRA[di]!);
      for (let k = 0; k < bestLen; k++) insert(i + k);
      i += bestLen;
    } else {
      lit(data[i]!);
      insert(i);
      i++;
    }
  }
  lit(256);
  w.flushToByte();
  const a = adler32(data);
  w.byte(a >>> 24);
  w.byte(a >>> 16);
  w.byte(a >>> 8);
  w.byte(a);
  return w.buf.slice(0, w.len);
}
