/**
 * Rarity-weighted term overlap between a request and its answer, for a whole data set.
 *
 * The key-term check counts every matched term alike, so a mismatched answer that happens
 * to share a common word ("data", "people", "的时") scores like a true one. Weighting each
 * shared term by its inverse document frequency over the data set (request + answer of
 * each row is one document) makes common words count for little and topic words for much:
 * score = Σ idf(shared terms) / Σ idf(the request's 3 rarest terms), capped at 1.
 * It needs the data set's statistics, so it is built from all rows before scoring.
 */
import { isCjkChar, tokenize } from "../../text/tokenize.js";
import { lightStem } from "./relevance.js";

/** Stemmed words (2+ letters) and CJK character bigrams of a text. */
export function overlapTerms(text: string): Set<string> {
  const out = new Set<string>();
  for (const w of tokenize(text)) {
    if (isCjkChar(w[0]) || w.length < 2) continue;
    out.add(lightStem(w));
  }
  const ch = Array.from(text.normalize("NFKC"));
  for (let i = 0; i + 1 < ch.length; i++) {
    if (isCjkChar(ch[i]) && isCjkChar(ch[i + 1])) out.add(ch[i] + ch[i + 1]);
  }
  return out;
}

export class IdfRelevance {
  private readonly df = new Map<string, number>();
  private readonly docs: number;

  /** pairs: the request and answer of every row of the data set */
  constructor(pairs: Iterable<{ request: string; answer: string }>) {
    let docs = 0;
    for (const p of pairs) {
      docs++;
      for (const t of new Set([...overlapTerms(p.request), ...overlapTerms(p.answer)])) {
        this.df.set(t, (this.df.get(t) ?? 0) + 1);
      }
    }
    this.docs = docs;
  }

  idf(term: string): number {
    return Math.log((this.docs + 1) / ((this.df.get(term) ?? 0) + 1)) + 1e-9;
  }

  /** In [0, 1]; a request with no terms cannot be judged and scores 1. */
  score(request: string, answer: string, k = 3): number {
    const req = overlapTerms(request);
    if (req.size === 0) return 1;
    const ans = overlapTerms(answer);
    const top = [...req]
      .map((t) => this.idf(t))
      .sort((a, b) => b - a)
      .slice(0, k)
      .reduce((s, x) => s + x, 0);
    let shared = 0;
    for (const t of req) if (ans.has(t)) shared += this.idf(t);
    return Math.min(1, shared / top);
  }
}
