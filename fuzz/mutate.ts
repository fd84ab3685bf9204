/**
 * Seeded randomness and input mutators for the fuzzer. Every input is a pure function of
 * (seed, target, index), so a reported crash or hang is reproduced with `--only T --from I --inputs 1`.
 */

/** SplitMix32-style generator: small, fast, and good enough to pick mutations. */
export class FuzzRng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x9e3779b9) >>> 0;
    let z = this.s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() / 2 ** 32 < p;
  }
}

/** The generator for input `index` of `target` under `seed`. */
export function inputRng(seed: number, target: string, index: number): FuzzRng {
  let h = 2166136261 ^ seed;
  for (const c of target) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return new FuzzRng(Math.imul(h ^ index, 2654435761) ^ (index >>> 16));
}

/** Values that break parsers: boundaries of every integer width, and a few special bytes. */
const INTERESTING_U32 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];

/**
 * One to eight random byte-level edits of `seed`: bit flips, random or boundary bytes, 16 / 32-bit
 * boundary values (either byte order), chunk duplication or deletion, truncation, appended junk.
 */
export function mutateBytes(rng: FuzzRng, seed: Uint8Array): Uint8Array {
  let b = seed.slice();
  const edits = 1 + rng.int(8);
  for (let e = 0; e < edits; e++) {
    if (b.length === 0) b = new Uint8Array([rng.int(256)]);
    const at = rng.int(b.length);
    switch (rng.int(8)) {
      case 0:
        b[at] ^= 1 << rng.int(8);
        break;
      case 1:
        b[at] = rng.int(256);
        break;
      case 2:
      case 3: {
        const v = rng.pick(INTERESTING_U32);
        const width = rng.pick([2, 4]);
        const le = rng.chance(0.5);
        for (let k = 0; k < width && at + k < b.length; k++) b[at + k] = (v >>> (8 * (le ? k : width - 1 - k))) & 0xff;
        break;
      }
      case 4: {
        const len = 1 + rng.int(Math.min(64, b.length - at));
        const out = new Uint8Array(b.length + len);
        out.set(b.subarray(0, at + len));
        out.set(b.subarray(at), at + len);
        b = out;
        break;
      }
      case 5: {
        const len = 1 + rng.int(Math.min(64, b.length - at));
        b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + len)]);
        break;
      }
      case 6:
        b = b.subarray(0, at).slice();
        break;
      default: {
        const junk = Uint8Array.from({ length: 1 + rng.int(32) }, () => rng.int(256));
        const out = new Uint8Array(b.length + junk.length);
        out.set(b);
        out.set(junk, b.length);
        b = out;
      }
    }
  }
  return b;
}

const HOSTILE_JSON_VALUES: unknown[] = [
  null, true, false, 0, -1, 1, 0.5, -0.5, 1e308, -1e308, 1e-320, 2 ** 31, 2 ** 53 + 2, 99999999999999999999, 255, 4096, 65536, 1e9, '', 'x', '/dev/zero',
  '__proto__', [], [1, 2, 3], {}, { type: 'bimodal' }, { __proto__: null }, 'NaN', 'Infinity',
];
const HOSTILE_KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype', 'valueOf', '', 'mesh', 'type', 'epoch', 'files', 'rng', '$tensor', '$number'];

/**
 * A structural edit of a parsed JSON document: a value replaced by a hostile one, a key renamed
 * to a prototype name, a field deleted, an object nested deeper, or a value duplicated elsewhere.
 */
export function mutateJson(rng: FuzzRng, doc: unknown): unknown {
  const root = structuredClone(doc) as unknown;
  const edits = 1 + rng.int(4);
  let out = root;
  for (let e = 0; e < edits; e++) {
    // Walk to a random container.
    const path: (string | number)[] = [];
    let node: unknown = out;
    for (let d = 0; d < 8 && node !== null && typeof node === 'object' && rng.chance(0.7); d++) {
      const keys = Object.keys(node as object);
      if (keys.length === 0) break;
      const k = rng.pick(keys);
      const child = (node as Record<string, unknown>)[k];
      if (child === null || typeof child !== 'object') break;
      path.push(k);
      node = child;
    }
    if (node === null || typeof node !== 'object') {
      out = rng.pick(HOSTILE_JSON_VALUES);
      continue;
    }
    const obj = node as Record<string, unknown>;
    const keys = Object.keys(obj);
    const k = keys.length ? rng.pick(keys) : 'x';
    switch (rng.int(6)) {
      case 0:
        obj[k] = structuredClone(rng.pick(HOSTILE_JSON_VALUES));
        break;
      case 1: {
        const v = obj[k];
        delete obj[k];
        Object.defineProperty(obj, rng.pick(HOSTILE_KEYS), { value: v, enumerable: true, configurable: true, writable: true });
        break;
      }
      case 2:
        delete obj[k];
        break;
      case 3: {
        let deep: unknown = obj[k];
        const levels = rng.pick([1, 5, 20, 200]); // deeper documents are written as text (scene-config target): JSON.stringify and structuredClone recurse
        for (let i = 0; i < levels; i++) deep = rng.chance(0.5) ? [deep] : { a: deep };
        obj[k] = deep;
        break;
      }
      case 4:
        if (typeof obj[k] === 'number') obj[k] = (obj[k] as number) * rng.pick([-1, 2, 1e6, 1e30, 0, 0.5]);
        else obj[k] = rng.pick(HOSTILE_JSON_VALUES);
        break;
      default:
        if (Array.isArray(obj[k])) (obj[k] as unknown[]).push(...(obj[k] as unknown[]));
        else obj[k] = [obj[k], obj[k]];
    }
  }
  return out;
}

/** JSON text of a document (own "__proto__" keys are written as ordinary keys). */
export function jsonText(doc: unknown): string {
  return JSON.stringify(doc) ?? 'null';
}
