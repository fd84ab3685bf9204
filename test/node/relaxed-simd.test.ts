import { afterEach, describe, expect, it } from 'vitest';
import { relaxedSimdSetting } from '../../src/node/relaxed-simd.js';
import { backendFlag } from '../../src/cli/backend-flag.js';

// DIFFRENDERGAN_RELAXED_SIMD means the same to the CLI and the library: 1 on, 0 off, unset (or
// anything else): each one's default (CLI on, library off).
describe('DIFFRENDERGAN_RELAXED_SIMD and the --backend flag', () => {
  const before = process.env.DIFFRENDERGAN_RELAXED_SIMD;
  afterEach(() => {
    if (before === undefined) delete process.env.DIFFRENDERGAN_RELAXED_SIMD;
    else process.env.DIFFRENDERGAN_RELAXED_SIMD = before;
  });

  it('1 on, 0 off, unset or other: no opinion', () => {
    process.env.DIFFRENDERGAN_RELAXED_SIMD = '1';
    expect(relaxedSimdSetting()).toBe(true);
    process.env.DIFFRENDERGAN_RELAXED_SIMD = '0';
    expect(relaxedSimdSetting()).toBe(false);
    process.env.DIFFRENDERGAN_RELAXED_SIMD = 'yes';
    expect(relaxedSimdSetting()).toBeUndefined();
    delete process.env.DIFFRENDERGAN_RELAXED_SIMD;
    expect(relaxedSimdSetting()).toBeUndefined();
  });

  it('one flag definition: every backend, or the CPU ones', () => {
    expect(backendFlag().choices).toEqual(['auto', 'wasm', 'wasm-1t', 'gpujs', 'reference']);
    expect(backendFlag({ gpu: false }).choices).toEqual(['auto', 'wasm', 'wasm-1t', 'reference']);
    expect(backendFlag({ default: 'reference' }).default).toBe('reference');
  });
});
