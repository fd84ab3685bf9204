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

export interface NodeAutoSelectOptions extends AutoSelectOptions {
  /** Options of the worker-thread pool (ignored when `runnerFactory` is given). */
  pool?: WasmPoolOptions;
}

function withPool(opts: NodeAutoSelectOptions): AutoSelectOptions {
  const { pool, ...rest } = opts;
  return { ...rest, runnerFactory: rest.runnerFactory ?? wasmPoolFactory(pool) };
}

/** registerFastBackends with the worker-thread pool for 'wasm'. */
export function registerFastBackendsNode(opts: NodeAutoSelectOptions = {}): ReturnType<typeof registerFastBackends> {
  return registerFastBackends(withPool(opts));
}

/** autoSelectBackend with the worker-thread pool for 'wasm'. */
export function autoSelectBackendNode(opts: NodeAutoSelectOptions = {}): Promise<AutoSelection> {
  return autoSelectBackend(withPool(opts));
}
