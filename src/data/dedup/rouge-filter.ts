/**
 * The self-instruct similarity filter: a new instruction is dropped when its ROUGE-L F with
 * any kept instruction exceeds the threshold. Exact, but fast at 100k rows:
 *
 *  - F = 2·LCS/(|a|+|b|) and LCS ≤ |multiset overlap|, so F > θ needs an overlap
 *    o > θ·|a|/(2−θ) tokens. Tokens are made unique by tagging repeats ("the", "the#2"),
 *    turning multisets into sets, and sorted in one fixed global order: rarest first when
 *    the order was learned from a sample (`learnOrder`, done by the streaming dedup on its
 *    first rows), else function words and repeats last and everything else by hash. Two sets with overlap ≥ o share a token among
 *    the first |a|−o+1 of each (prefix filtering), so only the prefixes are indexed and
 *    only items sharing a prefix token become candidates.
 *  - Candidates are cut by length (|b| > θ|a|/(2−θ) and vice versa) and by the exact
 *    overlap bound 2·o/(|a|+|b|) > θ before the O(|a|·|b|) LCS is computed.
 */

import { lcsLength } from "../../text/rouge.js";
import { tokenize } from "../../text/tokenize.js";
import { fnv1a32 } from "../../util/hash.js";

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
  /** shared prefix tokens this entry's indexed prefix guarantees for a match */
  k: number;
}

/** Tokens with repeats tagged ("the", "the#2"), which turns a multiset into a set. */
function taggedTokens(tokens: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return tokens.map((t) => {
    const k = (seen.get(t) ?? 0) + 1;
    seen.set(t, k);
    return k === 1 ? t : `${t}#${k}`;
  });
}

/** Static order: content words first, then function words, then repeats; by hash within a tier. */
function staticRank(tagged: string): number {
  const hash = tagged.lastIndexOf("#");
  const tier = hash > 0 && /^\d+$/.test(tagged.slice(hash + 1)) ? 2 : COMMON.has(tagged) ? 1 : 0;
  return tier * 4294967296 + fnv1a32(tagged);
}

/** The token hash inside a rank (rank = order tier · 2^32 + hash), shifted to a small integer. */
function postingKey(rank: number): number {
  return (rank % 4294967296) >>> 1;
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
  /**
   * Prefix token → kept items. Keyed by the token hash's top 31 bits (a small integer, the
   * fastest Map key); a rare hash collision only adds a candidate, which is then verified.
   */
  private readonly postings = new Map<number, number[]>();
  private stamp = new Uint32Array(1024);
  private hits = new Uint8Array(1024);
  private stampValue = 0;
  /** LCS computations done (for benchmarks) */
  lcsCount = 0;

  /** document frequencies from a sample, when the order was learned (rare tokens first) */
  private df?: Map<string, number>;

  constructor(readonly threshold = 0.7) {}

  /**
   * Learns the global token order from a sample (rarest first), which keeps the indexed
   * prefixes made of rare tokens and the candidate lists short. Only allowed while the
   * filter is empty: the order must be the same for every indexed item.
   */
  learnOrder(sample: Iterable<string[]>): void {
    if (this.entries.length > 0) throw new Error("learnOrder must be called before the first add");
    const df = new Map<string, number>();
    for (const tokens of sample)
      for (const t of new Set(taggedTokens(tokens))) df.set(t, (df.get(t) ?? 0) + 1);
    this.df = df;
  }

  private rankedSet(tokens: string[]): Float64Array {
    const tagged = taggedTokens(tokens);
    const ranks = new Float64Array(tagged.length);
    const df = this.df;
    for (let i = 0; i < tagged.length; i++) {
      ranks[i] = df ? (df.get(tagged[i]) ?? 0) * 4294967296 + fnv1a32(tagged[i]) : staticRank(tagged[i]);
    }
    return ranks.sort();
  }

  get size(): number {
    return this.entries.length;
  }

  /** smallest token overlap that can still give F > θ for a text of `len` tokens (erring low: safe) */
  private minOverlap(len: number): number {
    return Math.max(1, Math.floor((this.threshold * len) / (2 - this.threshold) - 1e-9) + 1);
  }

  /**
   * Prefix length and the number of shared prefix tokens a match needs. If two sets share
   * at least t tokens, their k smallest common tokens lie within the first |x|−t+k tokens of
   * each, so extending both prefixes by one token lets us demand two shared prefix tokens,
   * which removes most chance candidates (pairs sharing one common word).
   */
  private prefixOf(len: number): { length: number; k: number } {
    const o = this.minOverlap(len);
    const k = Math.min(2, o);
    return { length: Math.min(len, len - o + k), k };
  }

  /** The kept instruction with the highest ROUGE-L F above the threshold, if any. */
  findSimilar(text: string): RougeMatch | undefined {
    return this.findSimilarTokens(tokenize(text));
  }

  findSimilarTokens(tokens: string[]): RougeMatch | undefined {
    if (tokens.length === 0) return undefined;
    const ranks = this.rankedSet(tokens);
    const la = tokens.length;
    const θ = this.threshold;
    const minLen = (θ * la) / (2 - θ);
    const maxLen = (la * (2 - θ)) / θ;
    if (this.stamp.length < this.entries.length) {
      const grow = Math.max(this.entries.length * 2, 1024);
      const s = new Uint32Array(grow);
      s.set(this.stamp);
      this.stamp = s;
      const h = new Uint8Array(grow);
      h.set(this.hits);
      this.hits = h;
    }
    const mark = ++this.stampValue;
    const { length: p, k: kq } = this.prefixOf(la);
    const candidates: number[] = [];
    for (let i = 0; i < p; i++) {
      const list = this.postings.get(postingKey(ranks[i]));
      if (!list) continue;
      for (let n = 0; n < list.length; n++) {
        const idx = list[n];
        if (this.stamp[idx] !== mark) {
          this.stamp[idx] = mark;
          const lb = this.entries[idx].tokens.length;
          // length filter; 255 marks "pruned"
          this.hits[idx] = lb <= minLen || lb >= maxLen + 1e-9 ? 255 : 0;
        }
        const h = this.hits[idx];
        if (h >= 2) continue; // pruned (255), or already a candidate
        this.hits[idx] = h + 1;
        if (h + 1 === Math.min(kq, this.entries[idx].k)) candidates.push(idx);
      }
    }
    let best: RougeMatch | undefined;
    for (const idx of candidates) {
      const e = this.entries[idx];
      const lb = e.tokens.length;
      const o = sortedOverlap(ranks, e.ranks);
      if ((2 * o) / (la + lb) <= θ) continue;
      this.lcsCount++;
      const f = (2 * lcsLength(tokens, e.tokens)) / (la + lb);
      if (f > θ && (!best || f > best.score)) best = { index: idx, score: f };
    }
    return best;
  }

  add(text: string): number {
    return this.addTokens(tokenize(text));
  }

  addTokens(tokens: string[]): number {
    const idx = this.entries.length;
    const ranks = this.rankedSet(tokens);
    const { length: p, k } = this.prefixOf(tokens.length);
    this.entries.push({ tokens, ranks, k });
    for (let k = 0; k < p; k++) {
      const key = postingKey(ranks[k]);
      const list = this.postings.get(key);
      if (list) list.push(idx);
      else this.postings.set(key, [idx]);
    }
    return idx;
  }
}
