/** Shape arithmetic shared by the ops: sizes, strides, broadcasting, axis normalisation. */
export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function shapeStr(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** NumPy broadcasting of two shapes; throws naming both shapes when they are incompatible. */
export function broadcastShapes(a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`shapes ${shapeStr(a)} and ${shapeStr(b)} cannot be broadcast together`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * Strides that read a tensor of shape `from` as if it had the broadcast shape `to`
 * (stride 0 along broadcast dimensions).
 */
export function broadcastStrides(from: Shape, to: Shape): number[] {
  const fs = stridesOf(from);
  const out = new Array<number>(to.length).fill(0);
  for (let i = 0; i < from.length; i++) {
    const j = to.length - from.length + i;
    out[j] = from[i] === 1 ? 0 : fs[i];
  }
  return out;
}

/** Normalises possibly negative axes (or all axes when undefined) to a sorted unique list. */
export function normalizeAxes(axes: number | readonly number[] | undefined, ndim: number): number[] {
  if (axes === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const out = list.map((a) => {
    const v = a < 0 ? a + ndim : a;
    if (v < 0 || v >= ndim || !Number.isInteger(v)) throw new Error(`axis ${a} out of range for ${ndim}-d tensor`);
    return v;
  });
  return [...new Set(out)].sort((x, y) => x - y);
}

export function normalizeAxis(axis: number, ndim: number): number {
  return normalizeAxes(axis, ndim)[0];
}

/**
 * Calls f(outIndex, aIndex, bIndex) for every element of the broadcast shape, with the flat
 * indices into two operands of shapes a and b. The innermost dimension runs as a tight loop.
 */
export function forEachBroadcast(
  outShape: Shape,
  a: Shape,
  b: Shape,
  f: (o: number, ia: number, ib: number) => void,
): void {
  const n = outShape.length;
  const total = sizeOf(outShape);
  if (total === 0) return;
  if (n === 0) {
    f(0, 0, 0);
    return;
  }
  const sa = broadcastStrides(a, outShape);
  const sb = broadcastStrides(b, outShape);
  const idx = new Array<number>(n).fill(0);
  const inner = outShape[n - 1];
  const ia0 = sa[n - 1];
  const ib0 = sb[n - 1];
  let ia = 0;
  let ib = 0;
  for (let o = 0; o < total; o += inner) {
    for (let k = 0; k < inner; k++) f(o + k, ia + k * ia0, ib + k * ib0);
    // advance the outer multi-index
    for (let d = n - 2; d >= 0; d--) {
      idx[d]++;
      ia += sa[d];
      ib += sb[d];
      if (idx[d] < outShape[d]) break;
      ia -= sa[d] * outShape[d];
      ib -= sb[d] * outShape[d];
      idx[d] = 0;
    }
  }
}
