/**
 * The thread lanes of the render core: one home for the interface a lane runner implements, the
 * installed runner, and how a stage splits its work over it. The rasterizer splits its face
 * bands (raster/soft.ts); the blur, shading and noise ops split their pixel loops into row bands.
 * The runner is injected (the core imports nothing from Node; under Node it is the worker pool of
 * src/node/raster-pool.ts) and runs kernels by name from the registry (kernels.ts).
 *
 * A lane job holds typed arrays that must live in shared memory (shared.ts), so with lanes
 * installed the ops allocate their outputs (and the arrays they hand to the next op) over
 * SharedArrayBuffer; an op whose inputs are not all shared (say a raster made before the lanes
 * were installed) simply runs on the calling thread. Row kernels write every output element
 * with `=` and any reduction as one partial per row, summed by the caller in row order: a
 * failed lane can be redone on the calling thread, and results do not depend on the number of
 * lanes. Pure JS (no Node modules).
 */
import { sharedMemoryAvailable } from './shared.js';

/**
 * Runs jobs on several threads. `run` calls the registered kernel (kernels.ts) of that name on
 * every job, job 0 on the calling thread, concurrently, and returns the results in order; it
 * throws (never hangs) when a lane fails. Every typed array in a job lives in shared memory.
 */
export interface RasterLanes {
  readonly lanes: number;
  /** Renders with fewer surviving faces or pixels stay on the calling thread (default 256, 4096). */
  readonly minFaces?: number;
  readonly minPixels?: number;
  /** Image-formation ops (blur, shading, noise) on smaller images stay on the calling thread (default 128 x 128). */
  readonly minBlurPixels?: number;
  run(kernel: LaneKernelName, jobs: readonly object[]): number[];
}

/** A kernel's name in the registry (kernels.ts LANE_KERNELS). */
export type LaneKernelName = string;

let lanesRunner: RasterLanes | null = null;

/** Installs (or with null removes) the thread pool the render stages split their work over. */
export function setRasterLanes(r: RasterLanes | null): void {
  lanesRunner = r;
}
export function rasterLanes(): RasterLanes | null {
  return lanesRunner;
}

let laneFailureCount = 0;

/**
 * Records a lane failure that the caller recovers from by redoing the bands on its own thread:
 * the results stay right, so this only warns (once per process, with the first error) and
 * counts, so that a pool that fails every time shows up instead of silently costing speed.
 */
export function noteLaneFailure(error: unknown): void {
  if (laneFailureCount++ === 0) {
    console.warn(`diffrendergan: a raster lane failed (${error instanceof Error ? error.message : String(error)}); its rows are redone on the calling thread (further failures are counted, not printed)`);
  }
}

/** Lane failures recovered from so far in this process (see noteLaneFailure). */
export function laneFailures(): number {
  return laneFailureCount;
}

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
  return !!r && r.lanes > 1 && sharedMemoryAvailable();
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
