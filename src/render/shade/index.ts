export { gaussianBlur, blurRaw, MIN_BLUR_SIGMA } from './blur.js';
export { substrateTexture, type TextureOptions } from './texture.js';
export { formImage, edgeMap, shadowMap, type ShadingContext, type ShadingModel } from './sem.js';
export * from './params.js';
