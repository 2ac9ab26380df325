/**
 * Python `str` semantics that IFEval's rules are defined in terms of. JavaScript's `trim`,
 * `toUpperCase` and `\b` differ from Python's `strip`, `isupper` and `re` in corner cases
 * (which characters are whitespace, Unicode word boundaries), and the checks must give the
 * same verdicts as the published definitions, so the few primitives they use live here.
 */

/** Characters for which Python's `str.isspace()` is true (the set `str.strip()` removes). */
const PY_SPACE = /[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
const PY_SPACE_RUN = new RegExp(`${PY_SPACE.source}+`, "g");

export function isPySpace(ch: string): boolean {
  return PY_SPACE.test(ch);
}

/** Python `s.strip(chars)`; with no `chars`, strips Python whitespace. */
export function pyStrip(s: string, chars?: string): string {
  return pyRstrip(pyLstrip(s, chars), chars);
}

export function pyLstrip(s: string, chars?: string): string {
  let i = 0;
  while (i < s.length && (chars === undefined ? isPySpace(s[i]) : chars.includes(s[i]))) i++;
  return s.slice(i);
}

export function pyRstrip(s: string, chars?: string): string {
  let j = s.length;
  while (j > 0 && (chars === undefined ? isPySpace(s[j - 1]) : chars.includes(s[j - 1]))) j--;
  return s.slice(0, j);
}

/** Python `s.split()` with no separator: runs of whitespace, no empty strings. */
export function pySplitWhitespace(s: string): string[] {
  return s.split(PY_SPACE_RUN).filter((w) => w.length > 0);
}

/** Python `str.isupper()`: some uppercase character, and no lowercase or titlecase one. */
export function pyIsUpper(s: string): boolean {
  return /\p{Uppercase}/u.test(s) && !/[\p{Lowercase}\p{Lt}]/u.test(s);
}

/** Python `str.islower()`: some lowercase character, and no uppercase or titlecase one. */
export function pyIsLower(s: string): boolean {
  return /\p{Lowercase}/u.test(s) && !/[\p{Uppercase}\p{Lt}]/u.test(s);
}

/**
 * Compiles a pattern as Python's `re` would read it for the simple patterns IFEval uses
 * (keywords are plain words in practice). `\b` becomes a Unicode-aware boundary, as in
 * Python 3 `str` patterns. A keyword that is not a valid pattern is matched literally
 * rather than failing the whole evaluation.
 */
export function pyRegex(pattern: string, flags: string): RegExp {
  const WORD = "[\\p{L}\\p{N}_]";
  const translated = pattern.replace(/\\b/g, `(?:(?<=${WORD})(?!${WORD})|(?<!${WORD})(?=${WORD}))`);
  try {
    return new RegExp(translated, `${flags}u`);
  } catch {
    return new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), `${flags}u`);
  }
}

/** Python `len(re.findall(pattern, s))` for a global RegExp (empty matches counted once each). */
export function countMatches(re: RegExp, s: string): number {
  let n = 0;
  for (const _ of s.matchAll(re)) n++;
  return n;
}
