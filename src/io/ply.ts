/**
 * PLY (Stanford polygon file) reader: ascii, binary_little_endian and binary_big_endian.
 *
 * The `vertex` element must have scalar x, y, z properties of any numeric type; its other
 * properties (normals, colours, lists, ...) are skipped whatever their type. The `face` element
 * needs a list property `vertex_indices` (or `vertex_index`) with any count / index types;
 * polygons are fan-triangulated. Other elements are skipped. The result goes through
 * validateMesh. Every fault raises InputError naming the file. Pure: no Node modules.
 */
import { InputError } from '../errors.js';
import { type Mesh, TriangleList, validateMesh } from './mesh.js';

type ScalarType = 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';

const TYPE_ALIASES: Record<string, ScalarType> = {
  char: 'int8',
  int8: 'int8',
  uchar: 'uint8',
  uint8: 'uint8',
  short: 'int16',
  int16: 'int16',
  ushort: 'uint16',
  uint16: 'uint16',
  int: 'int32',
  int32: 'int32',
  uint: 'uint32',
  uint32: 'uint32',
  float: 'float32',
  float32: 'float32',
  double: 'float64',
  float64: 'float64',
};
const TYPE_BYTES: Record<ScalarType, number> = { int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, float32: 4, float64: 8 };

interface Property {
  name: string;
  type: ScalarType;
  /** Set for list properties: the type of the count that precedes the items. */
  countType?: ScalarType;
}

interface Element {
  name: string;
  count: number;
  props: Property[];
}

/** Longest header accepted (a real one is a few hundred bytes). */
const MAX_HEADER = 1 << 20;

function parseHeader(bytes: Uint8Array, name: string): { format: string; elements: Element[]; bodyStart: number } {
  const fail = (problem: string): never => {
    throw new InputError(name, problem);
  };
  const limit = Math.min(bytes.length, MAX_HEADER);
  let text = '';
  for (let i = 0; i < limit; i++) text += String.fromCharCode(bytes[i]!);
  const m = /(^|\n)end_header[ \t]*\r?\n/.exec(text) ?? /(^|\n)end_header[ \t]*$/.exec(text);
  if (!m) fail('corrupt PLY: no end_header line' + (bytes.length > MAX_HEADER ? ` in the first ${MAX_HEADER} bytes` : ''));
  const bodyStart = m!.index + m![0].length;
  const lines = text.slice(0, m!.index).split(/\r?\n|\r/);
  if (lines[0]!.trim() !== 'ply') fail("not a PLY file (the first line is not 'ply')");
  let format = '';
  const elements: Element[] = [];
  for (let ln = 1; ln < lines.length; ln++) {
    const words = lines[ln]!.trim().split(/\s+/);
    const where = `PLY header line ${ln + 1}`;
    switch (words[0]) {
      case '':
      case 'comment':
      case 'obj_info':
        break;
      case 'format':
        if (words[2] !== '1.0') fail(`${where}: unsupported PLY version '${words[2]}'`);
        if (!['ascii', 'binary_little_endian', 'binary_big_endian'].includes(words[1]!)) fail(`${where}: unknown format '${words[1]}'`);
        format = words[1]!;
        break;
      case 'element': {
        const count = Number(words[2]);
        if (words.length !== 3 || !Number.isSafeInteger(count) || count < 0) fail(`${where}: bad element line '${lines[ln]}'`);
        elements.push({ name: words[1]!, count, props: [] });
        break;
      }
      case 'property': {
        const el = elements[elements.length - 1];
        if (!el) fail(`${where}: property before any element`);
        if (words[1] === 'list') {
          const countType = TYPE_ALIASES[words[2]!];
          const type = TYPE_ALIASES[words[3]!];
          if (!countType || !type || words.length !== 5) fail(`${where}: bad list property '${lines[ln]}'`);
          if (countType === 'float32' || countType === 'float64') fail(`${where}: list count type must be an integer type`);
          el!.props.push({ name: words[4]!, type: type!, countType });
        } else {
          const type = TYPE_ALIASES[words[1]!];
          if (!type || words.length !== 3) fail(`${where}: bad property '${lines[ln]}'`);
          el!.props.push({ name: words[2]!, type: type! });
        }
        break;
      }
      default:
        fail(`${where}: unknown keyword '${words[0]}'`);
    }
  }
  if (!format) fail('corrupt PLY: no format line');
  return { format, elements, bodyStart };
}

/** Reads values one at a time from the body, whatever the format. */
interface ValueSource {
  read(type: ScalarType, what: string): number;
  /** Bytes (binary) or characters (ascii) left: bounds counts before allocating. */
  remaining(): number;
  /** Smallest size one value of `type` can take in this format. */
  minSize(type: ScalarType): number;
}

function binarySource(bytes: Uint8Array, start: number, le: boolean, name: string): ValueSource {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = start;
  return {
    read(type, what) {
      const n = TYPE_BYTES[type];
      if (p + n > bytes.length) throw new InputError(name, `truncated PLY: file ends inside ${what}`);
      let v: number;
      switch (type) {
        case 'int8':
          v = dv.getInt8(p);
          break;
        case 'uint8':
          v = dv.getUint8(p);
          break;
        case 'int16':
          v = dv.getInt16(p, le);
          break;
        case 'uint16':
          v = dv.getUint16(p, le);
          break;
        case 'int32':
          v = dv.getInt32(p, le);
          break;
        case 'uint32':
          v = dv.getUint32(p, le);
          break;
        case 'float32':
          v = dv.getFloat32(p, le);
          break;
        default:
          v = dv.getFloat64(p, le);
      }
      p += n;
      return v;
    },
    remaining: () => bytes.length - p,
    minSize: (type) => TYPE_BYTES[type],
  };
}

function asciiSource(bytes: Uint8Array, start: number, name: string): ValueSource {
  let text = '';
  // Chunked conversion: String.fromCharCode with a spread is limited in argument count.
  for (let i = start; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, Math.min(bytes.length, i + 8192)));
  const re = /\S+/g;
  return {
    read(type, what) {
      const m = re.exec(text);
      if (!m) throw new InputError(name, `truncated PLY: file ends inside ${what}`);
      const v = Number(m[0]);
      if (Number.isNaN(v) && !/^[+-]?nan$/i.test(m[0])) throw new InputError(name, `corrupt PLY: '${m[0].slice(0, 40)}' in ${what} is not a number`);
      if (type !== 'float32' && type !== 'float64' && !Number.isInteger(v)) {
        throw new InputError(name, `corrupt PLY: '${m[0].slice(0, 40)}' in ${what} is not an integer (${type})`);
      }
      return v;
    },
    remaining: () => text.length - re.lastIndex,
    minSize: () => 2, // a digit and a separator
  };
}

export function decodePly(bytes: Uint8Array, name: string): Mesh {
  const { format, elements, bodyStart } = parseHeader(bytes, name);
  const src = format === 'ascii' ? asciiSource(bytes, bodyStart, name) : binarySource(bytes, bodyStart, format === 'binary_little_endian', name);

  const vertexEl = elements.find((e) => e.name === 'vertex');
  if (!vertexEl) throw new InputError(name, "PLY file has no 'vertex' element");
  const xyz = ['x', 'y', 'z'].map((c) => vertexEl.props.findIndex((p) => p.name === c && !p.countType));
  if (xyz.some((i) => i < 0)) throw new InputError(name, "PLY 'vertex' element lacks scalar x, y and z properties");
  const faceEl = elements.find((e) => e.name === 'face');
  const faceProp = faceEl ? faceEl.props.findIndex((p) => (p.name === 'vertex_indices' || p.name === 'vertex_index') && p.countType) : -1;
  if (!faceEl || faceProp < 0) throw new InputError(name, "PLY file has no 'face' element with a vertex_indices list");

  let positions = new Float32Array(0);
  const tris = new TriangleList();
  let polygon = new Float64Array(16);
  for (const el of elements) {
    // Every instance takes at least one value per property: bound the count by the data left.
    const minPer = el.props.reduce((s, p) => s + src.minSize(p.countType ?? p.type), 0);
    if (el.count * minPer > src.remaining()) {
      throw new InputError(name, `truncated PLY: ${el.count} '${el.name}' elements do not fit in the rest of the file`);
    }
    if (el === vertexEl) positions = new Float32Array(3 * el.count);
    if (minPer === 0) continue; // an element without properties holds no data
    for (let i = 0; i < el.count; i++) {
      for (let pi = 0; pi < el.props.length; pi++) {
        const prop = el.props[pi]!;
        const what = `${el.name} ${i} property ${prop.name}`;
        if (!prop.countType) {
          const v = src.read(prop.type, what);
          if (el === vertexEl) {
            const c = xyz.indexOf(pi);
            if (c >= 0) positions[3 * i + c] = v;
          }
          continue;
        }
        const n = src.read(prop.countType, what);
        if (n < 0 || n * src.minSize(prop.type) > src.remaining()) {
          throw new InputError(name, `truncated PLY: list of ${n} items in ${what} does not fit in the rest of the file`);
        }
        const isFace = el === faceEl && pi === faceProp;
        if (isFace && n < 3) throw new InputError(name, `corrupt PLY: face ${i} has ${n} vertices (at least 3 needed)`);
        if (isFace && n > polygon.length) polygon = new Float64Array(n);
        for (let k = 0; k < n; k++) {
          const v = src.read(prop.type, what);
          if (isFace) {
            if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new InputError(name, `corrupt PLY: face ${i} has vertex index ${v}`);
            polygon[k] = v;
          }
        }
        if (isFace) tris.addPolygon(polygon, n);
      }
    }
  }
  return validateMesh({ positions, faces: tris.toArray(), warnings: [] }, name);
}
