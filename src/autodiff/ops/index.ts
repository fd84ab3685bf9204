/** Every differentiable op, in one namespace. */
import type { GradcheckCase } from '../gradcheck.js';
import { gradcheckCases as elementwiseCases } from './elementwise.js';
import { gradcheckCases as reduceCases } from './reduce.js';
import { gradcheckCases as shapeCases } from './shape.js';
import { gradcheckCases as matmulCases } from './matmul.js';
import { gradcheckCases as convCases } from './conv.js';
import { gradcheckCases as poolCases } from './pool.js';
import { gradcheckCases as upsampleCases } from './upsample.js';
import { gradcheckCases as normCases } from './norm.js';
import { gradcheckCases as dropoutCases } from './dropout.js';
import { gradcheckCases as softmaxCases } from './softmax.js';
import { gradcheckCases as lossCases } from './loss.js';
import { gradcheckCases as segLossCases } from './seg-loss.js';

export * from './elementwise.js';
export * from './reduce.js';
export * from './shape.js';
export * from './matmul.js';
export * from './conv.js';
export * from './pool.js';
export * from './upsample.js';
export * from './norm.js';
export * from './dropout.js';
export * from './softmax.js';
export * from './loss.js';
export * from './seg-loss.js';

/**
 * The gradient checks of every op in this folder. Each op module exports its own
 * `gradcheckCases` next to its ops; this explicit export gathers them (and shadows the
 * per-module names). A new op module adds one import and one spread here.
 */
export const gradcheckCases: GradcheckCase[] = [
  ...elementwiseCases,
  ...reduceCases,
  ...shapeCases,
  ...matmulCases,
  ...convCases,
  ...poolCases,
  ...upsampleCases,
  ...normCases,
  ...dropoutCases,
  ...softmaxCases,
  ...lossCases,
  ...segLossCases,
];
