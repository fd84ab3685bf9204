/**
 * Elementwise ops with NumPy broadcasting. Each op: forward loop, then its vector-Jacobian
 * product right below it. Gradients of broadcast operands are summed back to their shape.
 */
import { record } from '../tape.js';
import { Tensor, allocData, resultDType, full, type DType, type Data } from '../tensor.js';
import { broadcastShapes, forEachBroadcast, sameShape, sizeOf, normalizeAxes, type Shape } from '../shape.js';

export type TensorLike = Tensor | number;

function asTensor(x: TensorLike, dtype: DType): Tensor {
  return typeof x === 'number' ? full([], x, dtype) : x;
}

function pairOf(a: TensorLike, b: TensorLike): [Tensor, Tensor] {
  const dtype =
    typeof a === 'number' ? (typeof b === 'number' ? 'float32' : b.dtype) : typeof b === 'number' ? a.dtype : resultDType(a, b);
  return [asTensor(a, dtype), asTensor(b, dtype)];
}

// ---------------------------------------------------------------------------------------------
// Helpers: elementwise maps without tape, and summing a broadcast gradient back to a shape.

/** out[i] = f(x[i]) (no tape). */
export function mapUnary(x: Tensor, f: (v: number) => number): Tensor {
  const out = allocData(x.dtype, x.size);
  const d = x.data;
  for (let i = 0; i < d.length; i++) out[i] = f(d[i]);
  return new Tensor(out, x.shape);
}

type Arith = '+' | '-' | '*' | '/';

/**
 * a (op) b elementwise with broadcasting (no tape). Operands of one shape take a loop per
 * operator: the arithmetic ops are the most called, and mapBinary's callback, which sees a
 * different function at every call site, is several times slower. Same values either way.
 */
function arith(a: Tensor, b: Tensor, op: Arith): Tensor {
  if (!sameShape(a.shape, b.shape)) {
    return mapBinary(a, b, op === '+' ? (p, q) => p + q : op === '-' ? (p, q) => p - q : op === '*' ? (p, q) => p * q : (p, q) => p / q);
  }
  const ad = a.data;
  const bd = b.data;
  const out = allocData(resultDType(a, b), a.size);
  const n = out.length;
  if (op === '+') for (let i = 0; i < n; i++) out[i] = ad[i] + bd[i];
  else if (op === '-') for (let i = 0; i < n; i++) out[i] = ad[i] - bd[i];
  else if (op === '*') for (let i = 0; i < n; i++) out[i] = ad[i] * bd[i];
  else for (let i = 0; i < n; i++) out[i] = ad[i] / bd[i];
  return new Tensor(out, a.shape);
}

/** out = f(a, b) with broadcasting (no tape). */
export function mapBinary(a: Tensor, b: Tensor, f: (x: number, y: number) => number): Tensor {
  const dtype = resultDType(a, b);
  const ad = a.data;
  const bd = b.data;
  if (sameShape(a.shape, b.shape)) {
    const out = allocData(dtype, a.size);
    for (let i = 0; i < out.length; i++) out[i] = f(ad[i], bd[i]);
    return new Tensor(out, a.shape);
  }
  const shape = broadcastShapes(a.shape, b.shape);
  const out = allocData(dtype, sizeOf(shape));
  if (b.size === 1) {
    const bv = bd[0];
    for (let i = 0; i < out.length; i++) out[i] = f(ad[i], bv);
  } else if (a.size === 1) {
    const av = ad[0];
    for (let i = 0; i < out.length; i++) out[i] = f(av, bd[i]);
  } else {
    forEachBroadcast(shape, a.shape, b.shape, (o, ia, ib) => {
      out[o] = f(ad[ia], bd[ib]);
    });
  }
  return new Tensor(out, shape);
}

/** Sums a gradient of a broadcast result back to the shape of the operand (no tape). */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const kept: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    const d = i < lead ? 1 : shape[i - lead];
    kept.push(d);
  }
  const out = allocData(g.dtype, sizeOf(shape));
  const gd = g.data;
  forEachBroadcast(g.shape, g.shape, kept, (i, _ia, j) => {
    out[j] += gd[i];
  });
  return new Tensor(out, shape);
}

/** Materialises x broadcast to `shape` (a copy), with a gradient that sums back. */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  if (sameShape(x.shape, shape)) return x;
  const target = broadcastShapes(x.shape, shape);
  if (!sameShape(target, shape)) throw new Error(`cannot broadcast [${x.shape}] to [${shape}]`);
  const out = allocData(x.dtype, sizeOf(shape));
  const xd = x.data;
  forEachBroadcast(shape, shape, x.shape, (o, _ia, ib) => {
    out[o] = xd[ib];
  });
  return record('broadcastTo', new Tensor(out, shape), [x], (g) => [sumTo(g, x.shape)]);
}

// ---------------------------------------------------------------------------------------------
// Binary arithmetic

export function add(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = pairOf(a, b);
  const out = arith(x, y, '+');
  return record('add', out, [x, y], (g) => [sumTo(g, x.shape), sumTo(g, y.shape)]);
}

export function sub(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = pairOf(a, b);
  const out = arith(x, y, '-');
  return record('sub', out, [x, y], (g) => [sumTo(g, x.shape), y.requiresGrad ? sumTo(neg(g), y.shape) : null]);
}

export function mul(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = pairOf(a, b);
  const out = arith(x, y, '*');
  return record('mul', out, [x, y], (g) => [
    x.requiresGrad ? sumTo(mul(g, y), x.shape) : null,
    y.requiresGrad ? sumTo(mul(g, x), y.shape) : null,
  ]);
}

export function div(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = pairOf(a, b);
  const out = arith(x, y, '/');
  return record('div', out, [x, y], (g) => [
    x.requiresGrad ? sumTo(div(g, y), x.shape) : null,
    // d(x/y)/dy = -x / y^2 = -out / y
    y.requiresGrad ? sumTo(neg(div(mul(g, out), y)), y.shape) : null,
  ]);
}

/** x ** y elementwise. The exponent's gradient x^y ln x is only formed when needed (x > 0). */
export function pow(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = pairOf(a, b);
  const out = mapBinary(x, y, (p, q) => Math.pow(p, q));
  return record('pow', out, [x, y], (g) => [
    // d/dx = y x^(y-1); written without dividing by x so that x = 0 stays finite.
    x.requiresGrad ? sumTo(mul(g, mapBinary(x, y, (p, q) => (q === 0 ? 0 : q * Math.pow(p, q - 1)))), x.shape) : null,
    y.requiresGrad ? sumTo(mul(g, mapBinary(out, x, (o, p) => (p > 0 ? o * Math.log(p) : 0))), y.shape) : null,
  ]);
}

/** Elementwise maximum; at ties the gradient is split equally between the two operands. */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = pairOf(a, b);
  const out = mapBinary(x, y, (p, q) => (p >= q ? p : q));
  return record('maximum', out, [x, y], (g) => [
    x.requiresGrad ? sumTo(mul(g, mapBinary(x, y, (p, q) => (p > q ? 1 : p === q ? 0.5 : 0))), x.shape) : null,
    y.requiresGrad ? sumTo(mul(g, mapBinary(x, y, (p, q) => (q > p ? 1 : p === q ? 0.5 : 0))), y.shape) : null,
  ]);
}

/** Elementwise minimum; at ties the gradient is split equally between the two operands. */
export function minimum(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = pairOf(a, b);
  const out = mapBinary(x, y, (p, q) => (p <= q ? p : q));
  return record('minimum', out, [x, y], (g) => [
    x.requiresGrad ? sumTo(mul(g, mapBinary(x, y, (p, q) => (p < q ? 1 : p === q ? 0.5 : 0))), x.shape) : null,
    y.requiresGrad ? sumTo(mul(g, mapBinary(x, y, (p, q) => (q < p ? 1 : p === q ? 0.5 : 0))), y.shape) : null,
  ]);
}

/**
 * where(cond, a, b): a where cond != 0, else b (cond is a constant mask, broadcast with both).
 * Unselected values never touch the result or its gradient, so Inf/NaN there are harmless.
 */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = pairOf(a, b);
  const shape = broadcastShapes(cond.shape, broadcastShapes(x.shape, y.shape));
  const c = sameShape(cond.shape, shape) ? cond.data : broadcastData(cond, shape);
  const xd = sameShape(x.shape, shape) ? x.data : broadcastData(x, shape);
  const yd = sameShape(y.shape, shape) ? y.data : broadcastData(y, shape);
  const out = allocData(resultDType(x, y), sizeOf(shape));
  for (let i = 0; i < out.length; i++) out[i] = c[i] !== 0 ? xd[i] : yd[i];
  return record('where', new Tensor(out, shape), [x, y], (g) => {
    const gx = allocData(g.dtype, g.size);
    const gy = allocData(g.dtype, g.size);
    for (let i = 0; i < g.size; i++) {
      if (c[i] !== 0) gx[i] = g.data[i];
      else gy[i] = g.data[i];
    }
    return [sumTo(new Tensor(gx, shape), x.shape), sumTo(new Tensor(gy, shape), y.shape)];
  });
}

function broadcastData(x: Tensor, shape: Shape): Tensor['data'] {
  const out = allocData(x.dtype, sizeOf(shape));
  const xd = x.data;
  forEachBroadcast(shape, shape, x.shape, (o, _ia, ib) => {
    out[o] = xd[ib];
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Unary

export function neg(x: Tensor): Tensor {
  return record('neg', mapUnary(x, (v) => -v), [x], (g) => [neg(g)]);
}

export function exp(x: Tensor): Tensor {
  const out = mapUnary(x, Math.exp);
  return record('exp', out, [x], (g) => [mul(g, out)]);
}

export function log(x: Tensor): Tensor {
  return record('log', mapUnary(x, Math.log), [x], (g) => [div(g, x)]);
}

export function sqrt(x: Tensor): Tensor {
  const out = mapUnary(x, Math.sqrt);
  return record('sqrt', out, [x], (g) => [mapBinary(g, out, (gv, o) => (gv === 0 ? 0 : (0.5 * gv) / o))]);
}

/** |x|; the subgradient at 0 is 0. */
export function abs(x: Tensor): Tensor {
  return record('abs', mapUnary(x, Math.abs), [x], (g) => [mul(g, mapUnary(x, Math.sign))]);
}

/** max(x, 0); the subgradient at 0 is 0 (as in PyTorch). */
export function relu(x: Tensor): Tensor {
  // Plain loops (as leakyRelu): a callback per element is several times slower. The gradient is
  // g where x > 0, else g * 0: what mul(g, mask) gives, signed zeros and NaN included.
  const xd = x.data;
  const out = allocData(x.dtype, x.size);
  for (let i = 0; i < out.length; i++) {
    const v = xd[i];
    out[i] = v > 0 ? v : 0;
  }
  return record('relu', new Tensor(out, x.shape), [x], (g) => {
    const gd = g.data;
    const gx = allocData(resultDType(g, x), x.size);
    for (let i = 0; i < gx.length; i++) gx[i] = xd[i] > 0 ? gd[i] : gd[i] * 0;
    return [new Tensor(gx, x.shape)];
  });
}

/** x for x > 0, slope * x otherwise; the derivative at 0 is taken as slope. */
export function leakyRelu(x: Tensor, slope = 0.01): Tensor {
  // Plain loops rather than mapUnary / mul: the discriminator runs this on millions of values
  // per step. Float32 data takes a loop without a data-dependent branch (the signs come in no
  // order a branch predictor can learn): the factor 1 or slope is picked by the sign bit, which
  // gives v > 0 ? v : slope * v exactly (+0 and -0 times either factor stay themselves).
  const xd = x.data;
  const out = allocData(x.dtype, x.size);
  if (xd instanceof Float32Array) leakyReluF32(xd, new Uint32Array(xd.buffer, xd.byteOffset, xd.length), out, slope);
  else {
    for (let i = 0; i < out.length; i++) {
      const v = xd[i];
      out[i] = v > 0 ? v : slope * v;
    }
  }
  // g * mask with mask = (x > 0 ? 1 : slope) held in x's dtype, as mul(g, mask) computes it.
  return record('leakyRelu', new Tensor(out, x.shape), [x], (g) => [new Tensor(activationGrad(g.data, xd, slope, x.dtype === 'float32'), x.shape)]);
}

function leakyReluF32(xd: Float32Array, bits: Uint32Array, out: Data, slope: number): void {
  const factor = new Float64Array([1, slope]);
  for (let i = 0; i < out.length; i++) out[i] = xd[i] * factor[bits[i] >>> 31];
}

/**
 * The vector-Jacobian product of ReLU / LeakyReLU (also fused after a norm, norm.ts) given the
 * activation's output or input `out` (the same sign for slope >= 0): g where out > 0 (exactly where the activation's input is > 0, slope >= 0), else g * slope
 * (ReLU: g * 0), the slope rounded to float32 for float32 data, in a buffer of g's dtype (float64
 * when either is).
 */
export function activationGrad(g: Data, out: Data, slope: number, f32: boolean): Data {
  const r = allocData(f32 && g instanceof Float32Array ? 'float32' : 'float64', g.length);
  const s = f32 ? Math.fround(slope) : slope;
  if (out instanceof Float32Array) {
    activationGradF32(g, new Int32Array(out.buffer, out.byteOffset, out.length), r, s);
    return r;
  }
  for (let i = 0; i < r.length; i++) r[i] = out[i] > 0 ? g[i] : g[i] * s;
  return r;
}

/**
 * activationGrad for float32 outputs without a data-dependent branch (half the outputs of a
 * norm are negative, in no order a branch predictor can learn): the factor 1 or s is picked by
 * the output's bits. outBits > 0 as int32 is out > 0 for every float but a NaN with its sign
 * bit clear (there: g instead of g * s); -0 and +0 take the slope, as out > 0 is false for them.
 */
function activationGradF32(g: Data, outBits: Int32Array, r: Data, s: number): void {
  const factor = new Float64Array([1, s]);
  for (let i = 0; i < r.length; i++) {
    const b = outBits[i];
    // 1 when b <= 0 as int32 (b - 1 wraps only for b = -2^31, i.e. -0, where b >> 31 gives the 1)
    r[i] = g[i] * factor[((b >> 31) | ((b - 1) >> 31)) & 1];
  }
}

function stableSigmoid(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}

export function sigmoid(x: Tensor): Tensor {
  const out = mapUnary(x, stableSigmoid);
  return record('sigmoid', out, [x], (g) => [mul(g, mapUnary(out, (s) => s * (1 - s)))]);
}

export function tanh(x: Tensor): Tensor {
  const out = mapUnary(x, Math.tanh);
  return record('tanh', out, [x], (g) => [mul(g, mapUnary(out, (t) => 1 - t * t))]);
}

/** Clamps into [lo, hi]; the gradient passes where lo <= x <= hi (inclusive, as in PyTorch). */
export function clamp(x: Tensor, lo = -Infinity, hi = Infinity): Tensor {
  const out = mapUnary(x, (v) => (v < lo ? lo : v > hi ? hi : v));
  return record('clamp', out, [x], (g) => [mul(g, mapUnary(x, (v) => (v >= lo && v <= hi ? 1 : 0)))]);
}

export function square(x: Tensor): Tensor {
  return record('square', mapUnary(x, (v) => v * v), [x], (g) => [mul(g, mapUnary(x, (v) => 2 * v))]);
}

/** Reduction helper re-exported for ops that need axes: */
export { normalizeAxes };

// ---------------------------------------------------------------------------------------------
// Gradient checks (run by `diffrendergan gradcheck` and the test suite).
import { randomInput, type GradcheckCase } from '../gradcheck.js';

const unaryCase = (op: string, f: (x: Tensor) => Tensor, lo = -2, hi = 2): GradcheckCase => ({
  op,
  variant: 'odd shape [3, 1, 5]',
  make: (rng) => ({ f, inputs: [randomInput(rng, [3, 1, 5], lo, hi)] }),
});
const binaryCase = (op: string, f: (a: Tensor, b: Tensor) => Tensor, lo = -2, hi = 2): GradcheckCase[] => [
  { op, variant: 'same shape [2, 3]', make: (rng) => ({ f, inputs: [randomInput(rng, [2, 3], lo, hi), randomInput(rng, [2, 3], lo, hi)] }) },
  { op, variant: 'broadcast [4, 1, 3] with [2, 1]', make: (rng) => ({ f, inputs: [randomInput(rng, [4, 1, 3], lo, hi), randomInput(rng, [2, 1], lo, hi)] }) },
  { op, variant: 'scalar operand', make: (rng) => ({ f, inputs: [randomInput(rng, [], lo, hi), randomInput(rng, [3, 2], lo, hi)] }) },
];

export const gradcheckCases: GradcheckCase[] = [
  ...binaryCase('add', add),
  ...binaryCase('sub', sub),
  ...binaryCase('mul', mul),
  ...binaryCase('div', div, 0.5, 2),
  ...binaryCase('pow', pow, 0.5, 2),
  ...binaryCase('maximum', maximum),
  ...binaryCase('minimum', minimum),
  unaryCase('neg', neg),
  unaryCase('exp', exp),
  unaryCase('log', log, 0.2, 3),
  unaryCase('sqrt', sqrt, 0.2, 3),
  unaryCase('abs', abs),
  unaryCase('relu', relu),
  unaryCase('leakyRelu', (x) => leakyRelu(x, 0.2)),
  unaryCase('sigmoid', sigmoid, -6, 6),
  unaryCase('tanh', tanh),
  unaryCase('square', square),
  unaryCase('clamp', (x) => clamp(x, -0.5, 0.7)),
  {
    op: 'where',
    variant: 'mask [3, 1] broadcast over [3, 4] and [4]',
    make: (rng) => {
      const mask = new Tensor(Float64Array.from([1, 0, 1]), [3, 1]);
      return { f: (a, b) => where(mask, a, b), inputs: [randomInput(rng, [3, 4]), randomInput(rng, [4])] };
    },
  },
  {
    op: 'broadcastTo',
    variant: '[3, 1] to [2, 3, 4]',
    make: (rng) => ({ f: (x) => broadcastTo(x, [2, 3, 4]), inputs: [randomInput(rng, [3, 1])] }),
  },
];
