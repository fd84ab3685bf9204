/**
 * A 16-bit greyscale TIFF writer (baseline, uncompressed, little-endian, one strip) for label
 * images that Fiji opens as they are (MorphoLibJ treats a 16-bit image of ids as labels). With a
 * pixel size, it carries ImageJ's calibration: ImageDescription "ImageJ=1.11a\nunit=<unit>\n"
 * and X/YResolution in pixels per unit, so measurements in Fiji come out in that unit.
 */
import { UserError } from '../errors.js';

export interface LabelTiffOptions {
  /** Pixel size in `unit` (ImageJ calibration); none or unit 'px': uncalibrated. */
  pixelSize?: number;
  unit?: string;
}

export function encodeTiffGrey16(width: number, height: number, data: ArrayLike<number>, opts: LabelTiffOptions = {}): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || data.length !== width * height) {
    throw new UserError(`encodeTiffGrey16: ${data.length} values for a ${width} x ${height} image`);
  }
  const calibrated = opts.pixelSize !== undefined && opts.unit !== undefined && opts.unit !== 'px' && opts.pixelSize > 0;
  const unit = opts.unit === 'um' ? 'micron' : opts.unit;
  const desc = calibrated ? new TextEncoder().encode(`ImageJ=1.11a\nunit=${unit}\n\0`) : null;
  // Entries: width, height, bits, compression, photometric, strip offsets, samples, rows per strip,
  // strip byte counts, [description, x/y resolution, resolution unit].
  const nTags = calibrated ? 13 : 9;
  const ifdAt = 8;
  const ifdSize = 2 + 12 * nTags + 4;
  let extra = ifdAt + ifdSize;
  const descAt = extra;
  if (desc) extra += desc.length + (desc.length & 1);
  const resAt = extra;
  if (calibrated) extra += 16;
  const pixelsAt = extra;
  const out = new Uint8Array(pixelsAt + 2 * width * height);
  const dv = new DataView(out.buffer);
  out.set([0x49, 0x49, 42, 0], 0);
  dv.setUint32(4, ifdAt, true);
  dv.setUint16(ifdAt, nTags, true);
  let e = ifdAt + 2;
  const tag = (id: number, type: number, count: number, value: number): void => {
    dv.setUint16(e, id, true);
    dv.setUint16(e + 2, type, true);
    dv.setUint32(e + 4, count, true);
    if (type === 3 && count === 1) dv.setUint16(e + 8, value, true);
    else dv.setUint32(e + 8, value, true);
    e += 12;
  };
  tag(256, 4, 1, width);
  tag(257, 4, 1, height);
  tag(258, 3, 1, 16);
  tag(259, 3, 1, 1);
  tag(262, 3, 1, 1); // min-is-black
  if (desc) tag(270, 2, desc.length, descAt);
  tag(273, 4, 1, pixelsAt);
  tag(277, 3, 1, 1);
  tag(278, 4, 1, height);
  tag(279, 4, 1, 2 * width * height);
  if (calibrated) {
    tag(282, 5, 1, resAt);
    tag(283, 5, 1, resAt + 8);
    tag(296, 3, 1, 1); // no absolute unit: ImageJ reads the unit from the description
  }
  dv.setUint32(e, 0, true); // no next IFD
  if (desc) out.set(desc, descAt);
  if (calibrated) {
    // Pixels per unit as a rational, denominator up to 10^6 (ImageJ reads it as a double).
    const perUnit = 1 / opts.pixelSize!;
    const den = Math.max(1, Math.min(1e6, Math.floor(4e9 / perUnit)));
    if (perUnit * den > 4.29e9) throw new UserError(`encodeTiffGrey16: pixel size ${opts.pixelSize} ${unit} is too small for a TIFF resolution`);
    for (const at of [resAt, resAt + 8]) {
      dv.setUint32(at, Math.round(perUnit * den), true);
      dv.setUint32(at + 4, den, true);
    }
  }
  for (let i = 0; i < width * height; i++) {
    const v = data[i];
    if (!(v >= 0 && v <= 65535) || !Number.isInteger(v)) throw new UserError(`encodeTiffGrey16: value ${v} at ${i} is not a 16-bit integer`);
    dv.setUint16(pixelsAt + 2 * i, v, true);
  }
  return out;
}
