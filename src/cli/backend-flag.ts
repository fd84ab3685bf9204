/**
 * The --backend flag of the commands that compute, and the one way from its value to a backend:
 * auto-select or a named backend, wasm on worker threads, relaxed SIMD as below.
 */
import type { FlagSpec } from './args.js';
import { activateBackend } from '../node/backends.js';
import { BACKEND_CHOICES, type BackendChoice } from '../node/init-backend.js';
import { relaxedSimdSetting } from '../node/relaxed-simd.js';

export interface BackendFlagOptions {
  default?: BackendChoice;
  /** false: CPU backends only (gpujs not offered, auto never picks it). */
  gpu?: boolean;
  help?: string;
}

/** The --backend flag (each command may narrow it to the CPU backends, or change its default). */
export function backendFlag(opts: BackendFlagOptions = {}): FlagSpec {
  return {
    name: 'backend', type: 'string', meta: 'NAME', default: opts.default ?? 'auto',
    choices: BACKEND_CHOICES.filter((n) => opts.gpu !== false || n !== 'gpujs'),
    help: opts.help ?? 'compute backend (auto: the fastest available)',
  };
}

/** Whether a command turns on relaxed SIMD: DIFFRENDERGAN_RELAXED_SIMD, else on (see selectBackend). */
export function commandRelaxedSimd(): boolean {
  return relaxedSimdSetting() ?? true;
}

/** Makes the flag's backend the active one; returns its name. */
export async function selectBackend(name: string, verbose: boolean, opts: { gpu?: boolean } = {}): Promise<string> {
  // The command owns its process, so unless DIFFRENDERGAN_RELAXED_SIMD=0 it turns on V8's relaxed
  // SIMD (Node 20 keeps it behind a flag): the wasm kernels then use FMA, measured 1.5x on
  // matmul 1024^3 and 10 % on the PatchGAN. The library leaves the process-wide flag alone
  // unless asked (src/node/relaxed-simd.ts).
  const { backend, reason } = await activateBackend(name, { noGpu: opts.gpu === false, relaxedSimd: commandRelaxedSimd() });
  if (verbose) console.error(name === 'auto' ? `backend: ${backend} (${reason})` : `backend: ${backend}`);
  return backend;
}
