/**
 * Gradient checking: analytic gradients from the tape against central finite differences,
 * in float64. The scalar checked is sum(f(x) * r) for a fixed random r, so every output element
 * contributes with a distinct weight (a plain sum would hide errors that cancel).
 */
import { Tensor, allocData } from './tensor.js';
import { noGrad } from './tape.js';
import { Rng } from './rng.js';

export interface GradcheckOptions {
  /** Finite-difference step. */
  eps?: number;
  /** Tolerances: an element passes when |analytic - numeric| <= atol + rtol * |numeric|. */
  atol?: number;
  rtol?: number;
  /** Check at most this many elements per input (chosen at random); all when undefined. */
  maxElements?: number;
  seed?: number;
}

export interface GradcheckResult {
  ok: boolean;
  maxAbsError: number;
  maxRelError: number;
  /** Number of input elements checked. */
  checked: number;
  /** First failing element, for the message. */
  failure?: { input: number; index: number; analytic: number; numeric: number };
}

/**
 * f takes float64 tensors (the inputs, marked as requiring gradients here) and returns a tensor.
 * Inputs that should not be differentiated (masks, indices) are closed over by f instead.
 */
export function gradcheck(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): GradcheckResult {
  const eps = opts.eps ?? 1e-6;
  const atol = opts.atol ?? 1e-6;
  const rtol = opts.rtol ?? 1e-4;
  const rng = new Rng(opts.seed ?? 1234);
  const xs = inputs.map((t) => {
    if (t.dtype !== 'float64') throw new Error('gradcheck needs float64 inputs');
    return new Tensor(Float64Array.from(t.data), t.shape, true);
  });
  const out0 = f(...xs);
  const r = allocData('float64', out0.size);
  for (let i = 0; i < r.length; i++) r[i] = rng.range(-1, 1);
  const weight = new Tensor(r, out0.shape);
  // Analytic: backward with seed r.
  out0.backward(weight);
  const analytic = xs.map((x) => x.grad?.data ?? new Float64Array(x.size));

  const objective = (): number =>
    noGrad(() => {
      const o = f(...xs);
      let s = 0;
      for (let i = 0; i < o.size; i++) s += o.data[i] * r[i];
      return s;
    });

  let maxAbs = 0;
  let maxRel = 0;
  let checked = 0;
  let failure: GradcheckResult['failure'];
  xs.forEach((x, k) => {
    let idx = Array.from({ length: x.size }, (_, i) => i);
    if (opts.maxElements !== undefined && idx.length > opts.maxElements) idx = rng.shuffle(idx).slice(0, opts.maxElements);
    const d = x.data as Float64Array;
    for (const i of idx) {
      const v = d[i];
      d[i] = v + eps;
      const up = objective();
      d[i] = v - eps;
      const down = objective();
      d[i] = v;
      const numeric = (up - down) / (2 * eps);
      const a = analytic[k][i];
      const err = Math.abs(a - numeric);
      // Relative to the larger magnitude, floored so that near-zero gradients do not blow it up.
      const rel = err / Math.max(Math.abs(numeric), Math.abs(a), 1e-3);
      if (!Number.isFinite(a) || err > atol + rtol * Math.abs(numeric)) {
        if (!failure) failure = { input: k, index: i, analytic: a, numeric };
      }
      maxAbs = Math.max(maxAbs, Number.isFinite(err) ? err : Infinity);
      maxRel = Math.max(maxRel, Number.isFinite(rel) ? rel : Infinity);
      checked++;
    }
  });
  return { ok: !failure, maxAbsError: maxAbs, maxRelError: maxRel, checked, failure };
}

/**
 * One registered gradient check: `make` builds float64 inputs (and closes over any constant
 * arguments such as masks or indices) for the op named `op`. Each op module exports its cases
 * as `gradcheckCases` next to the op, and the `gradcheck` command runs them all.
 */
export interface GradcheckCase {
  /** The op's name as users know it (e.g. 'conv2d'). */
  op: string;
  /** What this case exercises (e.g. 'stride 2, padding 1, odd size'). */
  variant: string;
  make: (rng: Rng) => { f: (...xs: Tensor[]) => Tensor; inputs: Tensor[] };
  options?: GradcheckOptions;
}

/** Random float64 input of a shape, uniform in [lo, hi). */
export function randomInput(rng: Rng, shape: readonly number[], lo = -1, hi = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = rng.range(lo, hi);
  return new Tensor(d, shape);
}
