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
 * Supported dtypes: F32, F64, I32, U8. The reader checks what the reference reader checks: the
 * header length fits in the file, the header is a JSON object of well-formed entries, every dtype
 * is known, every shape's element count times the dtype size equals end - begin, and the tensors
 * tile the buffer exactly (sorted by offset, no gap, no overlap, nothing left over). Each failure
 * is an InputError naming the file. Pure: runs in a browser.
 */
import { InputError, UserError } from '../errors.js';
import { Tensor } from '../autodiff/tensor.js';

export type SafeDType = 'F32' | 'F64' | 'I32' | 'U8';
export type SafeData = Float32Array | Float64Array | Int32Array | Uint8Array;

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

const DTYPE_SIZE: Record<SafeDType, number> = { F64: 8, F32: 4, I32: 4, U8: 1 };
/** The reference reader refuses headers above 100 MB. */
export const MAX_HEADER_BYTES = 100_000_000;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function dtypeOfData(data: SafeData): SafeDType {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof Int32Array) return 'I32';
  return 'U8';
}

function toSafe(name: string, t: Tensor | SafeTensor): SafeTensor {
  if (t instanceof Tensor) return { dtype: t.dtype === 'float64' ? 'F64' : 'F32', shape: [...t.shape], data: t.data };
  const expected = dtypeOfData(t.data);
  if (expected !== t.dtype) throw new UserError(`safetensors: tensor '${name}' is ${t.dtype} but its data is a ${t.data.constructor.name}`);
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (n !== t.data.length) throw new UserError(`safetensors: tensor '${name}' has shape [${t.shape}] but ${t.data.length} elements`);
  return t;
}

/** Writes the elements little-endian into `out` at `offset`. */
function writeLE(out: Uint8Array, offset: number, data: SafeData): void {
  if (LITTLE_ENDIAN || data instanceof Uint8Array) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), offset);
    return;
  }
  const view = new DataView(out.buffer, out.byteOffset + offset, data.byteLength);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) view.setFloat32(4 * i, data[i], true);
    else if (data instanceof Float64Array) view.setFloat64(8 * i, data[i], true);
    else view.setInt32(4 * i, data[i], true);
  }
}

/**
 * Encodes tensors (float32 Tensors as F32, float64 as F64; SafeTensors as their dtype) and string
 * metadata. Tensors are laid out by decreasing dtype size, then by name, so every tensor starts at
 * a multiple of its element size in the file (the buffer starts at a multiple of 8).
 */
export function encodeSafetensors(tensors: Record<string, Tensor | SafeTensor>, metadata?: Record<string, string>): Uint8Array {
  const entries = Object.keys(tensors).map((name) => {
    if (name === '__metadata__') throw new UserError(`safetensors: '__metadata__' cannot be a tensor name`);
    return { name, t: toSafe(name, tensors[name]) };
  });
  entries.sort((a, b) => DTYPE_SIZE[b.t.dtype] - DTYPE_SIZE[a.t.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
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
  for (const { name, t } of entries) writeLE(out, base + (header[name] as { data_offsets: number[] }).data_offsets[0], t.data);
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
    if (!(dtype in DTYPE_SIZE)) return fail(`tensor '${key}': unsupported dtype '${dtype}' (supported: F32, F64, I32, U8)`);
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) return fail(`tensor '${key}': shape is not a list of integers >= 0`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt)) {
      return fail(`tensor '${key}': data_offsets is not a pair of integers >= 0`);
    }
    const [begin, end] = offsets as number[];
    if (end < begin) fail(`tensor '${key}': data_offsets [${begin}, ${end}] end before they begin`);
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    const size = DTYPE_SIZE[dtype as SafeDType];
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
    const byteLen = info.end - info.begin;
    // A fresh, aligned copy. (Not bytes.slice: on a Node Buffer that is a view into a shared pool.)
    const copy = new Uint8Array(bytes.subarray(base + info.begin, base + info.end));
    let data: SafeData;
    if (info.dtype === 'U8') data = copy;
    else if (LITTLE_ENDIAN) {
      data =
        info.dtype === 'F32' ? new Float32Array(copy.buffer, 0, byteLen / 4)
        : info.dtype === 'F64' ? new Float64Array(copy.buffer, 0, byteLen / 8)
        : new Int32Array(copy.buffer, 0, byteLen / 4);
    } else {
      const dv = new DataView(copy.buffer);
      const sz = DTYPE_SIZE[info.dtype];
      const m = byteLen / sz;
      data = info.dtype === 'F32' ? new Float32Array(m) : info.dtype === 'F64' ? new Float64Array(m) : new Int32Array(m);
      for (let i = 0; i < m; i++) {
        data[i] = info.dtype === 'F32' ? dv.getFloat32(4 * i, true) : info.dtype === 'F64' ? dv.getFloat64(8 * i, true) : dv.getInt32(4 * i, true);
      }
    }
    tensors[info.key] = { dtype: info.dtype, shape: info.shape, data };
  }
  return { tensors, metadata };
}

/**
 * Decodes a safetensors file into Tensors: F32 -> float32, F64 -> float64, and the integer
 * dtypes as exact float values (I32 -> float64, U8 -> float32).
 */
export function decodeSafetensors(bytes: Uint8Array, name: string): SafetensorsFile<Tensor> {
  const raw = decodeSafetensorsRaw(bytes, name);
  const tensors: Record<string, Tensor> = {};
  for (const [key, t] of Object.entries(raw.tensors)) {
    const data = t.data instanceof Float32Array || t.data instanceof Float64Array ? t.data
      : t.data instanceof Int32Array ? Float64Array.from(t.data)
      : Float32Array.from(t.data);
    tensors[key] = new Tensor(data, t.shape);
    tensors[key].name = key;
  }
  return { tensors, metadata: raw.metadata };
}
