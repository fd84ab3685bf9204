/**
 * The reverse-mode tape. An op computes its output eagerly and, when gradients are wanted,
 * calls record() with its inputs and a closure that maps the output's gradient to the inputs'
 * gradients (the vector-Jacobian product). backward() walks the recorded graph once in reverse
 * topological order, accumulates gradients, stores them on leaves (tensor.grad), and drops
 * every tape entry it visited so that the graph's memory is released.
 *
 * Two options serve a GAN step that scores real and fake in one discriminator pass and then
 * backpropagates two losses through it (as torch.autograd.backward's retain_graph and inputs):
 * `retainGraph` keeps the entries for a second backward, and `inputs` limits the pass to the
 * gradients of the given leaves: every tensor of the graph that reaches none of them is treated
 * as not requiring gradients during the pass, so the ops skip that work (a conv skips its weight
 * gradient, a path into another network is not followed at all).
 */
// tensor.ts imports backward() from here; the cycle is safe: neither module uses the other's
// bindings while it is being evaluated, only inside functions.
import { Tensor, allocData, ones, resultDType } from './tensor.js';
import { profileBackward, profileForward } from './profile.js';
import { recycle, trackBorn } from './pool.js';

export interface TapeNode {
  op: string;
  inputs: Tensor[];
  /** Gradients of the inputs (null where an input needs none) given the output's gradient. */
  vjp: (gradOut: Tensor) => (Tensor | null | undefined)[];
}

let noGradDepth = 0;

export function isGradEnabled(): boolean {
  return noGradDepth === 0;
}

/** Runs fn without recording anything on the tape. */
export function noGrad<T>(fn: () => T): T {
  noGradDepth++;
  try {
    return fn();
  } finally {
    noGradDepth--;
  }
}

/** Attaches a tape entry to `out` when any input requires gradients; returns `out`. */
export function record(op: string, out: Tensor, inputs: Tensor[], vjp: TapeNode['vjp']): Tensor {
  if (noGradDepth === 0 && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op, inputs, vjp };
    profileForward(op);
  }
  return out;
}

/** a + b for two gradients of one tensor (same shape), off the tape. */
function addGrads(a: Tensor, b: Tensor): Tensor {
  if (a.shape.length !== b.shape.length || a.shape.some((d, k) => d !== b.shape[k])) {
    throw new Error(`internal: accumulating gradients of shapes [${a.shape}] and [${b.shape}]`);
  }
  const out = allocData(resultDType(a, b), a.size);
  const ad = a.data, bd = b.data;
  for (let i = 0; i < out.length; i++) out[i] = ad[i] + bd[i];
  return new Tensor(out, a.shape);
}

/** Optional hook that sees every gradient produced (used to locate the op that made a NaN). */
let gradHook: ((op: string, input: Tensor, grad: Tensor) => void) | null = null;
export function setGradHook(hook: typeof gradHook): void {
  gradHook = hook;
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS: deep graphs (long training unrolls) must not overflow the call stack.
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.node ? t.node.inputs : [];
    if (i < inputs.length) {
      top[1]++;
      const child = inputs[i];
      if (child.requiresGrad && !seen.has(child)) {
        seen.add(child);
        stack.push([child, 0]);
      }
    } else {
      order.push(t);
      stack.pop();
    }
  }
  return order.reverse();
}

export interface BackwardOptions {
  /** Keep the tape entries so that another backward() can run through the same graph. */
  retainGraph?: boolean;
  /**
   * Leaves (tensors without a tape entry) that receive gradients; no other tensor does, and
   * no gradient is computed along a path that reaches none of them. Default: every leaf that
   * requires gradients.
   */
  inputs?: readonly Tensor[];
}

export function backward(root: Tensor, seed?: Tensor, opts: BackwardOptions = {}): void {
  if (!root.requiresGrad) throw new Error('backward(): this tensor does not require gradients (no parameter reaches it, or it was computed under noGrad)');
  if (!seed && root.size !== 1) throw new Error(`backward(): a non-scalar output (shape [${root.shape.join(', ')}]) needs a seed gradient`);
  noGrad(() => {
    const order = topoOrder(root);
    const pruned = opts.inputs ? pruneTo(order, opts.inputs) : [];
    // Gradients that die here go back to the pool (pool.ts), unless a hook sees every gradient
    // or the graph is kept for another pass.
    const born = opts.retainGraph || gradHook ? null : new WeakSet<ArrayBufferLike>();
    const prevBorn = trackBorn(born);
    try {
      const grads = new Map<Tensor, Tensor>();
      grads.set(root, seed ?? ones(root.shape, root.dtype));
      for (const t of order) {
        const g = grads.get(t);
        grads.delete(t);
        const node = t.node;
        // Release the graph as we go: the tape holds nothing once backward returns.
        if (!opts.retainGraph) t.node = null;
        // (A pruned tensor gets no gradient; only the root can hold one, when it reaches no input.)
        if (!g || !t.requiresGrad) continue;
        if (!node) {
          // A leaf: accumulate into .grad (copying, so later in-place optimiser work cannot alias).
          t.grad = profileBackward('grad accumulate', () => (t.grad ? addGrads(t.grad, g) : g.clone()));
          if (born) recycleDead([g], grads, born);
          continue;
        }
        const inGrads = profileBackward(node.op, () => node.vjp(g));
        const dead: Tensor[] = born ? [g] : [];
        for (let i = 0; i < node.inputs.length; i++) {
          const x = node.inputs[i];
          const gx = inGrads[i];
          if (!x.requiresGrad || !gx) continue;
          if (gx.shape.length !== x.shape.length || gx.shape.some((d, k) => d !== x.shape[k])) {
            throw new Error(`internal: gradient of '${node.op}' input ${i} has shape [${gx.shape}] but the input has [${x.shape}]`);
          }
          if (gradHook) gradHook(node.op, x, gx);
          const prev = grads.get(x);
          grads.set(x, prev ? profileBackward('grad accumulate', () => addGrads(prev, gx)) : gx);
          if (born && prev) dead.push(prev, gx);
        }
        if (born) {
          for (const gx of inGrads) if (gx) dead.push(gx);
          recycleDead(dead, grads, born);
        }
      }
    } finally {
      trackBorn(prevBorn);
      for (const t of pruned) t.requiresGrad = true;
    }
  });
}

/** Recycles the buffers of `dead` gradients that no gradient still held in `live` shares. */
function recycleDead(dead: Tensor[], live: Map<Tensor, Tensor>, born: WeakSet<ArrayBufferLike>): void {
  const held = new Set<ArrayBufferLike>();
  for (const g of live.values()) held.add(g.data.buffer);
  for (const g of dead) {
    if (held.has(g.data.buffer)) continue;
    held.add(g.data.buffer); // the same buffer may be listed twice
    recycle(g.data, born);
  }
}

/**
 * Marks every tensor of `order` (root first, each before its inputs) from which none of
 * `inputs` can be reached as not requiring gradients, and returns them (to be restored).
 */
function pruneTo(order: Tensor[], inputs: readonly Tensor[]): Tensor[] {
  const targets = new Set(inputs);
  for (const t of targets) if (t.node) throw new Error(`backward(): inputs must be leaves, but one was computed by '${t.node.op}'`);
  const reaches = new Set<Tensor>();
  // Inputs come after their consumers in `order`, so a backwards sweep sees them first.
  for (let i = order.length - 1; i >= 0; i--) {
    const t = order[i];
    if (targets.has(t) || (t.node && t.node.inputs.some((x) => reaches.has(x)))) reaches.add(t);
  }
  const pruned = order.filter((t) => !reaches.has(t));
  for (const t of pruned) t.requiresGrad = false;
  return pruned;
}
