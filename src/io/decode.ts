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

/** Decodes a PNG or TIFF file held in `bytes`; `name` (usually the path) appears in every error. */
export function decodeImage(bytes: Uint8Array, name: string): GreyImage {
  if (isPng(bytes)) return decodePng(bytes, name);
  if (isTiff(bytes)) return decodeTiff(bytes, name);
  const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new InputError(name, `not a PNG or TIFF file (magic bytes ${head || 'none: the file is empty'})`);
}

/** Decodes a PLY file (recognised by its `ply` first line) or an OBJ file (by its .obj name), then validates it. */
export function decodeMesh(bytes: Uint8Array, name: string): Mesh {
  const ply = bytes.length >= 4 && bytes[0] === 0x70 && bytes[1] === 0x6c && bytes[2] === 0x79 && (bytes[3] === 0x0a || bytes[3] === 0x0d);
  if (ply) return decodePly(bytes, name);
  if (/\.ply$/i.test(name)) throw new InputError(name, "not a PLY file (the first line is not 'ply')");
  if (/\.obj$/i.test(name)) return decodeObj(bytes, name);
  throw new InputError(name, 'not a PLY or OBJ mesh (a PLY file starts with "ply"; an OBJ file must be named *.obj)');
}
