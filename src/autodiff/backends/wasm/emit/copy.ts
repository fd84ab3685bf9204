/**
 * copy2d: strided plane / row copies (padding and unpadding planes for the direct kernels).
 */
import {
  type ModuleBuilder,   I32, add, mul, and, shl, get, set, memcopy, forRange,
} from '../asm.js';
import { KP } from '../params.js';
import { loadParams } from './common.js';

export function emitCopy2d(mb: ModuleBuilder): void {
  // ---------- copy2d(P): strided plane/row copy (padding and unpadding) ----------
  const copy2d = mb.fn('copy2d', [I32]);
  {
    const f = copy2d;
    const P = loadParams(f, 0, KP) as Record<keyof typeof KP, number>;
    const L = () => f.local(I32);
    const pl = L(), r = L(), sr = L(), dr = L();
    f.emit(
      forRange(pl, get(P.p0), get(P.p1), 1,
        set(sr, add(get(P.src), shl(mul(get(pl), get(P.sPlane)), 2))),
        set(dr, add(get(P.dst), shl(mul(get(pl), get(P.dPlane)), 2))),
        forRange(r, 0, get(P.rows), 1,
          memcopy(get(dr), get(sr), shl(get(P.cols), 2)),
          set(sr, add(get(sr), shl(get(P.sPitch), 2))),
          set(dr, add(get(dr), shl(get(P.dPitch), 2))),
        ),
      ),
    );
  }


}
