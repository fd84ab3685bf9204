/**
 * Hard rasterizer: a z-buffer with exact coverage by the pixel-centre inside test and the
 * top-left fill rule (for faces with positive doubled area in image coordinates, i.e. front
 * faces, an edge v_a -> v_b is owned when dy < 0, or dy == 0 and dx > 0; an edge shared by two
 * front faces is therefore drawn exactly once). Nearer = larger height z. Gives per pixel the
 * owning instance id (faceOwner + 1, 0 = background), the height, the face index and the
 * interpolated (renormalised) per-vertex normal. Masks are built from this.
 */
import { AREA_EPS } from './soft.js';

export interface HardRaster {
  width: number;
  height: number;
  /** 0 = background, k + 1 = particle k. */
  instances: Uint16Array;
  /** Height z of the visible surface (0 on the background). */
  depth: Float32Array;
  /** Visible face index, -1 on the background. */
  face: Int32Array;
  /** Interpolated unit normals, channel-major [3, H, W]; (0, 0, 1) on the background. */
  normals: Float32Array;
}

export interface HardRasterOptions {
  width: number;
  height: number;
  cullBackfaces?: boolean;
}

function owns(dx: number, dy: number): boolean {
  return dy < 0 || (dy === 0 && dx > 0);
}

export function hardRasterize(
  verts: ArrayLike<number>,
  faces: Uint32Array,
  faceOwner: ArrayLike<number>,
  opts: HardRasterOptions,
  vertexNormals?: ArrayLike<number>,
): HardRaster {
  const W = opts.width, H = opts.height, HW = W * H;
  const cull = opts.cullBackfaces ?? true;
  const instances = new Uint16Array(HW);
  const depth = new Float32Array(HW);
  const zbuf = new Float64Array(HW).fill(-Infinity);
  const face = new Int32Array(HW).fill(-1);
  const bary = new Float32Array(3 * HW);
  const nf = faces.length / 3;
  for (let f = 0; f < nf; f++) {
    const a = 3 * faces[3 * f], b = 3 * faces[3 * f + 1], c = 3 * faces[3 * f + 2];
    let x0 = verts[a], y0 = verts[a + 1], x1 = verts[b], y1 = verts[b + 1], x2 = verts[c], y2 = verts[c + 1];
    let z0 = verts[a + 2], z1 = verts[b + 2], z2 = verts[c + 2];
    let area2 = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0);
    if (!(Math.abs(area2) >= AREA_EPS)) continue;
    let swapped = false;
    if (area2 < 0) {
      if (cull) continue;
      // flip to positive orientation (swap v1, v2) so that one fill rule applies
      [x1, x2] = [x2, x1];
      [y1, y2] = [y2, y1];
      [z1, z2] = [z2, z1];
      area2 = -area2;
      swapped = true;
    }
    const i0 = Math.max(0, Math.ceil(Math.min(x0, x1, x2) - 0.5)), i1 = Math.min(W - 1, Math.floor(Math.max(x0, x1, x2) - 0.5));
    const j0 = Math.max(0, Math.ceil(Math.min(y0, y1, y2) - 0.5)), j1 = Math.min(H - 1, Math.floor(Math.max(y0, y1, y2) - 0.5));
    const own0 = owns(x2 - x1, y2 - y1), own1 = owns(x0 - x2, y0 - y2), own2 = owns(x1 - x0, y1 - y0);
    const inv = 1 / area2;
    for (let j = j0; j <= j1; j++) {
      const py = j + 0.5;
      for (let i = i0; i <= i1; i++) {
        const px = i + 0.5;
        const u0 = (x1 - px) * (y2 - py) - (y1 - py) * (x2 - px);
        if (u0 < 0 || (u0 === 0 && !own0)) continue;
        const u1 = (x2 - px) * (y0 - py) - (y2 - py) * (x0 - px);
        if (u1 < 0 || (u1 === 0 && !own1)) continue;
        const u2 = (x0 - px) * (y1 - py) - (y0 - py) * (x1 - px);
        if (u2 < 0 || (u2 === 0 && !own2)) continue;
        const w0 = u0 * inv, w1 = u1 * inv, w2 = u2 * inv;
        const z = w0 * z0 + w1 * z1 + w2 * z2;
        const p = j * W + i;
        if (z > zbuf[p]) {
          zbuf[p] = z;
          face[p] = f;
          instances[p] = faceOwner[f] + 1;
          bary[3 * p] = w0;
          bary[3 * p + 1] = swapped ? w2 : w1;
          bary[3 * p + 2] = swapped ? w1 : w2;
        }
      }
    }
  }
  const normals = new Float32Array(3 * HW);
  for (let p = 0; p < HW; p++) {
    if (face[p] < 0) {
      normals[2 * HW + p] = 1;
      continue;
    }
    depth[p] = zbuf[p];
    const f = face[p];
    let nx = 0, ny = 0, nz = 0;
    if (vertexNormals) {
      for (let k = 0; k < 3; k++) {
        const v = 3 * faces[3 * f + k];
        const w = bary[3 * p + k];
        nx += w * vertexNormals[v];
        ny += w * vertexNormals[v + 1];
        nz += w * vertexNormals[v + 2];
      }
    } else {
      const a = 3 * faces[3 * f], b = 3 * faces[3 * f + 1], c = 3 * faces[3 * f + 2];
      const ux = verts[b] - verts[a], uy = verts[b + 1] - verts[a + 1], uz = verts[b + 2] - verts[a + 2];
      const vx = verts[c] - verts[a], vy = verts[c + 1] - verts[a + 1], vz = verts[c + 2] - verts[a + 2];
      nx = uy * vz - uz * vy;
      ny = uz * vx - ux * vz;
      nz = ux * vy - uy * vx;
    }
    const l = Math.hypot(nx, ny, nz);
    if (l > 1e-20) {
      normals[p] = nx / l;
      normals[HW + p] = ny / l;
      normals[2 * HW + p] = nz / l;
    } else normals[2 * HW + p] = 1;
  }
  return { width: W, height: H, instances, depth, face, normals };
}
