/** The autodiff engine: tensors, the tape, ops, backends. */

export * from './tensor.js';
export { noGrad, isGradEnabled, record, setGradHook } from './tape.js';
export * as ops from './ops/index.js';
export * from './ops/index.js';
export { Rng, type RngState } from './rng.js';
export {
  registerBackend,
  setBackend,
  getBackend,
  availableBackends,
  runKernel,
  convOutSize,
  type Backend,
  type Kernels,
  type Conv2dGeom,
  type MatmulArgs,
} from './backend.js';
export { sizeOf, broadcastShapes, type Shape } from './shape.js';
export * as nn from './nn/index.js';
export * from './nn/index.js';
export * as optim from './optim/index.js';
export * from './optim/index.js';
export { startProfile, stopProfile, formatProfile, phase, profileStepStart, profileStepEnd, profiling, type ProfileReport, type ProfileRow } from './profile.js';
