/**
 * The Module convention: a layer owns named parameters (trainable leaves), named buffers
 * (state such as running statistics, saved but not trained) and named child modules. Names
 * compose with dots as in PyTorch ("0.weight", "conv1.bias", "bn.running_mean"), so a
 * stateDict maps one-to-one onto checkpoint entries.
 *
 * loadStateDict copies values *into* the existing tensors, so references held elsewhere (an
 * optimiser's parameter list, a layer's fields) stay valid.
 */
import { Tensor } from '../tensor.js';
import { shapeStr } from '../shape.js';

export type StateDict = Record<string, Tensor>;

export abstract class Module {
  /** Training mode (dropout active, batch statistics); switch with train() / eval(). */
  training = true;
  private readonly params = new Map<string, Tensor>();
  private readonly buffers = new Map<string, Tensor>();
  private readonly modules = new Map<string, Module>();

  abstract forward(x: Tensor): Tensor;

  /** Registers a trainable leaf (marked as requiring gradients) under `name`. */
  protected registerParameter(name: string, t: Tensor): Tensor {
    this.checkName(name);
    t.requiresGrad = true;
    t.name ??= name;
    this.params.set(name, t);
    return t;
  }

  /** Registers state that is saved and loaded but not trained. */
  protected registerBuffer(name: string, t: Tensor): Tensor {
    this.checkName(name);
    t.name ??= name;
    this.buffers.set(name, t);
    return t;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    this.checkName(name);
    this.modules.set(name, m);
    return m;
  }

  private checkName(name: string): void {
    if (!name || name.includes('.')) throw new Error(`module entry name '${name}' must be non-empty and contain no '.'`);
    if (this.params.has(name) || this.buffers.has(name) || this.modules.has(name)) throw new Error(`module entry '${name}' registered twice`);
  }

  children(): [string, Module][] {
    return [...this.modules];
  }

  /** Parameters with their dotted names: own first, then each child's, in registration order. */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.params) out.push([prefix + n, t]);
    for (const [n, m] of this.modules) out.push(...m.namedParameters(`${prefix}${n}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.buffers) out.push([prefix + n, t]);
    for (const [n, m] of this.modules) out.push(...m.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  /** Sets training mode on this module and all descendants. */
  train(flag = true): this {
    this.training = flag;
    for (const m of this.modules.values()) m.train(flag);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Drops the gradients of all parameters. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /**
   * Every parameter and buffer by dotted name (parameters of each module before its buffers, as
   * PyTorch orders them). The tensors share data with the module: clone to snapshot.
   */
  stateDict(prefix = ''): StateDict {
    const out: StateDict = {};
    for (const [n, t] of this.params) out[prefix + n] = t.detach();
    for (const [n, t] of this.buffers) out[prefix + n] = t.detach();
    for (const [n, m] of this.modules) Object.assign(out, m.stateDict(`${prefix}${n}.`));
    return out;
  }

  /**
   * Copies entries into this module's tensors (converting dtype if needed). With strict, missing
   * and unexpected keys are errors; shapes must always match. Returns the keys it did not use.
   */
  loadStateDict(dict: StateDict | Map<string, Tensor>, strict = true): { missing: string[]; unexpected: string[] } {
    const entries = dict instanceof Map ? dict : new Map(Object.entries(dict));
    const own = new Map([...this.namedParameters(), ...this.namedBuffers()]);
    const missing = [...own.keys()].filter((k) => !entries.has(k));
    const unexpected = [...entries.keys()].filter((k) => !own.has(k));
    if (strict && (missing.length || unexpected.length)) {
      throw new Error(`loadStateDict: ${missing.length ? `missing ${missing.join(', ')}` : ''}${missing.length && unexpected.length ? '; ' : ''}${unexpected.length ? `unexpected ${unexpected.join(', ')}` : ''}`);
    }
    for (const [k, dst] of own) {
      const src = entries.get(k);
      if (!src) continue;
      if (src.size !== dst.size || src.shape.some((d, i) => d !== dst.shape[i]) || src.ndim !== dst.ndim) {
        throw new Error(`loadStateDict: '${k}' has shape ${shapeStr(src.shape)} but the module expects ${shapeStr(dst.shape)}`);
      }
    }
    // Copy only after every check passed, so a failed load leaves the module untouched.
    for (const [k, dst] of own) {
      const src = entries.get(k);
      if (src) dst.data.set(src.data);
    }
    return { missing, unexpected };
  }
}
