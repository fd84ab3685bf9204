/**
 * Emits the wasm backend's module: a cache-blocked SIMD GEMM (packed panels + a register-blocked
 * MR x NR micro-kernel), implicit and explicit im2col, col2im, direct convs for few output
 * channels, a strided copy and the Winograd F(2x2, 4x4) transforms. One emitter per kernel
 * family under emit/; the parameter-block layouts they read are in params.ts. The functions are emitted in a fixed order (their indices
 * are part of the module's bytes).
 *
 * No Node imports: this file runs in browsers too.
 */
import { ModuleBuilder, I32, br, loop, unreachable } from './asm.js';
import type { GemmConfig } from './params.js';
import { emitMicrokernels } from './emit/micro.js';
import { emitPacking } from './emit/pack.js';
import { emitImplicitPacking } from './emit/implicit.js';
import { emitGemm } from './emit/gemm.js';
import { emitIm2col } from './emit/im2col.js';
import { emitDirectConv } from './emit/direct.js';
import { emitCopy2d } from './emit/copy.js';
import { emitWinograd } from './emit/winograd.js';

export function buildModule(cfg: GemmConfig, memory: { initial: number; maximum: number; shared: boolean }): Uint8Array {
  const { mr: MR, nr: NR, mc: MC, nc: NC } = cfg;
  if (NR % 4 !== 0 || MC % MR !== 0 || NC % NR !== 0) throw new Error('bad gemm config');
  const mb = new ModuleBuilder(memory);
  const micro = emitMicrokernels(mb, cfg);
  const packing = emitPacking(mb, cfg);
  const implicit = emitImplicitPacking(mb, cfg);
  emitGemm(mb, cfg, { ...micro, ...packing, ...implicit });
  emitIm2col(mb);
  emitDirectConv(mb, cfg);
  emitCopy2d(mb);
  emitWinograd(mb);

  // ---------- test hooks ----------
  const nop = mb.fn('nop', [I32]);
  nop.emit([]);
  const fail = mb.fn('fail', [I32]);
  fail.emit(unreachable());
  const spin = mb.fn('spin', [I32]);
  spin.emit(loop(br(0)));
  return mb.build();
}
