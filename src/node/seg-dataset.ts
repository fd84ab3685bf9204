/**
 * Reading segmentation data from disk (Node only).
 *
 * Synthetic / class-mask datasets (what `generate` writes), one of two layouts:
 *   DIR/images/NAME.png  + DIR/masks/NAME.png          (masks: 8-bit, 0 / 1 / 2)
 *   DIR/imagesTr/NAME_0000.png + DIR/labelsTr/NAME.png  (nnU-Net raw layout)
 *
 * Real annotated data (the TiO2-SEM naming): --images DIR --masks DIR with NAME.tif and
 * NAME_m.tif (NAME.png / NAME_m.png also accepted; a mask named exactly NAME.ext too). Masks are
 * binary {0, 255} with one-pixel separation lines: instances = 4-connected components
 * (instancesFromBinaryMask); for training they become 3-class masks with classesFromInstances.
 *
 * `cropBottom` removes that many rows from the bottom of images and masks (the data bar); a real
 * mask that already has the cropped image's size (drawn without the data bar) is kept as it is.
 * Every problem is an InputError naming the file.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { InputError } from '../errors.js';
import { listImageFiles, readImageFile } from './files.js';
import type { GreyImage } from '../io/grey-image.js';
import { instancesFromBinaryMask } from '../particles/labels.js';
import { instancesFromClassMap } from '../particles/instances.js';
import { classesFromInstances, classesFromValues, cropBottomRows, integerMaskValues } from '../seg/classmask.js';
import type { SegSample } from '../seg/train.js';

export interface ReadOptions {
  /** Rows removed from the bottom of every image and mask (default 0). */
  cropBottom?: number;
  /** Only these names (file names without extension); every one must exist. */
  ids?: string[];
}

/** A class-mask sample with its instance map (`readSegInstances`). */
export interface SegSampleWithInstances extends SegSample {
  instances: Int32Array;
}

/** A real annotated image: grey values, its instance map and the derived 3-class mask. */
export interface AnnotatedImage extends SegSample {
  instances: Int32Array;
  instanceCount: number;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function stem(path: string): string {
  return basename(path, extname(path));
}

/** Reads an image with its bottom rows cropped. */
export function readCroppedImage(path: string, cropBottom = 0): GreyImage {
  const img = readImageFile(path);
  // What the decoder changed (pages skipped, colour dropped, NaN set to 0) is said, not hidden.
  for (const w of img.warnings) process.stderr.write(`warning: ${path}: ${w}\n`);
  if (cropBottom <= 0) return img;
  if (cropBottom >= img.height) throw new InputError(path, `--crop-bottom ${cropBottom} removes the whole image (${img.height} rows)`);
  return { ...img, height: img.height - cropBottom, data: cropBottomRows(img.data, img.width, img.height, cropBottom) };
}

function checkSameSize(imgPath: string, img: GreyImage, maskPath: string, mask: GreyImage): void {
  if (img.width !== mask.width || img.height !== mask.height) {
    throw new InputError(maskPath, `is ${mask.width} x ${mask.height} but its image ${imgPath} is ${img.width} x ${img.height}`);
  }
}

function selectIds<T extends { name: string }>(items: T[], ids: string[] | undefined, where: string): T[] {
  if (!ids || ids.length === 0) return items;
  const byName = new Map(items.map((it) => [it.name, it]));
  const missing = ids.filter((id) => !byName.has(id));
  if (missing.length) throw new InputError(where, `no image named ${missing.join(', ')}`);
  return ids.map((id) => byName.get(id)!);
}

/**
 * Reads a class-mask dataset in either layout (see the module comment). Masks holding only
 * {0, 255} are taken as binary instance annotations and converted like real data.
 */
export function readSegDataset(dir: string, opts: ReadOptions = {}): SegSample[] {
  if (!isDir(dir)) throw new InputError(dir, 'dataset directory not found');
  let pairs: { name: string; image: string; mask: string }[];
  if (isDir(join(dir, 'images')) && isDir(join(dir, 'masks'))) {
    pairs = listImageFiles([join(dir, 'images')]).map((image) => {
      const name = stem(image);
      return { name, image, mask: join(dir, 'masks', `${name}.png`) };
    });
  } else if (isDir(join(dir, 'imagesTr')) && isDir(join(dir, 'labelsTr'))) {
    pairs = listImageFiles([join(dir, 'imagesTr')]).map((image) => {
      const s = stem(image);
      if (!/_0000$/.test(s)) throw new InputError(image, 'nnU-Net images must be named NAME_0000.png (one channel)');
      const name = s.slice(0, -5);
      return { name, image, mask: join(dir, 'labelsTr', `${name}.png`) };
    });
  } else {
    throw new InputError(dir, 'expected images/ + masks/ (or nnU-Net imagesTr/ + labelsTr/) inside');
  }
  pairs = selectIds(pairs, opts.ids, dir);
  return pairs.map(({ name, image, mask }) => {
    if (!existsSync(mask)) throw new InputError(mask, `missing: the mask of ${image}`);
    const img = readCroppedImage(image, opts.cropBottom);
    const m = readCroppedImage(mask, opts.cropBottom);
    checkSameSize(image, img, mask, m);
    const values = integerMaskValues(m.data, m.bitDepth);
    let classes: Uint8Array;
    if (values.every((v) => v === 0 || v === 255) && values.some((v) => v === 255)) {
      classes = classesFromInstances(instancesFromBinaryMask(values, m.width, m.height).labels, m.width, m.height);
    } else {
      try {
        classes = classesFromValues(values, mask);
      } catch (e) {
        throw new InputError(mask, (e as Error).message.replace(`${mask}: `, ''));
      }
    }
    return { name, width: img.width, height: img.height, image: img.data, classes };
  });
}

/**
 * The instance maps of a class-mask dataset's samples (as read by readSegDataset from `dir`):
 * the exact ones `generate` writes (DIR/instances/NAME.png or DIR/instancesTr/NAME.png, 16-bit)
 * when present, otherwise the instances of the class mask itself (class-1 pieces grown over the
 * contour, instancesFromClassMap with no minimum size).
 */
export function readSegInstances(dir: string, samples: readonly SegSample[], cropBottom = 0): SegSampleWithInstances[] {
  const instDir = [join(dir, 'instances'), join(dir, 'instancesTr')].find(isDir);
  return samples.map((s) => {
    const f = instDir ? join(instDir, `${s.name}.png`) : null;
    if (f && existsSync(f)) {
      const m = readCroppedImage(f, cropBottom);
      if (m.width !== s.width || m.height !== s.height) throw new InputError(f, `is ${m.width} x ${m.height} but its image is ${s.width} x ${s.height}`);
      return { ...s, instances: Int32Array.from(integerMaskValues(m.data, m.bitDepth)) };
    }
    return { ...s, instances: instancesFromClassMap(s.classes, s.width, s.height, { minArea: 1 }).labels };
  });
}

function findMask(masksDir: string, name: string, files: Set<string>): string | null {
  for (const suffix of ['_m', '']) {
    for (const ext of ['.tif', '.tiff', '.png']) {
      const f = `${name}${suffix}${ext}`;
      if (files.has(f)) return join(masksDir, f);
    }
  }
  return null;
}

/**
 * A real image's mask, cropped like the image: a mask of the full micrograph loses the same
 * bottom rows, a mask drawn on the image without its data bar (already the cropped size, as the
 * TiO2-TSEM masks are) is taken as it is.
 */
function readAnnotationMask(maskPath: string, croppedImage: { width: number; height: number }, cropBottom = 0): GreyImage {
  const m = readCroppedImage(maskPath);
  if (cropBottom > 0 && m.width === croppedImage.width && m.height === croppedImage.height) return m;
  return readCroppedImage(maskPath, cropBottom);
}

/** Reads real annotated images (NAME.tif + NAME_m.tif), see the module comment. */
export function readAnnotatedSet(imagesDir: string, masksDir: string, opts: ReadOptions = {}): AnnotatedImage[] {
  if (!isDir(imagesDir)) throw new InputError(imagesDir, 'image directory not found');
  if (!isDir(masksDir)) throw new InputError(masksDir, 'mask directory not found');
  const maskFiles = new Set(readdirSync(masksDir));
  let images = listImageFiles([imagesDir])
    .map((path) => ({ name: stem(path), path }))
    .filter((it) => !/_m$/.test(it.name));
  images = selectIds(images, opts.ids, imagesDir);
  return images.map(({ name, path }) => {
    const maskPath = findMask(masksDir, name, maskFiles);
    if (!maskPath) throw new InputError(join(masksDir, `${name}_m.tif`), `missing: the mask of ${path}`);
    const img = readCroppedImage(path, opts.cropBottom);
    const m = readAnnotationMask(maskPath, img, opts.cropBottom);
    checkSameSize(path, img, maskPath, m);
    const fg = new Uint8Array(m.data.length);
    for (let i = 0; i < fg.length; i++) fg[i] = m.data[i] > 0.5 ? 1 : 0;
    const inst = instancesFromBinaryMask(fg, m.width, m.height);
    return {
      name,
      width: img.width,
      height: img.height,
      image: img.data,
      instances: inst.labels,
      instanceCount: inst.count,
      classes: classesFromInstances(inst.labels, m.width, m.height),
    };
  });
}
