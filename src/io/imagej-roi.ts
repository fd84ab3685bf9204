/**
 * ImageJ's binary ROI format (.roi; ij/io/RoiEncoder, RoiDecoder) and ROI sets (RoiSet.zip: one
 * .roi file per ROI, what Fiji's ROI Manager opens and saves). Written here: traced polygons
 * (outlines on pixel corners, as the particle analyzer makes them), each named.
 *
 * Layout, all numbers big-endian:
 *   0-3 "Iout"  4-5 version (228)  6 type (8 = traced)  7 0
 *   8-9 top  10-11 left  12-13 bottom  14-15 right  (the bounding box, ints as shorts)
 *   16-17 number of points n  18-59 unused here (stroke, colours, options: 0)
 *   60-63 offset of header 2
 *   64 ... n x (short, relative to left), then n y (short, relative to top)
 *   header 2 (64 bytes): 16-19 name offset, 20-23 name length (UTF-16 chars), rest 0
 *   the name, UTF-16BE
 */
import { zipSync } from 'fflate';
import { UserError } from '../errors.js';

export const ROI_TRACED = 8;
const HEADER = 64;
const HEADER2 = 64;
const VERSION = 228;

export interface RoiPolygon {
  name: string;
  xs: readonly number[];
  ys: readonly number[];
}

/** One .roi file: a traced polygon with integer pixel-corner coordinates. */
export function encodeTracedRoi(roi: RoiPolygon): Uint8Array {
  const n = roi.xs.length;
  if (n === 0 || n !== roi.ys.length || n > 65535) throw new UserError(`ROI '${roi.name}': ${n} points (1 to 65535, as many x as y)`);
  let left = Infinity, top = Infinity, right = -Infinity, bottom = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = roi.xs[i], y = roi.ys[i];
    if (!Number.isInteger(x) || !Number.isInteger(y)) throw new UserError(`ROI '${roi.name}': coordinates must be integers`);
    left = Math.min(left, x); right = Math.max(right, x); top = Math.min(top, y); bottom = Math.max(bottom, y);
  }
  if (left < 0 || top < 0 || right > 32767 || bottom > 32767) throw new UserError(`ROI '${roi.name}': coordinates beyond 0..32767 do not fit ImageJ's ROI format`);
  const coords = 4 * n;
  const header2At = HEADER + coords;
  const nameAt = header2At + HEADER2;
  const out = new Uint8Array(nameAt + 2 * roi.name.length);
  const dv = new DataView(out.buffer);
  out.set([0x49, 0x6f, 0x75, 0x74], 0); // "Iout"
  dv.setInt16(4, VERSION);
  out[6] = ROI_TRACED;
  dv.setInt16(8, top);
  dv.setInt16(10, left);
  dv.setInt16(12, bottom);
  dv.setInt16(14, right);
  dv.setUint16(16, n);
  dv.setInt32(60, header2At);
  for (let i = 0; i < n; i++) {
    dv.setInt16(HEADER + 2 * i, roi.xs[i] - left);
    dv.setInt16(HEADER + 2 * n + 2 * i, roi.ys[i] - top);
  }
  dv.setInt32(header2At + 16, nameAt);
  dv.setInt32(header2At + 20, roi.name.length);
  for (let i = 0; i < roi.name.length; i++) dv.setUint16(nameAt + 2 * i, roi.name.charCodeAt(i));
  return out;
}

/** RoiSet.zip: each ROI as NAME.roi (names must be unique), deflated. */
export function encodeRoiSet(rois: readonly RoiPolygon[]): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  for (const r of rois) {
    const file = `${r.name}.roi`;
    if (file in files) throw new UserError(`ROI set: two ROIs are named '${r.name}'`);
    files[file] = encodeTracedRoi(r);
  }
  return zipSync(files, { level: 6, mtime: new Date('2000-01-01T00:00:00Z') });
}
