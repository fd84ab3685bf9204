/**
 * Between annotation formats and the segmenter's 3-class masks (0 background, 1 particle,
 * 2 contour). Pure: no Node modules.
 */
import { UserError } from '../errors.js';
import { checkShape } from '../particles/labels.js';
import { CLASS_BACKGROUND, CLASS_CONTOUR, CLASS_PARTICLE } from '../particles/instances.js';

/**
 * A 3-class mask from an instance map, for training a segmenter on real annotations:
 * - every instance pixel with a 4-neighbour outside the instance (another instance or
 *   background; the image border does not count) is contour: a one-pixel ring per instance;
 * - a background pixel whose 8-neighbourhood touches two or more different instances (the
 *   one-pixel separation lines of masks like the TiO2-SEM ones) is contour too, so touching
 *   particles are divided by contour, as in the synthetic masks;
 * - the remaining instance pixels are particle.
 */
export function classesFromInstances(labels: ArrayLike<number>, width: number, height: number): Uint8Array {
  checkShape(labels.length, width, height, 'instance map');
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const l = labels[i];
      if (l !== 0) {
        const edge =
          (x > 0 && labels[i - 1] !== l) ||
          (x < width - 1 && labels[i + 1] !== l) ||
          (y > 0 && labels[i - width] !== l) ||
          (y < height - 1 && labels[i + width] !== l);
        out[i] = edge ? CLASS_CONTOUR : CLASS_PARTICLE;
        continue;
      }
      let first = 0;
      let between = false;
      for (let dy = -1; dy <= 1 && !between; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          const m = labels[yy * width + xx];
          if (m === 0) continue;
          if (first === 0) first = m;
          else if (m !== first) {
            between = true;
            break;
          }
        }
      }
      out[i] = between ? CLASS_CONTOUR : CLASS_BACKGROUND;
    }
  }
  return out;
}

/**
 * Integer mask values from decoded [0, 1] samples of a `bitDepth`-bit image (value * (2^bits - 1),
 * rounded). Palette / float images count as 8-bit.
 */
export function integerMaskValues(data: Float32Array, bitDepth: number): Uint16Array {
  const scale = bitDepth === 16 ? 65535 : bitDepth > 0 && bitDepth < 8 ? 2 ** bitDepth - 1 : 255;
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.round(data[i] * scale);
  return out;
}

/**
 * A class mask from stored values: {0, 1, 2} are the classes as they are. Anything else is an
 * error naming `what` (binary {0, 255} masks are real annotations: read them with
 * classesFromInstances(instancesFromBinaryMask(...))).
 */
export function classesFromValues(values: ArrayLike<number>, what: string): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== 0 && v !== 1 && v !== 2) {
      throw new UserError(`${what}: pixel ${i} has value ${v}; a class mask holds 0 (background), 1 (particle) and 2 (contour)`);
    }
    out[i] = v;
  }
  return out;
}

/** The top `height - px` rows of a row-major image (drops a microscope data bar at the bottom). */
export function cropBottomRows<T extends Float32Array | Uint8Array | Uint16Array | Int32Array>(data: T, width: number, height: number, px: number): T {
  if (px <= 0) return data;
  if (px >= height) throw new UserError(`--crop-bottom ${px} removes the whole image (${height} rows)`);
  return data.slice(0, width * (height - px)) as T;
}

/**
 * Marks the pixels where particles touch as contour, in place: every particle pixel (class 1)
 * within Euclidean distance `radius` px of a pixel of another instance becomes class 2. The exact
 * instance maps of synthetic data (and the instances of real annotations) say where two
 * particles meet; a band of contour there, wider than the one-pixel outline, gives the network a
 * separation it can learn to see between touching particles, so the cores that seed the
 * watershed come apart (the "touching border" class of DSB-2018 nucleus segmenters). Background
 * and the pixels of the outline stay as they are; radius 0 changes nothing.
 */
export function addTouchingBand(classes: Uint8Array, instances: ArrayLike<number>, width: number, height: number, radius: number): Uint8Array {
  checkShape(classes.length, width, height, 'class mask');
  checkShape(instances.length, width, height, 'instance map');
  if (!(radius >= 0) || radius > 16) throw new UserError(`touching band: radius must be 0-16 px (got ${radius})`);
  const r = Math.floor(radius);
  const offsets: number[] = [];
  for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) if ((dx || dy) && dx * dx + dy * dy <= radius * radius) offsets.push(dx, dy);
  const marked: number[] = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const l = instances[i];
      if (!l || classes[i] !== CLASS_PARTICLE) continue;
      for (let k = 0; k < offsets.length; k += 2) {
        const xx = x + offsets[k];
        const yy = y + offsets[k + 1];
        if (xx < 0 || yy < 0 || xx >= width || yy >= height) continue;
        const m = instances[yy * width + xx];
        if (m && m !== l) {
          marked.push(i);
          break;
        }
      }
    }
  }
  for (const i of marked) classes[i] = CLASS_CONTOUR;
  return classes;
}
