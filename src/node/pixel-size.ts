/**
 * --pixel-size for a run of images (Node: reads each TIFF and its sidecar .txt). 'auto' takes each
 * image's size from its metadata (src/io/pixel-size.ts) and reports which source it used; images
 * that disagree by more than 1 % are warned about (each is measured at its own size). When any
 * image has no size in its metadata, the whole run stays in px (one unit per particles.csv), with
 * a warning that names the image. An explicit length (2.1nm, 0.5um) applies to every image.
 */
import { existsSync } from 'node:fs';
import { readInputFile } from './files.js';
import { basename, dirname, extname, join } from 'node:path';
import { pixelSizeFromSidecar, pixelSizeFromTiff, type MetadataPixelSize } from '../io/pixel-size.js';
import { ExitCode, UserError } from '../errors.js';

export interface RunPixelSizes {
  /** Size of one pixel of each image, in `unit`. */
  sizes: number[];
  unit: string;
  /** Per image: where its size came from (null: none found, or given by the flag). */
  sources: (string | null)[];
  /** Lines for the user: the sources used, disagreements, fallbacks. */
  messages: string[];
}

/** "2.1nm" -> { size: 2.1, unit: 'nm' }; "0.5um" / "0.5µm" -> um; a bare number -> px of that size. */
export function parsePixelSize(s: string): { size: number; unit: string } {
  const m = /^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(nm|um|µm|pm|mm|px)?\s*$/.exec(s);
  const size = m ? Number(m[1]) : NaN;
  if (!m || !(size > 0)) throw new UserError(`--pixel-size must be a positive length such as 2.1nm or 0.5um, or auto, got '${s}'`, ExitCode.usage);
  const unit = m[2] === 'µm' ? 'um' : (m[2] ?? 'px');
  return { size, unit };
}

/** The metadata pixel size of one image file: its TIFF tags, else a sidecar NAME.txt beside it. */
export function metadataPixelSize(file: string): MetadataPixelSize | null {
  let found: MetadataPixelSize | null = null;
  if (/\.tiff?$/i.test(file)) found = pixelSizeFromTiff(readInputFile(file));
  if (found) return found;
  const sidecar = join(dirname(file), basename(file, extname(file)) + '.txt');
  return existsSync(sidecar) ? pixelSizeFromSidecar(readInputFile(sidecar)) : null;
}

export function resolvePixelSizes(files: string[], flag: string | undefined): RunPixelSizes {
  if (flag !== undefined && flag !== 'auto') {
    const { size, unit } = parsePixelSize(flag);
    return { sizes: files.map(() => size), unit, sources: files.map(() => null), messages: [] };
  }
  const found = files.map(metadataPixelSize);
  const missing = files.filter((_, i) => !found[i]);
  if (missing.length > 0) {
    const messages =
      missing.length === files.length
        ? [`pixel size: none of the images carries one in its metadata (FEI/Thermo, Zeiss, ImageJ, OME-TIFF tags or a JEOL/Hitachi .txt); sizes are in px (give --pixel-size 2.1nm)`]
        : [`warning: pixel size: ${missing[0]}${missing.length > 1 ? ` and ${missing.length - 1} more` : ''} carry none in their metadata; the whole run is measured in px (give --pixel-size 2.1nm)`];
    return { sizes: files.map(() => 1), unit: 'px', sources: files.map(() => null), messages };
  }
  const ok = found as MetadataPixelSize[];
  const messages: string[] = [];
  const bySource = new Map<string, number>();
  for (const f of ok) bySource.set(f.source, (bySource.get(f.source) ?? 0) + 1);
  for (const [source, n] of bySource) messages.push(`pixel size from ${source} (${n} image${n > 1 ? 's' : ''})`);
  const min = Math.min(...ok.map((f) => f.nm));
  const max = Math.max(...ok.map((f) => f.nm));
  if (max > min * 1.01) {
    const lo = ok.findIndex((f) => f.nm === min);
    const hi = ok.findIndex((f) => f.nm === max);
    messages.push(`warning: pixel sizes disagree between images: ${files[lo]} ${fmt(min)} nm, ${files[hi]} ${fmt(max)} nm; each image is measured at its own size`);
  } else messages.push(`pixel size ${fmt(ok[0].nm)} nm`);
  return { sizes: ok.map((f) => f.nm), unit: 'nm', sources: ok.map((f) => f.source), messages };
}

const fmt = (v: number): string => Number(v.toPrecision(4)).toString();
