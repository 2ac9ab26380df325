/**
 * Length rule that is fair across scripts. Words are counted for space-separated
 * languages; CJK text has no spaces, so a whitespace split counts a whole Chinese answer as
 * one "word". Here a CJK character counts as 1/cjkCharsPerWord of a word (default 1.5
 * characters per word, the usual average for Chinese), so a 30-character Chinese answer
 * is 20 word units and passes a "at least 10 words" rule. A token counter (a real
 * tokenizer) may be supplied and is then reported alongside.
 */
import { countLength } from "../../text/tokenize.js";

export interface LengthRule {
  min_words: number;
  max_words: number;
  cjk_chars_per_word: number;
}

export interface LengthResult {
  ok: boolean;
  /** 1 inside the bounds, falling towards 0 the further outside */
  score: number;
  units: number;
  words: number;
  cjkChars: number;
  tokens?: number;
  reason?: string;
}

export function checkLength(
  text: string,
  rule: LengthRule,
  countTokens?: (t: string) => number,
): LengthResult {
  const c = countLength(text, rule.cjk_chars_per_word);
  const tokens = countTokens?.(text);
  const base = {
    units: c.units,
    words: c.words,
    cjkChars: c.cjkChars,
    ...(tokens !== undefined ? { tokens } : {}),
  };
  if (c.units < rule.min_words) {
    return {
      ok: false,
      score: rule.min_words > 0 ? c.units / rule.min_words : 0,
      ...base,
      reason: `too short: ${c.units.toFixed(1)} word units < ${rule.min_words}`,
    };
  }
  if (c.units > rule.max_words) {
    return {
      ok: false,
      score: rule.max_words / c.units,
      ...base,
      reason: `too long: ${c.units.toFixed(1)} word units > ${rule.max_words}`,
    };
  }
  return { ok: true, score: 1, ...base };
}
