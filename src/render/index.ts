/** The differentiable microscope renderer: layout -> mesh -> rasterize -> shade -> blur -> noise, plus exact masks. */
export * from './mesh/index.js';
export * from './camera.js';
export * from './layout.js';
export { randomRotation, zRotation } from './layout-math.js';
export * from './raster/index.js';
export * from './shade/index.js';
export * from './masks.js';
export { modelPolarity } from './polarity.js';
export { presetConfig, mergeSceneConfig, SCENE_SCHEMA, type SceneConfig } from './presets.js';
export { sampleScene, renderScene, sceneMasks, sceneParams, type Scene, type RenderOptions, type RenderResult } from './scene.js';
