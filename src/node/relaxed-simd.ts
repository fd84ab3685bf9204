/**
 * Relaxed SIMD (f32x4.relaxed_madd = FMA on x86 with FMA3) is in V8 from 11.4 on by default;
 * Node 20 ships V8 11.3 where it sits behind --experimental-wasm-relaxed-simd. This turns the
 * flag on at runtime (v8.setFlagsFromString; it is read when a module is validated/compiled, so
 * it must run before the wasm backend is constructed) and reports whether relaxed_madd now
 * validates. DIFFRENDERGAN_RELAXED_SIMD means the same everywhere: 1 turns it on, 0 off; unset,
 * the CLI turns it on (the command owns its process) and the library leaves it off (it changes
 * a process-wide V8 setting: pass `relaxedSimd: true` to createNodeWasmBackend / initBackend).
 */
import v8 from 'node:v8';
import { relaxedSimdSupported } from '../autodiff/backends/wasm/asm.js';

export function enableRelaxedSimd(): boolean {
  if (relaxedSimdSupported()) return true;
  try {
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    return false;
  }
  return relaxedSimdSupported();
}

/** DIFFRENDERGAN_RELAXED_SIMD: true for 1, false for 0, undefined when unset (or anything else). */
export function relaxedSimdSetting(): boolean | undefined {
  const v = process.env.DIFFRENDERGAN_RELAXED_SIMD;
  return v === '1' ? true : v === '0' ? false : undefined;
}
