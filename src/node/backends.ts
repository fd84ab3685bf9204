/**
 * Backend selection under Node: the core's auto-selection (src/autodiff/backends/auto.ts) with
 * the wasm backend threaded through a worker_threads pool on all cores. The core itself never
 * imports a Node module; this file is where the Node thread pool is injected.
 *
 *   import { autoSelectBackendNode } from './node/backends.js';
 *   const { backend } = await autoSelectBackendNode();   // e.g. 'wasm' (threaded)
 */
import { autoSelectBackend, registerFastBackends, type AutoSelectOptions, type AutoSelection } from '../autodiff/backends/auto.js';
import { wasmPoolFactory, type WasmPoolOptions } from './wasm-pool.js';
import { setBackend } from '../autodiff/backend.js';
import { enableRelaxedSimd } from './relaxed-simd.js';

export interface NodeAutoSelectOptions extends AutoSelectOptions {
  /** Options of the worker-thread pool (ignored when `runnerFactory` is given). */
  pool?: WasmPoolOptions;
}

/**
 * DIFFRENDERGAN_WINOGRAD: 0 = the wasm backend's stride-1 3x3 / 4x4 convs stay on the GEMM paths
 * (the A/B baseline of the Winograd kernels), 1 = Winograd wherever it applies; unset = the
 * backend's shape rule.
 */
export function winogradSetting(): 'auto' | 'off' | 'always' {
  const v = process.env.DIFFRENDERGAN_WINOGRAD;
  return v === '0' ? 'off' : v === '1' ? 'always' : 'auto';
}

function withPool(opts: NodeAutoSelectOptions): AutoSelectOptions {
  const { pool, ...rest } = opts;
  return { ...rest, wasm: { winograd: winogradSetting(), ...rest.wasm }, runnerFactory: rest.runnerFactory ?? wasmPoolFactory(pool) };
}

/** registerFastBackends with the worker-thread pool for 'wasm'. */
export function registerFastBackendsNode(opts: NodeAutoSelectOptions = {}): ReturnType<typeof registerFastBackends> {
  return registerFastBackends(withPool(opts));
}

/** autoSelectBackend with the worker-thread pool for 'wasm'. */
export function autoSelectBackendNode(opts: NodeAutoSelectOptions = {}): Promise<AutoSelection> {
  return autoSelectBackend(withPool(opts));
}

/**
 * The one way from a backend name ('auto' or a registered backend's) to the active backend:
 * auto-selection, or the named one with the fast backends registered first (wasm on the
 * worker-thread pool), after turning on relaxed SIMD when asked. Used by initBackend (the
 * library), the segment runners and the CLI's --backend flag.
 */
export async function activateBackend(name: string, opts: NodeAutoSelectOptions & { relaxedSimd?: boolean } = {}): Promise<{ backend: string; reason: string }> {
  const { relaxedSimd, ...select } = opts;
  // Relaxed SIMD is read when a wasm module is compiled, so it is turned on before the backend is made.
  if (relaxedSimd && name !== 'reference') enableRelaxedSimd();
  if (name === 'auto') {
    const sel = await autoSelectBackendNode(select);
    return { backend: sel.backend.name, reason: sel.reason };
  }
  if (name !== 'reference') await registerFastBackendsNode(select);
  await setBackend(name);
  return { backend: name, reason: 'named' };
}
