/** Writes PLY files with chosen formats and property types, for tests. */
export type PlyType = 'char' | 'uchar' | 'short' | 'ushort' | 'int' | 'uint' | 'float' | 'double' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';
export type PlyFormat = 'ascii' | 'binary_little_endian' | 'binary_big_endian';

export interface PlyProp {
  name: string;
  type: PlyType;
  /** Present for list properties. */
  countType?: PlyType;
}
export interface PlyElement {
  name: string;
  props: PlyProp[];
  /** One row per element: a number per scalar property, an array per list property. */
  rows: (number | number[])[][];
}

const SIZE: Record<string, number> = { char: 1, uchar: 1, int8: 1, uint8: 1, short: 2, ushort: 2, int16: 2, uint16: 2, int: 4, uint: 4, int32: 4, uint32: 4, float: 4, float32: 4, double: 8, float64: 8 };

function put(dv: DataView, p: number, type: PlyType, v: number, le: boolean): number {
  switch (type) {
    case 'char':
    case 'int8':
      dv.setInt8(p, v);
      break;
    case 'uchar':
    case 'uint8':
      dv.setUint8(p, v);
      break;
    case 'short':
    case 'int16':
      dv.setInt16(p, v, le);
      break;
    case 'ushort':
    case 'uint16':
      dv.setUint16(p, v, le);
      break;
    case 'int':
    case 'int32':
      dv.setInt32(p, v, le);
      break;
    case 'uint':
    case 'uint32':
      dv.setUint32(p, v, le);
      break;
    case 'float':
    case 'float32':
      dv.setFloat32(p, v, le);
      break;
    default:
      dv.setFloat64(p, v, le);
  }
  return p + SIZE[type]!;
}

export function writePly(format: PlyFormat, elements: PlyElement[], comment = 'made by a test'): Uint8Array {
  let header = `ply\nformat ${format} 1.0\ncomment ${comment}\n`;
  for (const el of elements) {
    header += `element ${el.name} ${el.rows.length}\n`;
    for (const p of el.props) header += p.countType ? `property list ${p.countType} ${p.type} ${p.name}\n` : `property ${p.type} ${p.name}\n`;
  }
  header += 'end_header\n';
  const head = new TextEncoder().encode(header);
  if (format === 'ascii') {
    const body = elements
      .flatMap((el) => el.rows.map((row) => row.map((v) => (Array.isArray(v) ? [v.length, ...v].join(' ') : String(v))).join(' ')))
      .join('\n');
    return new Uint8Array([...head, ...new TextEncoder().encode(body + '\n')]);
  }
  const le = format === 'binary_little_endian';
  let size = 0;
  for (const el of elements) {
    for (const row of el.rows) {
      el.props.forEach((p, i) => {
        const v = row[i]!;
        size += Array.isArray(v) ? SIZE[p.countType!]! + v.length * SIZE[p.type]! : SIZE[p.type]!;
      });
    }
  }
  const body = new Uint8Array(size);
  const dv = new DataView(body.buffer);
  let o = 0;
  for (const el of elements) {
    for (const row of el.rows) {
      el.props.forEach((p, i) => {
        const v = row[i]!;
        if (Array.isArray(v)) {
          o = put(dv, o, p.countType!, v.length, le);
          for (const x of v) o = put(dv, o, p.type, x, le);
        } else o = put(dv, o, p.type, v, le);
      });
    }
  }
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

/** A unit cube: 8 vertices, 6 quads (closed, outward-facing). */
export const CUBE_VERTICES = [
  [0, 0, 0],
  [1, 0, 0],
  [1, 1, 0],
  [0, 1, 0],
  [0, 0, 1],
  [1, 0, 1],
  [1, 1, 1],
  [0, 1, 1],
];
export const CUBE_QUADS = [
  [0, 3, 2, 1],
  [4, 5, 6, 7],
  [0, 1, 5, 4],
  [1, 2, 6, 5],
  [2, 3, 7, 6],
  [3, 0, 4, 7],
];
