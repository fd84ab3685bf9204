/**
 * Nanowires: a prism along x with a regular `sides`-gon cross-section (5 = pentagonal Ag
 * nanowire, 12+ = round), radius 1 (circumradius) and total length `length` (same units), with
 * hemispherical-ish rounded ends (`ends: 'rounded'`, cross-section rings shrinking on a quarter
 * circle) or flat caps. Centred at the origin, axis along x.
 */
import type { Mesh } from './types.js';

export interface WireOptions {
  sides?: number;
  ends?: 'rounded' | 'flat';
  /** Number of segments along the body. */
  segments?: number;
  /** Rings per rounded cap. */
  capRings?: number;
}

export function wire(length: number, opts: WireOptions = {}): Mesh {
  const sides = Math.max(3, Math.floor(opts.sides ?? 5));
  const segs = Math.max(1, Math.floor(opts.segments ?? 8));
  const rounded = (opts.ends ?? 'rounded') === 'rounded';
  const capRings = rounded ? Math.max(1, Math.floor(opts.capRings ?? 3)) : 0;
  const half = Math.max(length / 2, rounded ? 1 : 0);
  const body = rounded ? half - 1 : half;
  // rings: (x, radius)
  const rings: [number, number][] = [];
  for (let k = capRings; k >= 1; k--) {
    const a = (k / (capRings + 1)) * (Math.PI / 2);
    rings.push([-body - Math.sin(a), Math.cos(a)]);
  }
  for (let s = 0; s <= segs; s++) rings.push([-body + (2 * body * s) / segs, 1]);
  for (let k = 1; k <= capRings; k++) {
    const a = (k / (capRings + 1)) * (Math.PI / 2);
    rings.push([body + Math.sin(a), Math.cos(a)]);
  }
  const pos: number[] = [];
  for (const [x, r] of rings) {
    for (let j = 0; j < sides; j++) {
      const t = (2 * Math.PI * j) / sides + Math.PI / 2;
      pos.push(x, r * Math.cos(t), r * Math.sin(t));
    }
  }
  const faces: number[] = [];
  for (let k = 0; k + 1 < rings.length; k++) {
    for (let j = 0; j < sides; j++) {
      const a = k * sides + j, b = k * sides + ((j + 1) % sides);
      const c = a + sides, d = b + sides;
      // outward orientation for a ring sequence running along +x
      faces.push(a, b, d, a, d, c);
    }
  }
  // end caps: a centre vertex (the pole for rounded ends, the cap centre for flat ends)
  const x0 = rounded ? -body - 1 : -body;
  const x1 = rounded ? body + 1 : body;
  const c0 = pos.length / 3;
  pos.push(x0, 0, 0);
  const c1 = pos.length / 3;
  pos.push(x1, 0, 0);
  const last = (rings.length - 1) * sides;
  for (let j = 0; j < sides; j++) {
    const jn = (j + 1) % sides;
    faces.push(c0, jn, j);
    faces.push(c1, last + j, last + jn);
  }
  return { positions: Float32Array.from(pos), faces: Uint32Array.from(faces) };
}
