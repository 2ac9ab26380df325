/**
 * BLEU (Papineni et al. 2002) over the project's CJK-aware tokens (src/text/tokenize:
 * lower-cased words for spaced scripts, one token per Han/Kana/Hangul character,
 * punctuation dropped), so Chinese is scored on characters as is customary.
 *
 * BLEU = BP · exp(Σₙ ¼·log pₙ), n = 1..4, pₙ = clipped n-gram matches / candidate n-grams,
 * BP = 1 if c > r else exp(1 − r/c). Sentence-level BLEU is smoothed with the
 * "exponential" method (a zero-match order counts as 1/(2ᵏ·total), k = 1, 2, … for
 * successive zero orders), so one missing 4-gram does not zero a decent answer.
 * Scores are in [0, 1].
 */
import { tokenize } from "../../text/tokenize.js";

export interface BleuStats {
  /** clipped matches per order 1..maxOrder */
  matches: number[];
  /** candidate n-grams per order */
  totals: number[];
  candidateLength: number;
  referenceLength: number;
}

function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join("\u0001");
    m.set(key, (m.get(key) ?? 0) + 1);
  }
  return m;
}

/** Sufficient statistics of one candidate against one or more references (closest reference length). */
export function bleuStats(
  candidate: readonly string[],
  references: readonly (readonly string[])[],
  maxOrder = 4,
): BleuStats {
  const matches: number[] = [];
  const totals: number[] = [];
  for (let n = 1; n <= maxOrder; n++) {
    const cand = ngramCounts(candidate, n);
    const maxRef = new Map<string, number>();
    for (const ref of references)
      for (const [k, v] of ngramCounts(ref, n)) maxRef.set(k, Math.max(maxRef.get(k) ?? 0, v));
    let match = 0;
    for (const [k, v] of cand) match += Math.min(v, maxRef.get(k) ?? 0);
    matches.push(match);
    totals.push(Math.max(0, candidate.length - n + 1));
  }
  let referenceLength = references[0]?.length ?? 0;
  for (const ref of references) {
    const d = Math.abs(ref.length - candidate.length);
    const best = Math.abs(referenceLength - candidate.length);
    if (d < best || (d === best && ref.length < referenceLength)) referenceLength = ref.length;
  }
  return { matches, totals, candidateLength: candidate.length, referenceLength };
}

/** BLEU from (possibly summed) statistics. `smooth` applies exponential smoothing. */
export function bleuFromStats(s: BleuStats, smooth: boolean): number {
  if (s.candidateLength === 0) return 0;
  let logSum = 0;
  let zeroOrders = 0;
  const orders = s.matches.length;
  for (let i = 0; i < orders; i++) {
    if (s.totals[i] === 0) {
      // candidate shorter than n: that order is undefined; smoothing treats it as a miss
      if (!smooth) return 0;
      zeroOrders++;
      logSum += Math.log(1 / 2 ** zeroOrders);
      continue;
    }
    if (s.matches[i] === 0) {
      if (!smooth) return 0;
      zeroOrders++;
      logSum += Math.log(1 / (2 ** zeroOrders * s.totals[i]));
    } else {
      logSum += Math.log(s.matches[i] / s.totals[i]);
    }
  }
  const bp = s.candidateLength >= s.referenceLength ? 1 : Math.exp(1 - s.referenceLength / s.candidateLength);
  return bp * Math.exp(logSum / orders);
}

/** Smoothed sentence BLEU of a text against reference text(s), in [0, 1]. */
export function sentenceBleu(candidate: string, references: string | string[]): number {
  const refs = (Array.isArray(references) ? references : [references]).map(tokenize);
  return bleuFromStats(bleuStats(tokenize(candidate), refs), true);
}

/** Corpus BLEU (statistics summed over all pairs, unsmoothed), in [0, 1]. */
export function corpusBleu(candidates: string[], references: (string | string[])[]): number {
  const total: BleuStats = {
    matches: [0, 0, 0, 0],
    totals: [0, 0, 0, 0],
    candidateLength: 0,
    referenceLength: 0,
  };
  candidates.forEach((c, i) => {
    const refs = references[i];
    const s = bleuStats(tokenize(c), (Array.isArray(refs) ? refs : [refs]).map(tokenize));
    for (let n = 0; n < 4; n++) {
      total.matches[n] += s.matches[n];
      total.totals[n] += s.totals[n];
    }
    total.candidateLength += s.candidateLength;
    total.referenceLength += s.referenceLength;
  });
  return bleuFromStats(total, false);
}
