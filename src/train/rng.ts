/**
 * A small seeded random number generator (xoshiro128**) whose whole state is four uint32
 * words, so a training run can save it in a checkpoint and continue the exact same stream
 * after a resume. Separate streams (data order, dropout, NEFTune noise) are made by seeding
 * from (seed, stream name) so that drawing more from one never shifts another.
 */

export interface RngState {
  /** the four xoshiro128** state words */
  s: [number, number, number, number];
}

/** splitmix32: spreads an arbitrary 32-bit seed over the state words (never all zero). */
function splitmix32(x: number): () => number {
  let state = x >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a of a string, used to derive a stream's seed from its name. */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  private constructor(s: readonly number[]) {
    this.s0 = s[0] >>> 0;
    this.s1 = s[1] >>> 0;
    this.s2 = s[2] >>> 0;
    this.s3 = s[3] >>> 0;
  }

  /** A generator for `seed`, optionally for a named independent stream and extra integers (e.g. an epoch). */
  static seeded(seed: number, stream = "", ...extra: number[]): Rng {
    let mixed = (seed >>> 0) ^ hashString(stream);
    for (const e of extra) mixed = (Math.imul(mixed ^ (e >>> 0), 0x9e3779b1) + 0x7f4a7c15) >>> 0;
    const next = splitmix32(mixed);
    const s = [next(), next(), next(), next()];
    if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
    return new Rng(s);
  }

  static fromState(state: RngState): Rng {
    if (!Array.isArray(state.s) || state.s.length !== 4) throw new Error("invalid RNG state");
    return new Rng(state.s);
  }

  state(): RngState {
    return { s: [this.s0, this.s1, this.s2, this.s3] };
  }

  /** Next uint32. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling). */
  nextInt(n: number): number {
    if (!(n > 0) || n > 0x100000000) throw new RangeError(`nextInt: bad bound ${n}`);
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Standard normal (Box–Muller; no cached spare, so the state alone fixes the stream). */
  nextNormal(): number {
    let u = this.nextFloat();
    while (u <= 0) u = this.nextFloat();
    const v = this.nextFloat();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: T[] | Int32Array): void {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
  }

  /** A permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    this.shuffle(out);
    return out;
  }
}
