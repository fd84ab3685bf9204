/**
 * The wasm backend with its Node worker-thread pool: `createNodeWasmBackend()` runs every big
 * GEMM / im2col / col2im across all cores (the calling thread plus availableParallelism()-1
 * workers over one shared WebAssembly.Memory).
 */
import { WasmBackend, type WasmBackendOptions } from '../autodiff/backends/wasm/backend.js';
import { wasmPoolFactory, type WasmPoolOptions } from './wasm-pool.js';
import { enableRelaxedSimd, relaxedSimdSetting } from './relaxed-simd.js';

export interface NodeWasmOptions extends WasmBackendOptions {
  pool?: WasmPoolOptions;
  /**
   * Turn on V8's relaxed-SIMD flag (FMA micro-kernel) if this Node needs it; default: only when
   * DIFFRENDERGAN_RELAXED_SIMD=1. Without it the kernel uses separate mul + add.
   */
  relaxedSimd?: boolean;
}

export function createNodeWasmBackend(opts: NodeWasmOptions = {}): WasmBackend {
  const { pool, relaxedSimd, ...rest } = opts;
  if (relaxedSimd ?? relaxedSimdSetting() ?? false) enableRelaxedSimd();
  return new WasmBackend({ runnerFactory: wasmPoolFactory(pool), ...rest });
}
