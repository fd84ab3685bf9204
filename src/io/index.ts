/**
 * The browser-safe part of src/io: decoders (PNG, TIFF, PLY, OBJ), PNG encoders, mesh validation
 * and the types. None of it imports a Node module. The Node file layer (reading paths, atomic
 * writes, PNG writers) is `./files.js`, imported on its own by Node code.
 */
export { decodeImage, decodeMesh } from './decode.js';
export { type GreyImage, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, LUMA_R, LUMA_G, LUMA_B } from './grey-image.js';
export { type Mesh, validateMesh } from './mesh.js';
export { decodePng, encodePngGrey8, encodePngGrey16, encodePngRgb8 } from './png.js';
export { decodeTiff } from './tiff.js';
export { decodePly } from './ply.js';
export { decodeObj } from './obj.js';
