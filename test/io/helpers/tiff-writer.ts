/**
 * A tiny TIFF encoder for tests: builds files with known pixels in every layout the reader
 * supports (byte orders, strips / tiles, planar, compressions, predictor, palette, bit depths,
 * extra samples, several pages).
 */
import zlib from 'node:zlib';

export interface TiffSpec {
  width: number;
  height: number;
  /** Raw sample values, chunky (pixel-interleaved) order, width * height * spp values. */
  samples: ArrayLike<number>;
  bits: 1 | 2 | 4 | 8 | 16 | 32 | 64;
  float?: boolean;
  spp?: number;
  photometric: 0 | 1 | 2 | 3;
  /** 3 * 2^bits values: all reds, all greens, all blues (16-bit). */
  colorMap?: number[];
  compression?: 1 | 5 | 8 | 32946 | 32773 | 7;
  predictor?: 1 | 2 | 3;
  rowsPerStrip?: number;
  tile?: [number, number];
  planar?: 1 | 2;
  bigEndian?: boolean;
  /** Number of IFDs (all pointing at the same pixel data). */
  pages?: number;
  extraSamples?: number[];
  /** Override / add tags: [tag, type, values]. */
  extraTags?: [number, number, number[]][];
}

const TYPE_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 11: 4, 12: 8 };

export function packBits(src: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < src.length) {
    let run = 1;
    while (i + run < src.length && run < 128 && src[i + run] === src[i]) run++;
    if (run >= 2) {
      out.push(257 - run, src[i]!);
      i += run;
      continue;
    }
    let lit = 1;
    while (i + lit < src.length && lit < 128 && !(i + lit + 1 < src.length && src[i + lit] === src[i + lit + 1])) lit++;
    out.push(lit - 1, ...src.subarray(i, i + lit));
    i += lit;
  }
  return new Uint8Array(out);
}

/** TIFF LZW encoder following libtiff (MSB-first codes, early change, clear at 4094). */
export function lzwEncode(src: Uint8Array): Uint8Array {
  const out: number[] = [];
  let acc = 0;
  let nacc = 0;
  let nbits = 9;
  const put = (code: number): void => {
    acc = (acc << nbits) | code;
    nacc += nbits;
    while (nacc >= 8) {
      out.push((acc >> (nacc - 8)) & 255);
      nacc -= 8;
    }
    acc &= (1 << nacc) - 1;
  };
  let table = new Map<number, number>();
  let free = 258;
  let maxcode = 511;
  put(256);
  if (src.length === 0) {
    put(257);
  } else {
    let ent = src[0]!;
    for (let i = 1; i < src.length; i++) {
      const c = src[i]!;
      const key = (c << 12) + ent;
      const hit = table.get(key);
      if (hit !== undefined) {
        ent = hit;
        continue;
      }
      put(ent);
      ent = c;
      table.set(key, free++);
      if (free === 4094) {
        put(256);
        table = new Map();
        free = 258;
        nbits = 9;
        maxcode = 511;
      } else if (free > maxcode) {
        nbits++;
        maxcode = (1 << nbits) - 1;
      }
    }
    put(ent);
    free++;
    if (free > maxcode && free !== 4094) nbits++;
    put(257);
  }
  if (nacc > 0) out.push((acc << (8 - nacc)) & 255);
  return new Uint8Array(out);
}

function writeSample(dv: DataView, bitBuf: Uint8Array, pos: number, idx: number, v: number, bits: number, float: boolean, le: boolean): void {
  if (float) {
    if (bits === 32) dv.setFloat32(pos + 4 * idx, v, le);
    else dv.setFloat64(pos + 8 * idx, v, le);
  } else if (bits === 8) dv.setUint8(pos + idx, v);
  else if (bits === 16) dv.setUint16(pos + 2 * idx, v, le);
  else if (bits === 32) dv.setUint32(pos + 4 * idx, v, le);
  else {
    const bit = idx * bits;
    bitBuf[pos + (bit >> 3)]! |= v << (8 - bits - (bit & 7));
  }
}

export function encodeTiff(spec: TiffSpec): Uint8Array {
  const { width, height, bits } = spec;
  const spp = spec.spp ?? (spec.photometric === 2 ? 3 : 1);
  const le = !spec.bigEndian;
  const planar = spec.planar ?? 1;
  const compression = spec.compression ?? 1;
  const predictor = spec.predictor ?? 1;
  const float = spec.float ?? false;
  const [bw, bh] = spec.tile ?? [width, Math.min(spec.rowsPerStrip ?? height, height)];
  const across = Math.ceil(width / bw);
  const down = Math.ceil(height / bh);
  const planes = planar === 2 ? spp : 1;
  const sib = planar === 2 ? 1 : spp;
  const rowBytes = Math.ceil((bw * sib * bits) / 8);

  const blocks: Uint8Array[] = [];
  for (let plane = 0; plane < planes; plane++) {
    for (let ty = 0; ty < down; ty++) {
      for (let tx = 0; tx < across; tx++) {
        const rows = spec.tile ? bh : Math.min(bh, height - ty * bh);
        const buf = new Uint8Array(rowBytes * rows);
        const dv = new DataView(buf.buffer);
        for (let y = 0; y < rows; y++) {
          // Raw sample values of this row, then the predictor, then packing.
          const vals: number[] = new Array(bw * sib).fill(0);
          for (let x = 0; x < bw; x++) {
            const ix = tx * bw + x;
            const iy = ty * bh + y;
            if (ix >= width || iy >= height) continue;
            for (let s = 0; s < sib; s++) vals[x * sib + s] = spec.samples[(iy * width + ix) * spp + (planar === 2 ? plane : s)]!;
          }
          if (predictor === 2) {
            const mod = 2 ** bits;
            for (let i = vals.length - 1; i >= sib; i--) vals[i] = (((vals[i]! - vals[i - sib]!) % mod) + mod) % mod;
          }
          if (predictor === 3) {
            // Floating-point predictor: big-endian byte planes, then byte differences.
            const bps = bits / 8;
            const n = vals.length;
            const tmp = new Uint8Array(n * bps);
            const tdv = new DataView(new ArrayBuffer(bps));
            for (let i = 0; i < n; i++) {
              if (bps === 4) tdv.setFloat32(0, vals[i]!, false);
              else tdv.setFloat64(0, vals[i]!, false);
              for (let b = 0; b < bps; b++) tmp[b * n + i] = tdv.getUint8(b);
            }
            for (let i = tmp.length - 1; i >= sib; i--) tmp[i] = tmp[i]! - tmp[i - sib]!;
            buf.set(tmp, y * rowBytes);
            continue;
          }
          for (let i = 0; i < vals.length; i++) writeSample(dv, buf, y * rowBytes, i, vals[i]!, bits, float, le);
        }
        let data: Uint8Array = buf;
        if (compression === 32773) data = packBits(buf);
        else if (compression === 5) data = lzwEncode(buf);
        else if (compression === 8 || compression === 32946) data = new Uint8Array(zlib.deflateSync(buf));
        blocks.push(data);
      }
    }
  }

  // Layout: header, pixel blocks, then per page: IFD followed by its out-of-line values.
  const chunks: Uint8Array[] = [];
  let pos = 8;
  const blockOffsets: number[] = [];
  for (const b of blocks) {
    blockOffsets.push(pos);
    chunks.push(b);
    pos += b.length + (b.length & 1);
    if (b.length & 1) chunks.push(new Uint8Array(1));
  }
  const tags = new Map<number, [number, number[]]>();
  tags.set(256, [4, [width]]);
  tags.set(257, [4, [height]]);
  tags.set(258, [3, new Array(spp).fill(bits)]);
  tags.set(259, [3, [compression]]);
  tags.set(262, [3, [spec.photometric]]);
  tags.set(277, [3, [spp]]);
  tags.set(284, [3, [planar]]);
  if (predictor !== 1) tags.set(317, [3, [predictor]]);
  if (float) tags.set(339, [3, new Array(spp).fill(3)]);
  if (spec.colorMap) tags.set(320, [3, spec.colorMap]);
  if (spec.extraSamples) tags.set(338, [3, spec.extraSamples]);
  if (spec.tile) {
    tags.set(322, [3, [bw]]);
    tags.set(323, [3, [bh]]);
    tags.set(324, [4, blockOffsets]);
    tags.set(325, [4, blocks.map((b) => b.length)]);
  } else {
    tags.set(273, [4, blockOffsets]);
    tags.set(278, [4, [bh]]);
    tags.set(279, [4, blocks.map((b) => b.length)]);
  }
  for (const [tag, type, values] of spec.extraTags ?? []) tags.set(tag, [type, values]);
  const sorted = [...tags.entries()].sort((a, b) => a[0] - b[0]);

  const pages = spec.pages ?? 1;
  const ifdOffsets: number[] = [];
  const ifds: Uint8Array[] = [];
  const ifdOnly: Uint8Array[] = [];
  for (let p = 0; p < pages; p++) {
    const ifdPos = pos;
    ifdOffsets.push(ifdPos);
    const ifdSize = 2 + 12 * sorted.length + 4;
    let extraPos = ifdPos + ifdSize;
    const extras: Uint8Array[] = [];
    const ifd = new Uint8Array(ifdSize);
    const dv = new DataView(ifd.buffer);
    dv.setUint16(0, sorted.length, le);
    sorted.forEach(([tag, [type, values]], i) => {
      const e = 2 + 12 * i;
      const size = TYPE_SIZE[type]! * values.length;
      dv.setUint16(e, tag, le);
      dv.setUint16(e + 2, type, le);
      dv.setUint32(e + 4, values.length, le);
      const vb = new Uint8Array(Math.max(4, size + (size & 1)));
      const vdv = new DataView(vb.buffer);
      values.forEach((v, k) => {
        const s = TYPE_SIZE[type]!;
        if (type === 3) vdv.setUint16(k * s, v, le);
        else if (type === 4) vdv.setUint32(k * s, v, le);
        else if (type === 11) vdv.setFloat32(k * s, v, le);
        else if (type === 12) vdv.setFloat64(k * s, v, le);
        else if (type === 5) {
          // A whole number as v/1, anything else as a fraction over 10^6.
          const den = Number.isInteger(v) ? 1 : 1_000_000;
          vdv.setUint32(k * s, Math.round(v * den), le);
          vdv.setUint32(k * s + 4, den, le);
        } else vdv.setUint8(k * s, v);
      });
      if (size <= 4) ifd.set(vb.subarray(0, 4), e + 8);
      else {
        dv.setUint32(e + 8, extraPos, le);
        extras.push(vb);
        extraPos += vb.length;
      }
    });
    ifds.push(ifd, ...extras);
    ifdOnly.push(ifd);
    pos = extraPos;
  }
  // Chain the IFDs.
  ifdOnly.forEach((ifd, k) => new DataView(ifd.buffer).setUint32(ifd.length - 4, k + 1 < pages ? ifdOffsets[k + 1]! : 0, le));
  const header = new Uint8Array(8);
  const hdv = new DataView(header.buffer);
  header[0] = header[1] = le ? 0x49 : 0x4d;
  hdv.setUint16(2, 42, le);
  hdv.setUint32(4, ifdOffsets[0]!, le);
  const all = [header, ...chunks, ...ifds];
  const out = new Uint8Array(all.reduce((s, c) => s + c.length, 0));
  let o = 0;
  for (const c of all) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
