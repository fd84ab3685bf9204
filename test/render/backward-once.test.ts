import { describe, expect, it } from 'vitest';
import { Tensor, parameter, sum, mul } from '../../src/autodiff/index.js';
import { backward } from '../../src/autodiff/tape.js';
import { renderScene } from '../../src/render/index.js';
import { gaussianBlur } from '../../src/render/shade/index.js';
import { defaultParams } from '../../src/render/presets/index.js';
import { tinyScene } from '../../src/render/gradcheck-cases.js';

// The renderer's ops give their work buffers back to the scratch pool in their backward, so a
// graph retained through a render can be backpropagated once only: the second time is an error,
// not a gradient computed from buffers another render may have overwritten.

const twice = /backward called a second time/;

describe('render ops: one backward per forward', () => {
  it('a retained graph through a whole render: the first backward works, the second throws', () => {
    const p = parameter(new Tensor(Float64Array.from(defaultParams('tio2-sem')), [defaultParams('tio2-sem').length]));
    const image = renderScene(tinyScene('tio2-sem'), p, { masks: false }).image;
    const loss = sum(mul(image, image));
    backward(loss, undefined, { retainGraph: true });
    expect(p.grad).not.toBeNull();
    expect(Array.from(p.grad!.data).every(Number.isFinite)).toBe(true);
    expect(() => backward(loss)).toThrow(twice);
  });

  it('gaussianBlur alone', () => {
    const x = parameter(new Tensor(Float64Array.from({ length: 12 * 10 }, (_, i) => Math.sin(i)), [10, 12]));
    const s = parameter(new Tensor(Float64Array.of(1.2), [1]));
    const loss = sum(mul(gaussianBlur(x, s), x));
    backward(loss, undefined, { retainGraph: true });
    expect(() => backward(loss)).toThrow(/gaussianBlur: backward called a second time/);
  });

  it('without retainGraph nothing changes: a fresh render backpropagates again', () => {
    const p = parameter(new Tensor(Float64Array.from(defaultParams('tio2-sem')), [defaultParams('tio2-sem').length]));
    for (let k = 0; k < 2; k++) {
      p.grad = null;
      backward(sum(renderScene(tinyScene('tio2-sem'), p, { masks: false }).image));
      expect(Array.from(p.grad!.data).some((v) => v !== 0)).toBe(true);
    }
  });
});
