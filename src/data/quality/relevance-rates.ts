/**
 * How well a relevance threshold separates true instruction/answer pairs from mismatched
 * ones on a real data set: the share of true pairs it rejects, and the share of shuffled
 * pairs (answers permuted with a fixed seed) it catches. Both numbers are needed — any
 * threshold can make one of them perfect on its own.
 */
import { lexicalRelevance } from "./relevance.js";
import { IdfRelevance } from "./relevance-idf.js";

export interface InstructionRow {
  instruction: string;
  input?: string;
  output: string;
}

export interface RelevanceRates {
  rows: number;
  threshold: number;
  /** true pairs scoring below the threshold */
  trueRejected: number;
  /** shuffled pairs scoring below the threshold */
  shuffledCaught: number;
}

/** A seeded pseudo-random generator (mulberry32): the same seed gives the same shuffle everywhere. */
function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A Fisher–Yates permutation of 0..n-1 fixed by the seed. */
export function seededPermutation(n: number, seed: number): number[] {
  const perm = Array.from({ length: n }, (_, i) => i);
  const rnd = mulberry32(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  return perm;
}

/** The request as the quality check sees it: the instruction followed by its input. */
export function requestText(row: InstructionRow): string {
  return row.input ? `${row.instruction}\n${row.input}` : row.instruction;
}

/** Rejected/caught shares of the lexical relevance score at each threshold. */
export function relevanceRates(
  rows: readonly InstructionRow[],
  thresholds: readonly number[],
  seed = 42,
): RelevanceRates[] {
  if (rows.length === 0) throw new Error("relevance rates: no rows to measure");
  const perm = seededPermutation(rows.length, seed);
  const trueScores = rows.map((r) => lexicalRelevance(requestText(r), r.output).score);
  const shuffledScores = rows.map((r, i) => lexicalRelevance(requestText(r), rows[perm[i]].output).score);
  const n = rows.length;
  return thresholds.map((threshold) => ({
    rows: n,
    threshold,
    trueRejected: trueScores.filter((s) => s < threshold).length / n,
    shuffledCaught: shuffledScores.filter((s) => s < threshold).length / n,
  }));
}

export interface CombinedRates extends RelevanceRates {
  /** the rarity-weighted overlap threshold; threshold is the key-term one */
  idfThreshold: number;
}

/**
 * Rates of the combined rule "key-term score < threshold, or rarity-weighted overlap <
 * idfThreshold" (either check rejecting the row rejects it), with the IDF statistics taken
 * from the same rows.
 */
export function combinedRelevanceRates(
  rows: readonly InstructionRow[],
  threshold: number,
  idfThresholds: readonly number[],
  seed = 42,
): CombinedRates[] {
  if (rows.length === 0) throw new Error("relevance rates: no rows to measure");
  const perm = seededPermutation(rows.length, seed);
  const idf = new IdfRelevance(rows.map((r) => ({ request: requestText(r), answer: r.output })));
  const pair = (r: InstructionRow, answer: string) => ({
    lexical: lexicalRelevance(requestText(r), answer).score,
    idf: idf.score(requestText(r), answer),
  });
  const trueScores = rows.map((r) => pair(r, r.output));
  const shuffledScores = rows.map((r, i) => pair(r, rows[perm[i]].output));
  const n = rows.length;
  return idfThresholds.map((idfThreshold) => {
    const rejected = (s: { lexical: number; idf: number }) => s.lexical < threshold || s.idf < idfThreshold;
    return {
      rows: n,
      threshold,
      idfThreshold,
      trueRejected: trueScores.filter(rejected).length / n,
      shuffledCaught: shuffledScores.filter(rejected).length / n,
    };
  });
}
