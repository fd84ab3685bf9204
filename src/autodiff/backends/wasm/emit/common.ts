/** Small helpers shared by the wasm emitters. */
import {
  I32, type Bytes, type E, type Fn, i32c, get, set, i32load, block, cat,
} from '../asm.js';

export const geS0 = (a: E): Bytes => cat(a, i32c(0), [0x4e]);

/** Loads i32 slot `i` of the parameter block at local `p` into a fresh local. */
export function loadParams(f: Fn, p: number, slots: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, i] of Object.entries(slots)) {
    const l = f.local(I32);
    f.emit(set(l, i32load(get(p), i * 4)));
    out[name] = l;
  }
  return out;
}
