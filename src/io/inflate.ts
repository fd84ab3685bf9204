/**
 * A small, dependency-free DEFLATE decoder (RFC 1951) with the zlib wrapper (RFC 1950), so that the
 * PNG and TIFF decoders run in a browser as well as in Node (Node's zlib is not available there).
 *
 * Every malformed stream raises InputError naming the file; the output size is bounded by the
 * caller (`maxOutput`) so that a small file cannot expand into gigabytes.
 */
import { InputError } from '../errors.js';

/** Canonical Huffman table: `counts[len]` codes of each length, `symbols` in canonical order. */
interface Huffman {
  counts: Uint16Array;
  symbols: Uint16Array;
}

const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** The tables of the fixed-Huffman block type, shared with the encoder in deflate.ts. */
export const FIXED_LITLEN_LENGTHS: Uint8Array = (() => {
  const l = new Uint8Array(288);
  l.fill(8, 0, 144);
  l.fill(9, 144, 256);
  l.fill(7, 256, 280);
  l.fill(8, 280, 288);
  return l;
})();
export { LENGTH_BASE, LENGTH_EXTRA, DIST_BASE, DIST_EXTRA };

/**
 * The most bytes DEFLATE data can expand to, per input byte (a 258-byte match in under 2 bits),
 * used to refuse headers that promise more pixels than the data can hold, before allocating.
 */
export const DEFLATE_MAX_RATIO = 1032;

/** A malformed stream: turned into InputError at the API boundary. */
class Fail extends Error {}
/** Raised when the output limit is reached and the caller asked to stop there, not to fail. */
class Full extends Error {}

function buildHuffman(lengths: ArrayLike<number>, offset: number, n: number): Huffman {
  const counts = new Uint16Array(16);
  for (let i = 0; i < n; i++) counts[lengths[offset + i]!]!++;
  counts[0] = 0;
  // Reject over-subscribed code sets (incomplete ones are legal, e.g. a single distance code).
  let left = 1;
  for (let len = 1; len < 16; len++) {
    left = left * 2 - counts[len]!;
    if (left < 0) throw new Fail('over-subscribed Huffman code');
  }
  const offs = new Uint16Array(16);
  for (let len = 1; len < 15; len++) offs[len + 1] = offs[len]! + counts[len]!;
  const symbols = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const len = lengths[offset + i]!;
    if (len !== 0) symbols[offs[len]!++] = i;
  }
  return { counts, symbols };
}

const FIXED_LITLEN = buildHuffman(FIXED_LITLEN_LENGTHS, 0, 288);
const FIXED_DIST = buildHuffman(new Uint8Array(30).fill(5), 0, 30);

class BitReader {
  pos: number;
  private bitBuf = 0;
  private bitCount = 0;
  constructor(
    readonly src: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }
  bits(n: number): number {
    while (this.bitCount < n) {
      if (this.pos >= this.end) throw new Fail('unexpected end of compressed data');
      this.bitBuf |= this.src[this.pos++]! << this.bitCount;
      this.bitCount += 8;
    }
    const v = this.bitBuf & ((1 << n) - 1);
    this.bitBuf >>>= n;
    this.bitCount -= n;
    return v;
  }
  alignToByte(): void {
    this.bitBuf = 0;
    this.bitCount = 0;
  }
  decode(h: Huffman): number {
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len < 16; len++) {
      code |= this.bits(1);
      const count = h.counts[len]!;
      if (code - first < count) return h.symbols[index + code - first]!;
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    throw new Fail('invalid Huffman code');
  }
}

/** Growable output buffer with a hard size limit. */
class Output {
  buf: Uint8Array;
  len = 0;
  constructor(
    initial: number,
    private readonly max: number,
    private readonly stopAtMax: boolean,
  ) {
    this.buf = new Uint8Array(Math.max(1024, Math.min(initial, max)));
  }
  ensure(extra: number): void {
    const need = this.len + extra;
    if (this.stopAtMax) {
      // Enough already: stop. Otherwise let this write (<= 65535 bytes) overshoot; the caller trims.
      if (this.len >= this.max) throw new Full();
    } else if (need > this.max) throw new Fail(`decompressed data larger than the expected ${this.max} bytes`);
    if (need <= this.buf.length) return;
    const next = new Uint8Array(Math.max(need, Math.min(this.max, this.buf.length * 2)));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
}

function inflateRaw(r: BitReader, out: Output): void {
  const lengths = new Uint8Array(320);
  let last = 0;
  while (!last) {
    last = r.bits(1);
    const type = r.bits(2);
    if (type === 0) {
      r.alignToByte();
      const { src, end } = r;
      if (r.pos + 4 > end) throw new Fail('unexpected end of compressed data');
      const len = src[r.pos]! | (src[r.pos + 1]! << 8);
      const nlen = src[r.pos + 2]! | (src[r.pos + 3]! << 8);
      if ((len ^ 0xffff) !== nlen) throw new Fail('stored block length check failed');
      r.pos += 4;
      if (r.pos + len > end) throw new Fail('unexpected end of compressed data');
      out.ensure(len);
      out.buf.set(src.subarray(r.pos, r.pos + len), out.len);
      out.len += len;
      r.pos += len;
      continue;
    }
    let lit: Huffman;
    let dist: Huffman;
    if (type === 1) {
      lit = FIXED_LITLEN;
      dist = FIXED_DIST;
    } else if (type === 2) {
      const hlit = r.bits(5) + 257;
      const hdist = r.bits(5) + 1;
      const hclen = r.bits(4) + 4;
      if (hlit > 286 || hdist > 30) throw new Fail('bad dynamic block header');
      lengths.fill(0);
      for (let i = 0; i < hclen; i++) lengths[CODE_LENGTH_ORDER[i]!] = r.bits(3);
      const clen = buildHuffman(lengths, 0, 19);
      lengths.fill(0);
      let i = 0;
      while (i < hlit + hdist) {
        const sym = r.decode(clen);
        if (sym < 16) {
          lengths[i++] = sym;
          continue;
        }
        let rep: number;
        let val = 0;
        if (sym === 16) {
          if (i === 0) throw new Fail('repeat of a code length with no previous length');
          val = lengths[i - 1]!;
          rep = 3 + r.bits(2);
        } else if (sym === 17) rep = 3 + r.bits(3);
        else rep = 11 + r.bits(7);
        if (i + rep > hlit + hdist) throw new Fail('too many code lengths');
        lengths.fill(val, i, i + rep);
        i += rep;
      }
      if (lengths[256] === 0) throw new Fail('no end-of-block code');
      lit = buildHuffman(lengths, 0, hlit);
      dist = buildHuffman(lengths, hlit, hdist);
    } else {
      throw new Fail('invalid block type 3');
    }
    for (;;) {
      const sym = r.decode(lit);
      if (sym < 256) {
        out.ensure(1);
        out.buf[out.len++] = sym;
      } else if (sym === 256) {
        break;
      } else {
        const li = sym - 257;
        if (li >= 29) throw new Fail('invalid length code');
        const len = LENGTH_BASE[li]! + r.bits(LENGTH_EXTRA[li]!);
        const di = r.decode(dist);
        if (di >= 30) throw new Fail('invalid distance code');
        const d = DIST_BASE[di]! + r.bits(DIST_EXTRA[di]!);
        if (d > out.len) throw new Fail('distance points before the start of the data');
        out.ensure(len);
        const b = out.buf;
        let o = out.len;
        for (let k = 0; k < len; k++, o++) b[o] = b[o - d]!;
        out.len = o;
      }
    }
  }
}

export function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < data.length; ) {
    const end = Math.min(data.length, i + 5552);
    for (; i < end; i++) {
      a += data[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/**
 * Inflates a zlib stream (2-byte header, DEFLATE data, Adler-32). `maxOutput` bounds the result;
 * `expected` is a size hint for the first allocation. `what` names the data in error messages.
 * With `lenient` (for TIFF strips, as libtiff reads them), decoding stops quietly once
 * `maxOutput` bytes are produced, and a missing or wrong Adler-32 checksum is accepted; otherwise
 * both are errors.
 */
export function zlibInflate(
  data: Uint8Array,
  name: string,
  what: string,
  maxOutput: number,
  expected = maxOutput,
  lenient = false,
): Uint8Array {
  let out: Output | undefined;
  try {
    if (data.length < 2) throw new Fail('zlib stream too short');
    const cmf = data[0]!;
    const flg = data[1]!;
    if ((cmf & 15) !== 8 || cmf >> 4 > 7) throw new Fail('not a zlib deflate stream');
    if (((cmf << 8) | flg) % 31 !== 0) throw new Fail('zlib header check failed');
    if (flg & 0x20) throw new Fail('zlib preset dictionary not supported');
    const r = new BitReader(data, 2, data.length);
    // Start small (a corrupt header may promise far more than the data holds) and grow by doubling.
    out = new Output(Math.min(expected, data.length * 8 + 65536), maxOutput, lenient);
    inflateRaw(r, out);
    const result = out.buf.subarray(0, Math.min(out.len, maxOutput));
    const p = r.pos;
    if (p + 4 <= data.length) {
      const stored = ((data[p]! << 24) | (data[p + 1]! << 16) | (data[p + 2]! << 8) | data[p + 3]!) >>> 0;
      if (stored !== adler32(result) && !lenient) throw new Fail('Adler-32 checksum mismatch');
    } else if (!lenient) {
      throw new Fail('zlib stream truncated (no checksum)');
    }
    return result;
  } catch (e) {
    if (e instanceof Full && out) return out.buf.subarray(0, maxOutput);
    if (e instanceof Fail) throw new InputError(name, `corrupt ${what}: ${e.message}`);
    throw e;
  }
}
