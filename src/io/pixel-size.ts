/**
 * The physical pixel size a microscope wrote into its files, so measurements come out in nm
 * without typing --pixel-size. Sources, in the order they are tried:
 *
 *   FEI / Thermo Fisher xT   TIFF tag 34682, INI text: [Scan] PixelWidth=<metres>
 *   Zeiss SmartSEM           TIFF tag 34118, lines "AP_PIXEL_SIZE" / "Image Pixel Size = 2.233 nm"
 *                            (SmartSEM V05: "Pixel Size = ...")
 *   OME-TIFF                 ImageDescription OME-XML: <Pixels PhysicalSizeX=".." PhysicalSizeXUnit="..">
 *                            (unit µm when absent, as the OME schema says)
 *   ImageJ-calibrated TIFF   ImageDescription "ImageJ=..." with unit=<unit>, XResolution = pixels per unit
 *   JEOL sidecar .txt        $$SM_MICRON_BAR <px> and $$SM_MICRON_MARKER <length><unit>: size = length / px
 *   Hitachi sidecar .txt     PixelSize=<nm> (the file may be UTF-16: NULs are dropped)
 *
 * Everything is returned in nm. Pure (no Node module): the caller reads the bytes.
 */
export interface MetadataPixelSize {
  /** Pixel width in nm. */
  nm: number;
  /** Which source it came from, for the user: e.g. "FEI/Thermo tag 34682 [Scan] PixelWidth". */
  source: string;
}

const UNIT_NM: Record<string, number> = {
  m: 1e9, cm: 1e7, mm: 1e6, um: 1e3, 'µm': 1e3, 'μm': 1e3, micron: 1e3, microns: 1e3, nm: 1, 'Å': 0.1, A: 0.1, angstrom: 0.1, pm: 1e-3,
};

/** nm per unit for a length unit name as microscopes write it; undefined when not a length. */
export function nmPerUnit(unit: string): number | undefined {
  const u = unit.trim().replace(/^\\u00B5/i, 'µ');
  return UNIT_NM[u] ?? UNIT_NM[u.toLowerCase()];
}

const positive = (v: number): number | null => (Number.isFinite(v) && v > 0 ? v : null);

// ------------------------------------------------------------------------------------------
// The first IFD's tags that carry metadata (a reader of its own: it needs none of the pixels).

interface TiffTags {
  text: Map<number, string>;
  numbers: Map<number, number[]>;
}

const TYPE_SIZE = [0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4];
/** Text tags longer than this are cut (metadata blocks are a few KB; OME-XML can be larger). */
const MAX_TEXT = 4 << 20;

export function readTiffMetadataTags(bytes: Uint8Array): TiffTags | null {
  const text = new Map<number, string>();
  const numbers = new Map<number, number[]>();
  if (bytes.length < 8) return null;
  const le = bytes[0] === 0x49 && bytes[1] === 0x49;
  if (!le && !(bytes[0] === 0x4d && bytes[1] === 0x4d)) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint16(2, le) !== 42) return null; // BigTIFF and others: no metadata read
  const ifd = dv.getUint32(4, le);
  if (ifd + 2 > bytes.length) return null;
  const n = dv.getUint16(ifd, le);
  if (ifd + 2 + 12 * n > bytes.length) return null;
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + 12 * i;
    const tag = dv.getUint16(e, le);
    if (tag !== 270 && tag !== 282 && tag !== 296 && tag !== 34118 && tag !== 34682) continue;
    const type = dv.getUint16(e + 2, le);
    const count = dv.getUint32(e + 4, le);
    const size = TYPE_SIZE[type] ?? 0;
    if (size === 0) continue;
    const pos = size * count <= 4 ? e + 8 : dv.getUint32(e + 8, le);
    if (pos + size * count > bytes.length) continue; // points outside the file: ignored
    if (type === 1 || type === 2 || type === 7) {
      const raw = bytes.subarray(pos, pos + Math.min(count, MAX_TEXT));
      text.set(tag, new TextDecoder('utf-8').decode(raw).replace(/\0+$/, ''));
    } else if (count <= 16) {
      const vals: number[] = [];
      for (let k = 0; k < count; k++) {
        const p = pos + k * size;
        vals.push(type === 3 ? dv.getUint16(p, le) : type === 4 ? dv.getUint32(p, le) : type === 5 ? dv.getUint32(p, le) / dv.getUint32(p + 4, le) : NaN);
      }
      numbers.set(tag, vals);
    }
  }
  return { text, numbers };
}

// ------------------------------------------------------------------------------------------

/** FEI / Thermo Fisher: tag 34682, [Scan] PixelWidth in metres. */
export function feiPixelSize(text: string): number | null {
  const scan = /\[Scan\]([\s\S]*?)(?:\r?\n\s*\[|$)/.exec(text);
  const m = scan && /^\s*PixelWidth\s*=\s*([-+0-9.eE]+)\s*$/m.exec(scan[1]);
  return m ? positive(Number(m[1]) * 1e9) : null;
}

/** Zeiss SmartSEM: tag 34118, "Image Pixel Size = 2.233 nm" (V05: "Pixel Size = ..."). */
export function zeissPixelSize(text: string): number | null {
  const m = /^\s*(?:Image )?Pixel Size\s*[=:]\s*([-+0-9.eE]+)\s*(\S+)\s*$/m.exec(text);
  if (!m) return null;
  const f = nmPerUnit(m[2]);
  return f ? positive(Number(m[1]) * f) : null;
}

/** OME-XML in ImageDescription: the first Pixels element's PhysicalSizeX (unit default µm). */
export function omePixelSize(xml: string): number | null {
  const pixels = /<(?:\w+:)?Pixels\b[^>]*>/.exec(xml);
  if (!pixels) return null;
  const size = /\bPhysicalSizeX\s*=\s*"([^"]+)"/.exec(pixels[0]);
  if (!size) return null;
  const unit = /\bPhysicalSizeXUnit\s*=\s*"([^"]+)"/.exec(pixels[0])?.[1] ?? 'µm';
  const f = nmPerUnit(decodeXmlEntities(unit));
  return f ? positive(Number(size[1]) * f) : null;
}

function decodeXmlEntities(s: string): string {
  return s.replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16))).replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d))).replace(/&amp;/g, '&');
}

/** ImageJ: ImageDescription "ImageJ=...\nunit=nm\n...", XResolution pixels per unit. */
export function imagejPixelSize(description: string, xResolution: number | undefined): number | null {
  if (!/^ImageJ=/m.test(description) || !xResolution) return null;
  const unit = /^unit=(.+)$/m.exec(description)?.[1];
  const f = unit ? nmPerUnit(unit) : undefined;
  return f ? positive(f / xResolution) : null;
}

/** Reads the TIFF's own metadata; null when it holds none of the known sources. */
export function pixelSizeFromTiff(bytes: Uint8Array): MetadataPixelSize | null {
  const tags = readTiffMetadataTags(bytes);
  if (!tags) return null;
  const fei = tags.text.get(34682);
  const feiNm = fei !== undefined ? feiPixelSize(fei) : null;
  if (feiNm) return { nm: feiNm, source: 'FEI/Thermo tag 34682 [Scan] PixelWidth' };
  const zeiss = tags.text.get(34118);
  const zeissNm = zeiss !== undefined ? zeissPixelSize(zeiss) : null;
  if (zeissNm) return { nm: zeissNm, source: "Zeiss SmartSEM tag 34118 'Image Pixel Size'" };
  const desc = tags.text.get(270);
  if (desc !== undefined) {
    const ome = omePixelSize(desc);
    if (ome) return { nm: ome, source: 'OME-TIFF PhysicalSizeX' };
    const ij = imagejPixelSize(desc, tags.numbers.get(282)?.[0]);
    if (ij) return { nm: ij, source: 'ImageJ calibration (unit= and XResolution)' };
  }
  return null;
}

/** A JEOL or Hitachi sidecar .txt next to the image; null when it holds no pixel size. */
export function pixelSizeFromSidecar(bytes: Uint8Array): MetadataPixelSize | null {
  const text = new TextDecoder('utf-8').decode(bytes).replace(/\0/g, '');
  const bar = /^\s*\$\$SM_MICRON_BAR\s+([0-9.]+)\s*$/m.exec(text);
  const marker = /^\s*\$\$SM_MICRON_MARKER\s+([0-9.]+)\s*([^\s0-9.]+)\s*$/m.exec(text);
  if (bar && marker) {
    const f = nmPerUnit(marker[2]);
    const nm = f ? positive((Number(marker[1]) * f) / Number(bar[1])) : null;
    if (nm) return { nm, source: 'JEOL sidecar .txt ($$SM_MICRON_MARKER / $$SM_MICRON_BAR)' };
  }
  const hitachi = /^\s*PixelSize\s*=\s*([0-9.eE+-]+)\s*$/m.exec(text);
  if (hitachi) {
    const nm = positive(Number(hitachi[1]));
    if (nm) return { nm, source: 'Hitachi sidecar .txt (PixelSize, nm)' };
  }
  return null;
}
