/**
 * A long GAN run keeps a flat heap: a child process (node --expose-gc) trains a few hundred tiny
 * steps and reports heapUsed + arrayBuffers after a full gc every 10 steps; what is held after
 * warm-up must not grow with the step count.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { withMemoryChild } from '../../bench/memory.js';

describe('memory', () => {
  it('300 GAN steps (patch 32, 4 filters): live heap + array buffers flat after warm-up', async () => {
    const steps = 300;
    let child = '';
    const out = await withMemoryChild((file) => {
      child = file;
      return execFileSync(process.execPath, ['--expose-gc', file, String(steps), '10', '32', '4'], { encoding: 'utf8', timeout: 240_000 });
    });
    // The bundle's folder (under node_modules/.cache) is gone once the child has run.
    expect(existsSync(dirname(child))).toBe(false);
    const { samples } = JSON.parse(out.trim().split('\n').pop()!) as { samples: { step: number; bytes: number }[] };
    expect(samples).toHaveLength(steps / 10);
    // gc() leaves some garbage-in-flight noise: compare the lowest reading of each window.
    const low = (from: number, to: number): number => Math.min(...samples.filter((s) => s.step > from && s.step <= to).map((s) => s.bytes));
    const early = low(50, 120);
    const late = low(230, 300);
    const growthPerStep = (late - early) / 180;
    // A leak of one 32 x 32 float32 image per step is 4 KiB/step; allow well under that.
    expect(growthPerStep, JSON.stringify(samples)).toBeLessThan(2048);
  }, 300_000);
});
