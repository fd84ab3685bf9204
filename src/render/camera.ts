/**
 * Cameras look down -z onto the stage plane z = 0. Scene units are pixels of the stage: with
 * the orthographic camera (default, as in SEM), a point (x, y, z) lands on pixel column x and
 * row y (y grows down the image; pixel centres sit at integer + 0.5), independent of its height
 * z. The perspective camera (fov in degrees across the image width) sits above the image centre
 * at the height where the stage plane fills the image exactly, so z = 0 points also land on
 * (x, y) and taller points move away from the centre.
 * Projected vertices are (px, py, depthKey) with depthKey = height z (larger = nearer the camera).
 */
export type CameraKind = 'orthographic' | 'perspective';

export interface Camera {
  kind: CameraKind;
  width: number;
  height: number;
  /** Full horizontal field of view in degrees (perspective only). */
  fovDeg: number;
}

export function defaultCamera(width = 256, height = 256): Camera {
  return { kind: 'orthographic', width, height, fovDeg: 40 };
}

/** Height of the perspective camera above the stage. */
export function cameraDistance(cam: Camera): number {
  return cam.width / 2 / Math.tan(((cam.fovDeg * Math.PI) / 180) / 2);
}

/** Projects xyz triples to (px, py, z) triples, float64. */
export function project(cam: Camera, positions: ArrayLike<number>): Float64Array {
  const n = positions.length;
  const out = new Float64Array(n);
  if (cam.kind === 'orthographic') {
    for (let i = 0; i < n; i++) out[i] = positions[i];
    return out;
  }
  const D = cameraDistance(cam);
  const cx = cam.width / 2, cy = cam.height / 2;
  for (let i = 0; i < n; i += 3) {
    const z = positions[i + 2];
    // guard: points at or above the camera are pushed just below it
    const s = D / Math.max(D - z, 1e-3);
    out[i] = cx + (positions[i] - cx) * s;
    out[i + 1] = cy + (positions[i + 1] - cy) * s;
    out[i + 2] = z;
  }
  return out;
}
