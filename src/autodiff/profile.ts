/**
 * A step profiler for training loops (`--profile` of `train` and `segment train`, and of their
 * benches): wall time per op kind, forward and backward, the heavy kernels inside them, and the
 * tensor buffers allocated and the operand copies into / out of a backend's memory.
 *
 * How the numbers are taken (cheap enough to leave the run's speed roughly as it is; nothing is
 * measured when no profile is active):
 * - forward time of an op = wall time from the previous tape event (an op recorded, a backward
 *   or a phase ending) to the moment the op records itself, i.e. its own work plus the layer
 *   glue just before it. Ops that record nothing (under noGrad, or with no input that needs
 *   gradients) count in the next op that records;
 * - backward time of an op = the wall time of its vector-Jacobian product; adding up gradients
 *   that meet at a tensor is its own row ('grad accumulate');
 * - kernel rows time the backend's heavy kernels (matmul, the three conv passes) and are
 *   included in the op rows above them;
 * - phases ('optimizer', 'data', ...) are timed by the training loop with phase();
 * - allocations = new ArrayBuffers wrapped in tensors (count and bytes); copies = operand
 *   copies a backend makes into / out of its own memory (the wasm backend's input and output
 *   staging; resident operands are not copied).
 */

export interface ProfileRow {
  /** 'op', 'kernel' or 'phase'. */
  kind: 'op' | 'kernel' | 'phase';
  name: string;
  forwardMs: number;
  backwardMs: number;
  calls: number;
}

export interface ProfileReport {
  steps: number;
  rows: ProfileRow[];
  allocations: number;
  allocatedBytes: number;
  copies: number;
  copiedBytes: number;
  /** Wall time of all profiled steps. */
  totalMs: number;
}

class Profiler {
  readonly ops = new Map<string, ProfileRow>();
  readonly kernels = new Map<string, ProfileRow>();
  readonly phases = new Map<string, ProfileRow>();
  last = 0;
  steps = 0;
  allocations = 0;
  allocatedBytes = 0;
  copies = 0;
  copiedBytes = 0;
  stepStart = 0;
  /** Only work inside a step (profileStepStart .. profileStepEnd) is counted. */
  inStep = false;
  totalMs = 0;
  readonly seen = new WeakSet<ArrayBufferLike>();

  row(map: Map<string, ProfileRow>, kind: ProfileRow['kind'], name: string): ProfileRow {
    let r = map.get(name);
    if (!r) map.set(name, (r = { kind, name, forwardMs: 0, backwardMs: 0, calls: 0 }));
    return r;
  }
}

let active: Profiler | null = null;
/** Set while a backward pass runs: kernel time then counts as backward. */
let inBackward = false;

/** Starts collecting (discarding anything collected before); only work inside steps counts. */
export function startProfile(): void {
  active = new Profiler();
  active.last = performance.now();
}

/** Stops collecting and returns what was collected (null when no profile was started). */
export function stopProfile(): ProfileReport | null {
  const p = active;
  active = null;
  if (!p) return null;
  return {
    steps: p.steps,
    rows: [...p.phases.values(), ...p.ops.values(), ...p.kernels.values()],
    allocations: p.allocations,
    allocatedBytes: p.allocatedBytes,
    copies: p.copies,
    copiedBytes: p.copiedBytes,
    totalMs: p.totalMs,
  };
}

export function profiling(): boolean {
  return active !== null;
}

/** Marks the start of a training step (the report gives per-step figures). */
export function profileStepStart(): void {
  if (!active) return;
  active.stepStart = performance.now();
  active.last = active.stepStart;
  active.inStep = true;
}

/** Marks the end of a training step. */
export function profileStepEnd(): void {
  if (!active || !active.inStep) return;
  active.inStep = false;
  active.steps++;
  active.totalMs += performance.now() - active.stepStart;
  active.last = performance.now();
}

/** Runs fn as a named phase of the step (optimizer, data, loss readout...). */
export function phase<T>(name: string, fn: () => T): T {
  const p = active;
  if (!p?.inStep) return fn();
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    const t1 = performance.now();
    const r = p.row(p.phases, 'phase', name);
    r.forwardMs += t1 - t0;
    r.calls++;
    p.last = t1;
  }
}

/** @internal tape.record(): the op's forward ends now. */
export function profileForward(op: string): void {
  const p = active;
  if (!p?.inStep) return;
  const t = performance.now();
  const r = p.row(p.ops, 'op', op);
  r.forwardMs += t - p.last;
  r.calls++;
  p.last = t;
}

/** @internal tape.backward(): wraps one vector-Jacobian product (or a gradient accumulation). */
export function profileBackward<T>(op: string, fn: () => T): T {
  const p = active;
  if (!p?.inStep) return fn();
  const t0 = performance.now();
  const was = inBackward;
  inBackward = true;
  try {
    return fn();
  } finally {
    inBackward = was;
    const t1 = performance.now();
    p.row(p.ops, 'op', op).backwardMs += t1 - t0;
    p.last = t1;
  }
}

/** @internal backend.runKernel(): wraps one kernel call. */
export function profileKernel(name: string, fn: () => void): void {
  const p = active;
  if (!p?.inStep) return fn();
  const t0 = performance.now();
  try {
    fn();
  } finally {
    const r = p.row(p.kernels, 'kernel', name);
    const dt = performance.now() - t0;
    if (inBackward) r.backwardMs += dt;
    else r.forwardMs += dt;
    r.calls++;
  }
}

/** @internal Tensor constructor: counts a buffer not seen before. */
export function profileTensorData(buffer: ArrayBufferLike, bytes: number): void {
  const p = active;
  if (!p?.inStep || p.seen.has(buffer)) return;
  p.seen.add(buffer);
  p.allocations++;
  p.allocatedBytes += bytes;
}

/** @internal A backend copied `bytes` of an operand into or out of its own memory. */
export function profileCopy(bytes: number): void {
  const p = active;
  if (!p?.inStep) return;
  p.copies++;
  p.copiedBytes += bytes;
}

/** The report as a Markdown table: per-step milliseconds and shares, then allocations and copies. */
export function formatProfile(r: ProfileReport): string {
  const steps = Math.max(1, r.steps);
  const stepMs = r.totalMs / steps;
  const lines: string[] = [];
  lines.push(`profile: ${r.steps} step(s), ${stepMs.toFixed(1)} ms per step (wall; kernel rows are inside the op rows)`);
  lines.push('');
  lines.push('| kind | name | calls / step | forward ms / step | backward ms / step | total ms / step | % of step |');
  lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
  const order = { phase: 0, op: 1, kernel: 2 } as const;
  const rows = [...r.rows].sort((a, b) => order[a.kind] - order[b.kind] || b.forwardMs + b.backwardMs - (a.forwardMs + a.backwardMs));
  for (const x of rows) {
    const tot = (x.forwardMs + x.backwardMs) / steps;
    lines.push(`| ${x.kind} | ${x.name} | ${(x.calls / steps).toFixed(1)} | ${(x.forwardMs / steps).toFixed(1)} | ${(x.backwardMs / steps).toFixed(1)} | ${tot.toFixed(1)} | ${stepMs > 0 ? ((100 * tot) / stepMs).toFixed(1) : '-'} |`);
  }
  const inOps = r.rows.filter((x) => x.kind !== 'kernel').reduce((s, x) => s + x.forwardMs + x.backwardMs, 0) / steps;
  lines.push(`| - | other (loop glue, not in a row above) | | | | ${(stepMs - inOps).toFixed(1)} | ${stepMs > 0 ? ((100 * (stepMs - inOps)) / stepMs).toFixed(1) : '-'} |`);
  lines.push('');
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  lines.push(`allocations per step: ${(r.allocations / steps).toFixed(0)} tensor buffers, ${mib(r.allocatedBytes / steps)} MiB`);
  lines.push(`copies per step: ${(r.copies / steps).toFixed(0)} operand copies into / out of backend memory, ${mib(r.copiedBytes / steps)} MiB`);
  return lines.join('\n');
}
