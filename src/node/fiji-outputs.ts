/**
 * segment predict's Fiji-ready outputs, per image: NAME_labels.tif (16-bit particle ids, with
 * ImageJ's calibration when the pixel size is known) and NAME_RoiSet.zip (each particle's traced
 * outline, named particle-NNNN after its id, for Fiji's ROI Manager); and the rows of a
 * particles.csv with Fiji's "Analyze Particles" columns (--columns fiji).
 */
import { writeFileAtomic } from './files.js';
import { encodeTiffGrey16 } from '../io/tiff-encode.js';
import { encodeRoiSet } from '../io/imagej-roi.js';
import { fijiMeasurements, type FijiParticle } from '../seg/fiji.js';
import type { Particle } from '../particles/measure.js';

export function roiName(id: number): string {
  return `particle-${String(id).padStart(4, '0')}`;
}

/**
 * Writes both files through `put` (which records what was written, for clean-up on failure) and
 * returns the Fiji measurements of the image's particles.
 */
export function writeFijiOutputs(
  put: (name: string, write: (path: string) => void) => void,
  image: { name: string; width: number; height: number; labels: Int32Array; particles: readonly Particle[] },
  pixel: { size: number; unit: string },
): FijiParticle[] {
  const { name, width: w, height: h, labels, particles } = image;
  put(`${name}_labels.tif`, (p) => writeFileAtomic(p, encodeTiffGrey16(w, h, labels, { pixelSize: pixel.size, unit: pixel.unit })));
  const { rows, outlines } = fijiMeasurements(labels, w, h, particles, pixel.size);
  const rois = [...outlines].map(([id, o]) => ({ name: roiName(id), xs: o.xs, ys: o.ys }));
  put(`${name}_RoiSet.zip`, (p) => writeFileAtomic(p, encodeRoiSet(rois)));
  return rows;
}
