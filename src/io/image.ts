/**
 * Image decoding by content: PNG or TIFF, recognised by their magic bytes (not the file name).
 * Pure: no Node modules, so it runs in a browser too.
 */
import { InputError } from '../errors.js';
import type { GreyImage } from './grey-image.js';
import { decodePng, isPng } from './png.js';
import { decodeTiff, isTiff } from './tiff.js';

export { type GreyImage, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE } from './grey-image.js';

/** Decodes a PNG or TIFF file held in `bytes`; `name` (usually the path) appears in every error. */
export function decodeImage(bytes: Uint8Array, name: string): GreyImage {
  if (isPng(bytes)) return decodePng(bytes, name);
  if (isTiff(bytes)) return decodeTiff(bytes, name);
  const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new InputError(name, `not a PNG or TIFF file (magic bytes ${head || 'none: the file is empty'})`);
}
