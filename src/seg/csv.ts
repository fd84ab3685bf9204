/**
 * particles.csv: one row per measured particle, for any number of images.
 *
 * Layout (RFC 4180 fields, '\n' line ends):
 *   # units: length=<unit>; area=<unit>^2; ...      (optional first line, on by default)
 *   image,id,area,ecd,feret_max,feret_min,aspect_ratio,circularity,centroid_x,centroid_y,touches_border
 *   <one row per particle>
 *
 * Units convention: column names never carry units; the comment line names them. area is in
 * <unit>^2; ecd, feret_max, feret_min, centroid_x, centroid_y in <unit> (px unless a pixel size
 * was given to `measureParticles`); aspect_ratio and circularity are unitless; touches_border is
 * 0 or 1. Readers skip the comment with e.g. pandas.read_csv(path, comment='#') or R's
 * read.csv(path, comment.char = '#'); pass `unitsComment: false` for a file whose first line is
 * the header. Numbers are rounded to `digits` decimals (default 4) without trailing zeros;
 * a NaN is written as an empty field. Image names are quoted when they hold a comma, quote or
 * line break.
 */
import { UserError } from '../errors.js';
import type { Particle } from '../particles/measure.js';

export const PARTICLES_CSV_HEADER =
  'image,id,area,ecd,feret_max,feret_min,aspect_ratio,circularity,centroid_x,centroid_y,touches_border';

export interface ParticlesCsvOptions {
  /** Length unit of the measurements (default 'px'). */
  unit?: string;
  /** Write the '# units: ...' line before the header (default true). */
  unitsComment?: boolean;
  /** Decimals kept (default 4). */
  digits?: number;
}

export interface ImageParticles {
  image: string;
  particles: readonly Particle[];
}

/** One CSV field: quoted (with doubled quotes) when it contains a comma, quote or line break. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function formatNumber(v: number, digits: number): string {
  if (Number.isNaN(v)) return '';
  if (Number.isInteger(v)) return String(v);
  const s = v.toFixed(digits);
  const t = s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
  return t === '-0' ? '0' : t;
}

/** The units comment line (without a line end). */
export function unitsComment(unit = 'px'): string {
  if (/[\r\n]/.test(unit)) throw new UserError('unit must not contain a line break');
  return `# units: area=${unit}^2; ecd,feret_max,feret_min,centroid_x,centroid_y=${unit}; aspect_ratio,circularity=1; touches_border=0/1`;
}

/** The text of particles.csv for the particles of one or more images (see the module comment). */
export function particlesCsv(images: readonly ImageParticles[], options: ParticlesCsvOptions = {}): string {
  const { unit = 'px', unitsComment: withUnits = true, digits = 4 } = options;
  if (!Number.isInteger(digits) || digits < 0 || digits > 20) throw new UserError(`digits must be an integer in 0..20 (got ${digits})`);
  const lines: string[] = [];
  if (withUnits) lines.push(unitsComment(unit));
  lines.push(PARTICLES_CSV_HEADER);
  const f = (v: number): string => formatNumber(v, digits);
  for (const { image, particles } of images) {
    const name = csvField(image);
    for (const p of particles) {
      lines.push(
        [name, String(p.id), f(p.area), f(p.ecd), f(p.feretMax), f(p.feretMin), f(p.aspectRatio), f(p.circularity),
          f(p.centroidX), f(p.centroidY), p.touchesBorder ? '1' : '0'].join(','),
      );
    }
  }
  return lines.join('\n') + '\n';
}
