/**
 * Image formation on the raster lanes (src/render/raster/soft.ts, RasterLanes; under Node the
 * worker pool of src/node/raster-pool.ts): the blur, shading and noise ops split their pixel
 * loops into row bands, one per lane. A lane job holds typed arrays that must live in shared
 * memory, so with lanes installed these ops allocate their outputs (and the arrays they hand to
 * the next op) over SharedArrayBuffer; an op whose inputs are not all shared (say a raster made
 * before the lanes were installed) simply runs on the calling thread. Row kernels write every
 * output element with `=` and any reduction as one partial per row, summed by the caller in row
 * order: a failed lane can be redone on the calling thread, and results do not depend on the
 * number of lanes. Pure JS (no Node modules).
 */
import { noteLaneFailure, rasterLanes, type RasterLanes, type LaneKernelName } from '../raster/soft.js';
import { allocData, type DType } from '../../autodiff/tensor.js';

/** Images with fewer pixels than this stay on the calling thread (default of RasterLanes.minBlurPixels). */
export const MIN_LANE_PIXELS = 128 * 128;

/** The installed lanes when an image of HW pixels is worth splitting over them, else null. */
export function imageLanes(HW: number): RasterLanes | null {
  const r = rasterLanes();
  return r && r.lanes > 1 && HW >= (r.minBlurPixels ?? MIN_LANE_PIXELS) ? r : null;
}

/** Whether lanes are installed at all (outputs then go to shared memory, for the next op). */
export function lanesInstalled(): boolean {
  const r = rasterLanes();
  return !!r && r.lanes > 1 && typeof SharedArrayBuffer !== 'undefined';
}

/** True when every argument is null or a typed array over shared memory. */
export function allShared(...arrays: (ArrayBufferView | null | undefined)[]): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  for (const a of arrays) if (a && !(a.buffer instanceof SharedArrayBuffer)) return false;
  return true;
}

/** A copy of `a` over shared memory. */
export function copyShared(a: Float64Array): Float64Array {
  const c = new Float64Array(new SharedArrayBuffer(8 * a.length));
  c.set(a);
  return c;
}

/** A zeroed array of dtype (allocData), over shared memory when `shared` and the host has it. */
export function allocOut(dtype: DType, n: number, shared: boolean): Float32Array | Float64Array {
  if (!shared || typeof SharedArrayBuffer === 'undefined') return allocData(dtype, n);
  return dtype === 'float64' ? new Float64Array(new SharedArrayBuffer(8 * n)) : new Float32Array(new SharedArrayBuffer(4 * n));
}

/**
 * Runs a row kernel over rows [0, H): split into equal bands over the lanes, or as one band on
 * this thread (no lanes, or a lane failed: the kernel recomputes every output of its rows, so
 * redoing all rows here is safe).
 */
export function runBands<J extends { rowLo: number; rowHi: number }>(lanes: RasterLanes | null, kernel: LaneKernelName, job: J, H: number, fn: (j: J) => number | void): void {
  if (lanes) {
    const n = Math.min(lanes.lanes, H);
    const jobs: J[] = [];
    for (let b = 0; b < n; b++) jobs.push({ ...job, rowLo: Math.floor((H * b) / n), rowHi: Math.floor((H * (b + 1)) / n) });
    try {
      lanes.run(kernel, jobs);
      return;
    } catch (e) {
      noteLaneFailure(e); // and this thread redoes every row
    }
  }
  fn({ ...job, rowLo: 0, rowHi: H });
}

/** sums[0..m) = sum over rows y of part[y m + j], in row order. */
export function sumRows(part: Float64Array, H: number, m: number): Float64Array {
  const s = new Float64Array(m);
  for (let y = 0; y < H; y++) for (let j = 0; j < m; j++) s[j] += part[y * m + j];
  return s;
}
