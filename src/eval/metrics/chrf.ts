/**
 * chrF (Popović 2015): F-score over character n-grams, n = 1..6, β = 2 (recall weighs
 * twice as much as precision). Whitespace is removed before counting, so the metric works
 * the same on spaced and unspaced scripts (Chinese, Japanese) without a segmenter. For
 * each order the n-gram precision and recall are computed; they are averaged over the
 * orders and combined as F_β = (1+β²)·P·R / (β²·P + R). With `wordOrder` > 0 (chrF++),
 * word n-grams over the CJK-aware tokens are added as further orders. Scores in [0, 1].
 */
import { tokenize } from "../../text/tokenize.js";

export interface ChrfOptions {
  charOrder?: number;
  wordOrder?: number;
  beta?: number;
}

function counts(units: readonly string[], n: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i + n <= units.length; i++) {
    const k = units.slice(i, i + n).join("\u0001");
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

function orderPR(hyp: readonly string[], ref: readonly string[], n: number): { p: number; r: number } | null {
  const h = counts(hyp, n);
  const r = counts(ref, n);
  let hTotal = 0;
  let rTotal = 0;
  let match = 0;
  for (const v of h.values()) hTotal += v;
  for (const v of r.values()) rTotal += v;
  if (hTotal === 0 || rTotal === 0) return null;
  for (const [k, v] of h) match += Math.min(v, r.get(k) ?? 0);
  return { p: match / hTotal, r: match / rTotal };
}

/** chrF (or chrF++ with wordOrder 2) of a hypothesis against a reference, in [0, 1]. */
export function chrf(hypothesis: string, reference: string, opts: ChrfOptions = {}): number {
  const charOrder = opts.charOrder ?? 6;
  const wordOrder = opts.wordOrder ?? 0;
  const beta = opts.beta ?? 2;
  const hChars = [...hypothesis.replace(/\s+/gu, "")];
  const rChars = [...reference.replace(/\s+/gu, "")];
  if (hChars.length === 0 || rChars.length === 0) return hChars.length === rChars.length ? 1 : 0;
  const orders: { p: number; r: number }[] = [];
  for (let n = 1; n <= charOrder; n++) {
    const pr = orderPR(hChars, rChars, n);
    if (pr) orders.push(pr);
  }
  if (wordOrder > 0) {
    const hw = tokenize(hypothesis);
    const rw = tokenize(reference);
    for (let n = 1; n <= wordOrder; n++) {
      const pr = orderPR(hw, rw, n);
      if (pr) orders.push(pr);
    }
  }
  if (orders.length === 0) return 0;
  const p = orders.reduce((a, o) => a + o.p, 0) / orders.length;
  const r = orders.reduce((a, o) => a + o.r, 0) / orders.length;
  if (p === 0 && r === 0) return 0;
  const b2 = beta * beta;
  return ((1 + b2) * p * r) / (b2 * p + r);
}
