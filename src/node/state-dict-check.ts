/**
 * Checks a state dict read from a file against the module it is meant for, before anything is
 * copied: the same tensor names, each with the module's shape and dtype, and only finite values
 * of a magnitude training can produce. A checkpoint that parses but does not fit (a renamed or
 * transposed tensor, F32 relabelled as I32, NaN / Inf / 1e38 weights) is an InputError naming the
 * file and the tensor (exit 3) instead of a TypeError deep in the model, or silently wrong output.
 */
import { InputError } from '../errors.js';
import { Tensor } from '../autodiff/tensor.js';
import type { StateDict } from '../autodiff/nn/module.js';
import { safeToTensor, torchStateDict, type SafeTensor } from '../io/safetensors.js';

/**
 * The largest weight magnitude accepted. Trained weights and batch-norm statistics are many
 * orders of magnitude below; a value above this overflows float32 within two layers, so it can
 * only come from a damaged or hand-edited file.
 */
export const MAX_WEIGHT_MAGNITUDE = 1e10;

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Why the values are unusable, or null: the first non-finite or over-large element. */
export function badValue(data: ArrayLike<number>, limit = MAX_WEIGHT_MAGNITUDE): string | null {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) return `element ${i} is ${v}`;
    if (Math.abs(v) > limit) return `element ${i} is ${v}, above the limit of ${limit} in magnitude`;
  }
  return null;
}

/**
 * `raw` (the tensors of `file`, as stored) checked against `own` (the module's stateDict()):
 * returns them as Tensors ready for loadStateDict, or throws an InputError naming `file` and the
 * first tensor that does not fit.
 */
export function checkStateDict(own: StateDict, raw: Record<string, SafeTensor>, file: string): StateDict {
  const fail = (tensor: string, problem: string): never => {
    throw new InputError(file, `tensor '${tensor}' ${problem}`);
  };
  const names = Object.keys(own);
  for (const name of names) if (!Object.hasOwn(raw, name)) fail(name, `is missing (the file holds ${Object.keys(raw).length} tensors, the model needs ${names.length})`);
  for (const name of Object.keys(raw)) if (!Object.hasOwn(own, name)) fail(name, 'is not a tensor of this model (renamed, or a file for another model)');
  // The dtypes a save writes for this module (torchStateDict: F32 / F64, I64 for batch-norm counters).
  const stored = torchStateDict(own);
  const out: StateDict = {};
  for (const name of names) {
    const want = own[name];
    const got = raw[name];
    const s = stored[name];
    const dtype = s instanceof Tensor ? (s.dtype === 'float64' ? 'F64' : 'F32') : s.dtype;
    if (got.dtype !== dtype) fail(name, `is ${got.dtype}, the model stores ${dtype}`);
    if (got.shape.length !== want.shape.length || got.shape.some((d, i) => d !== want.shape[i])) {
      fail(name, `has shape ${shapeText(got.shape)}, the model expects ${shapeText(want.shape)}`);
    }
    const t = safeToTensor(got, name, file);
    const bad = badValue(t.data);
    if (bad) fail(name, `has an unusable value: ${bad}`);
    out[name] = t;
  }
  return out;
}

/** Every tensor of `raw` holds only finite values of a magnitude training can produce (a file without a module to compare with). */
export function checkFiniteTensors(raw: Record<string, SafeTensor>, file: string): void {
  for (const [name, t] of Object.entries(raw)) {
    const bad = badValue(safeToTensor(t, name, file).data);
    if (bad) throw new InputError(file, `tensor '${name}' has an unusable value: ${bad}`);
  }
}
