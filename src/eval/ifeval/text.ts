/**
 * Counting words, sentences and word tokens the way IFEval's rules count them.
 *
 * - Words: maximal runs of Python `\w` characters (letters, digits, underscore), as the
 *   reference's `RegexpTokenizer(r"\w+")` does. "state-of-the-art" is four words.
 * - Sentences: the reference uses NLTK's pre-trained English Punkt model. Punkt is a
 *   statistical model; this is a rule-based reading of what it does on ordinary text:
 *   a sentence ends at `.`, `?` or `!` (optionally followed by closing quotes/brackets)
 *   followed by whitespace and another token; a period does not end a sentence after a
 *   known abbreviation (Mr., e.g., etc., U.S.), after a single-letter initial, or after an
 *   ellipsis or a number when the next token starts in lower case. Line breaks alone never
 *   end a sentence (Punkt ignores them too). Limits: Punkt's learned abbreviation list and
 *   collocations are larger than the list below, so rare abbreviations can differ by one.
 * - Word tokens (for counting ALL-CAPS words): an approximation of NLTK's Treebank
 *   tokenizer — whitespace split, punctuation split off, contractions ("DON'T" → "DO",
 *   "N'T") split; hyphenated words stay one token.
 */

const WORD_RUN = /[\p{L}\p{N}_]+/gu;

/** Number of `\w+` runs. */
export function countWords(text: string): number {
  let n = 0;
  for (const _ of text.matchAll(WORD_RUN)) n++;
  return n;
}

/** Abbreviations that Punkt's English model knows (lower case, without the final period). */
const ABBREVIATIONS = new Set([
  "mr",
  "mrs",
  "ms",
  "dr",
  "prof",
  "sr",
  "jr",
  "st",
  "mt",
  "ft",
  "vs",
  "etc",
  "inc",
  "ltd",
  "co",
  "corp",
  "jan",
  "feb",
  "mar",
  "apr",
  "jun",
  "jul",
  "aug",
  "sep",
  "sept",
  "oct",
  "nov",
  "dec",
  "no",
  "vol",
  "fig",
  "gen",
  "gov",
  "sen",
  "rep",
  "rev",
  "capt",
  "col",
  "lt",
  "sgt",
  "est",
  "approx",
  "dept",
  "univ",
  "ave",
  "blvd",
  "rd",
  "cf",
  "al",
  "p",
  "pp",
  "ed",
  "eds",
  "u.s",
  "u.k",
  "e.g",
  "i.e",
  "a.m",
  "p.m",
  "ph.d",
  "d.c",
  "u.n",
  "n.y",
  "calif",
  "mass",
  "wash",
]);

const SENTENCE_END = /[.?!]+/g;

function nextToken(text: string, from: number): { token: string; end: number } | null {
  let i = from;
  while (i < text.length && /[)"'”’\]}*]/.test(text[i])) i++;
  const wsStart = i;
  while (i < text.length && /\s/.test(text[i])) i++;
  if (i === wsStart) return null; // not followed by whitespace: no boundary here
  if (i >= text.length) return null; // end of text: the last sentence simply ends
  let j = i;
  while (j < text.length && !/\s/.test(text[j])) j++;
  return { token: text.slice(i, j), end: j };
}

function startsLower(token: string): boolean {
  const m = /\p{L}/u.exec(token);
  return m !== null && m.index === 0 && m[0] === m[0].toLowerCase() && m[0] !== m[0].toUpperCase();
}

function startsUpper(token: string): boolean {
  const m = /\p{L}/u.exec(token);
  return m !== null && m[0] === m[0].toUpperCase() && m[0] !== m[0].toLowerCase();
}

/** Number of sentences as NLTK's English Punkt tokenizer would split `text` (see above). */
export function countSentences(text: string): number {
  if (text.trim().length === 0) return 0;
  let breaks = 0;
  for (const m of text.matchAll(SENTENCE_END)) {
    const punct = m[0];
    const afterPunct = m.index! + punct.length;
    // closing quotes/brackets right after the mark belong to this sentence (nextToken skips them)
    const next = nextToken(text, afterPunct);
    if (next === null) continue;
    if (/[?!]/.test(punct)) {
      breaks++;
      continue;
    }
    if (punct.length > 1) {
      // ellipsis: a boundary only when the next word looks like a sentence start
      if (startsUpper(next.token)) breaks++;
      continue;
    }
    let wordStart = m.index!;
    while (wordStart > 0 && !/\s/.test(text[wordStart - 1])) wordStart--;
    const word = text
      .slice(wordStart, m.index!)
      .replace(/^[("'“‘[{*]+/, "")
      .toLowerCase();
    if (ABBREVIATIONS.has(word)) continue;
    if (/^\p{L}$/u.test(word)) continue; // an initial: "J. Smith"
    if (/^\p{L}+(\.\p{L}+)+$/u.test(word)) continue; // dotted abbreviation: "U.S.A."
    if (/^\d+$/.test(word) && startsLower(next.token)) continue; // "3. of them"
    if (word.length === 0 && startsLower(next.token)) continue;
    breaks++;
  }
  return breaks + 1;
}

const CONTRACTION = /^(.+?)('s|'m|'d|'re|'ve|'ll|n't)$/i;

/** Treebank-style word tokens (approximation of `nltk.word_tokenize`). */
export function wordTokenize(text: string): string[] {
  const out: string[] = [];
  for (const chunk of text.split(/\s+/)) {
    if (!chunk) continue;
    // split off separators the Treebank tokenizer always isolates
    for (let piece of chunk.split(/([;@#$%&?!,"“”()[\]{}<>]|\.\.\.|--)/)) {
      if (!piece) continue;
      const lead = /^['`]+/.exec(piece);
      if (lead && !CONTRACTION.test(piece)) {
        out.push(lead[0]);
        piece = piece.slice(lead[0].length);
      }
      const trailing: string[] = [];
      // a final period (end of sentence) and colons are split off; inner periods stay ("U.S.A")
      while (/[.:']$/.test(piece) && piece.length > 1) {
        trailing.unshift(piece.slice(-1));
        piece = piece.slice(0, -1);
      }
      const c = CONTRACTION.exec(piece);
      if (c) out.push(c[1], c[2]);
      else if (piece) out.push(piece);
      out.push(...trailing);
    }
  }
  return out;
}
