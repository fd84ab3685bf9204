/** Property tests (fast-check) of conv, pooling and resizing against naive definitions. */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Tensor, matmul, conv2d, convTranspose2d, maxPool2d, avgPool2d, upsampleBilinear, upsampleNearest, convOutSize, Rng, randn, full } from '../../src/autodiff/index.js';
import { expectClose } from './nn-helpers.js';

const geomArb = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    groups: fc.integer({ min: 1, max: 2 }),
    cInG: fc.integer({ min: 1, max: 2 }),
    cOutG: fc.integer({ min: 1, max: 2 }),
    kh: fc.integer({ min: 1, max: 3 }),
    kw: fc.integer({ min: 1, max: 3 }),
    sh: fc.integer({ min: 1, max: 2 }),
    sw: fc.integer({ min: 1, max: 3 }),
    ph: fc.integer({ min: 0, max: 2 }),
    pw: fc.integer({ min: 0, max: 2 }),
    dh: fc.integer({ min: 1, max: 2 }),
    dw: fc.integer({ min: 1, max: 2 }),
    extraH: fc.integer({ min: 0, max: 4 }),
    extraW: fc.integer({ min: 0, max: 4 }),
    seed: fc.integer({ min: 0, max: 1e6 }),
  })
  .map((g) => ({
    ...g,
    // The smallest input the (dilated) kernel fits once padded, plus a few rows.
    h: Math.max(1, g.dh * (g.kh - 1) + 1 - 2 * g.ph) + g.extraH,
    w: Math.max(1, g.dw * (g.kw - 1) + 1 - 2 * g.pw) + g.extraW,
  }));

type G = typeof geomArb extends fc.Arbitrary<infer T> ? T : never;

function convByIm2col(x: Tensor, w: Tensor, g: G): { data: Float64Array; shape: number[] } {
  const cIn = g.cInG * g.groups;
  const cOut = g.cOutG * g.groups;
  const oh = convOutSize(g.h, g.kh, g.sh, g.ph, g.dh);
  const ow = convOutSize(g.w, g.kw, g.sw, g.pw, g.dw);
  const out = new Float64Array(g.n * cOut * oh * ow);
  const k = g.cInG * g.kh * g.kw;
  for (let grp = 0; grp < g.groups; grp++) {
    // im2col: one row per (sample, output position), one column per (channel, tap); zero padding.
    const cols = new Float64Array(g.n * oh * ow * k);
    for (let n = 0; n < g.n; n++)
      for (let oy = 0; oy < oh; oy++)
        for (let ox = 0; ox < ow; ox++)
          for (let ci = 0; ci < g.cInG; ci++)
            for (let ky = 0; ky < g.kh; ky++)
              for (let kx = 0; kx < g.kw; kx++) {
                const iy = oy * g.sh - g.ph + ky * g.dh;
                const ix = ox * g.sw - g.pw + kx * g.dw;
                const row = (n * oh + oy) * ow + ox;
                const col = (ci * g.kh + ky) * g.kw + kx;
                const inside = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
                cols[row * k + col] = inside ? x.data[((n * cIn + grp * g.cInG + ci) * g.h + iy) * g.w + ix] : 0;
              }
    const wg = new Tensor(Float64Array.from(w.data.subarray(grp * g.cOutG * k, (grp + 1) * g.cOutG * k)), [g.cOutG, k]);
    const y = matmul(new Tensor(cols, [g.n * oh * ow, k]), wg, false, true); // [n*oh*ow, cOutG]
    for (let n = 0; n < g.n; n++)
      for (let p = 0; p < oh * ow; p++)
        for (let co = 0; co < g.cOutG; co++) out[(n * cOut + grp * g.cOutG + co) * oh * ow + p] = y.data[(n * oh * ow + p) * g.cOutG + co];
  }
  return { data: out, shape: [g.n, cOut, oh, ow] };
}

const opts = (g: G) => ({ stride: [g.sh, g.sw] as [number, number], padding: [g.ph, g.pw] as [number, number], dilation: [g.dh, g.dw] as [number, number], groups: g.groups });

describe('conv2d properties', () => {
  it('equals im2col + matmul on random shapes, strides, paddings, dilations, groups', () => {
    fc.assert(
      fc.property(geomArb, (g) => {
        const rng = new Rng(g.seed);
        const x = randn([g.n, g.cInG * g.groups, g.h, g.w], rng, 1, 'float64');
        const w = randn([g.cOutG * g.groups, g.cInG, g.kh, g.kw], rng, 1, 'float64');
        const y = conv2d(x, w, null, opts(g));
        const ref = convByIm2col(x, w, g);
        expect(y.shape).toEqual(ref.shape);
        expectClose(y.data, ref.data, 1e-12);
      }),
      { numRuns: 60 },
    );
  });

  it('convTranspose2d is the adjoint of conv2d with the same weight: <conv(x), y> = <x, convT(y)>', () => {
    fc.assert(
      fc.property(geomArb, (g) => {
        const rng = new Rng(g.seed);
        const x = randn([g.n, g.cInG * g.groups, g.h, g.w], rng, 1, 'float64');
        const w = randn([g.cOutG * g.groups, g.cInG, g.kh, g.kw], rng, 1, 'float64');
        const cx = conv2d(x, w, null, opts(g));
        const y = randn(cx.shape, rng, 1, 'float64');
        // outputPadding recovers the exact input size (floor in the conv size formula).
        const [oh, ow] = [cx.shape[2], cx.shape[3]];
        const outputPadding: [number, number] = [
          g.h - ((oh - 1) * g.sh - 2 * g.ph + g.dh * (g.kh - 1) + 1),
          g.w - ((ow - 1) * g.sw - 2 * g.pw + g.dw * (g.kw - 1) + 1),
        ];
        const ty = convTranspose2d(y, w, null, { ...opts(g), outputPadding });
        expect(ty.shape).toEqual(x.shape);
        let lhs = 0;
        let rhs = 0;
        for (let i = 0; i < cx.size; i++) lhs += cx.data[i] * y.data[i];
        for (let i = 0; i < x.size; i++) rhs += x.data[i] * ty.data[i];
        expect(Math.abs(lhs - rhs)).toBeLessThan(1e-10 * (1 + Math.abs(lhs)));
      }),
      { numRuns: 60 },
    );
  });

  it('reports clear shape errors', () => {
    const x = full([1, 3, 5, 5], 0);
    expect(() => conv2d(x, full([2, 2, 3, 3], 0))).toThrow(/expects 2 input channels.*has 3/);
    expect(() => conv2d(x, full([2, 3, 7, 7], 0))).toThrow(/does not fit/);
    expect(() => conv2d(x, full([3, 1, 3, 3], 0), null, { groups: 2 })).toThrow(/groups=2 must divide/);
    expect(() => conv2d(full([3, 5, 5], 0), full([2, 3, 3, 3], 0))).toThrow(/\[N, C, H, W\]/);
    expect(() => conv2d(x, full([2, 3, 3, 3], 0), full([3], 0))).toThrow(/bias must have shape \[2\]/);
    expect(() => convTranspose2d(x, full([2, 3, 3, 3], 0))).toThrow(/expects 2 input channels/);
    expect(() => convTranspose2d(x, full([3, 1, 3, 3], 0), null, { stride: 2, outputPadding: 2 })).toThrow(/outputPadding/);
  });
});

const poolArb = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    c: fc.integer({ min: 1, max: 2 }),
    kh: fc.integer({ min: 1, max: 4 }),
    kw: fc.integer({ min: 1, max: 4 }),
    sh: fc.integer({ min: 1, max: 3 }),
    sw: fc.integer({ min: 1, max: 3 }),
    fh: fc.double({ min: 0, max: 1, noNaN: true }),
    fw: fc.double({ min: 0, max: 1, noNaN: true }),
    extraH: fc.integer({ min: 0, max: 5 }),
    extraW: fc.integer({ min: 0, max: 5 }),
    ties: fc.boolean(),
    seed: fc.integer({ min: 0, max: 1e6 }),
  })
  .map((g) => {
    const ph = Math.floor(g.fh * (Math.floor(g.kh / 2) + 1)) % (Math.floor(g.kh / 2) + 1);
    const pw = Math.floor(g.fw * (Math.floor(g.kw / 2) + 1)) % (Math.floor(g.kw / 2) + 1);
    return { ...g, ph, pw, h: Math.max(1, g.kh - 2 * ph) + g.extraH, w: Math.max(1, g.kw - 2 * pw) + g.extraW };
  });

describe('pooling against naive loops', () => {
  it('maxPool2d and avgPool2d (both pad modes) match direct window scans, including the first-max gradient', () => {
    fc.assert(
      fc.property(poolArb, (g) => {
        const rng = new Rng(g.seed);
        const x = randn([g.n, g.c, g.h, g.w], rng, 1, 'float64');
        // With ties, values come from {-1, 0, 1} so equal maxima are common.
        if (g.ties) for (let i = 0; i < x.size; i++) x.data[i] = Math.round(x.data[i]);
        const oh = Math.floor((g.h + 2 * g.ph - g.kh) / g.sh) + 1;
        const ow = Math.floor((g.w + 2 * g.pw - g.kw) / g.sw) + 1;
        const mx = maxPool2d(x, [g.kh, g.kw], [g.sh, g.sw], [g.ph, g.pw]);
        const av = avgPool2d(x, [g.kh, g.kw], [g.sh, g.sw], [g.ph, g.pw]);
        const avIn = avgPool2d(x, [g.kh, g.kw], [g.sh, g.sw], [g.ph, g.pw], true);
        expect(mx.shape).toEqual([g.n, g.c, oh, ow]);
        const wantMax = new Float64Array(mx.size);
        const wantAvg = new Float64Array(mx.size);
        const wantAvgIn = new Float64Array(mx.size);
        const wantGrad = new Float64Array(x.size);
        for (let p = 0; p < g.n * g.c; p++)
          for (let oy = 0; oy < oh; oy++)
            for (let ox = 0; ox < ow; ox++) {
              let best = -Infinity;
              let at = -1;
              let s = 0;
              let cnt = 0;
              for (let ky = 0; ky < g.kh; ky++)
                for (let kx = 0; kx < g.kw; kx++) {
                  const iy = oy * g.sh - g.ph + ky;
                  const ix = ox * g.sw - g.pw + kx;
                  if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                  const i = (p * g.h + iy) * g.w + ix;
                  if (x.data[i] > best) {
                    best = x.data[i];
                    at = i;
                  }
                  s += x.data[i];
                  cnt++;
                }
              const o = (p * oh + oy) * ow + ox;
              wantMax[o] = best;
              wantAvg[o] = s / cnt;
              wantAvgIn[o] = s / (g.kh * g.kw);
              wantGrad[at] += 1;
            }
        expectClose(mx.data, wantMax, 0);
        expectClose(av.data, wantAvg, 1e-12);
        expectClose(avIn.data, wantAvgIn, 1e-12);
        const xp = new Tensor(x.data, x.shape, true);
        maxPool2d(xp, [g.kh, g.kw], [g.sh, g.sw], [g.ph, g.pw]).backward(full(mx.shape, 1, 'float64'));
        expectClose(xp.grad!.data, wantGrad, 0);
      }),
      { numRuns: 80 },
    );
  });
});

describe('maxPool2d 2 x 2 / stride 2 (the branch-free path)', () => {
  it('gives the first maximum of each window in scan order, as a direct scan, with ties, infinities, signed zeros and NaN, float32 and float64', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 9 }), fc.integer({ min: 2, max: 9 }), fc.constantFrom<'float32' | 'float64'>('float32', 'float64'), fc.boolean(), fc.integer({ min: 0, max: 1e6 }), (h, w, dtype, nan, seed) => {
        const rng = new Rng(seed);
        const x = randn([2, 2, h, w], rng, 1, dtype);
        const specials = [0, -0, Infinity, -Infinity, 3e38, -3e38, 1e-40, 1, 1];
        if (nan) specials.push(NaN);
        for (let i = 0; i < x.size; i++) if (rng.int(2)) x.data[i] = specials[rng.int(specials.length)];
        const oh = Math.floor(h / 2), ow = Math.floor(w / 2);
        const want = new Float64Array(2 * 2 * oh * ow);
        const wantGrad = new Float64Array(x.size);
        for (let p = 0; p < 4; p++)
          for (let oy = 0; oy < oh; oy++)
            for (let ox = 0; ox < ow; ox++) {
              let at = -1;
              for (let k = 0; k < 4 && !(at >= 0 && Number.isNaN(x.data[at])); k++) {
                const i = (p * h + 2 * oy + (k >> 1)) * w + 2 * ox + (k & 1);
                if (at < 0 || x.data[i] > x.data[at] || Number.isNaN(x.data[i])) at = i;
              }
              const o = (p * oh + oy) * ow + ox;
              want[o] = x.data[at];
              wantGrad[at] += o + 1;
            }
        const xp = new Tensor(x.data, x.shape, true);
        const y = maxPool2d(xp, 2);
        y.backward(new Tensor(Float64Array.from({ length: y.size }, (_, o) => o + 1), y.shape));
        for (let o = 0; o < want.length; o++) expect(Object.is(y.data[o], dtype === 'float32' ? Math.fround(want[o]) : want[o])).toBe(true);
        for (let i = 0; i < x.size; i++) expect(xp.grad!.data[i]).toBe(wantGrad[i]);
      }),
      { numRuns: 150 },
    );
  });
});

describe('resizing', () => {
  const sizeArb = fc.record({
    h: fc.integer({ min: 1, max: 5 }),
    w: fc.integer({ min: 1, max: 5 }),
    oh: fc.integer({ min: 1, max: 9 }),
    ow: fc.integer({ min: 1, max: 9 }),
    scale: fc.integer({ min: 1, max: 4 }),
    v: fc.double({ min: -5, max: 5, noNaN: true }),
    seed: fc.integer({ min: 0, max: 1e6 }),
  });

  it('bilinear and nearest resizing of a constant image are constant (any size or integer scale)', () => {
    fc.assert(
      fc.property(sizeArb, ({ h, w, oh, ow, scale, v }) => {
        const x = full([1, 2, h, w], v, 'float64');
        for (const y of [upsampleBilinear(x, { size: [oh, ow] }), upsampleBilinear(x, { scale }), upsampleNearest(x, { size: [oh, ow] })]) {
          let worst = 0;
          for (const u of y.data) worst = Math.max(worst, Math.abs(u - v));
          expect(worst).toBeLessThan(1e-12);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('nearest by an integer scale repeats every pixel into a scale x scale block', () => {
    fc.assert(
      fc.property(sizeArb, ({ h, w, scale, seed }) => {
        const x = randn([1, 1, h, w], new Rng(seed), 1, 'float64');
        const y = upsampleNearest(x, { scale });
        expect(y.shape).toEqual([1, 1, h * scale, w * scale]);
        for (let i = 0; i < h * scale; i++)
          for (let j = 0; j < w * scale; j++) expect(y.data[i * w * scale + j]).toBe(x.data[Math.floor(i / scale) * w + Math.floor(j / scale)]);
      }),
      { numRuns: 40 },
    );
  });

  it('bilinear 2x upsampling of [[0, 1]] by hand (align_corners false): 0, 0.25, 0.75, 1', () => {
    // Output x = 0..3 maps to source (x + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (edge).
    const y = upsampleBilinear(new Tensor(Float64Array.from([0, 1]), [1, 1, 1, 2]), { scale: 2 });
    expect(Array.from(y.data)).toEqual([0, 0.25, 0.75, 1, 0, 0.25, 0.75, 1]);
  });
});
