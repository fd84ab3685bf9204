/**
 * The greyscale image every decoder returns, and the size limits they enforce before allocating.
 */
import { InputError } from '../errors.js';

export interface GreyImage {
  width: number;
  height: number;
  /** Row-major, width * height values in [0, 1] (0 = black). */
  data: Float32Array;
  /**
   * Precision of the stored samples: 1, 2, 4, 8, 16 (or 32) for integer images; for palette
   * images the precision of the colour map (8 for PNG; for TIFF 8 when every ColorMap entry is a
   * multiple of 257, i.e. an 8-bit value, else 16); 32 or 64 for floating-point TIFFs.
   */
  bitDepth: number;
  /** Things the decoder did that a user may want to know (colour dropped, pages skipped, ...). */
  warnings: string[];
}

/** The largest image any decoder accepts: 2^28 pixels (1 GiB as Float32). */
export const MAX_IMAGE_PIXELS = 2 ** 28;
/** The largest width or height any decoder accepts. */
export const MAX_IMAGE_SIDE = 65535;

/** Throws InputError unless width x height is a non-empty image within the limits above. */
export function checkImageSize(name: string, width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new InputError(name, `invalid image size ${width} x ${height}`);
  }
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE || width * height > MAX_IMAGE_PIXELS) {
    throw new InputError(
      name,
      `image of ${width} x ${height} pixels is larger than the supported maximum ` +
        `(${MAX_IMAGE_SIDE} per side, ${MAX_IMAGE_PIXELS} pixels in all)`,
    );
  }
}

/** Rec. 601 luma weights used to turn RGB into grey (the same as most image tools' "L" mode). */
export const LUMA_R = 0.299;
export const LUMA_G = 0.587;
export const LUMA_B = 0.114;

export const COLOUR_WARNING = 'colour image converted to grey with Rec. 601 luma (0.299 R + 0.587 G + 0.114 B)';
