/**
 * diffrendergan as a library (the Node entry; the browser bundle is src/browser.ts). Start with
 * initBackend: without it the reference loops run.
 *
 *   import { initBackend, demoSetup, GanTrainer } from 'diffrendergan';
 *   await initBackend('auto');   // the CLI's fast path: wasm SIMD on worker threads (or gpu.js)
 */
// The engine.
export * from './autodiff/index.js';
export { gradcheck, randomInput, type GradcheckCase, type GradcheckOptions, type GradcheckResult } from './autodiff/gradcheck.js';
export { allGradcheckCases, registerGradcheckCases } from './autodiff/gradcheck-cases.js';
export { initBackend, BACKEND_CHOICES, type BackendChoice, type BackendInfo, type InitBackendOptions } from './node/init-backend.js';
export { UserError, InputError, ConfigError, ExitCode } from './errors.js';

// Rendering.
export * from './render/index.js';

// The GAN: trainer and its config, the demo, generation, realism scores, checkpoints.
export { GanTrainer, NumericalError, type GanConfig, type StepResult, type EpochEval, type TrainerState } from './gan/trainer.js';
export { ParamNet, PatchDiscriminator, type ParamNetOptions, type DiscriminatorOptions } from './gan/models.js';
export { demoSetup, scaleSceneConfig, DEMO_HIDDEN, type DemoSetup } from './gan/demo.js';
export { FEATURE_SIZE, ParamMapping, validateLearned } from './gan/generator.js';
export { extractPatches, extractPatchesFromImages, cropBottom, type Patch, type PatchSet, type PatchOptions } from './gan/patches.js';
export { generateSample, cocoAnnotations, type SyntheticSample } from './gan/export.js';
export { Refiner, RefinerTrainer, refineImage, DEFAULT_REFINER, type RefinerSettings, type RefinerStep } from './gan/refiner.js';
export {
  realismScores, combinedScore, RealismReference, slicedWasserstein, histogramDistance, spectrumDistance, chooseBestEpoch,
  COMBINED_WEIGHTS, type RealismScores, type SwdOptions, type EpochScore, type BestEpoch,
} from './gan/realism.js';
export {
  encodeSafetensors, decodeSafetensors, decodeSafetensorsRaw, torchStateDict, safeToTensor, halfToFloat, bfloat16ToFloat, floatToHalf, floatToBfloat16,
  type SafeDType, type SafeData, type SafeTensor, type SafetensorsFile,
} from './io/safetensors.js';
export { runTraining, type TrainOptions, type RunConfig } from './node/train.js';
export { runGenerate, nnunetDatasetFolder, type GenerateOptions, type DatasetFormat } from './node/generate.js';

// Segmentation: U-Net training and prediction, instances, measurements, metrics, and the
// runners of `segment train | predict | eval` (segmentTrain, segmentPredict, segmentEval).
export { UNet, DEFAULT_UNET, type UNetConfig } from './seg/unet.js';
export { trainUNet, DEFAULT_TRAIN, type SegSample, type TrainConfig as SegTrainConfig, type ModelInfo, type TrainResult as SegTrainResult } from './seg/train.js';
export { segmentImage, type InferOptions, type Segmentation } from './seg/infer.js';
export { otsuInstances, instancesFromClassMap, instancesFromProbabilities, type OtsuInstancesOptions } from './particles/instances.js';
export { measureParticles, type Particle, type MeasureOptions } from './particles/measure.js';
export { summarizeSizes, fitLognormal, type SizeSummary } from './seg/summary.js';
export { evaluate, dice, matchInstances, type EvalResult } from './seg/metrics.js';
export { particlesCsv, type ParticlesCsvOptions } from './seg/csv.js';
export { fijiMeasurements, fijiCsv, tracedPerimeter, type FijiParticle } from './seg/fiji.js';
export { traceOutline, traceOutlines, polygonArea, type Outline } from './seg/outline.js';
export { loadModel as loadSegmentModel, saveCheckpoint as saveSegmentCheckpoint } from './node/seg-checkpoint.js';
export { readSegDataset, readAnnotatedSet, readCroppedImage } from './node/seg-dataset.js';
export {
  segmentTrain, segmentPredict, segmentEval,
  type SegmentTrainOptions, type SegmentPredictOptions, type SegmentEvalOptions, type SegmenterOptions, type SegmentBackendOptions,
  type SegmentConsole, type PredictSummary, type SegmentEvalReport, type SegmentEvalRow,
} from './node/segment.js';

// Files: decoders and encoders (pure), metadata, and the Node file layer.
export {
  decodeImage, decodeMesh, decodePng, decodeTiff, decodePly, decodeObj, encodePngGrey8, encodePngGrey16, encodePngRgb8, validateMesh,
  MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, type GreyImage, type Mesh as DecodedMesh,
} from './io/index.js';
export { encodeTiffGrey16, type LabelTiffOptions } from './io/tiff-encode.js';
export { encodeTracedRoi, encodeRoiSet, type RoiPolygon } from './io/imagej-roi.js';
export { pixelSizeFromTiff, pixelSizeFromSidecar, type MetadataPixelSize } from './io/pixel-size.js';
export { readImageFile, readMeshFile, listImageFiles, writeFileAtomic } from './node/files.js';
export { resolvePixelSizes, metadataPixelSize } from './node/pixel-size.js';
