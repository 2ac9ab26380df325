/**
 * The 25 verifiable instruction types of IFEval, each as a typed kwargs schema and a
 * `check(response)` rule that follows IFEval's published definitions (same counting, same
 * regular expressions, same edge cases: an empty first/last `***` paragraph is allowed,
 * `P.S.`/`P.P.S` markers get their own patterns, JSON may sit in a ``` fence, …).
 * Where the reference relies on NLTK or langdetect, ./text.ts and ./language.ts stand in
 * and document their limits.
 */
import { z } from "zod";
import { SftError } from "../../errors.js";
import { detectLanguage, languageMatches } from "./language.js";
import {
  countMatches,
  pyIsLower,
  pyIsUpper,
  pyLstrip,
  pyRegex,
  pyRstrip,
  pySplitWhitespace,
  pyStrip,
} from "./pytext.js";
import { countSentences, countWords, wordTokenize } from "./text.js";

const relation = z.enum(["less than", "at least"]);
type Relation = z.infer<typeof relation>;
const count = z.number().int().nonnegative();

function compare(actual: number, rel: Relation, threshold: number): boolean {
  return rel === "less than" ? actual < threshold : actual >= threshold;
}

/** Strips Python-style then lowers, as `.strip().lower()`. */
const strippedLower = (s: string) => pyStrip(s).toLowerCase();

/** `json.loads` acceptance: standard JSON plus Python's NaN / Infinity / -Infinity literals. */
function isPythonJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    // Python's decoder also accepts the non-standard number literals; replace them outside
    // strings and try once more.
    let out = "";
    let inString = false;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (inString) {
        out += ch;
        if (ch === "\\") out += text[++i] ?? "";
        else if (ch === '"') inString = false;
        continue;
      }
      if (ch === '"') {
        inString = true;
        out += ch;
        continue;
      }
      const rest = text.slice(i);
      const lit = /^(-?Infinity|NaN)/.exec(rest);
      if (lit) {
        out += "0";
        i += lit[0].length - 1;
        continue;
      }
      out += ch;
    }
    if (out === text) return false;
    try {
      JSON.parse(out);
      return true;
    } catch {
      return false;
    }
  }
}

interface InstructionSpec<S extends z.ZodType> {
  kwargs: S;
  /** What the instruction asks, for reports and error messages. */
  describe: string;
  check(response: string, kwargs: z.infer<S>): boolean;
}

function spec<S extends z.ZodType>(s: InstructionSpec<S>): InstructionSpec<S> {
  return s;
}

const none = z.object({}).strict();

export const INSTRUCTIONS = {
  "keywords:existence": spec({
    kwargs: z.object({ keywords: z.array(z.string()).min(1) }).strict(),
    describe: "include every keyword (case-insensitive)",
    check: (r, k) => k.keywords.every((w) => pyRegex(w, "i").test(r)),
  }),
  "keywords:frequency": spec({
    kwargs: z.object({ keyword: z.string().min(1), frequency: count, relation }).strict(),
    describe: "the keyword appears less than / at least N times (case-insensitive)",
    check: (r, k) => compare(countMatches(pyRegex(pyStrip(k.keyword), "gi"), r), k.relation, k.frequency),
  }),
  "keywords:forbidden_words": spec({
    kwargs: z.object({ forbidden_words: z.array(z.string()).min(1) }).strict(),
    describe: "none of the forbidden words appears as a whole word (case-insensitive)",
    check: (r, k) => !k.forbidden_words.some((w) => pyRegex(`\\b${w}\\b`, "i").test(r)),
  }),
  "keywords:letter_frequency": spec({
    kwargs: z.object({ letter: z.string().length(1), let_frequency: count, let_relation: relation }).strict(),
    describe: "the letter appears less than / at least N times (case-insensitive)",
    check: (r, k) => {
      const letter = k.letter.toLowerCase();
      let n = 0;
      for (const ch of r.toLowerCase()) if (ch === letter) n++;
      return compare(n, k.let_relation, k.let_frequency);
    },
  }),
  "language:response_language": spec({
    kwargs: z.object({ language: z.string().min(2) }).strict(),
    describe: "the whole response is in the given language (ISO 639-1)",
    check: (r, k) => {
      const lang = detectLanguage(r);
      return lang === null || languageMatches(lang, k.language);
    },
  }),
  "length_constraints:number_sentences": spec({
    kwargs: z.object({ num_sentences: count, relation }).strict(),
    describe: "less than / at least N sentences",
    check: (r, k) => compare(countSentences(r), k.relation, k.num_sentences),
  }),
  "length_constraints:number_paragraphs": spec({
    kwargs: z.object({ num_paragraphs: count }).strict(),
    describe: "exactly N paragraphs separated by the markdown divider ***",
    check: (r, k) => {
      const paragraphs = r.split(/\s?\*\*\*\s?/);
      let n = paragraphs.length;
      for (let i = 0; i < paragraphs.length; i++) {
        if (pyStrip(paragraphs[i]) === "") {
          if (i === 0 || i === paragraphs.length - 1) n--;
          else return false;
        }
      }
      return n === k.num_paragraphs;
    },
  }),
  "length_constraints:number_words": spec({
    kwargs: z.object({ num_words: count, relation }).strict(),
    describe: "less than / at least N words",
    check: (r, k) => compare(countWords(r), k.relation, k.num_words),
  }),
  "length_constraints:nth_paragraph_first_word": spec({
    kwargs: z
      .object({ num_paragraphs: count, nth_paragraph: z.number().int().positive(), first_word: z.string() })
      .strict(),
    describe: "exactly N paragraphs separated by blank lines, paragraph i starts with the word",
    check: (r, k) => {
      const paragraphs = r.split("\n\n");
      let n = paragraphs.length;
      for (const p of paragraphs) if (pyStrip(p) === "") n--;
      if (k.nth_paragraph > n) return false;
      const paragraph = pyStrip(paragraphs[k.nth_paragraph - 1]);
      if (!paragraph) return false;
      const word = pyLstrip(pyLstrip(pyStrip(pySplitWhitespace(paragraph)[0]), "'"), '"');
      let first = "";
      for (const ch of word) {
        if (".,?!'\"".includes(ch)) break;
        first += ch.toLowerCase();
      }
      return n === k.num_paragraphs && first === k.first_word.toLowerCase();
    },
  }),
  "detectable_content:number_placeholders": spec({
    kwargs: z.object({ num_placeholders: count }).strict(),
    describe: "at least N placeholders in square brackets, like [address]",
    check: (r, k) => countMatches(/\[.*?\]/g, r) >= k.num_placeholders,
  }),
  "detectable_content:postscript": spec({
    kwargs: z.object({ postscript_marker: z.string().min(1) }).strict(),
    describe: "a postscript starting with the marker (P.S. / P.P.S …)",
    check: (r, k) => {
      const marker = pyStrip(k.postscript_marker);
      const source =
        marker === "P.P.S"
          ? "\\s*p\\.\\s?p\\.\\s?s.*$"
          : marker === "P.S."
            ? "\\s*p\\.\\s?s\\..*$"
            : `\\s*${marker.toLowerCase()}.*$`;
      return pyRegex(source, "m").test(r.toLowerCase());
    },
  }),
  "detectable_format:number_bullet_lists": spec({
    kwargs: z.object({ num_bullets: count }).strict(),
    describe: "exactly N markdown bullet points (* or -)",
    check: (r, k) => countMatches(/^\s*\*[^*].*$/gm, r) + countMatches(/^\s*-.*$/gm, r) === k.num_bullets,
  }),
  "detectable_format:constrained_response": spec({
    kwargs: none,
    describe: 'contains "My answer is yes." / "My answer is no." / "My answer is maybe."',
    check: (r) => {
      const v = pyStrip(r);
      return ["My answer is yes.", "My answer is no.", "My answer is maybe."].some((o) => v.includes(o));
    },
  }),
  "detectable_format:number_highlighted_sections": spec({
    kwargs: z.object({ num_highlights: count }).strict(),
    describe: "at least N *highlighted* sections",
    check: (r, k) => {
      let n = 0;
      for (const m of r.matchAll(/\*[^\n*]*\*/g)) if (pyStrip(pyStrip(m[0], "*"))) n++;
      for (const m of r.matchAll(/\*\*[^\n*]*\*\*/g)) if (pyStrip(m[0].slice(2, -2))) n++;
      return n >= k.num_highlights;
    },
  }),
  "detectable_format:multiple_sections": spec({
    kwargs: z.object({ section_spliter: z.string().min(1), num_sections: count }).strict(),
    describe: "at least N sections, each starting with '<splitter> <number>'",
    check: (r, k) => {
      const splitter = pyRegex(`\\s?${pyStrip(k.section_spliter)}\\s?\\d+\\s?`, "");
      return r.split(splitter).length - 1 >= k.num_sections;
    },
  }),
  "detectable_format:json_format": spec({
    kwargs: none,
    describe: "the whole response is JSON (a ``` fence around it is allowed)",
    check: (r) => {
      let v = pyStrip(r);
      for (const fence of ["```json", "```Json", "```JSON", "```"])
        if (v.startsWith(fence)) v = v.slice(fence.length);
      if (v.endsWith("```")) v = v.slice(0, -3);
      return isPythonJson(pyStrip(v));
    },
  }),
  "detectable_format:title": spec({
    kwargs: none,
    describe: "a title wrapped in double angular brackets, like <<title>>",
    check: (r) => {
      for (const m of r.matchAll(/<<[^\n]+>>/g)) if (pyStrip(pyRstrip(pyLstrip(m[0], "<"), ">"))) return true;
      return false;
    },
  }),
  "combination:two_responses": spec({
    kwargs: none,
    describe: "two different responses separated by ******",
    check: (r) => {
      const parts = r.split("******");
      const valid: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        if (!pyStrip(parts[i])) {
          if (i !== 0 && i !== parts.length - 1) return false;
        } else valid.push(parts[i]);
      }
      return valid.length === 2 && pyStrip(valid[0]) !== pyStrip(valid[1]);
    },
  }),
  "combination:repeat_prompt": spec({
    kwargs: z.object({ prompt_to_repeat: z.string().min(1) }).strict(),
    describe: "first repeat the request word for word, then answer",
    check: (r, k) => strippedLower(r).startsWith(strippedLower(k.prompt_to_repeat)),
  }),
  "startend:end_checker": spec({
    kwargs: z.object({ end_phrase: z.string().min(1) }).strict(),
    describe: "ends with the exact phrase",
    check: (r, k) => pyStrip(pyStrip(r), '"').toLowerCase().endsWith(strippedLower(k.end_phrase)),
  }),
  "startend:quotation": spec({
    kwargs: none,
    describe: "the whole response is wrapped in double quotation marks",
    check: (r) => {
      const v = pyStrip(r);
      const chars = [...v];
      return chars.length > 1 && chars[0] === '"' && chars[chars.length - 1] === '"';
    },
  }),
  "change_case:capital_word_frequency": spec({
    kwargs: z.object({ capital_frequency: count, capital_relation: relation }).strict(),
    describe: "words in ALL CAPITALS appear less than / at least N times",
    check: (r, k) =>
      compare(wordTokenize(r).filter(pyIsUpper).length, k.capital_relation, k.capital_frequency),
  }),
  "change_case:english_capital": spec({
    kwargs: none,
    describe: "the whole response is English and in capital letters",
    check: (r) => {
      const lang = detectLanguage(r);
      return lang === null || (pyIsUpper(r) && lang === "en");
    },
  }),
  "change_case:english_lowercase": spec({
    kwargs: none,
    describe: "the whole response is English and in lowercase letters",
    check: (r) => {
      const lang = detectLanguage(r);
      return lang === null || (pyIsLower(r) && lang === "en");
    },
  }),
  "punctuation:no_comma": spec({
    kwargs: none,
    describe: "no commas at all",
    check: (r) => !r.includes(","),
  }),
} as const;

export type InstructionId = keyof typeof INSTRUCTIONS;
export const INSTRUCTION_IDS = Object.keys(INSTRUCTIONS) as InstructionId[];

/** A rule bound to its kwargs: `(response) => followed?` */
export type BoundInstruction = (response: string) => boolean;

export function isInstructionId(id: string): id is InstructionId {
  return Object.hasOwn(INSTRUCTIONS, id);
}

/**
 * Binds an instruction to its kwargs. Null-valued kwargs are dropped first, as the
 * reference does (IFEval files on the Hugging Face hub list every key with null for the
 * unused ones). Unlike the reference, a missing required kwarg is an error, never a
 * random value.
 */
export function bindInstruction(
  id: string,
  rawKwargs: Record<string, unknown> | null | undefined,
  where: { file?: string; line?: number; field?: string } = {},
): BoundInstruction {
  if (!isInstructionId(id)) {
    throw new SftError(`unknown IFEval instruction id "${id}"`, {
      where,
      hint: `use one of the 25 IFEval ids, e.g. ${INSTRUCTION_IDS.slice(0, 3).join(", ")} …`,
    });
  }
  const cleaned: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rawKwargs ?? {})) if (v !== null && v !== undefined) cleaned[k] = v;
  const instruction = INSTRUCTIONS[id] as InstructionSpec<z.ZodType>;
  const parsed = instruction.kwargs.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SftError(
      `kwargs of "${id}" are invalid: ${issue.path.join(".") || "(root)"}: ${issue.message}`,
      {
        where,
        hint: `"${id}" means: ${instruction.describe}; give its kwargs as in IFEval's input_data.jsonl`,
      },
    );
  }
  return (response) => Boolean(instruction.check(response, parsed.data));
}
