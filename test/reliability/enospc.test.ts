/**
 * A disk that fills up while a checkpoint is written (ENOSPC from fs.writeSync, simulated by a
 * mock of node:fs in this process): a clean UserError (exit code 5) naming the file and "no space
 * left", no temp file left behind, the half-written epoch not counted, the previous one intact.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const fail = { match: null as RegExp | null, after: 0 };
const fdPaths = new Map<number, string>();

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const wrapped = {
    ...fs,
    openSync: (p: import('node:fs').PathLike, ...rest: unknown[]) => {
      const fd = (fs.openSync as (...a: unknown[]) => number)(p, ...rest);
      fdPaths.set(fd, String(p));
      return fd;
    },
    writeSync: (fd: number, ...rest: unknown[]) => {
      const p = fdPaths.get(fd) ?? '';
      if (fail.match && fail.match.test(p)) {
        if (fail.after-- <= 0) {
          const e = new Error(`ENOSPC: no space left on device, write`) as NodeJS.ErrnoException;
          e.code = 'ENOSPC';
          throw e;
        }
      }
      return (fs.writeSync as (...a: unknown[]) => number)(fd, ...rest);
    },
  };
  return { ...wrapped, default: wrapped };
});

const ckpt = await import('../../src/node/gan-checkpoint.js');
const { Tensor } = await import('../../src/autodiff/tensor.js');
const { ExitCode, UserError } = await import('../../src/errors.js');
const { removeTempDirs, tempDir } = await import('./helpers.js');

afterEach(() => {
  fail.match = null;
  removeTempDirs();
});

function data(v: number) {
  return {
    fcn: { w: new Tensor(Float32Array.from({ length: 64 }, (_, i) => i * v), [8, 8]) },
    disc: { w: new Tensor(Float32Array.from({ length: 16 }, (_, i) => -i * v), [16]) },
    state: { step: v, moments: Float32Array.from({ length: 64 }, () => v) },
  };
}

describe('ENOSPC while saving a checkpoint', () => {
  for (const target of ['fcn.safetensors', 'disc.safetensors', 'optim.safetensors', 'optim.json', 'done']) {
    it(`fails cleanly when ${target} cannot be written`, () => {
      const run = tempDir('enospc');
      fail.match = null;
      ckpt.saveCheckpoint(run, 1, data(1));
      const e1 = join(run, 'epoch-0001');
      const before = Object.fromEntries(readdirSync(e1).map((f) => [f, readFileSync(join(e1, f)).toString('base64')]));
      fail.match = new RegExp(`\\.${target.replace('.', '\\.')}\\.\\d+\\..*\\.tmp$`);
      fail.after = 0;
      let err: unknown;
      try {
        ckpt.saveCheckpoint(run, 2, data(2));
      } catch (e) {
        err = e;
      }
      fail.match = null;
      expect(err).toBeInstanceOf(UserError);
      expect((err as InstanceType<typeof UserError>).exitCode).toBe(ExitCode.badOutput);
      expect((err as Error).message).toMatch(new RegExp(`epoch-0002/${target.replace('.', '\\.')}: cannot write: no space left on the device`));
      // No temp file left, epoch 2 not counted, epoch 1 as it was.
      expect(readdirSync(join(run, 'epoch-0002')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      expect(ckpt.listCheckpoints(run)).toEqual([1]);
      expect(ckpt.latestCheckpoint(run)).toBe(1);
      expect(Object.fromEntries(readdirSync(e1).map((f) => [f, readFileSync(join(e1, f)).toString('base64')]))).toEqual(before);
      expect(Array.from(ckpt.loadCheckpoint(run, 1).fcn.w.data)).toEqual(Array.from(data(1).fcn.w.data));
    });
  }

  it('re-saving an existing epoch that runs out of space leaves it uncounted, not mixed', () => {
    const run = tempDir('enospc-resave');
    ckpt.saveCheckpoint(run, 1, data(1));
    ckpt.saveCheckpoint(run, 2, data(2));
    fail.match = /\.disc\.safetensors\.\d+\..*\.tmp$/;
    fail.after = 0;
    expect(() => ckpt.saveCheckpoint(run, 2, data(3))).toThrow(/no space left/);
    fail.match = null;
    // fcn of epoch 2 was already replaced by data(3) while disc still holds data(2): the marker
    // was removed first, so the mixed folder does not count.
    expect(ckpt.listCheckpoints(run)).toEqual([1]);
  });

  it('metrics.jsonl: ENOSPC on append is a UserError with exit code 5', () => {
    const run = tempDir('enospc-metrics');
    ckpt.appendMetrics(run, { type: 'step', step: 1 });
    fail.match = /metrics\.jsonl$/;
    fail.after = 0;
    let err: unknown;
    try {
      ckpt.appendMetrics(run, { type: 'step', step: 2 });
    } catch (e) {
      err = e;
    }
    fail.match = null;
    expect((err as InstanceType<typeof UserError>).exitCode).toBe(ExitCode.badOutput);
    expect((err as Error).message).toMatch(/metrics\.jsonl: cannot append \(ENOSPC/);
    expect(ckpt.readMetrics(run)).toEqual([{ type: 'step', step: 1 }]);
  });
});
