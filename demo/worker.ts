/**
 * The demo's module worker: every render and every GAN step runs here, so the page stays
 * responsive. It uses only the browser-safe core (src/browser.ts) and the single-threaded wasm
 * SIMD backend where WebAssembly SIMD exists (the reference loops otherwise).
 */
import {
  DEMO_HIDDEN, GanTrainer, LEARNED_BY_PRESET, PARAMETER_TABLE, PRESET_NAMES, Rng, WasmBackend, decodeImage, defaultParams,
  detectPolarity, extractPatches, noGrad, presetConfig, registerBackend, renderScene, sampleScene, scaleSceneConfig, setBackend,
  type Grey, type PresetName, type Scene,
} from '../src/browser.js';
import type { FromWorker, ToWorker } from './protocol.js';

/** Patch size of the GAN panel: small, so a step takes a fraction of a second. */
const PATCH = 64;

const ctx = self as unknown as { postMessage(m: FromWorker, transfer?: Transferable[]): void; onmessage: ((e: MessageEvent<ToWorker>) => void) | null };
const post = (m: FromWorker, transfer: Transferable[] = []): void => ctx.postMessage(m, transfer);

function asPreset(p: string): PresetName {
  if (!(PRESET_NAMES as readonly string[]).includes(p)) throw new Error(`unknown preset ${p}`);
  return p as PresetName;
}

let backend = 'reference';
async function init(): Promise<void> {
  if (WasmBackend.supported()) {
    registerBackend(new WasmBackend({ name: 'wasm' }));
    await setBackend('wasm');
    backend = 'wasm';
  }
  post({
    type: 'ready',
    backend,
    presets: [...PRESET_NAMES],
    params: PARAMETER_TABLE.map(({ name, meaning, min, max }) => ({ name, meaning, min, max })),
    defaults: Object.fromEntries(PRESET_NAMES.map((p) => [p, [...defaultParams(p)]])),
    learned: LEARNED_BY_PRESET,
  });
}

// ---- live rendering -------------------------------------------------------------------------
let sceneKey = '';
let scene: Scene | null = null;

function render(m: Extract<ToWorker, { type: 'render' }>): void {
  const t0 = performance.now();
  const key = `${m.preset}|${m.seed}|${m.size}`;
  if (key !== sceneKey || !scene) {
    scene = sampleScene(scaleSceneConfig(presetConfig(asPreset(m.preset)), m.size), new Rng(m.seed));
    sceneKey = key;
  }
  const s = scene;
  const r = noGrad(() => renderScene(s, m.params));
  const image = Float32Array.from(r.image.data);
  const classes = r.classes ?? new Uint8Array(m.size * m.size);
  post({ type: 'rendered', id: m.id, width: m.size, height: m.size, image, classes, particles: s.layout.particles.length, ms: performance.now() - t0 }, [image.buffer, classes.buffer]);
}

// ---- GAN training on a dropped image --------------------------------------------------------
let reals: Float32Array[] = [];
let realsVersion = 0;
let trainer: GanTrainer | null = null;
let trainerKey = '';
let stopRequested = false;
let training = false;

function useImage(name: string, img: Grey): void {
  // Tiles that hold a particle, with the image's own contrast polarity (bright or dark particles).
  const { polarity } = detectPolarity([img]);
  let set = extractPatches(img, name, { patch: PATCH, polarity });
  // A uniform-looking image keeps no tile under the empty-patch rule; take them all then.
  if (set.kept.length === 0) set = extractPatches(img, name, { patch: PATCH, filter: false, polarity });
  reals = set.kept.map((p) => p.data);
  realsVersion++;
  trainer = null;
  const image = Float32Array.from(img.data);
  post({ type: 'image', name, width: img.width, height: img.height, image, patches: reals.length, skipped: set.skipped.length, patch: PATCH }, [image.buffer]);
}

/** A 256 px render with the demo's hidden parameters: a stand-in "real" micrograph. */
function generatedImage(preset: PresetName, seed: number): Grey {
  const params = defaultParams(preset);
  PARAMETER_TABLE.forEach((p, i) => {
    if (p.name in DEMO_HIDDEN) params[i] = DEMO_HIDDEN[p.name];
  });
  const s = sampleScene(presetConfig(preset), new Rng(seed + 1000));
  const r = noGrad(() => renderScene(s, params, { masks: false }));
  return { width: 256, height: 256, data: Float32Array.from(r.image.data) };
}

function getTrainer(preset: PresetName, seed: number): GanTrainer {
  const key = `${preset}|${seed}|${realsVersion}`;
  if (trainer && key === trainerKey) return trainer;
  trainer = new GanTrainer(
    {
      preset,
      scene: scaleSceneConfig(presetConfig(preset), PATCH),
      learned: LEARNED_BY_PRESET[preset],
      patch: PATCH,
      epochs: 1,
      stepsPerEpoch: 1,
      batch: 1,
      lrG: 1e-3,
      lrD: 1e-4,
      betas: [0.5, 0.999],
      baseFilters: 8,
      discLayers: 3,
      norm: 'batch',
      seed,
      numConfigs: Math.max(4, Math.min(16, reals.length)),
      evalSamples: 1,
    },
    reals,
  );
  trainerKey = key;
  return trainer;
}

function report(t: GanTrainer, total: number, r: { lossG: number; lossD: number; dReal: number; dFake: number } | null, ms: number): void {
  const e = t.evaluate();
  const sample = e.samples[0] ?? new Float32Array(PATCH * PATCH);
  post({ type: 'step', step: t.step, total, lossG: r?.lossG ?? null, lossD: r?.lossD ?? null, dReal: r?.dReal ?? null, dFake: r?.dFake ?? null, params: e.paramMean, sample, patch: PATCH, ms }, [sample.buffer]);
}

async function train(m: Extract<ToWorker, { type: 'train' }>): Promise<void> {
  if (training) return;
  if (reals.length === 0) throw new Error('no image to train against: drop a PNG or TIFF first');
  training = true;
  stopRequested = false;
  let done = 0;
  try {
    const t = getTrainer(asPreset(m.preset), m.seed);
    const total = t.step + m.steps;
    if (t.step === 0) report(t, total, null, 0);
    for (; done < m.steps && !stopRequested; done++) {
      const t0 = performance.now();
      const r = t.trainStep();
      report(t, total, r, performance.now() - t0);
      // Let 'stop' (and renders) in between steps.
      await new Promise((res) => setTimeout(res, 0));
    }
  } finally {
    training = false;
    post({ type: 'train-done', steps: done, stopped: stopRequested });
  }
}

ctx.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  const fail = (err: unknown): void => post({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  try {
    switch (m.type) {
      case 'render':
        render(m);
        break;
      case 'load-image':
        useImage(m.name, decodeImage(new Uint8Array(m.bytes), m.name));
        break;
      case 'generate-image':
        useImage(`generated-${m.preset}-${m.seed}.png`, generatedImage(asPreset(m.preset), m.seed));
        break;
      case 'train':
        train(m).catch(fail);
        break;
      case 'stop':
        stopRequested = true;
        break;
    }
  } catch (err) {
    fail(err);
  }
};

init().catch((err) => post({ type: 'error', message: `worker start failed: ${err instanceof Error ? err.message : String(err)}` }));
