/** Every differentiable op, in one namespace. */
import type { GradcheckCase } from '../gradcheck.js';
import { gradcheckCases as elementwiseCases } from './elementwise.js';
import { gradcheckCases as reduceCases } from './reduce.js';
import { gradcheckCases as shapeCases } from './shape.js';
import { gradcheckCases as matmulCases } from './matmul.js';

export * from './elementwise.js';
export * from './reduce.js';
export * from './shape.js';
export * from './matmul.js';

/**
 * The gradient checks of every op in this folder. Each op module exports its own
 * `gradcheckCases`; this explicit export gathers them (and shadows the per-module names).
 */
export const gradcheckCases: GradcheckCase[] = [...elementwiseCases, ...reduceCases, ...shapeCases, ...matmulCases];
export * from './conv.js';
export * from './pool.js';
export * from './upsample.js';
export * from './norm.js';
export * from './dropout.js';
export * from './softmax.js';
export * from './loss.js';
export { gradcheckCases as convGradcheckCases } from './conv.js';
export { gradcheckCases as poolGradcheckCases } from './pool.js';
export { gradcheckCases as upsampleGradcheckCases } from './upsample.js';
export { gradcheckCases as normGradcheckCases } from './norm.js';
export { gradcheckCases as dropoutGradcheckCases } from './dropout.js';
export { gradcheckCases as softmaxGradcheckCases } from './softmax.js';
export { gradcheckCases as lossGradcheckCases } from './loss.js';
