/**
 * The built-in demo: no files needed. "Real" patches are renders of the same kind of scenes with
 * hidden parameter values; the GAN starts from an untrained ParamNet and should move the learned
 * parameters towards the hidden ones. This is both what `diffrendergan train` does without data
 * and the parameter-recovery test.
 */
import { Rng } from '../autodiff/rng.js';
import { noGrad } from '../autodiff/tape.js';
import { mergeSceneConfig, type SceneConfig } from '../render/config.js';
import { presetConfig, type PresetName } from '../render/presets/index.js';
import { sampleScene, renderScene } from '../render/scene.js';
import { PARAMETER_TABLE, PARAM_INDEX } from '../render/params.js';
import { refreshStochastics } from './generator.js';

/**
 * A preset's 256 x 256 scene for another patch size. By default the whole scene is zoomed
 * (radii, wire lengths, counts and the minimum mask area follow), as when the same field of view
 * is imaged with fewer pixels; with keepParticleSize the pixel scale stays and only the field of
 * view changes (counts follow the area), as when real micrographs are cut into smaller patches.
 */
export function scaleSceneConfig(config: SceneConfig, size: number, opts: { keepParticleSize?: boolean } = {}): SceneConfig {
  const zoom = opts.keepParticleSize ? 1 : size / config.width;
  const f = size / config.width;
  const area = f * f;
  return mergeSceneConfig(config, {
    width: size,
    height: size,
    particles: {
      baseRadius: Math.max(0.5, config.particles.baseRadius * zoom),
      count: { min: Math.max(1, Math.round(config.particles.count.min * area)), max: Math.max(1, Math.round(config.particles.count.max * area)) },
      wire: { length: config.particles.wire.length * zoom },
    },
    // The reference's 50 px minimum component is for its pixel scale; it follows the zoom.
    masks: { minArea: Math.max(4, Math.round(config.masks.minArea * zoom * zoom)) },
  });
}

/**
 * The demo's hidden "true" values: well away from the middle of each range, where an untrained
 * ParamNet starts (each 0.25-0.4 of its range from the middle). particleBrightness is the
 * particle's contrast above the substrate: flat faces show 0.08 + 0.75.
 */
export const DEMO_HIDDEN: Record<string, number> = {
  particleBrightness: 0.75,
  substrateBrightness: 0.08,
  edgeGain: 0.35,
  blurSigma: 1.0,
  noiseGaussian: 0.01,
};

export interface DemoSetup {
  scene: SceneConfig;
  learned: string[];
  hidden: Record<string, number>;
  reals: Float32Array[];
}

/** Scene config, learned parameter list, hidden values and "real" patches for the demo. */
export function demoSetup(opts: { preset?: PresetName; size?: number; count?: number; seed?: number; hidden?: Record<string, number> } = {}): DemoSetup {
  const preset = opts.preset ?? 'tio2-sem';
  const hidden = opts.hidden ?? DEMO_HIDDEN;
  for (const name of Object.keys(hidden)) if (!(name in PARAM_INDEX)) throw new Error(`unknown parameter ${name}`);
  const base = scaleSceneConfig(presetConfig(preset), opts.size ?? 64);
  const scene = mergeSceneConfig(base, { params: {} });
  const trueParams = Float64Array.from(PARAMETER_TABLE, (p) => hidden[p.name] ?? scene.params[p.name]);
  const rng = new Rng((opts.seed ?? 0) + 777);
  const reals = noGrad(() =>
    Array.from({ length: opts.count ?? 32 }, () => {
      const s = sampleScene(scene, rng);
      refreshStochastics(s, rng);
      return Float32Array.from(renderScene(s, trueParams, { masks: false }).image.data);
    }),
  );
  return { scene, learned: Object.keys(hidden), hidden, reals };
}
