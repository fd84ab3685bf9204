/**
 * The safetensors format (https://github.com/huggingface/safetensors), so that weights trained
 * here load in PyTorch (`safetensors.torch.load_file`) and back:
 *
 *   [8 bytes]  N, unsigned 64-bit little-endian: the length of the header
 *   [N bytes]  UTF-8 JSON object, starting with '{', padded at the end with spaces (0x20);
 *              the writer pads so that 8 + N is a multiple of 8 (as the reference writer does)
 *                { "__metadata__": { "key": "value", ... },            (optional, string -> string)
 *                  "name": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] }, ... }
 *   [rest]     the byte buffer: each tensor's elements row-major, little-endian, at
 *              [begin, end) relative to the start of the buffer.
 *
 * Supported dtypes: F64, F32, F16, BF16, I64, I32, I16, U8 and BOOL (PyTorch writes BatchNorm's
 * num_batches_tracked as I64). The reader checks what the reference reader checks: the
 * header length fits in the file, the header is a JSON object of well-formed entries, every dtype
 * is known, every shape's element count times the dtype size equals end - begin, and the tensors
 * tile the buffer exactly (sorted by offset, no gap, no overlap, nothing left over). Each failure
 * is an InputError naming the file. Pure: runs in a browser.
 */
import { InputError, UserError } from '../errors.js';
import { Tensor } from '../autodiff/tensor.js';

export type SafeDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'U8' | 'BOOL';
/**
 * The elements of a tensor as stored: F16 and BF16 as their raw 16-bit patterns (Uint16Array;
 * see halfToFloat / bfloat16ToFloat), BOOL as 0 / 1 bytes, I64 as BigInt64Array.
 */
export type SafeData = Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Uint8Array;

/** A tensor of any supported dtype, as stored in the file. */
export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  data: SafeData;
}

export interface SafetensorsFile<T> {
  tensors: Record<string, T>;
  metadata: Record<string, string>;
}

interface DTypeInfo {
  size: number;
  array: new (buffer: ArrayBuffer, byteOffset: number, length: number) => SafeData;
  ctorName: string;
}
const DTYPES: Record<SafeDType, DTypeInfo> = {
  F64: { size: 8, array: Float64Array, ctorName: 'Float64Array' },
  I64: { size: 8, array: BigInt64Array, ctorName: 'BigInt64Array' },
  F32: { size: 4, array: Float32Array, ctorName: 'Float32Array' },
  I32: { size: 4, array: Int32Array, ctorName: 'Int32Array' },
  F16: { size: 2, array: Uint16Array, ctorName: 'Uint16Array' },
  BF16: { size: 2, array: Uint16Array, ctorName: 'Uint16Array' },
  I16: { size: 2, array: Int16Array, ctorName: 'Int16Array' },
  U8: { size: 1, array: Uint8Array, ctorName: 'Uint8Array' },
  BOOL: { size: 1, array: Uint8Array, ctorName: 'Uint8Array' },
};
const DTYPE_NAMES = Object.keys(DTYPES).join(', ');
/** The reference reader refuses headers above 100 MB. */
export const MAX_HEADER_BYTES = 100_000_000;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** IEEE half-precision bits -> number (exact). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** bfloat16 bits -> number (exact: the top half of a float32). */
export function bfloat16ToFloat(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0];
}

/** number -> bfloat16 bits, rounding to nearest even (as torch's float32 -> bfloat16 cast). */
export function floatToBfloat16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  if (Number.isNaN(f32[0])) return 0x7fc0 | ((bits >>> 16) & 0x8000);
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** number -> IEEE half bits, rounding to nearest even; beyond the range -> +-Infinity. */
export function floatToHalf(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00; // rounds past the largest half (65504)
  if (a < 2 ** -14) return sign | roundEven(a / 2 ** -24); // subnormal (may round up to the smallest normal)
  const e = Math.floor(Math.log2(a));
  const exp = a >= 2 ** (e + 1) ? e + 1 : a < 2 ** e ? e - 1 : e; // guard log2 rounding
  const m = roundEven((a / 2 ** exp - 1) * 1024);
  return m === 1024 ? sign | ((exp + 16) << 10) : sign | ((exp + 15) << 10) | m;
}

function roundEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  return d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f;
}

function toSafe(name: string, t: Tensor | SafeTensor): SafeTensor {
  if (t instanceof Tensor) return { dtype: t.dtype === 'float64' ? 'F64' : 'F32', shape: [...t.shape], data: t.data };
  const info = DTYPES[t.dtype];
  if (!info) throw new UserError(`safetensors: tensor '${name}' has unsupported dtype '${t.dtype}' (supported: ${DTYPE_NAMES})`);
  if (t.data.constructor.name !== info.ctorName) throw new UserError(`safetensors: tensor '${name}' is ${t.dtype} but its data is a ${t.data.constructor.name}`);
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (n !== t.data.length) throw new UserError(`safetensors: tensor '${name}' has shape [${t.shape}] but ${t.data.length} elements`);
  if (t.dtype === 'BOOL' && (t.data as Uint8Array).some((v) => v > 1)) throw new UserError(`safetensors: BOOL tensor '${name}' holds a byte other than 0 or 1`);
  return t;
}

/**
 * PyTorch's dtypes for a state dict kept here in float tensors: BatchNorm's num_batches_tracked
 * (an integer counter, float64 here) becomes I64 as torch.nn writes it; other tensors unchanged.
 */
export function torchStateDict(tensors: Record<string, Tensor>): Record<string, Tensor | SafeTensor> {
  const out: Record<string, Tensor | SafeTensor> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (name === 'num_batches_tracked' || name.endsWith('.num_batches_tracked')) {
      const data = new BigInt64Array(t.size);
      for (let i = 0; i < t.size; i++) {
        const v = t.data[i];
        if (!Number.isSafeInteger(v)) throw new UserError(`safetensors: '${name}' must hold integers (got ${v})`);
        data[i] = BigInt(v);
      }
      out[name] = { dtype: 'I64', shape: [...t.shape], data };
    } else out[name] = t;
  }
  return out;
}

/** Writes the elements little-endian into `out` at `offset`. */
function writeLE(out: Uint8Array, offset: number, t: SafeTensor): void {
  const data = t.data;
  if (LITTLE_ENDIAN || data instanceof Uint8Array) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), offset);
    return;
  }
  const view = new DataView(out.buffer, out.byteOffset + offset, data.byteLength);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) view.setFloat32(4 * i, data[i], true);
    else if (data instanceof Float64Array) view.setFloat64(8 * i, data[i], true);
    else if (data instanceof BigInt64Array) view.setBigInt64(8 * i, data[i], true);
    else if (data instanceof Int32Array) view.setInt32(4 * i, data[i], true);
    else if (data instanceof Int16Array) view.setInt16(2 * i, data[i], true);
    else view.setUint16(2 * i, (data as Uint16Array)[i], true);
  }
}

/**
 * Encodes tensors (float32 Tensors as F32, float64 as F64; SafeTensors as their dtype) and string
 * metadata. Tensors are laid out by decreasing dtype size, then by name, so every tensor starts at
 * a multiple of its element size in the file (the buffer starts at a multiple of 8). For a
 * PyTorch state dict pass the tensors through torchStateDict first.
 */
export function encodeSafetensors(tensors: Record<string, Tensor | SafeTensor>, metadata?: Record<string, string>): Uint8Array {
  const entries = Object.keys(tensors).map((name) => {
    if (name === '__metadata__') throw new UserError(`safetensors: '__metadata__' cannot be a tensor name`);
    return { name, t: toSafe(name, tensors[name]) };
  });
  entries.sort((a, b) => DTYPES[b.t.dtype].size - DTYPES[a.t.dtype].size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new UserError(`safetensors: metadata '${k}' must be a string`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const { name, t } of entries) {
    const end = offset + t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] };
    offset = end;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  const n = json.length + pad;
  const out = new Uint8Array(8 + n + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + n);
  const base = 8 + n;
  for (const { name, t } of entries) writeLE(out, base + (header[name] as { data_offsets: number[] }).data_offsets[0], t);
  return out;
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Decodes a safetensors file, keeping each tensor's dtype. `name` appears in every error. */
export function decodeSafetensorsRaw(bytes: Uint8Array, name: string): SafetensorsFile<SafeTensor> {
  const fail = (problem: string): never => {
    throw new InputError(name, `not a valid safetensors file: ${problem}`);
  };
  if (bytes.length < 8) fail(`${bytes.length} bytes, too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n64} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  const n = Number(n64);
  if (8 + n > bytes.length) fail(`header length ${n} runs past the end of the file (${bytes.length} bytes)`);
  if (n < 2) fail(`header length ${n} is too short for a JSON object`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    return fail('the header is not valid UTF-8');
  }
  if (text[0] !== '{') fail(`the header does not start with '{'`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return fail('the header is not a JSON object');
  const metadata: Record<string, string> = {};
  const infos: { key: string; dtype: SafeDType; shape: number[]; begin: number; end: number }[] = [];
  for (const [key, value] of Object.entries(header as Record<string, unknown>)) {
    if (key === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`'__metadata__' is not an object`);
      for (const [mk, mv] of Object.entries(value as Record<string, unknown>)) {
        if (typeof mv !== 'string') fail(`metadata '${mk}' is not a string`);
        metadata[mk] = mv as string;
      }
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(`tensor '${key}': entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== 'string') return fail(`tensor '${key}': missing dtype`);
    if (!Object.hasOwn(DTYPES, dtype)) return fail(`tensor '${key}': unsupported dtype '${dtype}' (supported: ${DTYPE_NAMES})`);
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) return fail(`tensor '${key}': shape is not a list of integers >= 0`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt)) {
      return fail(`tensor '${key}': data_offsets is not a pair of integers >= 0`);
    }
    const [begin, end] = offsets as number[];
    if (end < begin) fail(`tensor '${key}': data_offsets [${begin}, ${end}] end before they begin`);
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    const size = DTYPES[dtype as SafeDType].size;
    if (count * size !== end - begin) {
      fail(`tensor '${key}': shape [${shape}] of ${dtype} needs ${count * size} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
    }
    infos.push({ key, dtype: dtype as SafeDType, shape: shape as number[], begin, end });
  }
  const bufferLength = bytes.length - 8 - n;
  const sorted = [...infos].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const info of sorted) {
    if (info.begin < expected) fail(`tensor '${info.key}': data_offsets [${info.begin}, ${info.end}] overlap the previous tensor (ending at ${expected})`);
    if (info.begin > expected) fail(`tensor '${info.key}': gap in the byte buffer before offset ${info.begin} (previous tensor ends at ${expected})`);
    if (info.end > bufferLength) fail(`tensor '${info.key}': data_offsets [${info.begin}, ${info.end}] run past the byte buffer (${bufferLength} bytes)`);
    expected = info.end;
  }
  if (expected !== bufferLength) fail(`the tensors cover ${expected} bytes of a ${bufferLength}-byte buffer`);
  const tensors: Record<string, SafeTensor> = {};
  const base = 8 + n;
  for (const info of infos) {
    const { size, array } = DTYPES[info.dtype];
    const m = (info.end - info.begin) / size;
    // A fresh, aligned copy. (Not bytes.slice: on a Node Buffer that is a view into a shared pool.)
    const copy = new Uint8Array(bytes.subarray(base + info.begin, base + info.end));
    let data: SafeData;
    if (LITTLE_ENDIAN || size === 1) data = new array(copy.buffer, 0, m);
    else {
      const dv = new DataView(copy.buffer);
      data = new array(new ArrayBuffer(m * size), 0, m);
      for (let i = 0; i < m; i++) {
        if (data instanceof BigInt64Array) data[i] = dv.getBigInt64(8 * i, true);
        else if (data instanceof Float64Array) data[i] = dv.getFloat64(8 * i, true);
        else if (data instanceof Float32Array) data[i] = dv.getFloat32(4 * i, true);
        else if (data instanceof Int32Array) data[i] = dv.getInt32(4 * i, true);
        else if (data instanceof Int16Array) data[i] = dv.getInt16(2 * i, true);
        else (data as Uint16Array)[i] = dv.getUint16(2 * i, true);
      }
    }
    if (info.dtype === 'BOOL') {
      const bad = (data as Uint8Array).findIndex((v) => v > 1);
      if (bad >= 0) fail(`tensor '${info.key}': BOOL element ${bad} is ${(data as Uint8Array)[bad]}, not 0 or 1`);
    }
    tensors[info.key] = { dtype: info.dtype, shape: info.shape, data };
  }
  return { tensors, metadata };
}

/**
 * A stored tensor's values as numbers: F64 and F32 as they are, F16 and BF16 widened exactly to
 * float32, I32 / I64 as exact float64 (an I64 that no float64 holds exactly, beyond +-2^53, is an InputError
 * naming `file`), I16,
 * U8 and BOOL as exact float32.
 */
export function safeToTensor(t: SafeTensor, key: string, file: string): Tensor {
  const d = t.data;
  let data: Float32Array | Float64Array;
  if (d instanceof Float32Array || d instanceof Float64Array) data = d;
  else if (t.dtype === 'F16') data = Float32Array.from(d as Uint16Array, halfToFloat);
  else if (t.dtype === 'BF16') data = Float32Array.from(d as Uint16Array, bfloat16ToFloat);
  else if (d instanceof BigInt64Array) {
    data = new Float64Array(d.length);
    for (let i = 0; i < d.length; i++) {
      const v = Number(d[i]);
      if (BigInt(v) !== d[i]) throw new InputError(file, `tensor '${key}': I64 element ${i} (${d[i]}) is beyond +-2^53 and has no exact float value`);
      data[i] = v;
    }
  } else if (d instanceof Int32Array) data = Float64Array.from(d);
  else data = Float32Array.from(d as Int16Array | Uint8Array);
  const out = new Tensor(data, t.shape);
  out.name = key;
  return out;
}

/** Decodes a safetensors file into Tensors (dtypes converted as safeToTensor says). */
export function decodeSafetensors(bytes: Uint8Array, name: string): SafetensorsFile<Tensor> {
  const raw = decodeSafetensorsRaw(bytes, name);
  const tensors: Record<string, Tensor> = {};
  for (const [key, t] of Object.entries(raw.tensors)) tensors[key] = safeToTensor(t, key, name);
  return { tensors, metadata: raw.metadata };
}
