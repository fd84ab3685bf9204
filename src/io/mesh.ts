/**
 * The triangle mesh type (particle shapes read from PLY or OBJ files), the fan triangulation and
 * the one validation every mesh reader shares. Pure: no Node modules.
 */
import { InputError } from '../errors.js';

export interface Mesh {
  /** x, y, z of every vertex. */
  positions: Float32Array;
  /** Three vertex indices per triangle. */
  faces: Uint32Array;
  /** Things the reader or the validation changed or noticed (degenerate faces, open surface). */
  warnings: string[];
}

/** Growable list of triangle indices; polygons are fan-triangulated (v0, vi, vi+1). */
export class TriangleList {
  private buf = new Uint32Array(96);
  length = 0;
  /** Adds the polygon `idx[0..n)` as n - 2 triangles. */
  addPolygon(idx: ArrayLike<number>, n: number): void {
    const need = this.length + 3 * (n - 2);
    if (need > this.buf.length) {
      const next = new Uint32Array(Math.max(need, this.buf.length * 2));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
    for (let i = 1; i + 1 < n; i++) {
      this.buf[this.length++] = idx[0]!;
      this.buf[this.length++] = idx[i]!;
      this.buf[this.length++] = idx[i + 1]!;
    }
  }
  toArray(): Uint32Array {
    return this.buf.slice(0, this.length);
  }
}

/**
 * Checks a freshly read mesh and returns it cleaned:
 * - no vertices / no faces, a non-finite coordinate, or an index out of range -> InputError;
 * - degenerate triangles (a repeated index, or zero area relative to the triangle's size) are
 *   removed with a warning giving their count; if none is left -> InputError;
 * - an open or non-manifold surface (an edge not shared by exactly two triangles) is reported as
 *   a warning, not refused. Unused vertices are fine.
 */
export function validateMesh(mesh: Mesh, name: string): Mesh {
  const { positions, faces } = mesh;
  const warnings = [...mesh.warnings];
  const nv = positions.length / 3;
  if (!Number.isInteger(nv) || !Number.isInteger(faces.length / 3)) {
    throw new InputError(name, 'mesh arrays are not whole vertices / triangles');
  }
  if (nv === 0) throw new InputError(name, 'mesh has no vertices');
  if (faces.length === 0) throw new InputError(name, 'mesh has no faces');
  for (let i = 0; i < positions.length; i++) {
    if (!Number.isFinite(positions[i]!)) {
      throw new InputError(name, `vertex ${Math.floor(i / 3)} has a non-finite coordinate (${positions[i]})`);
    }
  }
  const kept = new Uint32Array(faces.length);
  let k = 0;
  let degenerate = 0;
  for (let f = 0; f < faces.length; f += 3) {
    const a = faces[f]!;
    const b = faces[f + 1]!;
    const c = faces[f + 2]!;
    for (const v of [a, b, c]) {
      if (v >= nv) throw new InputError(name, `face ${f / 3} refers to vertex ${v}, but the mesh has ${nv} vertices (0-based)`);
    }
    if (a === b || b === c || a === c || zeroArea(positions, a, b, c)) {
      degenerate++;
      continue;
    }
    kept[k++] = a;
    kept[k++] = b;
    kept[k++] = c;
  }
  if (k === 0) throw new InputError(name, `all ${faces.length / 3} triangles are degenerate (repeated vertex or zero area)`);
  if (degenerate > 0) warnings.push(`removed ${degenerate} degenerate triangle(s) (repeated vertex or zero area)`);
  const out = degenerate > 0 ? kept.slice(0, k) : faces;
  const open = edgeReport(out, nv);
  if (open) warnings.push(open);
  return { positions, faces: out, warnings };
}

/** True when the triangle's area is zero relative to its longest edge (scale-invariant). */
function zeroArea(p: Float32Array, a: number, b: number, c: number): boolean {
  const ux = p[3 * b]! - p[3 * a]!;
  const uy = p[3 * b + 1]! - p[3 * a + 1]!;
  const uz = p[3 * b + 2]! - p[3 * a + 2]!;
  const vx = p[3 * c]! - p[3 * a]!;
  const vy = p[3 * c + 1]! - p[3 * a + 1]!;
  const vz = p[3 * c + 2]! - p[3 * a + 2]!;
  const cx = uy * vz - uz * vy;
  const cy = uz * vx - ux * vz;
  const cz = ux * vy - uy * vx;
  const cross2 = cx * cx + cy * cy + cz * cz;
  const scale = Math.max(ux * ux + uy * uy + uz * uz, vx * vx + vy * vy + vz * vz);
  return cross2 <= 1e-24 * scale * scale;
}

/** Describes edges not shared by exactly two triangles, or returns '' for a closed 2-manifold. */
function edgeReport(faces: Uint32Array, nv: number): string {
  const counts = new Map<number | string, number>();
  const exact = nv <= 94_906_265; // a * nv + b stays below 2^53
  for (let f = 0; f < faces.length; f += 3) {
    for (let e = 0; e < 3; e++) {
      const u = faces[f + e]!;
      const v = faces[f + ((e + 1) % 3)]!;
      const lo = Math.min(u, v);
      const hi = Math.max(u, v);
      const key = exact ? lo * nv + hi : `${lo},${hi}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  let boundary = 0;
  let over = 0;
  for (const c of counts.values()) {
    if (c === 1) boundary++;
    else if (c > 2) over++;
  }
  if (boundary === 0 && over === 0) return '';
  return (
    `mesh is not a closed manifold surface: ${boundary} edge(s) belong to one triangle only and ` +
    `${over} to more than two (rendering works, but the surface may show holes)`
  );
}
