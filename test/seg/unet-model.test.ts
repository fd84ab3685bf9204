import { describe, expect, it } from 'vitest';
import { Rng, Tensor, randn, mul, sum } from '../../src/autodiff/index.js';
import { UNet, validateUNetConfig, DEFAULT_UNET } from '../../src/seg/unet.js';

describe('U-Net', () => {
  it.each([
    [2, 1, 13, 11],
    [2, 2, 9, 16],
    [3, 1, 8, 21],
    [1, 1, 5, 3],
  ])('depth %i keeps any input size (batch %i, %i x %i)', (depth, n, h, w) => {
    const rng = new Rng(1);
    const net = new UNet({ depth, base: 2 }, rng);
    const y = net.forward(randn([n, 1, h, w], rng));
    expect(y.shape).toEqual([n, 3, h, w]);
    expect(Array.from(y.data).every(Number.isFinite)).toBe(true);
  });

  it.each(['batch', 'instance'] as const)('gradients reach every parameter (%s norm)', (norm) => {
    const rng = new Rng(2);
    const net = new UNet({ depth: 2, base: 3, norm }, rng);
    const x = randn([2, 1, 12, 10], rng);
    const y = net.forward(x);
    const seed = randn(y.shape, rng);
    sum(mul(y, seed)).backward();
    const named = net.namedParameters();
    expect(named.length).toBeGreaterThan(10);
    for (const [name, p] of named) {
      expect(p.grad, name).not.toBeNull();
      expect(Array.from(p.grad!.data).some((v) => v !== 0), name).toBe(true);
    }
  });

  it('has the documented defaults, names and parameter count', () => {
    const net = new UNet({}, new Rng(0));
    expect(net.config).toEqual(DEFAULT_UNET);
    expect(DEFAULT_UNET).toEqual({ inChannels: 1, classes: 3, depth: 4, base: 8, norm: 'batch' });
    expect(net.parameterCount()).toBe(486427);
    const keys = Object.keys(net.stateDict());
    expect(keys).toContain('enc0.conv1.weight');
    expect(keys).toContain('enc4.norm2.running_var');
    expect(keys).toContain('up0.weight');
    expect(keys).toContain('head.bias');
  });

  it('rejects bad configs and inputs', () => {
    expect(() => validateUNetConfig({ ...DEFAULT_UNET, depth: 0 })).toThrow(/depth/);
    expect(() => validateUNetConfig({ ...DEFAULT_UNET, norm: 'group' as never })).toThrow(/norm/);
    const net = new UNet({ depth: 3, base: 2 }, new Rng(0));
    expect(() => net.forward(new Tensor(new Float32Array(2 * 16), [1, 2, 4, 4]))).toThrow(/input must be/);
    expect(() => net.forward(new Tensor(new Float32Array(9), [1, 1, 3, 3]))).toThrow(/too small/);
  });
});
