/**
 * Decoding by content: images (PNG or TIFF, recognised by their magic bytes, not the file name)
 * and meshes (PLY by its first line, OBJ by its name). Pure: no Node modules, so it runs in a
 * browser too.
 */
import { InputError } from '../errors.js';
import type { GreyImage } from './grey-image.js';
import type { Mesh } from './mesh.js';
import { decodeObj } from './obj.js';
import { decodePly } from './ply.js';
import { decodePng, isPng } from './png.js';
import { decodeTiff, isTiff } from './tiff.js';

export { type GreyImage, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE } from './grey-image.js';
export { type Mesh, validateMesh } from './mesh.js';

/**
 * Decodes a PNG or TIFF file held in `bytes`; `name` (usually the path) appears in every error.
 * Whatever decoder runs, the result is checked: every pixel a number in [0, 1] (a file whose
 * fields decode to other values, e.g. a palette of the wrong type, is an InputError, exit 3).
 */
export function decodeImage(bytes: Uint8Array, name: string): GreyImage {
  if (isPng(bytes)) return checkPixels(decodePng(bytes, name), name);
  if (isTiff(bytes)) return checkPixels(decodeTiff(bytes, name), name);
  const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new InputError(name, `not a PNG or TIFF file (magic bytes ${head || 'none: the file is empty'})`);
}

/** `img` when every pixel is in [0, 1]; else an InputError naming the first one outside. */
export function checkPixels(img: GreyImage, name: string): GreyImage {
  const d = img.data;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (!(v >= 0 && v <= 1)) {
      const x = i % img.width, y = Math.floor(i / img.width);
      throw new InputError(name, `decodes to pixel value ${v} at (${x}, ${y}), outside [0, 1]: the file's fields are inconsistent (e.g. a colour map of the wrong type)`);
    }
  }
  return img;
}

/** Decodes a PLY file (recognised by its `ply` first line) or an OBJ file (by its .obj name), then validates it. */
export function decodeMesh(bytes: Uint8Array, name: string): Mesh {
  const ply = bytes.length >= 4 && bytes[0] === 0x70 && bytes[1] === 0x6c && bytes[2] === 0x79 && (bytes[3] === 0x0a || bytes[3] === 0x0d);
  if (ply) return decodePly(bytes, name);
  if (/\.ply$/i.test(name)) throw new InputError(name, "not a PLY file (the first line is not 'ply')");
  if (/\.obj$/i.test(name)) return decodeObj(bytes, name);
  throw new InputError(name, 'not a PLY or OBJ mesh (a PLY file starts with "ply"; an OBJ file must be named *.obj)');
}
