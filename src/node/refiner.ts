/**
 * The refiner of a training run (src/gan/refiner.ts) on disk (Node only):
 *
 *   <run>/refiner/refiner.safetensors   its weights
 *   <run>/refiner/refiner.json          written last: the epoch it refines, its settings, the
 *                                       weights' SHA-256 and what training measured
 *
 * `train` trains it after the best epoch is chosen when the run's config asks for it
 * (config.json's `refiner`, from `--refiner-steps`); `generate` applies it to every image of the
 * epoch it was trained for (never to masks or instances).
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Refiner, RefinerTrainer, refinerSettingsProblem, type RefinerSettings } from '../gan/refiner.js';
import { GanTrainer } from '../gan/trainer.js';
import { PatchDiscriminator } from '../gan/models.js';
import { Rng } from '../autodiff/rng.js';
import { encodeSafetensors, decodeSafetensorsRaw, torchStateDict } from '../io/safetensors.js';
import { makeOutputDir, readInputFile, readInputJson, writeFileAtomic } from './files.js';
import { sha256Hex } from './gan-checkpoint.js';
import { checkStateDict } from './state-dict-check.js';
import { InputError } from '../errors.js';
import type { RunConfig } from './train.js';

export const REFINER_DIR = 'refiner';

interface RefinerRecord {
  epoch: number;
  settings: RefinerSettings;
  sha256: string;
  /** Means over the last quarter of the steps. */
  last: { adversarial: number; l1: number; lossD: number; dReal: number; dFake: number };
  seconds: number;
}

/** Whether the saved refiner was trained for `epoch` with `settings` (an unreadable record: no). */
export function refinerUpToDate(runDir: string, epoch: number, settings: RefinerSettings): boolean {
  const file = join(runDir, REFINER_DIR, 'refiner.json');
  if (!existsSync(file)) return false;
  let r: RefinerRecord;
  try {
    r = readRecord(file);
  } catch (e) {
    if (e instanceof InputError) return false; // damaged or from an older version: trained again
    throw e;
  }
  return r.epoch === epoch && JSON.stringify(r.settings) === JSON.stringify(settings);
}

function readRecord(file: string): RefinerRecord {
  const r = readInputJson(file) as Partial<RefinerRecord> | null;
  if (!r || typeof r !== 'object') throw new InputError(file, 'not a refiner record (a JSON object)');
  if (!Number.isInteger(r.epoch) || (r.epoch as number) < 1) throw new InputError(file, "field 'epoch' must be an integer >= 1");
  if (!r.settings || typeof r.settings !== 'object') throw new InputError(file, "field 'settings' is missing");
  const problem = refinerSettingsProblem(r.settings);
  if (problem) throw new InputError(file, `field 'settings': ${problem}`);
  if (typeof r.sha256 !== 'string') throw new InputError(file, "field 'sha256' is missing");
  return r as RefinerRecord;
}

/**
 * Trains the run's refiner against `reals` with the generator frozen at `epoch` (its checkpoint)
 * and saves it. The renders are `pool` fresh configurations of that epoch (what `generate` draws).
 */
export function trainRunRefiner(runDir: string, config: RunConfig, reals: Float32Array[], epoch: number, settings: RefinerSettings, restore: (t: GanTrainer) => void, log: (s: string) => void): RefinerRecord {
  const t0 = performance.now();
  const gan = config.gan;
  const frozen = new GanTrainer(gan, reals);
  restore(frozen);
  const renders = frozen.renderFresh(Math.max(8, gan.numConfigs), gan.seed + 0x7ef);
  const disc = new PatchDiscriminator(new Rng(settings.seed + 1), { baseFilters: gan.baseFilters, layers: gan.discLayers, norm: gan.norm });
  const trainer = new RefinerTrainer(settings, disc, reals, renders, gan.patch, gan.lrD, gan.betas);
  const tail: ReturnType<RefinerTrainer['trainStep']>[] = [];
  const every = Math.max(1, Math.round(settings.steps / 4));
  for (let s = 0; s < settings.steps; s++) {
    const r = trainer.trainStep();
    if (s >= settings.steps - Math.max(1, Math.floor(settings.steps / 4))) tail.push(r);
    if ((s + 1) % every === 0) log(`refiner step ${s + 1}/${settings.steps}: adversarial ${r.adversarial.toFixed(3)}, mean |R(x)| ${r.l1.toFixed(4)}, D loss ${r.lossD.toFixed(3)}`);
  }
  const avg = (k: keyof (typeof tail)[number]) => (tail.length ? tail.reduce((a, r) => a + r[k], 0) / tail.length : 0);
  const last = { adversarial: avg('adversarial'), l1: avg('l1'), lossD: avg('lossD'), dReal: avg('dReal'), dFake: avg('dFake') };
  const seconds = Math.round((performance.now() - t0) / 10) / 100;
  return saveRefiner(runDir, trainer.averaged, { epoch, settings, last, seconds });
}

function saveRefiner(runDir: string, refiner: Refiner, info: Omit<RefinerRecord, 'sha256'>): RefinerRecord {
  const dir = join(runDir, REFINER_DIR);
  makeOutputDir(dir);
  // The record goes first out of the way and last back in: it marks the weights complete.
  rmSync(join(dir, 'refiner.json'), { force: true });
  const bytes = encodeSafetensors(torchStateDict(refiner.stateDict()), { format: 'pt', epoch: String(info.epoch) });
  writeFileAtomic(join(dir, 'refiner.safetensors'), bytes);
  const record: RefinerRecord = { ...info, sha256: sha256Hex(bytes) };
  writeFileAtomic(join(dir, 'refiner.json'), JSON.stringify(record, null, 2) + '\n');
  return record;
}

/**
 * The run's refiner for images of `epoch`, or null when the run has none or one for another
 * epoch (`note` says so). Every file is checked: a damaged one is an InputError naming it.
 */
export function loadRefiner(runDir: string, epoch: number, note: (s: string) => void): Refiner | null {
  const file = join(runDir, REFINER_DIR, 'refiner.json');
  if (!existsSync(file)) return null;
  const record = readRecord(file);
  if (record.epoch !== epoch) {
    note(`note: ${runDir}'s refiner was trained for epoch ${record.epoch}; epoch ${epoch}'s images are written unrefined`);
    return null;
  }
  const wfile = join(runDir, REFINER_DIR, 'refiner.safetensors');
  const bytes = readInputFile(wfile);
  if (sha256Hex(bytes) !== record.sha256) throw new InputError(wfile, `SHA-256 differs from the one in ${file}: the file is corrupted`);
  const refiner = new Refiner(record.settings.layers, record.settings.channels, new Rng(0));
  refiner.loadStateDict(checkStateDict(refiner.stateDict(), decodeSafetensorsRaw(bytes, wfile).tensors, wfile));
  return refiner;
}
