/**
 * Near-duplicate detection with MinHash signatures and LSH banding. Shingles are token
 * n-grams over CJK-aware tokens, so Chinese and English texts are treated alike. The band
 * layout (b bands × r rows) is chosen for the threshold by minimising the area of false
 * positives plus false negatives under the LSH S-curve; candidates are then confirmed by the
 * signature's estimate of Jaccard similarity.
 */

import { tokenize } from "../../text/tokenize.js";
import { fnv1a32, mix32 } from "../../util/hash.js";

export interface MinHashOptions {
  numPerm: number;
  /** shingle size in tokens */
  shingle: number;
  seed: number;
}

/** Hashes of the token n-grams (computed from per-token hashes, without building n-gram strings). */
export function shingleHashes(text: string, shingle: number): Uint32Array {
  const tokens = tokenize(text);
  const th = tokens.map(fnv1a32);
  const n = Math.min(shingle, th.length);
  const set = new Set<number>();
  for (let i = 0; i + n <= th.length; i++) {
    let h = n;
    for (let j = 0; j < n; j++) h = mix32((h ^ th[i + j]) + 0x9e3779b9);
    set.add(h);
  }
  return Uint32Array.from(set);
}

export function makePermutationSeeds(numPerm: number, seed: number): Uint32Array {
  const seeds = new Uint32Array(numPerm);
  for (let i = 0; i < numPerm; i++) seeds[i] = mix32((seed * 0x9e3779b1 + i * 0x632be5ab + 1) >>> 0);
  return seeds;
}

export function minhashSignature(shingles: Uint32Array, seeds: Uint32Array): Uint32Array {
  const sig = new Uint32Array(seeds.length).fill(0xffffffff);
  for (let i = 0; i < seeds.length; i++) {
    const s = seeds[i];
    let min = 0xffffffff;
    for (let j = 0; j < shingles.length; j++) {
      const h = mix32(shingles[j] ^ s);
      if (h < min) min = h;
    }
    sig[i] = min;
  }
  return sig;
}

/** Fraction of equal signature positions: an unbiased estimate of Jaccard similarity. */
export function estimatedJaccard(a: Uint32Array, b: Uint32Array): number {
  let eq = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) eq++;
  return eq / a.length;
}

function integrate(f: (s: number) => number, a: number, b: number): number {
  const steps = 200;
  const h = (b - a) / steps;
  let sum = 0;
  for (let i = 0; i < steps; i++) sum += f(a + (i + 0.5) * h) * h;
  return sum;
}

/** (bands, rows) for a threshold, minimising false-positive + false-negative area. */
export function optimalBands(threshold: number, numPerm: number): { bands: number; rows: number } {
  let best = { bands: 1, rows: numPerm, err: Number.POSITIVE_INFINITY };
  for (let b = 1; b <= numPerm; b++) {
    for (let r = 1; b * r <= numPerm; r++) {
      const fp = integrate((s) => 1 - (1 - s ** r) ** b, 0, threshold);
      const fn = integrate((s) => (1 - s ** r) ** b, threshold, 1);
      const err = fp + fn;
      if (err < best.err) best = { bands: b, rows: r, err };
    }
  }
  return { bands: best.bands, rows: best.rows };
}

/** A streaming near-duplicate index: `query` then `insert` what was kept. */
export class MinHashLsh {
  private readonly seeds: Uint32Array;
  readonly bands: number;
  readonly rows: number;
  private readonly buckets: Array<Map<number, number[]>>;
  private readonly signatures: Uint32Array[] = [];

  constructor(
    readonly threshold: number,
    private readonly opts: MinHashOptions,
  ) {
    this.seeds = makePermutationSeeds(opts.numPerm, opts.seed);
    const { bands, rows } = optimalBands(threshold, opts.numPerm);
    this.bands = bands;
    this.rows = rows;
    this.buckets = Array.from({ length: bands }, () => new Map());
  }

  signature(text: string): Uint32Array {
    return minhashSignature(shingleHashes(text, this.opts.shingle), this.seeds);
  }

  private bandKey(sig: Uint32Array, band: number): number {
    let h = 0x9747b28c ^ band;
    for (let i = band * this.rows; i < (band + 1) * this.rows; i++) h = mix32(h ^ sig[i]) + 0x1b873593;
    return h >>> 0;
  }

  /** The most similar indexed item at or above the threshold, if any. */
  query(sig: Uint32Array): { index: number; similarity: number } | undefined {
    const seen = new Set<number>();
    let best: { index: number; similarity: number } | undefined;
    for (let b = 0; b < this.bands; b++) {
      const list = this.buckets[b].get(this.bandKey(sig, b));
      if (!list) continue;
      for (const idx of list) {
        if (seen.has(idx)) continue;
        seen.add(idx);
        const sim = estimatedJaccard(sig, this.signatures[idx]);
        if (sim >= this.threshold && (!best || sim > best.similarity)) best = { index: idx, similarity: sim };
      }
    }
    return best;
  }

  insert(sig: Uint32Array): number {
    const idx = this.signatures.length;
    this.signatures.push(sig);
    for (let b = 0; b < this.bands; b++) {
      const key = this.bandKey(sig, b);
      const list = this.buckets[b].get(key);
      if (list) list.push(idx);
      else this.buckets[b].set(key, [idx]);
    }
    return idx;
  }
}
