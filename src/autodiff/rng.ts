/**
 * Seeded pseudo-random numbers (xoshiro128**, seeded through splitmix32) so that every run of the
 * project is reproducible from one integer. The state is four uint32 words and can be saved and
 * restored exactly, which is what `--resume` relies on.
 */
export type RngState = [number, number, number, number];

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Rng {
  private s: Uint32Array;
  /** Cached second value of the Box-Muller pair, or NaN when empty. */
  private spareNormal = NaN;

  constructor(seed = 0) {
    const next = splitmix32(seed);
    this.s = new Uint32Array([next(), next(), next(), next()]);
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.s.set(state);
    return r;
  }

  /** Restores a saved state into this generator (objects holding it keep working). */
  setState(state: RngState): void {
    this.s.set(state);
    this.spareNormal = NaN;
  }

  state(): RngState {
    // Drops the cached normal on purpose: a restored generator must continue identically, so
    // normal() never leaves a spare behind across calls that might be separated by a save.
    return [this.s[0], this.s[1], this.s[2], this.s[3]];
  }

  /** Next raw 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Integer uniform in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box-Muller; both values of a pair are used, in order). */
  normal(mean = 0, std = 1): number {
    if (!Number.isNaN(this.spareNormal)) {
      const v = this.spareNormal;
      this.spareNormal = NaN;
      return mean + std * v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  /** A new independent generator derived from this one (advances this one by 4 draws). */
  fork(): Rng {
    const r = new Rng(0);
    r.s.set([this.nextUint32(), this.nextUint32(), this.nextUint32(), this.nextUint32()]);
    if ((r.s[0] | r.s[1] | r.s[2] | r.s[3]) === 0) r.s[0] = 1;
    return r;
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
