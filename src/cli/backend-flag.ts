/** The --backend flag shared by the commands that compute: auto-select or a named backend. */
import { autoSelectBackendNode, registerFastBackendsNode } from '../node/backends.js';
import { enableRelaxedSimd } from '../node/relaxed-simd.js';
import { setBackend } from '../autodiff/backend.js';

export async function selectBackend(name: string, verbose: boolean): Promise<string> {
  // The command owns its process, so it turns on V8's relaxed SIMD (Node 20 keeps it behind a
  // flag): the wasm kernels then use FMA, measured 1.5x on matmul 1024^3 (35 -> 54 GFLOP/s) and
  // 10 % on the PatchGAN. DIFFRENDERGAN_RELAXED_SIMD=0 keeps plain mul + add. The library leaves
  // the process-wide flag alone (see src/node/relaxed-simd.ts).
  if (name !== 'reference' && process.env.DIFFRENDERGAN_RELAXED_SIMD !== '0') enableRelaxedSimd();
  if (name === 'auto') {
    const sel = await autoSelectBackendNode();
    if (verbose) console.error(`backend: ${sel.backend.name} (${sel.reason})`);
    return sel.backend.name;
  }
  if (name !== 'reference') await registerFastBackendsNode();
  await setBackend(name);
  if (verbose) console.error(`backend: ${name}`);
  return name;
}
