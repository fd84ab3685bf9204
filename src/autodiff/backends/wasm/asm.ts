/**
 * A tiny WebAssembly bytecode assembler: just enough to emit the compute kernels of the wasm
 * backend from TypeScript at runtime (no toolchain at install time).
 *
 * Code is built as plain byte arrays. Expressions are composed functionally: every helper takes
 * operands (byte arrays, or a JS number meaning `i32.const n`) and returns the bytes that leave
 * one value on the stack (or none, for statements). Locals are numbers handed out by `Fn.local`.
 *
 * No imports from Node: this file must run in a browser too.
 */

export type Bytes = number[];
/** An operand: emitted bytes, or a number meaning `i32.const`. */
export type E = Bytes | number;

export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof V128;

export function uleb(n: number): Bytes {
  const out: Bytes = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): Bytes {
  const out: Bytes = [];
  n |= 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function str(s: string): Bytes {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
}

export function cat(...parts: E[]): Bytes {
  const out: Bytes = [];
  for (const p of parts) {
    if (typeof p === 'number') out.push(...i32c(p));
    else for (let i = 0; i < p.length; i++) out.push(p[i]!);
  }
  return out;
}

// ---- constants, locals ----
export const i32c = (n: number): Bytes => [0x41, ...sleb(n)];
export function f32c(x: number): Bytes {
  const b = new Uint8Array(new Float32Array([x]).buffer);
  return [0x43, ...b];
}
export const get = (l: number): Bytes => [0x20, ...uleb(l)];
export const set = (l: number, v: E): Bytes => cat(v, [0x21, ...uleb(l)]);
export const tee = (l: number, v: E): Bytes => cat(v, [0x22, ...uleb(l)]);

// ---- i32 arithmetic ----
const bin = (op: number) => (a: E, b: E): Bytes => cat(a, b, [op]);
export const add = bin(0x6a);
export const sub = bin(0x6b);
export const mul = bin(0x6c);
export const divS = bin(0x6d);
export const remS = bin(0x6f);
export const and = bin(0x71);
export const or = bin(0x72);
export const shl = bin(0x74);
export const eq = bin(0x46);
export const ne = bin(0x47);
export const ltS = bin(0x48);
export const ltU = bin(0x49);
export const gtS = bin(0x4a);
export const leS = bin(0x4c);
export const geS = bin(0x4e);
export const eqz = (a: E): Bytes => cat(a, [0x45]);
/** select(a, b, cond): a if cond != 0 else b. */
export const select = (a: E, b: E, cond: E): Bytes => cat(a, b, cond, [0x1b]);
export const minS = (a: E, b: E): Bytes => select(a, b, ltS(a, b));
/** Byte address of f32 element `i` of an array starting at byte address `base`. */
export const at4 = (base: E, i: E): Bytes => add(base, shl(i, 2));

// ---- f32 scalar ----
export const f32add = bin(0x92);
export const f32mul = bin(0x94);

// ---- memory (memarg: align log2, offset) ----
const mem = (op: Bytes, align: number) => (addr: E, offset = 0): Bytes => cat(addr, op, [align, ...uleb(offset)]);
export const i32load = mem([0x28], 2);
export const f32load = mem([0x2a], 2);
export const i32store = (addr: E, v: E, offset = 0): Bytes => cat(addr, v, [0x36, 2, ...uleb(offset)]);
export const f32store = (addr: E, v: E, offset = 0): Bytes => cat(addr, v, [0x38, 2, ...uleb(offset)]);
/** memory.fill(dst, byteValue, len) and memory.copy(dst, src, len) (bulk memory). */
export const memfill = (dst: E, v: E, len: E): Bytes => cat(dst, v, len, [0xfc, 0x0b, 0x00]);
export const memcopy = (dst: E, src: E, len: E): Bytes => cat(dst, src, len, [0xfc, 0x0a, 0x00, 0x00]);

/** i32.atomic.rmw.add: adds v at addr, returns the old value (threads proposal; sequentially consistent). */
export const atomicAdd = (addr: E, v: E, offset = 0): Bytes => cat(addr, v, [0xfe, 0x1e, 2, ...uleb(offset)]);

// ---- SIMD ----
const simd = (op: number) => [0xfd, ...uleb(op)];
export const v128load = (addr: E, offset = 0): Bytes => cat(addr, simd(0x00), [0, ...uleb(offset)]);
export const v128store = (addr: E, v: E, offset = 0): Bytes => cat(addr, v, simd(0x0b), [0, ...uleb(offset)]);
export const v128load32splat = (addr: E, offset = 0): Bytes => cat(addr, simd(0x09), [2, ...uleb(offset)]);
export const v128zero = (): Bytes => [...simd(0x0c), ...new Array<number>(16).fill(0)];
export const f32x4splat = (a: E): Bytes => cat(a, simd(0x13));
/** i8x16.shuffle picking f32 lanes: result lane i = lane f[i] of (a, b) (0..3 from a, 4..7 from b). */
export const f32x4shuffle = (a: E, b: E, f: [number, number, number, number]): Bytes =>
  cat(a, b, simd(0x0d), f.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]));
export const f32x4extract = (a: E, lane: number): Bytes => cat(a, simd(0x1f), [lane]);
/** f32x4.replace_lane: a with lane `lane` set to the f32 v. */
export const f32x4replace = (a: E, v: E, lane: number): Bytes => cat(a, v, simd(0x20), [lane]);
export const f32x4add = (a: E, b: E): Bytes => cat(a, b, simd(0xe4));
export const f32x4sub = (a: E, b: E): Bytes => cat(a, b, simd(0xe5));
export const f32x4mul = (a: E, b: E): Bytes => cat(a, b, simd(0xe6));
export const f32x4neg = (a: E): Bytes => cat(a, simd(0xe1));
/** v128.const with the same float32 in all four lanes. */
export function f32x4const(x: number): Bytes {
  const b = new Uint8Array(new Float32Array([x, x, x, x]).buffer);
  return [...simd(0x0c), ...b];
}
export const f32x4max = (a: E, b: E): Bytes => cat(a, b, simd(0xe9));
/** Relaxed SIMD fused multiply-add: a * b + c (only where WebAssembly.validate accepts it). */
export const f32x4relaxedMadd = (a: E, b: E, c: E): Bytes => cat(a, b, c, simd(0x105));

// ---- control ----
export const block = (...body: E[]): Bytes => cat([0x02, 0x40], ...body, [0x0b]);
export const loop = (...body: E[]): Bytes => cat([0x03, 0x40], ...body, [0x0b]);
export const if_ = (cond: E, then: E[], els?: E[]): Bytes =>
  cat(cond, [0x04, 0x40], ...then, ...(els ? [[0x05], ...els] : []), [0x0b]);
export const br = (depth: number): Bytes => [0x0c, ...uleb(depth)];
export const brIf = (depth: number, cond: E): Bytes => cat(cond, [0x0d, ...uleb(depth)]);
export const call = (fn: number, ...args: E[]): Bytes => cat(...args, [0x10, ...uleb(fn)]);
export const unreachable = (): Bytes => [0x00];
export const ret = (): Bytes => [0x0f];

/**
 * for (i = start; i < end; i += step) body. `end` is re-evaluated each iteration, so pass a
 * local (or constant). The body must not branch out of the loop itself (br depths start at 2
 * for code after it).
 */
export function forRange(i: number, start: E, end: E, step: E, ...body: E[]): Bytes {
  return cat(set(i, start), block(loop(brIf(1, geS(get(i), end)), ...body, set(i, add(get(i), step)), br(0))));
}

// ---- module ----
export class Fn {
  readonly locals: ValType[] = [];
  body: Bytes = [];
  constructor(
    readonly name: string,
    readonly params: ValType[],
    readonly results: ValType[] = [],
    readonly exported = true,
  ) {}
  /** Index of parameter `i`. */
  param(i: number): number {
    return i;
  }
  local(t: ValType): number {
    this.locals.push(t);
    return this.params.length + this.locals.length - 1;
  }
  emit(...code: E[]): void {
    this.body.push(...cat(...code));
  }
}

export class ModuleBuilder {
  readonly fns: Fn[] = [];
  constructor(
    /** Import `env.memory`: shared memory with these page limits. */
    readonly memory: { initial: number; maximum: number; shared: boolean },
  ) {}
  fn(name: string, params: ValType[], results: ValType[] = [], exported = true): Fn {
    const f = new Fn(name, params, results, exported);
    this.fns.push(f);
    return f;
  }
  index(f: Fn): number {
    return this.fns.indexOf(f);
  }
  build(): Uint8Array {
    const section = (id: number, content: Bytes): Bytes => [id, ...uleb(content.length), ...content];
    const vec = (items: Bytes[]): Bytes => [...uleb(items.length), ...items.flat()];
    const types: string[] = [];
    const typeOf = (f: Fn): number => {
      const key = `${f.params.join(',')}:${f.results.join(',')}`;
      let i = types.indexOf(key);
      if (i < 0) i = types.push(key) - 1;
      return i;
    };
    const fnTypes = this.fns.map(typeOf);
    const typeSec = vec(
      types.map((k) => {
        const [p, r] = k.split(':') as [string, string];
        const ps = p ? p.split(',').map(Number) : [];
        const rs = r ? r.split(',').map(Number) : [];
        return [0x60, ...uleb(ps.length), ...ps, ...uleb(rs.length), ...rs];
      }),
    );
    const m = this.memory;
    const limits = m.shared ? [0x03, ...uleb(m.initial), ...uleb(m.maximum)] : [0x01, ...uleb(m.initial), ...uleb(m.maximum)];
    const importSec = vec([[...str('env'), ...str('memory'), 0x02, ...limits]]);
    const funcSec = vec(fnTypes.map((t) => uleb(t)));
    const exportSec = vec(this.fns.filter((f) => f.exported).map((f) => [...str(f.name), 0x00, ...uleb(this.index(f))]));
    const codeSec = vec(
      this.fns.map((f) => {
        // Run-length encode local declarations.
        const groups: Bytes[] = [];
        for (let i = 0; i < f.locals.length; ) {
          let j = i;
          while (j < f.locals.length && f.locals[j] === f.locals[i]) j++;
          groups.push([...uleb(j - i), f.locals[i]!]);
          i = j;
        }
        const body = [...vec(groups), ...f.body, 0x0b];
        return [...uleb(body.length), ...body];
      }),
    );
    return new Uint8Array([
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
      ...section(1, typeSec),
      ...section(2, importSec),
      ...section(3, funcSec),
      ...section(7, exportSec),
      ...section(10, codeSec),
    ]);
  }
}

/** Whether this engine validates relaxed-SIMD f32x4.relaxed_madd (V8 ships it from 11.4; Node 20 needs a flag). */
export function relaxedSimdSupported(): boolean {
  try {
    const mb = new ModuleBuilder({ initial: 1, maximum: 1, shared: false });
    const f = mb.fn('t', [V128, V128, V128], [V128]);
    f.emit(f32x4relaxedMadd(get(0), get(1), get(2)));
    return WebAssembly.validate(mb.build() as Uint8Array<ArrayBuffer>);
  } catch {
    return false;
  }
}

/** Whether fixed-width SIMD validates at all. */
export function simdSupported(): boolean {
  try {
    const mb = new ModuleBuilder({ initial: 1, maximum: 1, shared: false });
    const f = mb.fn('t', [V128, V128], [V128]);
    f.emit(f32x4mul(get(0), get(1)));
    return WebAssembly.validate(mb.build() as Uint8Array<ArrayBuffer>);
  } catch {
    return false;
  }
}
