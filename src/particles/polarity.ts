/**
 * Contrast polarity: whether particles are brighter than their background (SEM, HIM: secondary
 * electrons, bright particles on a dark film) or darker (TEM / STEM bright field, transmission SEM:
 * the beam loses electrons through the particles, dark particles on a bright film). Nothing in the
 * tool assumes one: the polarity of real images is detected here (or given by the user), that of
 * renders follows from their image-formation model (render/polarity.ts), and that of annotated
 * pairs is read off their masks. Pure: no Node modules.
 *
 * Image analysis that looks for particles by brightness (Otsu threshold, particle fraction, the
 * segmenter's input) works on the "bright-particle view" of an image: the image itself for bright
 * particles, 1 - image for dark ones.
 */
import { UserError } from '../errors.js';
import { otsuThreshold } from './otsu.js';

export type Polarity = 'bright' | 'dark';

export const POLARITIES: readonly Polarity[] = ['bright', 'dark'];

/** A polarity, or 'auto': detect it from the images at hand. */
export type PolaritySetting = Polarity | 'auto';

/** The image with particles bright: a copy of it for 'bright', 1 - it for 'dark'. */
export function brightParticleView(data: ArrayLike<number>, polarity: Polarity): Float32Array {
  const out = Float32Array.from(data);
  if (polarity === 'dark') for (let i = 0; i < out.length; i++) out[i] = 1 - out[i];
  return out;
}

/**
 * Fraction of pixels on the particle side of the threshold `t` found on the bright-particle view:
 * `v >= t` for bright particles; for dark ones `1 - v >= t`.
 */
export function particleFractionAt(data: ArrayLike<number>, t: number, polarity: Polarity): number {
  if (data.length === 0) return 0;
  let n = 0;
  if (polarity === 'bright') for (let i = 0; i < data.length; i++) n += data[i] >= t ? 1 : 0;
  else for (let i = 0; i < data.length; i++) n += 1 - data[i] >= t ? 1 : 0;
  return n / data.length;
}

/** Fraction of pixels on the particle side of the image's own Otsu threshold (bright-particle view). */
export function particleFraction(data: ArrayLike<number>, polarity: Polarity): number {
  const view = brightParticleView(data, polarity);
  return particleFractionAt(view, otsuThreshold(view), 'bright');
}

export interface PolarityDetection {
  polarity: Polarity;
  /** Fraction of all pixels at or above their image's Otsu threshold (pooled over the images). */
  brightFraction: number;
  images: number;
}

/**
 * Polarity of unannotated micrographs. Otsu's threshold splits each image into a bright and a
 * dark class; the particles are the class that covers less of the field, pooled over all images
 * (the background, a support film or substrate, is what most of a micrograph shows). So the
 * particles are bright when under half of all pixels are bright. On the TiO2 series
 * (../shared/data, all 30 images each) the bright fraction per image is 0.016-0.26 in SEM and 0.68-0.98 in TSEM; the
 * rule fails for fields mostly covered by particles, where the polarity must be given
 * (`--polarity bright|dark`).
 */
export function detectPolarity(images: readonly { data: ArrayLike<number> }[]): PolarityDetection {
  let bright = 0;
  let total = 0;
  for (const img of images) {
    const t = otsuThreshold(img.data);
    bright += particleFractionAt(img.data, t, 'bright') * img.data.length;
    total += img.data.length;
  }
  if (total === 0) throw new UserError('detectPolarity: no pixels to look at');
  const brightFraction = bright / total;
  return { polarity: brightFraction <= 0.5 ? 'bright' : 'dark', brightFraction, images: images.length };
}

/**
 * Polarity of annotated images: mean grey level of the particle pixels (class > 0) against the
 * background (class 0), pooled over all images. 'bright' on a tie or where a side has no pixels.
 */
export function polarityFromMasks(samples: readonly { image: ArrayLike<number>; classes: ArrayLike<number> }[]): Polarity {
  let sp = 0, np = 0, sb = 0, nb = 0;
  for (const s of samples) {
    if (s.image.length !== s.classes.length) throw new UserError(`polarityFromMasks: image has ${s.image.length} pixels, mask ${s.classes.length}`);
    for (let i = 0; i < s.image.length; i++) {
      if (s.classes[i] > 0) { sp += s.image[i]; np++; } else { sb += s.image[i]; nb++; }
    }
  }
  if (np === 0 || nb === 0) return 'bright';
  return sp / np < sb / nb ? 'dark' : 'bright';
}
