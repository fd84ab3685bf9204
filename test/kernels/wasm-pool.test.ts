/** Worker-pool failure handling: errors in workers surface on the main thread, never hang. */
import { afterAll, describe, expect, it } from 'vitest';
import { WasmBackend } from '../../src/autodiff/backends/wasm/backend.js';
import { WasmWorkerPool } from '../../src/node/wasm-pool.js';
import { createNodeWasmBackend } from '../../src/node/wasm-backend.js';

describe('wasm worker pool', () => {
  const be = new WasmBackend({ name: 'pool-test' });
  const ctx = be.context();
  const pool = new WasmWorkerPool(ctx, { threads: 3, timeoutMs: 20_000 });
  afterAll(() => pool.dispose());

  it('runs tasks on all lanes', () => {
    pool.run('nop', [4096, 4096, 4096, 4096, 4096]);
  });

  it('a trap inside a worker surfaces as an Error naming the worker, and the pool recovers', () => {
    expect(() => pool.run('fail', [4096, 4096, 4096])).toThrow(/wasm worker \d failed in fail: .*unreachable/);
    pool.run('nop', [4096, 4096, 4096]);
  });

  it('a worker thread that exits surfaces as an Error', () => {
    expect(() => pool.killWorkerForTest(1)).toThrow(/exited/);
    pool.run('nop', [4096, 4096, 4096]);
  });

  it('a hung worker surfaces as a timeout Error, not a hang', () => {
    const short = new WasmWorkerPool(ctx, { threads: 2, timeoutMs: 300 });
    try {
      const t0 = Date.now();
      expect(() => short.runOnWorkersForTest('spin', [4096])).toThrow(/no answer after 300 ms/);
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      short.dispose();
    }
  });

  it('a threaded backend works, then dispose() ends its workers', async () => {
    const mt = createNodeWasmBackend({ parallelMinFlops: 0, pool: { threads: 2 } });
    await mt.init();
    expect(mt.describe()).toMatch(/2 lanes/);
    const a = new Float32Array(64).fill(1), out = new Float32Array(64);
    expect(mt.kernels.matmul!({ a, b: a, out, batch: 1, m: 8, k: 8, n: 8, transA: false, transB: false, strideA: 0, strideB: 0 })).toBe(true);
    expect([...out].every((v) => v === 8)).toBe(true);
    mt.dispose();
  });
});
