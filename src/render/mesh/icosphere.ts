/**
 * Geodesic unit spheres: an icosahedron whose faces are split into freq^2 triangles each and
 * projected onto the sphere (20 * freq^2 faces, 10 * freq^2 + 2 vertices). freq need not be a
 * power of two, so the triangle budget can be chosen finely (freq 5 = 500 faces).
 */
import type { Mesh } from './types.js';

const T = (1 + Math.sqrt(5)) / 2;
const ICO_V = [
  [-1, T, 0], [1, T, 0], [-1, -T, 0], [1, -T, 0],
  [0, -1, T], [0, 1, T], [0, -1, -T], [0, 1, -T],
  [T, 0, -1], [T, 0, 1], [-T, 0, -1], [-T, 0, 1],
];
const ICO_F = [
  [0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11],
  [1, 5, 9], [5, 11, 4], [11, 10, 2], [10, 7, 6], [7, 1, 8],
  [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8], [3, 8, 9],
  [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1],
];

export function icosphere(freq = 3): Mesh {
  const n = Math.max(1, Math.floor(freq));
  const pos: number[] = [];
  const index = new Map<number, number>();
  // Vertices are keyed by their unit position rounded to 1e-5 (distinct vertices are >= 0.03
  // apart for freq <= 16), packed into one integer below 2^53, so that shared edges are welded.
  const Q = 100000, B = 2 * Q + 1;
  const vert = (x: number, y: number, z: number): number => {
    const l = Math.hypot(x, y, z);
    x /= l; y /= l; z /= l;
    const key = ((Math.round(x * Q) + Q) * B + (Math.round(y * Q) + Q)) * B + (Math.round(z * Q) + Q);
    let k = index.get(key);
    if (k === undefined) {
      k = pos.length / 3;
      pos.push(x, y, z);
      index.set(key, k);
    }
    return k;
  };
  const faces: number[] = [];
  for (const [ia, ib, ic] of ICO_F) {
    const A = ICO_V[ia], B = ICO_V[ib], C = ICO_V[ic];
    const P = (i: number, j: number): number => {
      // point A + i/n (B - A) + j/n (C - A)
      const u = i / n, v = j / n;
      return vert(A[0] + u * (B[0] - A[0]) + v * (C[0] - A[0]), A[1] + u * (B[1] - A[1]) + v * (C[1] - A[1]), A[2] + u * (B[2] - A[2]) + v * (C[2] - A[2]));
    };
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n - i; j++) {
        faces.push(P(i, j), P(i + 1, j), P(i, j + 1));
        if (j < n - i - 1) faces.push(P(i + 1, j), P(i + 1, j + 1), P(i, j + 1));
      }
    }
  }
  return { positions: Float32Array.from(pos), faces: Uint32Array.from(faces) };
}
