import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng, Tensor, add, bceWithLogits, crossEntropy, mul, segmentationLoss, slice, softDiceLoss } from '../../src/autodiff/index.js';
import { gradcheck, randomInput } from '../../src/autodiff/gradcheck.js';
import { gradcheckCases } from '../../src/autodiff/ops/seg-loss.js';

/** The loss composed from the separate ops (the reference the fused op must equal). */
function composed(out: Tensor, classes: number, target: Int32Array, weight: number[], pw: Float64Array | null, diceWeight: number, distance: Tensor | null, distanceWeight: number): Tensor {
  const logits = distance ? slice(out, [null, [0, classes]]) : out;
  const ce = pw ? crossEntropy(logits, target, { weight, positionWeight: pw }) : crossEntropy(logits, target, { weight });
  let loss = add(ce, mul(softDiceLoss(logits, target), diceWeight));
  if (distance) loss = add(loss, mul(bceWithLogits(slice(out, [null, [classes, classes + 1]]), distance), distanceWeight));
  return loss;
}

describe('segmentationLoss', () => {
  it('float64 gradients match central finite differences on random inputs (fast-check)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 0, max: gradcheckCases.length - 1 }), (seed, k) => {
        const { f, inputs } = gradcheckCases[k].make(new Rng(seed));
        const r = gradcheck(f, inputs);
        expect(r.failure).toBeUndefined();
        expect(r.ok).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('equals CE + Dice + distance BCE composed from the separate ops (value and gradient, float64)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 2, max: 4 }),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        fc.boolean(),
        (seed, n, c, hw, withDist, withPw) => {
          const rng = new Rng(seed);
          const npx = n * hw * hw;
          const target = Int32Array.from({ length: npx }, () => rng.int(c));
          const weight = Array.from({ length: c }, () => (rng.uniform() < 0.2 ? 0 : 0.1 + 4 * rng.uniform()));
          const pw = withPw ? Float64Array.from({ length: npx }, () => 1 + 5 * rng.uniform()) : null;
          const dist = withDist ? new Tensor(Float64Array.from({ length: npx }, () => rng.uniform()), [n, 1, hw, hw]) : null;
          const diceWeight = rng.range(0, 2);
          const distanceWeight = rng.range(0.1, 2);
          const x = randomInput(rng, [n, c + (withDist ? 1 : 0), hw, hw], -6, 6);
          x.requiresGrad = true;
          const want = composed(x, c, target, weight, pw, diceWeight, dist, distanceWeight);
          want.backward();
          const gWant = x.grad!.data.slice();
          x.grad = null;
          const got = segmentationLoss(x, { classes: c, target, weight, ...(pw ? { positionWeight: pw } : {}), diceWeight, distance: dist, distanceWeight });
          got.loss.backward();
          const tol = (v: number) => 1e-12 * Math.max(1, Math.abs(v));
          if (Number.isNaN(want.item())) {
            expect(got.loss.item()).toBeNaN(); // every pixel weighs 0: 0 / 0, as crossEntropy
            return;
          }
          expect(Math.abs(got.loss.item() - want.item())).toBeLessThan(tol(want.item()));
          for (let i = 0; i < gWant.length; i++) expect(Math.abs(x.grad!.data[i] - gWant[i])).toBeLessThan(tol(gWant[i]));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('reports its parts and stays finite at large logits (shift by the max)', () => {
    const out = new Tensor(Float64Array.from([800, -800, 0, 900, 3, -2]), [1, 3, 1, 2]);
    const target = Int32Array.from([0, 1]);
    const d = new Tensor(Float64Array.from([0.25, 1]), [1, 1, 1, 2]);
    const r = segmentationLoss(out, { classes: 2, target, distance: d, distanceWeight: 2, diceWeight: 0.5 });
    // pixel 0: p = (1, 0), pixel 1: p_1 = sigmoid(900 - 0) ~ 1, both right: CE ~ 0
    expect(r.ce).toBeCloseTo(0, 12);
    // Dice per class: c0: (2*1 + 1) / (1 + 1 + 1) = 1; c1: (2*1 + 1)/(1 + 1 + 1) = 1
    expect(r.dice).toBeCloseTo(0, 12);
    const bce = (z: number, y: number) => Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
    expect(r.dist).toBeCloseTo((bce(3, 0.25) + bce(-2, 1)) / 2, 12);
    expect(r.loss.item()).toBeCloseTo(2 * r.dist!, 12);
  });

  it('names the problem in bad input', () => {
    const out = randomInput(new Rng(1), [1, 3, 2, 2]);
    const t = new Int32Array(4);
    expect(() => segmentationLoss(out, { classes: 3, target: t, distance: new Tensor(new Float64Array(4), [1, 1, 2, 2]) })).toThrow(/3 classes \+ a distance channel do not fit the 3 channels/);
    expect(() => segmentationLoss(out, { classes: 3, target: new Int32Array(3) })).toThrow(/target has 3 entries/);
    expect(() => segmentationLoss(out, { classes: 3, target: Int32Array.from([0, 1, 3, 0]) })).toThrow(/target 3 at position 2 is not a class/);
    expect(() => segmentationLoss(out, { classes: 3, target: t, weight: [1, 2] })).toThrow(/weight has 2 entries/);
    expect(() => segmentationLoss(out, { classes: 3, target: t, positionWeight: [1] })).toThrow(/positionWeight has 1 entries/);
  });
});
