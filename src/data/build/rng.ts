/** Seeded randomness: every random choice flows from (seed, salt), never from global state. */
import { createHash } from "node:crypto";

/** 32-bit seed derived from any parts. */
export function seedFrom(...parts: Array<string | number>): number {
  return createHash("sha256").update(parts.join("\u0000")).digest().readUInt32BE(0);
}

/** mulberry32: small, fast, good enough for sampling. */
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
