/**
 * Backend auto-selection: gpu.js on a real GPU if one works here, else the wasm SIMD backend
 * (threaded through an injected runner, else single-threaded), else the reference loops. The
 * chosen backend is registered and made active. This file runs anywhere (browser, worker, Node):
 * threads come in as `runnerFactory`; under Node, src/node/backends.ts injects the
 * worker_threads pool (`autoSelectBackendNode()`).
 *
 *   import { autoSelectBackend } from './autodiff/backends/auto.js';
 *   const { backend } = await autoSelectBackend();   // e.g. 'wasm' (one thread)
 *
 * Backends can also be picked by name after `registerFastBackends()`: setBackend('wasm'),
 * setBackend('wasm-1t') (single thread), setBackend('gpujs') (gpu.js webasm/GPU).
 */
import { registerBackend, setBackend, type Backend } from '../backend.js';
import { referenceBackend } from './reference.js';
import { WasmBackend, type RunnerFactory, type WasmBackendOptions } from './wasm/backend.js';
import { GpujsBackend, gpujsGpuWorks } from './gpujs.js';

export interface AutoSelectOptions {
  /** Thread pool for the wasm backend; default none (one thread). Node: see src/node/backends.ts. */
  runnerFactory?: RunnerFactory;
  /** Extra wasm options (block sizes, FMA). */
  wasm?: WasmBackendOptions;
  /** Skip the gpu.js GPU probe (default false). */
  noGpu?: boolean;
  /** Make the chosen backend active (default true). */
  activate?: boolean;
}

export interface AutoSelection {
  backend: Backend;
  /** Why it was chosen. */
  reason: string;
}

let registered: { wasm: WasmBackend; wasm1: WasmBackend; gpujs: GpujsBackend } | null = null;

/**
 * Registers 'wasm' (threaded where possible), 'wasm-1t' and 'gpujs' (gpu.js; GPU mode if one
 * works, else webasm) without activating any. Idempotent.
 */
export async function registerFastBackends(opts: AutoSelectOptions = {}): Promise<NonNullable<typeof registered>> {
  if (registered) return registered;
  const wasm = new WasmBackend({ ...opts.wasm, name: 'wasm', runnerFactory: opts.runnerFactory });
  const wasm1 = new WasmBackend({ ...opts.wasm, name: 'wasm-1t' });
  const gpu = !opts.noGpu && gpujsGpuWorks();
  const gpujs = new GpujsBackend({ name: 'gpujs', mode: gpu ? 'gpu' : 'webasm' });
  for (const b of [wasm, wasm1, gpujs]) registerBackend(b);
  registered = { wasm, wasm1, gpujs };
  return registered;
}

export async function autoSelectBackend(opts: AutoSelectOptions = {}): Promise<AutoSelection> {
  const r = await registerFastBackends(opts);
  let sel: AutoSelection;
  if (r.gpujs.mode === 'gpu') {
    sel = { backend: r.gpujs, reason: 'gpu.js found a working GL context' };
  } else if (WasmBackend.supported()) {
    sel = { backend: r.wasm, reason: 'no GPU for gpu.js; wasm SIMD is the fastest CPU path (see bench kernels)' };
  } else {
    sel = { backend: referenceBackend, reason: 'no wasm SIMD and no GPU' };
  }
  if (opts.activate !== false) await setBackend(sel.backend.name);
  return sel;
}
