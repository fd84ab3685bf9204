/**
 * Segmentations kept for a later call on the same pixels with the same segmenter and settings:
 * the pipeline's eval stage scores the test images that its predict stage has just segmented,
 * so it takes those results instead of running the U-Net over every image a second time.
 * Opt-in (SegmenterOptions.reuse), for calls inside one process that share a cache object.
 *
 * The key holds everything the result depends on: the segmenter and settings (method, model
 * folder, tile, minimum area, flags, backend) as given by the caller, and a SHA-256 of the
 * image's size and pixel values. A model folder is only reused within a run whose stages do not
 * rewrite it in between. At most `capacity` results are kept (the oldest goes first), which
 * bounds the memory: a 1024 x 704 result holds ~3.6 MB of label and class maps.
 */
import { createHash } from 'node:crypto';

export class SegmentationCache<T> {
  private readonly entries = new Map<string, T>();
  /** Calls answered from the cache, and calls that computed (for logs and tests). */
  hits = 0;
  misses = 0;

  constructor(readonly capacity = 16) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`SegmentationCache: capacity must be a positive integer, got ${capacity}`);
  }

  /** The result stored under (settings, image), or compute() stored under it. */
  get(settings: unknown, width: number, height: number, pixels: Float32Array, compute: () => T): T {
    const found = this.find(settings, width, height, pixels);
    if (found !== undefined) return found;
    const value = compute();
    this.put(settings, width, height, pixels, value);
    return value;
  }

  /** The result stored under (settings, image) (a hit), or undefined. */
  find(settings: unknown, width: number, height: number, pixels: Float32Array): T | undefined {
    const found = this.entries.get(cacheKey(settings, width, height, pixels));
    if (found !== undefined) this.hits++;
    return found;
  }

  /** Stores a result computed for (settings, image) (a miss). */
  put(settings: unknown, width: number, height: number, pixels: Float32Array, value: T): void {
    this.misses++;
    const key = cacheKey(settings, width, height, pixels);
    if (!this.entries.has(key) && this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, value);
  }
}

function cacheKey(settings: unknown, width: number, height: number, pixels: Float32Array): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(settings));
  h.update(`\n${width}x${height}\n`);
  h.update(new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength));
  return h.digest('hex');
}
