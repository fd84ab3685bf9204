/** The differentiable microscope renderer: layout -> mesh -> rasterize -> shade -> blur -> noise, plus exact masks. */
export * from './mesh/index.js';
export * from './camera.js';
export * from './layout.js';
export { randomRotation, zRotation } from './layout-math.js';
export * from './raster/index.js';
export * from './shade/index.js';
export { formImage, clearShadeCaches } from './form-image.js';
export { sensorNoise } from './noise.js';
export * from './masks.js';
export { modelPolarity } from './polarity.js';
export { mergeSceneConfig, SCENE_SCHEMA, type SceneConfig } from './config.js';
export { presetConfig, defaultParams, LEARNED_BY_PRESET, PRESETS, PRESET_NAMES, BASE_SCENE, parameterTableMarkdown, type PresetName, type Preset } from './presets/index.js';
export * from './params.js';
export { sampleScene, renderScene, sceneMasks, sceneParams, type Scene, type RenderOptions, type RenderResult } from './scene.js';
