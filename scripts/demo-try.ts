import '../src/autodiff/index.js';
import { autoSelectBackendNode } from '../src/node/backends.js';
console.log((await autoSelectBackendNode()).backend.name);
import { GanTrainer } from '../src/gan/trainer.js';
import { demoSetup } from '../src/gan/demo.js';
const size = Number(process.argv[2] ?? 64), steps = Number(process.argv[3] ?? 200), ndf = Number(process.argv[4] ?? 16);
const d = demoSetup({ size, count: 32 });
const t = new GanTrainer({ preset: 'tio2-sem', scene: d.scene, learned: d.learned, patch: size, epochs: 1, stepsPerEpoch: steps, batch: 1, lrG: Number(process.argv[5] ?? 2e-4), lrD: 1e-4, betas: [0.5, 0.999], baseFilters: ndf, discLayers: 3, norm: 'batch', seed: 1, numConfigs: 32, evalSamples: 4 }, d.reals);
const show = () => { const e = t.evaluate(); console.log(Object.entries(e.paramMean).map(([k, v]) => `${k}=${v.toFixed(3)}(${d.hidden[k]})`).join(' ')); };
show();
const t0 = performance.now();
for (let i = 0; i < steps; i++) { const r = t.trainStep(); if (i % 50 === 49) { console.log(i + 1, r, ((performance.now() - t0) / (i + 1)).toFixed(1) + 'ms/step'); show(); } }
