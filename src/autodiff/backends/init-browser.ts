/**
 * initBackend for the browser bundle (no gpu.js, no Node): 'auto' takes wasm SIMD where the
 * engine has it, else the reference loops; 'wasm' runs on the threads of an injected
 * RunnerFactory (one thread without it), 'wasm-1t' on one thread. The Node entry's initBackend
 * (src/node/init-backend.ts) adds gpu.js and worker threads.
 */
import { registerBackend, setBackend } from '../backend.js';
import { WasmBackend, type RunnerFactory } from './wasm/backend.js';
import { UserError, ExitCode } from '../../errors.js';

export const BROWSER_BACKENDS = ['auto', 'wasm', 'wasm-1t', 'reference'] as const;
export type BrowserBackendChoice = (typeof BROWSER_BACKENDS)[number];

let registered = false;

export async function initBackend(name: BrowserBackendChoice = 'auto', opts: { runnerFactory?: RunnerFactory } = {}): Promise<{ backend: string; reason: string }> {
  if (!(BROWSER_BACKENDS as readonly string[]).includes(name)) {
    throw new UserError(`unknown backend '${name}' in the browser; choose one of ${BROWSER_BACKENDS.join(', ')} (gpu.js is not in this bundle)`, ExitCode.usage);
  }
  if (name !== 'reference' && !registered && WasmBackend.supported()) {
    registerBackend(new WasmBackend({ name: 'wasm', runnerFactory: opts.runnerFactory }));
    registerBackend(new WasmBackend({ name: 'wasm-1t' }));
    registered = true;
  }
  if (name === 'auto') {
    const pick = registered ? 'wasm' : 'reference';
    await setBackend(pick);
    return { backend: pick, reason: registered ? 'wasm SIMD is the fastest path here' : 'no wasm SIMD in this engine' };
  }
  await setBackend(name);
  return { backend: name, reason: 'named' };
}
