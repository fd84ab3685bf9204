/**
 * Triangle meshes. `Mesh` is structurally identical to the one src/io loads from PLY/OBJ:
 * positions = xyz triples, faces = vertex-index triples, counter-clockwise seen from outside
 * (so the right-hand face normal points outwards).
 */
export interface Mesh {
  positions: Float32Array;
  faces: Uint32Array;
}

export type Quat = [number, number, number, number]; // (w, x, y, z), unit length

/** Rotates v by the unit quaternion q (w, x, y, z). */
export function rotateVec(q: Quat, x: number, y: number, z: number): [number, number, number] {
  const [w, qx, qy, qz] = q;
  // t = 2 * cross(q.xyz, v); v' = v + w t + cross(q.xyz, t)
  const tx = 2 * (qy * z - qz * y);
  const ty = 2 * (qz * x - qx * z);
  const tz = 2 * (qx * y - qy * x);
  return [x + w * tx + (qy * tz - qz * ty), y + w * ty + (qz * tx - qx * tz), z + w * tz + (qx * ty - qy * tx)];
}

/** Row-major 3 x 3 rotation matrix of the unit quaternion q, times s. */
export function quatMatrix(q: Quat, s = 1): Float64Array {
  const [w, x, y, z] = q;
  return Float64Array.of(
    s * (1 - 2 * (y * y + z * z)), s * 2 * (x * y - w * z), s * 2 * (x * z + w * y),
    s * 2 * (x * y + w * z), s * (1 - 2 * (x * x + z * z)), s * 2 * (y * z - w * x),
    s * 2 * (x * z - w * y), s * 2 * (y * z + w * x), s * (1 - 2 * (x * x + y * y)),
  );
}

/** p' = R(q) (s * p) + t for every vertex (one matrix, no per-vertex allocation). */
export function transformMesh(m: Mesh, scale: number, q: Quat, t: [number, number, number]): Mesh {
  const p = m.positions;
  const out = new Float32Array(p.length);
  const M = quatMatrix(q, scale);
  const tx = t[0], ty = t[1], tz = t[2];
  for (let i = 0; i < p.length; i += 3) {
    const x = p[i], y = p[i + 1], z = p[i + 2];
    out[i] = M[0] * x + M[1] * y + M[2] * z + tx;
    out[i + 1] = M[3] * x + M[4] * y + M[5] * z + ty;
    out[i + 2] = M[6] * x + M[7] * y + M[8] * z + tz;
  }
  return { positions: out, faces: m.faces };
}

/** Concatenates meshes; `faceOwner[f]` is the index of the mesh face f came from. */
export function mergeMeshes(ms: readonly Mesh[]): { mesh: Mesh; faceOwner: Uint16Array } {
  let nv = 0;
  let nf = 0;
  for (const m of ms) {
    nv += m.positions.length;
    nf += m.faces.length;
  }
  const positions = new Float32Array(nv);
  const faces = new Uint32Array(nf);
  const faceOwner = new Uint16Array(nf / 3);
  let vo = 0;
  let fo = 0;
  ms.forEach((m, k) => {
    positions.set(m.positions, vo);
    const base = vo / 3;
    for (let i = 0; i < m.faces.length; i++) faces[fo + i] = m.faces[i] + base;
    faceOwner.fill(k, fo / 3, (fo + m.faces.length) / 3);
    vo += m.positions.length;
    fo += m.faces.length;
  });
  return { mesh: { positions, faces }, faceOwner };
}

/** Largest distance of a vertex from the origin (the bounding-sphere radius about 0). */
export function boundingRadius(m: Mesh): number {
  const p = m.positions;
  let r2 = 0;
  for (let i = 0; i < p.length; i += 3) r2 = Math.max(r2, p[i] * p[i] + p[i + 1] * p[i + 1] + p[i + 2] * p[i + 2]);
  return Math.sqrt(r2);
}

/** Area-weighted vertex normals (unit; (0,0,1) for isolated vertices). */
export function vertexNormals(m: Mesh): Float32Array {
  const p = m.positions;
  const f = m.faces;
  const n = new Float64Array(p.length);
  for (let i = 0; i < f.length; i += 3) {
    const a = 3 * f[i], b = 3 * f[i + 1], c = 3 * f[i + 2];
    const ux = p[b] - p[a], uy = p[b + 1] - p[a + 1], uz = p[b + 2] - p[a + 2];
    const vx = p[c] - p[a], vy = p[c + 1] - p[a + 1], vz = p[c + 2] - p[a + 2];
    const nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
    n[a] += nx; n[a + 1] += ny; n[a + 2] += nz;
    n[b] += nx; n[b + 1] += ny; n[b + 2] += nz;
    n[c] += nx; n[c + 1] += ny; n[c + 2] += nz;
  }
  const out = new Float32Array(p.length);
  for (let i = 0; i < n.length; i += 3) {
    const l = Math.hypot(n[i], n[i + 1], n[i + 2]);
    if (l > 1e-20) {
      out[i] = n[i] / l;
      out[i + 1] = n[i + 1] / l;
      out[i + 2] = n[i + 2] / l;
    } else out[i + 2] = 1;
  }
  return out;
}

/** Splits every face into its own three vertices (for flat, faceted shading). */
export function unshare(m: Mesh): Mesh {
  const f = m.faces;
  const positions = new Float32Array(f.length * 3);
  const faces = new Uint32Array(f.length);
  for (let i = 0; i < f.length; i++) {
    positions[3 * i] = m.positions[3 * f[i]];
    positions[3 * i + 1] = m.positions[3 * f[i] + 1];
    positions[3 * i + 2] = m.positions[3 * f[i] + 2];
    faces[i] = i;
  }
  return { positions, faces };
}

/** Signed volume (positive for outward-oriented closed meshes). */
export function signedVolume(m: Mesh): number {
  const p = m.positions;
  const f = m.faces;
  let v = 0;
  for (let i = 0; i < f.length; i += 3) {
    const a = 3 * f[i], b = 3 * f[i + 1], c = 3 * f[i + 2];
    v += p[a] * (p[b + 1] * p[c + 2] - p[b + 2] * p[c + 1]) - p[a + 1] * (p[b] * p[c + 2] - p[b + 2] * p[c]) + p[a + 2] * (p[b] * p[c + 1] - p[b + 1] * p[c]);
  }
  return v / 6;
}
