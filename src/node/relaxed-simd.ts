/**
 * Relaxed SIMD (f32x4.relaxed_madd = FMA on x86 with FMA3) is in V8 from 11.4 on by default;
 * Node 20 ships V8 11.3 where it sits behind --experimental-wasm-relaxed-simd. This turns the
 * flag on at runtime (v8.setFlagsFromString; it is read when a module is validated/compiled, so
 * it must run before the wasm backend is constructed) and reports whether relaxed_madd now
 * validates. Opt-in, since it changes a process-wide V8 setting: call it yourself, pass
 * `relaxedSimd: true` to createNodeWasmBackend, or set DIFFRENDERGAN_RELAXED_SIMD=1.
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

/** Whether the environment asks for relaxed SIMD (DIFFRENDERGAN_RELAXED_SIMD=1). */
export function relaxedSimdRequested(): boolean {
  return process.env.DIFFRENDERGAN_RELAXED_SIMD === '1';
}
