/**
 * diffrendergan for the browser and for Web Workers: the autodiff engine, the renderer, the GAN
 * trainer and the image decoders, with no Node module anywhere in their imports (bundled by
 * build.mjs into dist/browser.js, platform 'browser'). gpu.js is left out; the fast path here is
 * the wasm SIMD backend (one thread, or threads through an injected RunnerFactory).
 *
 *   import { initBackend, sampleScene, renderScene, defaultParams, Rng } from './browser.js';
 *   await initBackend('auto');   // wasm SIMD (threads through initBackend('wasm', { runnerFactory }))
 *   const r = renderScene(sampleScene('tio2-sem', new Rng(1)), defaultParams('tio2-sem'));
 */
export * from './autodiff/index.js';
export { referenceBackend } from './autodiff/backends/reference.js';
export { WasmBackend, type RunnerFactory, type ParallelRunner, type WasmBackendOptions } from './autodiff/backends/wasm/backend.js';
export { initBackend, BROWSER_BACKENDS, type BrowserBackendChoice } from './autodiff/backends/init-browser.js';

export * from './render/index.js';

export { GanTrainer, NumericalError, type GanConfig, type StepResult, type EpochEval, type TrainerState } from './gan/trainer.js';
export { demoSetup, scaleSceneConfig, DEMO_HIDDEN, type DemoSetup } from './gan/demo.js';
export { FEATURE_SIZE, validateLearned } from './gan/generator.js';
export { detectPolarity, type Polarity } from './particles/polarity.js';
export { extractPatches, extractPatchesFromImages, cropBottom, augment, dihedral, DEFAULT_PATCH_FILTER, type Grey, type Patch, type PatchSet, type PatchOptions } from './gan/patches.js';

export {
  decodeImage, decodeMesh, decodePng, decodeTiff, decodePly, decodeObj, encodePngGrey8, encodePngGrey16, encodePngRgb8, validateMesh,
  MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, type GreyImage, type Mesh as DecodedMesh,
} from './io/index.js';
export { encodeSafetensors, decodeSafetensors, decodeSafetensorsRaw, torchStateDict, type SafeTensor } from './io/safetensors.js';
export { encodeTiffGrey16 } from './io/tiff-encode.js';
export { pixelSizeFromTiff, pixelSizeFromSidecar } from './io/pixel-size.js';
export { UserError, InputError, ConfigError, ExitCode } from './errors.js';
