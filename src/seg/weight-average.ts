/**
 * An exponential moving average of a network's parameters over the training steps (Polyak
 * averaging as in Izmailov et al., "Averaging Weights Leads to Wider Optima", 2018, and the EMA
 * of most detection / diffusion trainers), pure (no Node modules).
 *
 * After each optimiser step, a <- d a + (1 - d) w for every parameter w, with d = 1 - 1 / steps
 * (`steps` is the average's horizon: a step `steps` back weighs 1 / e of the newest); the first
 * update copies w. Only parameters are averaged: the batch norm running statistics of the raw
 * network describe its own activations, not the average's, so the caller re-estimates them for
 * the averaged weights (adapt-bn.ts poolBatchNormStats, "precise BN"). Each update is computed in
 * float64 and stored in float32 like the weights, so that an average saved in a checkpoint and
 * resumed continues exactly as the uninterrupted one.
 */
import type { Module, StateDict } from '../autodiff/index.js';
import { Tensor } from '../autodiff/index.js';

export class WeightAverage {
  readonly decay: number;
  /** Updates so far (0: the average is not started). */
  updates = 0;
  private readonly params: [string, Tensor][];
  private readonly avg: Float32Array[];

  /**
   * Averages `model`'s parameters with horizon `steps` (>= 1). With `initial` (a state dict
   * holding at least every parameter, e.g. a checkpoint's average), the average continues from
   * it as after `updates` updates.
   */
  constructor(model: Module, steps: number, initial?: { state: StateDict; updates: number }) {
    if (!(Number.isInteger(steps) && steps >= 1)) throw new Error(`WeightAverage: steps must be an integer >= 1, got ${steps}`);
    this.decay = 1 - 1 / steps;
    this.params = model.namedParameters();
    this.avg = this.params.map(([, t]) => new Float32Array(t.size));
    if (initial) {
      this.params.forEach(([name, t], i) => {
        const s = initial.state[name];
        if (!s || s.size !== t.size) throw new Error(`WeightAverage: the saved average has no parameter '${name}' of ${t.size} values`);
        for (let k = 0; k < t.size; k++) this.avg[i][k] = s.data[k];
      });
      this.updates = initial.updates;
    }
  }

  /** Folds the model's current parameters into the average (call after each optimiser step). */
  update(): void {
    const d = this.updates === 0 ? 0 : this.decay;
    const e = 1 - d;
    this.params.forEach(([, t], i) => {
      const a = this.avg[i];
      const w = t.data;
      for (let k = 0; k < a.length; k++) a[k] = d * a[k] + e * w[k];
    });
    this.updates++;
  }

  /**
   * The model's state dict with every parameter replaced by its average (float32 copies; the
   * buffers, i.e. the batch norm statistics, are copies of the model's own).
   */
  stateDict(model: Module): StateDict {
    if (this.updates === 0) throw new Error('WeightAverage: no update yet');
    const out: StateDict = {};
    for (const [name, t] of Object.entries(model.stateDict())) out[name] = new Tensor(Float32Array.from(t.data), [...t.shape]);
    this.params.forEach(([name], i) => {
      out[name] = new Tensor(Float32Array.from(this.avg[i]), [...out[name].shape]);
    });
    return out;
  }
}
