/** Helpers for the U-Net tests: synthetic disc images with 3-class masks. */
import { Rng } from '../../src/autodiff/index.js';
import { classesFromInstances } from '../../src/seg/classmask.js';
import type { SegSample } from '../../src/seg/train.js';

/** A size x size image of 1-3 bright noisy discs on a dark background, with instances and classes. */
export function discSample(name: string, size: number, rng: Rng): SegSample & { instances: Int32Array } {
  const instances = new Int32Array(size * size);
  const image = new Float32Array(size * size);
  const n = 1 + rng.int(3);
  for (let k = 1; k <= n; k++) {
    const r = rng.range(size * 0.12, size * 0.22);
    const cx = rng.range(r, size - r);
    const cy = rng.range(r, size - r);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const dx = x + 0.5 - cx;
        const dy = y + 0.5 - cy;
        if (dx * dx + dy * dy <= r * r && instances[y * size + x] === 0) instances[y * size + x] = k;
      }
    }
  }
  for (let i = 0; i < image.length; i++) image[i] = Math.min(1, Math.max(0, (instances[i] ? 0.75 : 0.25) + rng.normal(0, 0.05)));
  return { name, width: size, height: size, image, instances, classes: classesFromInstances(instances, size, size) };
}

export function discSet(prefix: string, count: number, size: number, seed: number): (SegSample & { instances: Int32Array })[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, i) => discSample(`${prefix}${String(i).padStart(3, '0')}`, size, rng));
}
