/** Small geometric helpers shared by layouts and meshes. */
import type { Rng } from '../autodiff/rng.js';
import type { Quat } from './mesh/types.js';

/** Uniform random rotation (Shoemake 1992), as a unit quaternion (w, x, y, z). */
export function randomRotation(rng: Rng): Quat {
  const u1 = rng.uniform(), u2 = rng.uniform(), u3 = rng.uniform();
  const a = Math.sqrt(1 - u1), b = Math.sqrt(u1);
  return [a * Math.sin(2 * Math.PI * u2), a * Math.cos(2 * Math.PI * u2), b * Math.sin(2 * Math.PI * u3), b * Math.cos(2 * Math.PI * u3)];
}

/** Rotation by `angle` about the z axis. */
export function zRotation(angle: number): Quat {
  return [Math.cos(angle / 2), 0, 0, Math.sin(angle / 2)];
}
