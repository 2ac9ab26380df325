/**
 * CJK-aware tokenisation shared by quality checks, dedup, ROUGE-L and eval.
 *
 * Space-separated scripts (Latin, Cyrillic, Greek…) are split into lower-cased words;
 * CJK text has no spaces, so every Han/Kana/Hangul character is its own token. This is the
 * usual convention for ROUGE on Chinese and keeps mixed text ("用 Python 写一个函数")
 * comparable without a segmenter.
 */

/** Han (incl. extensions), Hiragana, Katakana, Hangul, CJK compatibility ideographs. */
const CJK_CLASS =
  "\\u3400-\\u4dbf\\u4e00-\\u9fff\\uf900-\\ufaff\\u3040-\\u309f\\u30a0-\\u30ff\\uac00-\\ud7af\\u{20000}-\\u{2fa1f}";
const CJK_CHAR = new RegExp(`[${CJK_CLASS}]`, "u");
/** One CJK character, or a run of other letters/digits (with inner apostrophes: "it's"). */
const TOKEN = new RegExp(
  `[${CJK_CLASS}]|(?:(?![${CJK_CLASS}])[\\p{L}\\p{N}])+(?:['’](?:(?![${CJK_CLASS}])\\p{L})+)*`,
  "gu",
);

export function isCjkChar(ch: string): boolean {
  return CJK_CHAR.test(ch);
}

/** Word/character tokens: lower-cased words for spaced scripts, single characters for CJK. Punctuation dropped. */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  for (const m of text.normalize("NFKC").toLowerCase().matchAll(TOKEN)) out.push(m[0]);
  return out;
}

export interface LengthCount {
  /** Words of space-separated scripts. */
  words: number;
  /** CJK characters (each counted once). */
  cjkChars: number;
  /**
   * Length in "word units": words + CJK characters / charsPerWord. A Chinese word is on
   * average about 1.5 characters, so 30 Chinese characters count as 20 words.
   */
  units: number;
}

/** Counts length so that one rule ("at least 10 words") is fair to English and Chinese alike. */
export function countLength(text: string, cjkCharsPerWord = 1.5): LengthCount {
  let words = 0;
  let cjkChars = 0;
  for (const t of tokenize(text)) {
    if (t.length <= 2 && isCjkChar(t)) cjkChars++;
    else words++;
  }
  return { words, cjkChars, units: words + cjkChars / cjkCharsPerWord };
}

/** True when most letters of the text are CJK (used to pick Chinese prompt/format texts). */
export function isMostlyCjk(text: string): boolean {
  const c = countLength(text, 1);
  return c.cjkChars > c.words;
}

/** Token n-grams joined by a separator that cannot occur inside a token. */
export function ngrams(tokens: readonly string[], n: number): string[] {
  if (tokens.length < n) return tokens.length > 0 ? [tokens.join("\u0001")] : [];
  const out: string[] = [];
  for (let i = 0; i + n <= tokens.length; i++) out.push(tokens.slice(i, i + n).join("\u0001"));
  return out;
}
