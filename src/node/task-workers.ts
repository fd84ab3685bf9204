/**
 * Worker threads for independent, single-threaded CPU jobs of the CLI's setup (today: the
 * agglomerate calibration's settings, src/gan/calibrate.ts), so both cores work where the main
 * thread would run them one after the other. Each worker runs this same program's entry script
 * (the CLI bundle, dist/cli.js) with `workerData.taskWorker` set, which serves jobs instead of
 * running a command (src/cli.ts); jobs and results are plain data (structured clones), taken
 * from a shared queue, and put back in the jobs' order, so the result does not depend on the
 * number of workers or on which finished first.
 *
 * Off unless the entry script registered itself (enableTaskWorkers, only src/cli.ts does): a
 * library user, the tests and an in-process caller run the jobs on the calling thread.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { evaluateAgglomerateSetting, runAgglomerateJobsHere, type AgglomerateJob, type AgglomerateRunner } from '../gan/calibrate.js';

/** The job kinds a worker serves. */
const TASKS = {
  agglomerateSetting: (job: AgglomerateJob) => evaluateAgglomerateSetting(job),
};
type TaskName = keyof typeof TASKS;

let entryScript: string | null = null;
let threads = 0;

/** Lets runTasks start workers of `script` (the running program's entry: src/cli.ts's bundle), at most `maxThreads` (default: the cores). */
export function enableTaskWorkers(script: string, maxThreads = availableParallelism()): void {
  entryScript = script;
  threads = maxThreads;
}

/** Workers runTasks starts for `jobs` jobs (0: it runs them on the calling thread). */
export function taskThreads(jobs = Infinity): number {
  const n = Math.min(threads, jobs);
  return entryScript && n > 1 ? n : 0;
}

/** True inside a worker started by runTasks: the entry script then calls serveTasks instead of its main. */
export function isTaskWorker(): boolean {
  return !isMainThread && (workerData as { taskWorker?: boolean } | null)?.taskWorker === true;
}

/** A worker's loop: one message per job, answered with its result or its error. */
export function serveTasks(): void {
  const port = parentPort!;
  port.on('message', (m: { id: number; task: TaskName; job: never }) => {
    try {
      port.postMessage({ id: m.id, result: TASKS[m.task](m.job) });
    } catch (e) {
      port.postMessage({ id: m.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    }
  });
}

/**
 * Runs `task` on every job and returns the results in the jobs' order: on up to `threads`
 * workers (each takes the next job when it finishes one), or on this thread when workers are
 * not enabled or would not pay (one job, one core).
 */
export async function runTasks<T extends TaskName>(task: T, jobs: Parameters<(typeof TASKS)[T]>[0][]): Promise<ReturnType<(typeof TASKS)[T]>[]> {
  type R = ReturnType<(typeof TASKS)[T]>;
  const fn = TASKS[task] as (job: unknown) => R;
  const n = taskThreads(jobs.length);
  if (!entryScript || n === 0) return jobs.map(fn);
  const script = entryScript;
  const results = new Array<R>(jobs.length);
  let next = 0;
  let failed = false;
  const workers: Worker[] = [];
  try {
    await Promise.all(
      Array.from({ length: n }, () =>
        new Promise<void>((ok, fail) => {
          const w = new Worker(script, { workerData: { taskWorker: true }, argv: [] });
          workers.push(w);
          let done = false;
          const give = () => {
            if (failed || next >= jobs.length) {
              done = true;
              ok();
              return;
            }
            const id = next++;
            w.postMessage({ id, task, job: jobs[id] });
          };
          w.on('message', (m: { id: number; result?: R; error?: string }) => {
            if (m.error !== undefined) {
              failed = true;
              done = true;
              fail(new Error(`${task} worker: ${m.error}`));
              return;
            }
            results[m.id] = m.result as R;
            give();
          });
          w.on('error', (e) => {
            failed = true;
            done = true;
            fail(e);
          });
          w.on('exit', (code) => {
            if (!done) {
              failed = true;
              fail(new Error(`${task} worker exited (code ${code}) before its jobs were done`));
            }
          });
          give();
        }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}

/** The agglomerate calibration's runner: its jobs on worker threads when enabled, else here. */
export function agglomerateRunner(): AgglomerateRunner {
  return entryScript ? (jobs) => runTasks('agglomerateSetting', jobs) : runAgglomerateJobsHere;
}
