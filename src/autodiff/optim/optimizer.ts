/**
 * Optimisers update parameter data in place from the gradients left by backward(), with
 * torch.optim's update rules. Their state (step counts, momentum buffers, moments) is exported
 * by state() as plain arrays of numbers, which round-trip exactly through JSON (float32 and
 * float64 values are both exact as JS numbers), so a resumed run continues bit for bit.
 */
import { allocData, type Tensor, type Data } from '../tensor.js';

/** Serialisable optimiser state: one entry per parameter, in parameter order. */
export interface OptimizerState {
  kind: string;
  /** Steps taken per parameter (a parameter without a gradient at a step does not advance). */
  steps: number[];
  /** Named per-parameter buffers, e.g. momentum or exp_avg; null where not yet created. */
  buffers: Record<string, (number[] | null)[]>;
  /** Hyperparameters at the time of saving (informational; loadState does not apply them). */
  hyper: Record<string, number | boolean>;
}

export abstract class Optimizer {
  readonly params: Tensor[];
  protected steps: number[];
  protected buffers: Record<string, (Data | null)[]>;

  constructor(params: Iterable<Tensor>, bufferNames: string[]) {
    this.params = [...params];
    if (new Set(this.params).size !== this.params.length) throw new Error('optimizer: a parameter is listed twice');
    for (const p of this.params) if (!p.requiresGrad) throw new Error(`optimizer: parameter ${p.name ?? ''} does not require gradients`);
    this.steps = this.params.map(() => 0);
    this.buffers = Object.fromEntries(bufferNames.map((n) => [n, this.params.map(() => null)]));
  }

  abstract readonly kind: string;
  protected abstract hyper(): Record<string, number | boolean>;
  /** Updates parameters with a gradient; parameters whose grad is null are skipped. */
  abstract step(): void;

  /** Drops every parameter's gradient (PyTorch's set_to_none behaviour). */
  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  /** A buffer of parameter i, created zero-filled in the parameter's dtype on first use. */
  protected buffer(name: string, i: number): { data: Data; fresh: boolean } {
    const list = this.buffers[name];
    const existing = list[i];
    if (existing) return { data: existing, fresh: false };
    const d = allocData(this.params[i].dtype, this.params[i].size);
    list[i] = d;
    return { data: d, fresh: true };
  }

  state(): OptimizerState {
    const buffers: OptimizerState['buffers'] = {};
    for (const [name, list] of Object.entries(this.buffers)) buffers[name] = list.map((d) => (d ? Array.from(d) : null));
    return { kind: this.kind, steps: [...this.steps], buffers, hyper: this.hyper() };
  }

  /** Restores state saved by state() for the same parameter list (checked by count and size). */
  loadState(s: OptimizerState): void {
    if (s.kind !== this.kind) throw new Error(`loadState: state is for '${s.kind}', this optimizer is '${this.kind}'`);
    if (s.steps.length !== this.params.length) throw new Error(`loadState: state has ${s.steps.length} parameters, optimizer has ${this.params.length}`);
    for (const name of Object.keys(this.buffers)) {
      const list = s.buffers[name];
      if (!list || list.length !== this.params.length) throw new Error(`loadState: buffer '${name}' missing or of the wrong length`);
      list.forEach((b, i) => {
        if (b && b.length !== this.params[i].size) throw new Error(`loadState: buffer '${name}' of parameter ${i} has ${b.length} values, the parameter has ${this.params[i].size}`);
      });
    }
    this.steps = [...s.steps];
    for (const name of Object.keys(this.buffers)) {
      this.buffers[name] = s.buffers[name].map((b, i) => {
        if (!b) return null;
        const d = allocData(this.params[i].dtype, b.length);
        d.set(b);
        return d;
      });
    }
  }
}

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/**
 * torch.optim.SGD: g = grad + weightDecay p; with momentum, buf = g on the first step and
 * buf = momentum buf + (1 - dampening) g after; the step direction is buf, or g + momentum buf
 * with nesterov; p -= lr * direction.
 */
export class SGD extends Optimizer {
  readonly kind = 'sgd';
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;

  constructor(params: Iterable<Tensor>, opts: SGDOptions) {
    super(params, ['momentum']);
    this.lr = opts.lr;
    this.momentum = opts.momentum ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.weightDecay = opts.weightDecay ?? 0;
    this.nesterov = opts.nesterov ?? false;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) throw new Error('SGD: nesterov needs momentum > 0 and dampening 0');
  }

  protected hyper(): Record<string, number | boolean> {
    return { lr: this.lr, momentum: this.momentum, dampening: this.dampening, weightDecay: this.weightDecay, nesterov: this.nesterov };
  }

  step(): void {
    const { lr, momentum: mu, dampening, weightDecay: wd, nesterov } = this;
    this.params.forEach((p, i) => {
      if (!p.grad) return;
      const pd = p.data;
      const gd = p.grad.data;
      const buf = mu !== 0 ? this.buffer('momentum', i) : null;
      for (let k = 0; k < pd.length; k++) {
        let g = gd[k] + wd * pd[k];
        if (buf) {
          const b = buf.fresh ? g : mu * buf.data[k] + (1 - dampening) * g;
          buf.data[k] = b;
          g = nesterov ? g + mu * b : b;
        }
        pd[k] -= lr * g;
      }
      this.steps[i]++;
    });
  }
}

export interface AdamOptions {
  lr?: number;
  betas?: readonly [number, number];
  eps?: number;
  /** L2 penalty added to the gradient (torch.optim.Adam's weight_decay, not AdamW's). */
  weightDecay?: number;
}

/**
 * torch.optim.Adam: g = grad + weightDecay p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 * p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps), t counted per parameter.
 */
export class Adam extends Optimizer {
  readonly kind = 'adam';
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;

  constructor(params: Iterable<Tensor>, opts: AdamOptions = {}) {
    super(params, ['exp_avg', 'exp_avg_sq']);
    this.lr = opts.lr ?? 1e-3;
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    if (!(this.beta1 >= 0 && this.beta1 < 1 && this.beta2 >= 0 && this.beta2 < 1)) throw new Error(`Adam: betas must be in [0, 1), got ${this.beta1}, ${this.beta2}`);
  }

  protected hyper(): Record<string, number | boolean> {
    return { lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay };
  }

  step(): void {
    const { lr, beta1: b1, beta2: b2, eps, weightDecay: wd } = this;
    this.params.forEach((p, i) => {
      if (!p.grad) return;
      const t = ++this.steps[i];
      const m = this.buffer('exp_avg', i).data;
      const v = this.buffer('exp_avg_sq', i).data;
      const stepSize = lr / (1 - Math.pow(b1, t));
      const bc2Sqrt = Math.sqrt(1 - Math.pow(b2, t));
      const pd = p.data;
      const gd = p.grad.data;
      for (let k = 0; k < pd.length; k++) {
        const g = gd[k] + wd * pd[k];
        m[k] = b1 * m[k] + (1 - b1) * g;
        v[k] = b2 * v[k] + (1 - b2) * g * g;
        pd[k] -= (stepSize * m[k]) / (Math.sqrt(v[k]) / bc2Sqrt + eps);
      }
    });
  }
}
