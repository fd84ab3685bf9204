/**
 * initBackend for library users under Node: the same fast path the CLI takes, from the package.
 * 'auto' picks gpu.js on a working GPU, else wasm SIMD on worker threads (all cores), else the
 * reference loops; 'wasm' (threaded), 'wasm-1t' (one thread), 'gpujs' and 'reference' name one.
 * Unless told otherwise it also installs the soft rasterizer's worker lanes (as train does), so
 * rendering is threaded too. Workers are unref'd: they never keep the process alive.
 *
 *   import { initBackend, GanTrainer, demoSetup } from 'diffrendergan';
 *   const { backend } = await initBackend('auto');   // e.g. 'wasm'
 */
import { activateBackend } from './backends.js';
import { relaxedSimdSetting } from './relaxed-simd.js';
import { defaultRasterThreads, useRasterPool, type RasterWorkerPool } from './raster-pool.js';
import { setRasterLanes } from '../render/lanes/lanes.js';
import { ExitCode, UserError } from '../errors.js';

export const BACKEND_CHOICES = ['auto', 'wasm', 'wasm-1t', 'gpujs', 'reference'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export interface InitBackendOptions {
  /** wasm worker threads (default: all cores). */
  threads?: number;
  /** Soft-rasterizer lanes (default: as train, the cores up to 4; 1 = none). */
  rasterThreads?: number;
  /**
   * Turn on V8's relaxed SIMD (FMA in the wasm kernels; the CLI does, 1.5x on large matmuls).
   * A process-wide V8 flag, so off unless asked for (here or by DIFFRENDERGAN_RELAXED_SIMD=1).
   */
  relaxedSimd?: boolean;
}

export interface BackendInfo {
  /** The active backend's name. */
  backend: string;
  /** Why it was chosen. */
  reason: string;
  /** Raster lanes installed (1: rendering on the calling thread). */
  rasterThreads: number;
}

let rasterPool: RasterWorkerPool | null = null;

export async function initBackend(name: BackendChoice = 'auto', opts: InitBackendOptions = {}): Promise<BackendInfo> {
  if (!(BACKEND_CHOICES as readonly string[]).includes(name)) {
    throw new UserError(`unknown backend '${name}'; choose one of ${BACKEND_CHOICES.join(', ')}`, ExitCode.usage);
  }
  const pool = opts.threads !== undefined ? { pool: { threads: opts.threads } } : {};
  const { backend, reason } = await activateBackend(name, { ...pool, relaxedSimd: opts.relaxedSimd ?? relaxedSimdSetting() ?? false });
  rasterPool?.dispose();
  rasterPool = null;
  setRasterLanes(null);
  const lanes = name === 'reference' ? 1 : (opts.rasterThreads ?? defaultRasterThreads());
  if (lanes > 1) rasterPool = useRasterPool({ threads: lanes });
  return { backend, reason, rasterThreads: lanes > 1 ? lanes : 1 };
}
