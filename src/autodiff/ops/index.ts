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
