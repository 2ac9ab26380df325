/**
 * The self-instruct similarity filter: a new instruction is dropped when its ROUGE-L F with
 * any kept instruction exceeds the threshold. Exact, but fast at 100k rows:
 *
 *  - F = 2·LCS/(|a|+|b|) and LCS ≤ |multiset overlap|, so F > θ needs an overlap
 *    o > θ·|a|/(2−θ) tokens. Tokens are made unique by tagging repeats ("the", "the#2"),
 *    turning multisets into sets, and sorted in one fixed global order (function words and
 *    repeats last, everything else by hash). Two sets with overlap ≥ o share a token among
 *    the first |a|−o+1 of each (prefix filtering), so only the prefixes are indexed and
 *    only items sharing a prefix token become candidates.
 *  - Candidates are cut by length (|b| > θ|a|/(2−θ) and vice versa) and by the exact
 *    overlap bound 2·o/(|a|+|b|) > θ before the O(|a|·|b|) LCS is computed.
 */
import { lcsLength } from "../text/rouge.js";
import { tokenize } from "../text/tokenize.js";
import { fnv1a32 } from "./hash.js";

const COMMON = new Set(
  (
    "the a an of to and or in on for with is are was were be been it this that these those as at by from " +
    "what which who how why when where do does did can could would should will your you i me my we our " +
    "their his her its not no yes if then than so but about into over all any some each following " +
    "的 了 是 在 和 有 我 你 他 她 它 这 那 一 个 不 也 就 都 而 及 与 或 等 吗 呢 吧 啊 请 下 中 上 为 以 对 把 被"
  ).split(" "),
);

interface Entry {
  tokens: string[];
  /** tagged token ranks, ascending (the global order) */
  ranks: Float64Array;
}

function rankOf(tagged: string, base: string, repeat: number): number {
  const h = fnv1a32(tagged);
  const tier = repeat > 1 ? 2 : COMMON.has(base) ? 1 : 0;
  return tier * 4294967296 + h;
}

function rankedSet(tokens: string[]): Float64Array {
  const seen = new Map<string, number>();
  const ranks = new Float64Array(tokens.length);
  tokens.forEach((t, i) => {
    const k = (seen.get(t) ?? 0) + 1;
    seen.set(t, k);
    ranks[i] = rankOf(k === 1 ? t : `${t}#${k}`, t, k);
  });
  return ranks.sort();
}

function sortedOverlap(a: Float64Array, b: Float64Array): number {
  let i = 0;
  let j = 0;
  let o = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      o++;
      i++;
      j++;
    } else if (a[i] < b[j]) i++;
    else j++;
  }
  return o;
}

export interface RougeMatch {
  index: number;
  score: number;
}

export class RougeFilter {
  private readonly entries: Entry[] = [];
  private readonly postings = new Map<number, number[]>();
  private stamp = new Uint32Array(1024);
  private stampValue = 0;
  /** LCS computations done (for benchmarks) */
  lcsCount = 0;

  constructor(readonly threshold = 0.7) {}

  get size(): number {
    return this.entries.length;
  }

  /** smallest overlap that can still give F > θ for a text of `len` tokens (rounded down: safe) */
  private minOverlap(len: number): number {
    return Math.max(1, Math.floor((this.threshold * len) / (2 - this.threshold) + 1e-9));
  }

  private prefixLength(len: number): number {
    return Math.max(0, len - this.minOverlap(len) + 1);
  }

  /** The kept instruction with the highest ROUGE-L F above the threshold, if any. */
  findSimilar(text: string): RougeMatch | undefined {
    return this.findSimilarTokens(tokenize(text));
  }

  findSimilarTokens(tokens: string[]): RougeMatch | undefined {
    if (tokens.length === 0) return undefined;
    const ranks = rankedSet(tokens);
    const la = tokens.length;
    const θ = this.threshold;
    const minLen = (θ * la) / (2 - θ);
    const maxLen = (la * (2 - θ)) / θ;
    if (this.stamp.length < this.entries.length) {
      const s = new Uint32Array(Math.max(this.entries.length * 2, 1024));
      s.set(this.stamp);
      this.stamp = s;
    }
    const mark = ++this.stampValue;
    let best: RougeMatch | undefined;
    const p = this.prefixLength(la);
    for (let k = 0; k < p; k++) {
      const list = this.postings.get(ranks[k]);
      if (!list) continue;
      for (const idx of list) {
        if (this.stamp[idx] === mark) continue;
        this.stamp[idx] = mark;
        const e = this.entries[idx];
        const lb = e.tokens.length;
        if (lb <= minLen || lb >= maxLen + 1e-9) continue;
        const o = sortedOverlap(ranks, e.ranks);
        if ((2 * o) / (la + lb) <= θ) continue;
        this.lcsCount++;
        const f = (2 * lcsLength(tokens, e.tokens)) / (la + lb);
        if (f > θ && (!best || f > best.score)) best = { index: idx, score: f };
      }
    }
    return best;
  }

  add(text: string): number {
    return this.addTokens(tokenize(text));
  }

  addTokens(tokens: string[]): number {
    const idx = this.entries.length;
    const ranks = rankedSet(tokens);
    this.entries.push({ tokens, ranks });
    const p = this.prefixLength(tokens.length);
    for (let k = 0; k < p; k++) {
      const list = this.postings.get(ranks[k]);
      if (list) list.push(idx);
      else this.postings.set(ranks[k], [idx]);
    }
    return idx;
  }
}
