/** Batched matrix product with broadcasting over leading (batch) dimensions. */
import { runKernel } from '../backend.js';
import { record } from '../tape.js';
import { Tensor, allocData, resultDType } from '../tensor.js';
import { broadcastShapes, sameShape, shapeStr, sizeOf } from '../shape.js';
import { broadcastTo, sumTo } from './elementwise.js';

/**
 * out[..., m, n] = op(a)[..., m, k] @ op(b)[..., k, n], where op transposes the last two axes
 * when transA / transB is set. Both operands need at least 2 dimensions.
 */
export function matmul(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  if (a.ndim < 2 || b.ndim < 2) throw new Error(`matmul needs 2-d or batched operands, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  const [am, ak] = transA ? [a.shape[a.ndim - 1], a.shape[a.ndim - 2]] : [a.shape[a.ndim - 2], a.shape[a.ndim - 1]];
  const [bk, bn] = transB ? [b.shape[b.ndim - 1], b.shape[b.ndim - 2]] : [b.shape[b.ndim - 2], b.shape[b.ndim - 1]];
  if (ak !== bk) throw new Error(`matmul: inner dimensions differ: ${shapeStr(a.shape)}${transA ? 'ᵀ' : ''} @ ${shapeStr(b.shape)}${transB ? 'ᵀ' : ''}`);
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const batch = broadcastShapes(batchA, batchB);
  const nBatch = sizeOf(batch);
  // Operands whose batch shape is neither the full one nor a single matrix are materialised.
  const fit = (t: Tensor, tb: readonly number[]): [Tensor, number] => {
    if (sizeOf(tb) === 1) return [t, 0];
    if (sameShape(tb, batch)) return [t, t.shape[t.ndim - 2] * t.shape[t.ndim - 1]];
    const full = broadcastTo(t, [...batch, ...t.shape.slice(-2)]);
    return [full, t.shape[t.ndim - 2] * t.shape[t.ndim - 1]];
  };
  const [ae, strideA] = fit(a, batchA);
  const [be, strideB] = fit(b, batchB);
  const out = allocData(resultDType(a, b), nBatch * am * bn);
  runKernel('matmul', { a: ae.data, b: be.data, out, batch: nBatch, m: am, k: ak, n: bn, transA, transB, strideA, strideB });
  const outShape = [...batch, am, bn];
  return record('matmul', new Tensor(out, outShape), [a, b], (g) => [
    // dA = g @ op(B)^T (transposed back if A was used transposed); dB likewise.
    a.requiresGrad ? sumTo(transA ? matmul(b, g, transB, true) : matmul(g, b, false, !transB), a.shape) : null,
    b.requiresGrad ? sumTo(transB ? matmul(g, a, true, transA) : matmul(a, g, !transA, false), b.shape) : null,
  ]);
}

// ---------------------------------------------------------------------------------------------
import { randomInput, type GradcheckCase } from '../gradcheck.js';

export const gradcheckCases: GradcheckCase[] = [
  { op: 'matmul', variant: '2-d [3, 4] @ [4, 5]', make: (rng) => ({ f: (a, b) => matmul(a, b), inputs: [randomInput(rng, [3, 4]), randomInput(rng, [4, 5])] }) },
  { op: 'matmul', variant: 'batched [2, 3, 4] @ broadcast [4, 1]', make: (rng) => ({ f: (a, b) => matmul(a, b), inputs: [randomInput(rng, [2, 3, 4]), randomInput(rng, [4, 1])] }) },
  {
    op: 'matmul',
    variant: 'transA, transB, batch broadcast [2, 1] x [3]',
    make: (rng) => ({ f: (a, b) => matmul(a, b, true, true), inputs: [randomInput(rng, [2, 1, 4, 3]), randomInput(rng, [3, 5, 4])] }),
  },
  { op: 'matmul', variant: 'size-1 inner dimension', make: (rng) => ({ f: (a, b) => matmul(a, b), inputs: [randomInput(rng, [3, 1]), randomInput(rng, [1, 2])] }) },
];
