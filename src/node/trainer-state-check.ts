/**
 * Validation of the GAN trainer's resumable state (optim.json + optim.safetensors, joined by
 * loadCheckpoint) before it is handed to GanTrainer.load: counters, the three RNG states and both
 * optimisers' step counts and moments. A damaged or hand-edited file is an InputError naming it
 * and the field (exit 3), instead of a TypeError or a generator silently seeded with garbage.
 */
import { InputError } from '../errors.js';
import { Tensor } from '../autodiff/tensor.js';
import type { TrainerState } from '../gan/trainer.js';

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v) && !(v instanceof Tensor);
}

/** A number list (JSON array, typed array or Tensor) as an ArrayLike, else null. */
function numbers(v: unknown): ArrayLike<number> | null {
  if (v instanceof Tensor) return v.data;
  if (v instanceof Float32Array || v instanceof Float64Array || v instanceof Int32Array || v instanceof Uint8Array) return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return v as number[];
  return null;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Throws InputError(file, ...) unless `state` is a complete, sane TrainerState. */
export function checkTrainerState(state: unknown, file: string): TrainerState {
  const fail = (field: string, problem: string): never => {
    throw new InputError(file, `field '${field}' ${problem}`);
  };
  if (!isRecord(state)) return fail('(top level)', 'is not a JSON object');
  if (!isCount(state.epoch)) fail('epoch', `must be an integer >= 0 (got ${JSON.stringify(state.epoch)})`);
  if (!isCount(state.step)) fail('step', `must be an integer >= 0 (got ${JSON.stringify(state.step)})`);
  if (!isRecord(state.rng)) return fail('rng', 'is missing or not an object with data / dropout / render states');
  for (const k of ['data', 'dropout', 'render']) {
    const s = (state.rng as Record<string, unknown>)[k];
    // xoshiro128**: four 32-bit words, not all zero (the all-zero state only ever yields zeros)
    if (!Array.isArray(s) || s.length !== 4 || !s.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)) {
      fail(`rng.${k}`, `must be a list of four integers in [0, 2^32) (got ${JSON.stringify(s)?.slice(0, 80)})`);
    }
    if ((s as number[]).every((w) => w === 0)) fail(`rng.${k}`, 'is all zeros, which is not a valid generator state');
  }
  for (const k of ['optG', 'optD']) {
    const o = state[k];
    if (!isRecord(o)) return fail(k, 'is missing or not an optimiser state object');
    if (typeof o.kind !== 'string') fail(`${k}.kind`, 'must be a string');
    if (!Array.isArray(o.steps) || !o.steps.every(isCount)) fail(`${k}.steps`, 'must be a list of integers >= 0');
    if (!isRecord(o.buffers)) return fail(`${k}.buffers`, 'must be an object of per-parameter moment lists');
    for (const [name, list] of Object.entries(o.buffers)) {
      if (!Array.isArray(list)) return fail(`${k}.buffers.${name}`, 'must be a list');
      list.forEach((b, i) => {
        if (b === null) return;
        const xs = numbers(b);
        if (!xs) return fail(`${k}.buffers.${name}.${i}`, 'must be null or a list of numbers');
        for (let j = 0; j < xs.length; j++) if (!Number.isFinite(xs[j])) fail(`${k}.buffers.${name}.${i}`, `holds a non-finite value (${xs[j]}) at element ${j}`);
      });
    }
    if (o.hyper !== undefined && !isRecord(o.hyper)) fail(`${k}.hyper`, 'must be an object');
  }
  if (state.size !== undefined) {
    const z = state.size;
    if (!isRecord(z)) return fail('size', 'must be an object with a, b and opt');
    for (const k of ['a', 'b']) if (typeof z[k] !== 'number' || !Number.isFinite(z[k])) fail(`size.${k}`, `must be a finite number (got ${JSON.stringify(z[k])})`);
    const o = z.opt;
    if (!isRecord(o) || typeof o.kind !== 'string' || !Array.isArray(o.steps) || !o.steps.every(isCount) || !isRecord(o.buffers)) fail('size.opt', 'must be an optimiser state object');
    for (const [name, list] of Object.entries((o as Record<string, unknown>).buffers as Record<string, unknown>)) {
      if (!Array.isArray(list) || !list.every((b) => b === null || (numbers(b) !== null && Array.from(numbers(b)!).every(Number.isFinite)))) fail(`size.opt.buffers.${name}`, 'must be a list of null or finite number lists');
    }
  }
  return state as unknown as TrainerState;
}
