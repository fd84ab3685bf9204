/** Auto-selection picks the wasm backend on a GPU-less machine and runKernel goes through it. */
import { afterAll, describe, expect, it } from 'vitest';
import { getBackend, runKernel, setBackend } from '../../src/autodiff/backend.js';
import { autoSelectBackend } from '../../src/autodiff/backends/auto.js';

describe('autoSelectBackend', () => {
  afterAll(async () => {
    getBackend().dispose?.();
    await setBackend('reference');
  });
  it('selects and activates a fast backend; matmul runs through runKernel', async () => {
    const { backend, reason } = await autoSelectBackend();
    expect(['wasm', 'gpujs']).toContain(backend.name);
    expect(reason.length).toBeGreaterThan(0);
    expect(getBackend().name).toBe(backend.name);
    const a = new Float32Array([1, 2, 3, 4]), out = new Float32Array(4);
    runKernel('matmul', { a, b: a, out, batch: 1, m: 2, k: 2, n: 2, transA: false, transB: false, strideA: 0, strideB: 0 });
    expect([...out]).toEqual([7, 10, 15, 22]);
    // float64 falls back to the reference
    const d = new Float64Array([1, 2, 3, 4]), o2 = new Float64Array(4);
    runKernel('matmul', { a: d, b: d, out: o2, batch: 1, m: 2, k: 2, n: 2, transA: false, transB: false, strideA: 0, strideB: 0 });
    expect([...o2]).toEqual([7, 10, 15, 22]);
  });
});
