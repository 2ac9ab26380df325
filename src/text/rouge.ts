/**
 * ROUGE-L (longest common subsequence) over CJK-aware tokens (see tokenize.ts).
 * F-measure with beta = 1, as used by the self-instruct similarity filter:
 * P = LCS/|candidate|, R = LCS/|reference|, F = 2PR/(P+R) = 2·LCS/(|c|+|r|).
 */
import { tokenize } from "./tokenize.js";

export interface RougeScore {
  precision: number;
  recall: number;
  f: number;
}

/** Length of the longest common subsequence, O(|a|·|b|) time, O(min) memory. */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  if (a.length < b.length) [a, b] = [b, a];
  const m = b.length;
  if (m === 0) return 0;
  let prev = new Uint32Array(m + 1);
  let cur = new Uint32Array(m + 1);
  for (let i = 0; i < a.length; i++) {
    const ai = a[i];
    for (let j = 1; j <= m; j++) {
      cur[j] = ai === b[j - 1] ? prev[j - 1] + 1 : Math.max(cur[j - 1], prev[j]);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[m];
}

export function rougeLTokens(candidate: readonly string[], reference: readonly string[]): RougeScore {
  if (candidate.length === 0 || reference.length === 0) return { precision: 0, recall: 0, f: 0 };
  const lcs = lcsLength(candidate, reference);
  const precision = lcs / candidate.length;
  const recall = lcs / reference.length;
  const f = lcs === 0 ? 0 : (2 * lcs) / (candidate.length + reference.length);
  return { precision, recall, f };
}

export function rougeL(candidate: string, reference: string): RougeScore {
  return rougeLTokens(tokenize(candidate), tokenize(reference));
}
