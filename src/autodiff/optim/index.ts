/** Optimisers: SGD and Adam with serialisable state. */
export * from './optimizer.js';
