/**
 * The wasm backend with its Node worker-thread pool: `createNodeWasmBackend()` runs every big
 * GEMM / im2col / col2im across all cores (the calling thread plus availableParallelism()-1
 * workers over one shared WebAssembly.Memory).
 */
import { WasmBackend, type WasmBackendOptions } from '../autodiff/backends/wasm/backend.js';
import { wasmPoolFactory, type WasmPoolOptions } from './wasm-pool.js';

export function createNodeWasmBackend(opts: WasmBackendOptions & { pool?: WasmPoolOptions } = {}): WasmBackend {
  const { pool, ...rest } = opts;
  return new WasmBackend({ runnerFactory: wasmPoolFactory(pool), ...rest });
}
