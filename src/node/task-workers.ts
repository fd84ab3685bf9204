/**
 * Worker threads for independent CPU jobs of the CLI that would run one after the other on the
 * main thread (the particle-radius estimate's images and the agglomerate calibration's settings,
 * src/gan/calibrate.ts; the image-formation calibration's candidates,
 * src/gan/imaging-calibration.ts; the seeds of the chosen epoch's classifier two-sample test,
 * src/gan/c2st.ts; the images of `segment predict`, segment-jobs.ts), so both cores work where the main
 * thread would run them one after the other. Each worker runs this same program's entry script
 * (the CLI bundle, dist/cli.js) with `workerData.taskWorker` set, which serves jobs instead of
 * running a command (src/cli.ts); jobs and results are plain data (structured clones), taken
 * from a shared queue, and put back in the jobs' order, so the result does not depend on the
 * number of workers or on which finished first.
 *
 * The workers form one pool for the whole command: started by the first call that needs them,
 * reused by every later call (a fresh thread compiles the renderer anew, which cost each call
 * seconds of CPU), idle between calls without keeping the process alive, and terminated by
 * closeTaskWorkers (src/cli.ts, when the command ends) or when a job fails. Calls take turns.
 *
 * Off unless the entry script registered itself (enableTaskWorkers, only src/cli.ts does): a
 * library user, the tests and an in-process caller run the jobs on the calling thread.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { estimateParticleRadius, evaluateAgglomerateSetting, interiorParticleRadii, quantileRadius, runAgglomerateJobsHere, type AgglomerateJob, type AgglomerateRunner, type RadiusEstimate } from '../gan/calibrate.js';
import type { Polarity } from '../particles/polarity.js';
import { runC2stSeed, type C2stSeedJob, type C2stSeedResult } from '../gan/c2st.js';
import { evaluateImagingJob, runImagingJobsHere, type ImagingJob, type ImagingRunner } from '../gan/imaging-calibration.js';
import { runSegmentImageJob, type SegmentImageJob } from './segment-jobs.js';
import { getBackend } from '../autodiff/backend.js';
import { activateBackend } from './backends.js';

/**
 * The calling thread's compute backend on one lane per worker: the jobs run side by side
 * instead. The wasm kernels split their output between lanes, so a value does not depend on the
 * lane count; the relaxed-SIMD flag is process-wide, so the worker's wasm module makes the same
 * FMA choice.
 */
async function oneLaneBackend(job: { backend: string }): Promise<void> {
  await activateBackend(job.backend === 'wasm' ? 'wasm-1t' : job.backend, { pool: { threads: 1 }, noGpu: true });
}

/**
 * The job kinds a worker serves: `run` computes one job; `prepare` (once per worker, before its
 * first job) sets up what the job needs on a fresh thread, e.g. the compute backend the calling
 * thread uses.
 */
const TASKS = {
  particleRadii: { run: (job: { image: { width: number; height: number; data: ArrayLike<number> }; polarity: Polarity }) => interiorParticleRadii(job.image, job.polarity) },
  agglomerateSetting: { run: (job: AgglomerateJob) => evaluateAgglomerateSetting(job) },
  imagingCandidate: { run: (job: ImagingJob) => evaluateImagingJob(job) },
  c2stSeed: { run: (job: C2stSeedJob & { backend: string }) => runC2stSeed(job), prepare: oneLaneBackend },
  segmentImage: { run: (job: SegmentImageJob & { backend: string }) => runSegmentImageJob(job), prepare: oneLaneBackend },
};
type TaskName = keyof typeof TASKS;
type TaskJob<T extends TaskName> = Parameters<(typeof TASKS)[T]['run']>[0];
type TaskResult<T extends TaskName> = ReturnType<(typeof TASKS)[T]['run']>;

let entryScript: string | null = null;
let threads = 0;

/** Lets runTasks start workers of `script` (the running program's entry: src/cli.ts's bundle), at most `maxThreads` (default: the cores). */
export function enableTaskWorkers(script: string, maxThreads = availableParallelism()): void {
  entryScript = script;
  threads = maxThreads;
}

/**
 * Workers runTasks uses for `jobs` jobs (0: it runs them on the calling thread): one per core,
 * or with `perCore` > 1 up to that many per core (for a few long jobs of equal size, e.g. 3 seeds
 * on 2 cores: all three side by side finish in 1.5 jobs' time, two workers in 2).
 */
export function taskThreads(jobs = Infinity, perCore = 1): number {
  if (!entryScript || threads <= 1) return 0;
  const n = Math.min(threads * perCore, jobs);
  return n > 1 ? n : 0;
}

/** True inside a worker started by runTasks: the entry script then calls serveTasks instead of its main. */
export function isTaskWorker(): boolean {
  return !isMainThread && (workerData as { taskWorker?: boolean } | null)?.taskWorker === true;
}

/** A worker's loop: one message per job, answered with its result or its error. */
export function serveTasks(): void {
  const port = parentPort!;
  const prepared = new Set<string>();
  port.on('message', async (m: { id: number; task: TaskName; job: never }) => {
    try {
      const t = TASKS[m.task] as { run: (job: never) => unknown; prepare?: (job: never) => Promise<void> };
      // A pooled worker serves every call of the command: prepared once per job kind and backend.
      const key = `${m.task}:${(m.job as { backend?: string }).backend ?? ''}`;
      if (t.prepare && !prepared.has(key)) {
        await t.prepare(m.job);
        prepared.add(key);
      }
      port.postMessage({ id: m.id, result: t.run(m.job) });
    } catch (e) {
      port.postMessage({ id: m.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    }
  });
}

type Reply = { id: number; result?: unknown; error?: string };

/** A pooled worker and the handlers of the call it works for (null while idle). */
interface PooledWorker {
  worker: Worker;
  onReply: ((m: Reply) => void) | null;
  onFail: ((e: Error) => void) | null;
}

let pool: PooledWorker[] = [];
/** The end of the last call's turn: calls run one after the other on the pool. */
let turn: Promise<unknown> = Promise.resolve();

function startWorker(script: string): PooledWorker {
  const w = new Worker(script, { workerData: { taskWorker: true }, argv: [] });
  const pw: PooledWorker = { worker: w, onReply: null, onFail: null };
  w.on('message', (m: Reply) => pw.onReply?.(m));
  w.on('error', (e) => pw.onFail?.(e));
  w.on('exit', (code) => {
    pool = pool.filter((p) => p !== pw);
    pw.onFail?.(new Error(`task worker exited (code ${code}) before its jobs were done`));
  });
  // Idle, a pooled worker does not keep the process alive; a call refs the ones it uses.
  w.unref();
  return pw;
}

/** The pool's workers, oldest first (empty when none is running). */
export function pooledTaskWorkers(): Worker[] {
  return pool.map((p) => p.worker);
}

/** Terminates the pool's workers (the next call that needs workers starts new ones). */
export async function closeTaskWorkers(): Promise<void> {
  const workers = pool;
  pool = [];
  await Promise.all(workers.map((p) => p.worker.terminate()));
}

/**
 * Runs `task` on every job and returns the results in the jobs' order: on taskThreads(jobs,
 * perCore) workers of the pool (each takes the next job when it finishes one), or on this thread
 * when workers are not enabled or would not pay (one job, one core). A job's error rejects the
 * call and terminates the pool (its other jobs may still be running).
 */
export async function runTasks<T extends TaskName>(task: T, jobs: TaskJob<T>[], perCore = 1): Promise<TaskResult<T>[]> {
  const fn = TASKS[task].run as (job: unknown) => TaskResult<T>;
  const n = taskThreads(jobs.length, perCore);
  if (!entryScript || n === 0) return jobs.map(fn);
  const script = entryScript;
  const mine = turn.then(() => runOnPool(script, task, jobs, n));
  turn = mine.catch(() => undefined);
  return mine as Promise<TaskResult<T>[]>;
}

async function runOnPool(script: string, task: TaskName, jobs: unknown[], n: number): Promise<unknown[]> {
  while (pool.length < n) pool.push(startWorker(script));
  const workers = pool.slice(0, n);
  const results = new Array<unknown>(jobs.length);
  let failed = false;
  try {
    await new Promise<void>((ok, fail) => {
      let next = 0;
      let done = 0;
      const stop = (e: Error) => {
        if (failed) return;
        failed = true;
        fail(e);
      };
      const give = (pw: PooledWorker) => {
        if (failed || next >= jobs.length) return;
        const id = next++;
        pw.worker.postMessage({ id, task, job: jobs[id] });
      };
      for (const pw of workers) {
        pw.onReply = (m) => {
          if (m.error !== undefined) return stop(new Error(`${task} worker: ${m.error}`));
          results[m.id] = m.result;
          if (++done === jobs.length) ok();
          else give(pw);
        };
        pw.onFail = stop;
        pw.worker.ref();
      }
      for (const pw of workers) give(pw);
    });
  } finally {
    for (const pw of workers) {
      pw.onReply = null;
      pw.onFail = null;
      pw.worker.unref();
    }
    // Jobs of a failed call may still be running: the next call starts with fresh workers.
    if (failed) await closeTaskWorkers();
  }
  return results;
}

/**
 * The calling thread's compute backend when workers are enabled and can start it too (wasm or
 * reference: a worker runs it on one lane, oneLaneBackend), else null: jobs that compute on the
 * backend then stay on the calling thread.
 */
export function workerComputeBackend(): string | null {
  const backend = getBackend().name;
  return entryScript && ['wasm', 'reference'].includes(backend) ? backend : null;
}

/** The seeds of a classifier two-sample test: on worker threads where workerComputeBackend allows, else here. */
export async function runC2stSeeds(jobs: C2stSeedJob[]): Promise<C2stSeedResult[]> {
  const backend = workerComputeBackend();
  if (!backend) return jobs.map(runC2stSeed);
  // Seeds take about equally long: all of them at once (up to 2 per core) finish soonest.
  return runTasks('c2stSeed', jobs.map((j) => ({ ...j, backend })), 2);
}

/**
 * Images through a U-Net (segment-jobs.ts), one per worker, each worker computing on `backend`
 * (workerComputeBackend's) on one lane. Results in the jobs' order.
 */
export async function segmentImagesOnWorkers(jobs: SegmentImageJob[], backend: string): Promise<ReturnType<typeof runSegmentImageJob>[]> {
  return runTasks('segmentImage', jobs.map((j) => ({ ...j, backend })));
}

/** estimateParticleRadius with one job per image: on worker threads when enabled, else here. */
export async function estimateParticleRadiusOnWorkers(images: { width: number; height: number; data: ArrayLike<number> }[], polarity: Polarity, quantile = 0.5): Promise<RadiusEstimate | null> {
  if (!entryScript) return estimateParticleRadius(images, polarity, quantile);
  return quantileRadius((await runTasks('particleRadii', images.map((image) => ({ image, polarity })))).flat(), quantile);
}

/** The agglomerate calibration's runner: its jobs on worker threads when enabled, else here. */
export function agglomerateRunner(): AgglomerateRunner {
  return entryScript ? (jobs) => runTasks('agglomerateSetting', jobs) : runAgglomerateJobsHere;
}

/** The image-formation calibration's runner: its candidates on worker threads when enabled, else here. */
export function imagingRunner(): ImagingRunner {
  return entryScript ? (jobs) => runTasks('imagingCandidate', jobs) : runImagingJobsHere;
}
