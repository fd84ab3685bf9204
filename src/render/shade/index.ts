export { gaussianBlur, blurRaw, MIN_BLUR_SIGMA } from './blur.js';
export { substrateTexture, type TextureOptions } from './texture.js';
export { edgeMap, shadowMap, ALPHA_FULL } from './fixed-maps.js';
export { SHADING_MODELS, imageFormationModel, type ShadingModel } from './models.js';
export type { ImageFormationModel, ShadingContext } from './model.js';
