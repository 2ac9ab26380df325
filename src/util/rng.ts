/**
 * Seeded pseudo-random numbers for the whole package. Every draw flows from an explicit seed
 * (no Math.random), so weight init, dropout masks, sampling, data order and dataset builds
 * repeat exactly.
 *
 * Two generators live here because saved state and committed outputs depend on each stream:
 * - `Rng` (xoshiro128**): engine init/dropout/sampling and training streams; its whole state is
 *   four uint32 words, so a training run can checkpoint it and resume the exact stream.
 * - `makeRng` (mulberry32): dataset build/augment/taxonomy sampling and `sft data inspect`.
 */
import { createHash } from "node:crypto";
import { fnv1a32, mix32 } from "./hash.js";

/** Mixes any number of 32-bit integers into one well-spread 32-bit seed (murmur3 finaliser). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    let k = Math.imul(p | 0, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  return mix32(h);
}

/** 32-bit seed derived from any parts (strings or numbers) through SHA-256. */
export function seedFrom(...parts: Array<string | number>): number {
  return createHash("sha256").update(parts.join("\u0000")).digest().readUInt32BE(0);
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export interface RngState {
  /** the four xoshiro128** state words */
  s: [number, number, number, number];
}

/** xoshiro128**: small, fast, and good enough for initialisation, dropout, sampling and data order. */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  /** Second Box–Muller value for `normal()`; not part of `state()` (use `nextNormal()` when state is saved). */
  private spareNormal: number | null = null;

  /** A generator whose four state words are spread from `seed` by splitmix32 (never all zero). */
  constructor(seed: number) {
    // splitmix32 expansion, so that nearby seeds give unrelated streams.
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.setWords([next(), next(), next(), next()]);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A generator for `seed`, optionally for a named independent stream and extra integers (e.g. an epoch). */
  static seeded(seed: number, stream = "", ...extra: number[]): Rng {
    let mixed = (seed >>> 0) ^ fnv1a32(stream);
    for (const e of extra) mixed = (Math.imul(mixed ^ (e >>> 0), 0x9e3779b1) + 0x7f4a7c15) >>> 0;
    return new Rng(mixed);
  }

  static fromState(state: RngState): Rng {
    if (!Array.isArray(state.s) || state.s.length !== 4) throw new Error("invalid RNG state");
    const rng = new Rng(0);
    rng.setWords(state.s);
    return rng;
  }

  state(): RngState {
    return { s: [this.s0, this.s1, this.s2, this.s3] };
  }

  private setWords(s: readonly number[]): void {
    this.s0 = s[0] >>> 0;
    this.s1 = s[1] >>> 0;
    this.s2 = s[2] >>> 0;
    this.s3 = s[3] >>> 0;
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

  /** Uniform in [0, 1) with 32 bits of resolution (one draw). */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [0, 1) with 53 random bits (two draws). */
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

  /** Standard normal from 32-bit uniforms (Box–Muller, the second value kept for the next call). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Standard normal from 53-bit uniforms (Box–Muller; no cached spare, so the state alone fixes the stream). */
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

/** mulberry32: a one-word generator returning uniforms in [0, 1). */
export function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A shuffled copy (Fisher–Yates driven by `rng`). */
export function shuffled<T>(items: readonly T[], rng: () => number): T[] {
  const a = items.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** k distinct items (or all when fewer). */
export function sample<T>(items: readonly T[], k: number, rng: () => number): T[] {
  return shuffled(items, rng).slice(0, Math.min(k, items.length));
}
