/** Every registered gradient check: the engine's ops plus modules registered from outside. */
import type { GradcheckCase } from './gradcheck.js';
import { gradcheckCases as opCases } from './ops/index.js';

const extraModules = new Map<string, GradcheckCase[]>();

/** Lets differentiable code outside the ops folder (the renderer's ops...) add its cases. */
export function registerGradcheckCases(module: string, cases: GradcheckCase[]): void {
  extraModules.set(module, cases);
}

export function allGradcheckCases(): GradcheckCase[] {
  return [...opCases, ...[...extraModules.values()].flat()];
}
