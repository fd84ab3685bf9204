/** Messages between the demo page (app.ts) and its module worker (worker.ts). */
export interface ParamInfo {
  name: string;
  meaning: string;
  min: number;
  max: number;
}

export type ToWorker =
  | { type: 'render'; id: number; preset: string; seed: number; size: number; params: number[] }
  | { type: 'load-image'; name: string; bytes: ArrayBuffer }
  | { type: 'generate-image'; preset: string; seed: number }
  | { type: 'train'; preset: string; seed: number; steps: number }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'ready'; backend: string; presets: string[]; params: ParamInfo[]; defaults: Record<string, number[]>; learned: Record<string, string[]> }
  | { type: 'rendered'; id: number; width: number; height: number; image: Float32Array; classes: Uint8Array; particles: number; ms: number }
  | { type: 'image'; name: string; width: number; height: number; image: Float32Array; patches: number; skipped: number; patch: number }
  | { type: 'step'; step: number; total: number; lossG: number | null; lossD: number | null; dReal: number | null; dFake: number | null; params: Record<string, number>; sample: Float32Array; patch: number; ms: number }
  | { type: 'train-done'; steps: number; stopped: boolean }
  | { type: 'error'; message: string };
