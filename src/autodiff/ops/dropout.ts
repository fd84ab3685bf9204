/**
 * Dropout with inverted scaling: in training each element is zeroed with probability p and the
 * survivors are scaled by 1 / (1 - p), so the expected value is unchanged and evaluation is the
 * identity. The mask is drawn from the caller's seeded Rng, so a run is reproducible from its seed.
 */
import { record } from '../tape.js';
import { Tensor, allocData } from '../tensor.js';
import { randomInput, type GradcheckCase } from '../gradcheck.js';
import { Rng } from '../rng.js';

export function dropout(x: Tensor, p: number, rng: Rng, training = true): Tensor {
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: p must be in [0, 1], got ${p}`);
  if (!training || p === 0) return x;
  // One uniform draw per element, in order: the mask depends only on the rng state and x.size.
  const scale = p === 1 ? 0 : 1 / (1 - p);
  const mask = allocData(x.dtype, x.size);
  for (let i = 0; i < mask.length; i++) mask[i] = rng.uniform() < p ? 0 : scale;
  const out = allocData(x.dtype, x.size);
  const xd = x.data;
  for (let i = 0; i < out.length; i++) out[i] = xd[i] * mask[i];
  return record('dropout', new Tensor(out, x.shape), [x], (g) => {
    const gx = allocData(g.dtype, g.size);
    for (let i = 0; i < gx.length; i++) gx[i] = g.data[i] * mask[i];
    return [new Tensor(gx, x.shape)];
  });
}

// ---------------------------------------------------------------------------------------------

// Each evaluation of f must see the same mask, so f re-seeds a fresh Rng from a fixed seed.
function dropoutCase(variant: string, shape: number[], p: number): GradcheckCase {
  return {
    op: 'dropout',
    variant,
    make: (rng) => {
      const seed = rng.nextUint32();
      return { f: (x) => dropout(x, p, new Rng(seed), true), inputs: [randomInput(rng, shape)] };
    },
  };
}

export const gradcheckCases: GradcheckCase[] = [
  dropoutCase('p 0.5, [3, 7]', [3, 7], 0.5),
  dropoutCase('p 0.2, [2, 2, 3, 3]', [2, 2, 3, 3], 0.2),
  dropoutCase('p 1 (everything dropped)', [4], 1),
];
