/**
 * gpu.js backend: matmul and the three conv2d passes as gpu.js kernels (one output element per
 * thread, gather form). On this project's CPU-only machines gpu.js runs them in its `webasm` mode
 * (WebAssembly + f32x4, synchronous calls are single-threaded); on a machine with a working GL
 * context the same kernels run on the GPU (`mode: 'gpu'`). Kernels are compiled per shape and
 * cached. Float32 only; float64 is declined.
 */
import { GPU, type IKernelRunShortcut } from 'gpu.js';
import type { Backend, Conv2dGeom, Data, MatmulArgs } from '../backend.js';

export type GpujsMode = 'gpu' | 'webasm' | 'cpu' | 'headlessgl' | 'webgl' | 'webgl2';

export interface GpujsBackendOptions {
  name?: string;
  mode?: GpujsMode;
  /** Largest number of cached compiled kernels. */
  cacheSize?: number;
}

type KernelFn = IKernelRunShortcut;

/* eslint-disable @typescript-eslint/no-explicit-any */
// The kernel bodies are parsed by gpu.js (not run as JS), so they use its subset: `this.thread`,
// `this.constants`, Math.floor, plain loops with constant bounds.

function matmulKernel(this: any, a: number[], b: number[]): number {
  const idx = this.thread.x;
  const bi = Math.floor(idx / (this.constants.m * this.constants.n));
  const r = idx - bi * this.constants.m * this.constants.n;
  const i = Math.floor(r / this.constants.n);
  const j = r - i * this.constants.n;
  let s = 0;
  for (let p = 0; p < this.constants.k; p++) {
    let ai = bi * this.constants.strideA + i * this.constants.k + p;
    if (this.constants.transA === 1) {
      ai = bi * this.constants.strideA + p * this.constants.m + i;
    }
    let bj = bi * this.constants.strideB + p * this.constants.n + j;
    if (this.constants.transB === 1) {
      bj = bi * this.constants.strideB + j * this.constants.k + p;
    }
    s += a[ai] * b[bj];
  }
  return s;
}

function convKernel(this: any, x: number[], w: number[]): number {
  const idx = this.thread.x;
  const ox = idx % this.constants.outW;
  const t1 = Math.floor(idx / this.constants.outW);
  const oy = t1 % this.constants.outH;
  const t2 = Math.floor(t1 / this.constants.outH);
  const co = t2 % this.constants.cOut;
  const n = Math.floor(t2 / this.constants.cOut);
  const grp = Math.floor(co / this.constants.cOutG);
  let s = 0;
  for (let ci = 0; ci < this.constants.cInG; ci++) {
    for (let ky = 0; ky < this.constants.kh; ky++) {
      const iy = oy * this.constants.sh - this.constants.ph + ky * this.constants.dh;
      if (iy >= 0 && iy < this.constants.h) {
        for (let kx = 0; kx < this.constants.kw; kx++) {
          const ix = ox * this.constants.sw - this.constants.pw + kx * this.constants.dw;
          if (ix >= 0 && ix < this.constants.w) {
            s += x[((n * this.constants.cIn + grp * this.constants.cInG + ci) * this.constants.h + iy) * this.constants.w + ix] * w[((co * this.constants.cInG + ci) * this.constants.kh + ky) * this.constants.kw + kx];
          }
        }
      }
    }
  }
  return s;
}

function convGradInputKernel(this: any, dy: number[], w: number[]): number {
  const idx = this.thread.x;
  const ix = idx % this.constants.w;
  const t1 = Math.floor(idx / this.constants.w);
  const iy = t1 % this.constants.h;
  const t2 = Math.floor(t1 / this.constants.h);
  const ch = t2 % this.constants.cIn;
  const n = Math.floor(t2 / this.constants.cIn);
  const grp = Math.floor(ch / this.constants.cInG);
  const ci = ch - grp * this.constants.cInG;
  let s = 0;
  for (let col = 0; col < this.constants.cOutG; col++) {
    const co = grp * this.constants.cOutG + col;
    for (let ky = 0; ky < this.constants.kh; ky++) {
      const ty = iy + this.constants.ph - ky * this.constants.dh;
      const oy = Math.floor(ty / this.constants.sh);
      if (ty >= 0 && oy * this.constants.sh === ty && oy < this.constants.outH) {
        for (let kx = 0; kx < this.constants.kw; kx++) {
          const tx = ix + this.constants.pw - kx * this.constants.dw;
          const ox = Math.floor(tx / this.constants.sw);
          if (tx >= 0 && ox * this.constants.sw === tx && ox < this.constants.outW) {
            s += dy[((n * this.constants.cOut + co) * this.constants.outH + oy) * this.constants.outW + ox] * w[((co * this.constants.cInG + ci) * this.constants.kh + ky) * this.constants.kw + kx];
          }
        }
      }
    }
  }
  return s;
}

function convGradWeightKernel(this: any, x: number[], dy: number[]): number {
  const idx = this.thread.x;
  const kx = idx % this.constants.kw;
  const t1 = Math.floor(idx / this.constants.kw);
  const ky = t1 % this.constants.kh;
  const t2 = Math.floor(t1 / this.constants.kh);
  const ci = t2 % this.constants.cInG;
  const co = Math.floor(t2 / this.constants.cInG);
  const grp = Math.floor(co / this.constants.cOutG);
  let s = 0;
  for (let n = 0; n < this.constants.n; n++) {
    for (let oy = 0; oy < this.constants.outH; oy++) {
      const iy = oy * this.constants.sh - this.constants.ph + ky * this.constants.dh;
      if (iy >= 0 && iy < this.constants.h) {
        for (let ox = 0; ox < this.constants.outW; ox++) {
          const ix = ox * this.constants.sw - this.constants.pw + kx * this.constants.dw;
          if (ix >= 0 && ix < this.constants.w) {
            s += dy[((n * this.constants.cOut + co) * this.constants.outH + oy) * this.constants.outW + ox] * x[((n * this.constants.cIn + grp * this.constants.cInG + ci) * this.constants.h + iy) * this.constants.w + ix];
          }
        }
      }
    }
  }
  return s;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

function isF32(...xs: Data[]): boolean {
  return xs.every((x) => x instanceof Float32Array);
}

function convConstants(g: Conv2dGeom): Record<string, number> {
  return {
    n: g.n, cIn: g.cIn, h: g.h, w: g.w, cOut: g.cOut, kh: g.kh, kw: g.kw,
    sh: g.strideH, sw: g.strideW, ph: g.padH, pw: g.padW, dh: g.dilH, dw: g.dilW,
    outH: g.outH, outW: g.outW, cInG: g.cIn / g.groups, cOutG: g.cOut / g.groups,
  };
}

export class GpujsBackend implements Backend {
  readonly name: string;
  readonly mode: GpujsMode;
  private gpu: GPU | null = null;
  private readonly cache = new Map<string, KernelFn>();
  private readonly cacheSize: number;
  readonly kernels;

  constructor(opts: GpujsBackendOptions = {}) {
    this.mode = opts.mode ?? 'webasm';
    this.name = opts.name ?? 'gpujs';
    this.cacheSize = opts.cacheSize ?? 64;
    this.kernels = {
      matmul: (a: MatmulArgs) => this.matmul(a),
      conv2d: (x: Data, w: Data, out: Data, g: Conv2dGeom) => this.conv('conv', convKernel, x, w, out, g, out.length),
      conv2dGradInput: (dy: Data, w: Data, dx: Data, g: Conv2dGeom) => this.conv('gin', convGradInputKernel, dy, w, dx, g, dx.length),
      conv2dGradWeight: (x: Data, dy: Data, dw: Data, g: Conv2dGeom) => this.conv('gw', convGradWeightKernel, x, dy, dw, g, dw.length),
    };
  }

  private get instance(): GPU {
    if (!this.gpu) this.gpu = new GPU({ mode: this.mode });
    return this.gpu;
  }

  /** The gpu.js backend class actually running kernels (e.g. WebAssemblyKernel, HeadlessGLKernel). */
  kernelClass(): string {
    const k = [...this.cache.values()][0] as unknown as { kernel?: { constructor: { name: string } } } | undefined;
    return k?.kernel?.constructor.name ?? '(no kernel compiled yet)';
  }

  describe(): string {
    return `${this.name}: gpu.js mode '${this.mode}', one output element per thread (${this.kernelClass()})`;
  }

  dispose(): void {
    this.cache.clear();
    this.gpu?.destroy();
    this.gpu = null;
  }

  private kernel(key: string, fn: (...a: never[]) => number, constants: Record<string, number>, size: number): KernelFn {
    let k = this.cache.get(key);
    if (!k) {
      if (this.cache.size >= this.cacheSize) {
        const first = this.cache.keys().next().value as string;
        this.cache.delete(first);
      }
      k = this.instance.createKernel(fn as never, {
        constants,
        output: [size],
        precision: 'single',
        tactic: 'precision',
        dynamicArguments: false,
      } as never) as KernelFn;
      this.cache.set(key, k);
    }
    return k;
  }

  private static copy(result: unknown, out: Data): void {
    if (result instanceof Float32Array) out.set(result.subarray(0, out.length));
    else out.set(result as ArrayLike<number>);
  }

  matmul(args: MatmulArgs): boolean {
    const { a, b, out, batch, m, k, n, transA, transB, strideA, strideB } = args;
    if (!isF32(a, b, out) || batch * m * n === 0 || k === 0) return false;
    const c = { m, k, n, transA: transA ? 1 : 0, transB: transB ? 1 : 0, strideA, strideB };
    const key = `mm:${batch}:${JSON.stringify(c)}`;
    GpujsBackend.copy(this.kernel(key, matmulKernel, c, batch * m * n)(a as never, b as never), out);
    return true;
  }

  private conv(tag: string, fn: (...a: never[]) => number, p: Data, q: Data, out: Data, g: Conv2dGeom, size: number): boolean {
    if (!isF32(p, q, out) || size === 0 || g.cIn % g.groups !== 0 || g.cOut % g.groups !== 0) return false;
    const c = convConstants(g);
    const key = `${tag}:${JSON.stringify(c)}`;
    GpujsBackend.copy(this.kernel(key, fn, c, size)(p as never, q as never), out);
    return true;
  }
}

/** True when gpu.js can run kernels on a real GPU here (a GL context answers and computes right). */
export function gpujsGpuWorks(): boolean {
  try {
    if (!(GPU.isHeadlessGLSupported || GPU.isWebGL2Supported || GPU.isWebGLSupported)) return false;
    const be = new GpujsBackend({ mode: 'gpu' });
    try {
      const a = new Float32Array([1, 2, 3, 4]);
      const out = new Float32Array(4);
      be.kernels.matmul({ a, b: a, out, batch: 1, m: 2, k: 2, n: 2, transA: false, transB: false, strideA: 0, strideB: 0 });
      const cls = be.kernelClass();
      return /GL/i.test(cls) && out[0] === 7 && out[3] === 22;
    } finally {
      be.dispose();
    }
  } catch {
    return false;
  }
}

export function createGpujsBackend(opts: GpujsBackendOptions = {}): GpujsBackend {
  return new GpujsBackend(opts);
}
