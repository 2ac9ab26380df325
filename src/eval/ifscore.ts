/**
 * The weighted instruction-following score of one response:
 *
 *   IF = 0.3·format + 0.4·relevance + 0.2·completeness + 0.1·quality      (each in [0, 1])
 *
 * format — does the answer take the form asked for? When the sample carries IFEval
 *   constraints: the mean of the share of constraints followed (strict) and the structure
 *   score; otherwise the mean of the structure and length-appropriateness scores
 *   (./format.ts).
 * relevance — is it about what was asked? The data side's key-term relevance
 *   (src/data/quality/relevance.ts, calibrated on the Alpaca demo sets: the share of the
 *   request's key terms, up to three, that the answer talks about, square-rooted). When a
 *   reference answer exists, averaged with the share of the reference's content words
 *   (stopwords removed, light stemming, CJK character bigrams) found in the response.
 * completeness — is everything asked delivered? The mean of the parts that apply:
 *   requested count ("give 5 tips", "列出3个") → min(1, delivered items / N), items being
 *   list items, else sentences; reference recall (ROUGE-L recall against the expected
 *   answer, when it has more than 3 tokens); and ending (1 when the answer is finished,
 *   0.5 when it stops mid-sentence or inside an open code fence).
 * quality — the style/professionalism score, averaged with fluency when a perplexity
 *   scorer is configured.
 */
import { NUMBER_WORDS } from "../data/quality/completeness.js";
import { lexicalRelevance } from "../data/quality/relevance.js";
import { rougeL } from "../text/rouge.js";
import { isCjkChar, tokenize } from "../text/tokenize.js";
import type { FormatAnalysis } from "./format.js";

export const IF_WEIGHTS = { format: 0.3, relevance: 0.4, completeness: 0.2, quality: 0.1 } as const;

export interface IfScoreParts {
  format: number;
  relevance: number;
  completeness: number;
  quality: number;
  score: number;
}

const STOPWORDS = new Set(
  (
    "a an the and or but if then of to in on at by for with from as is are was were be been being it its this that these those " +
    "i you he she we they me my your our their them what which who whom how why when where do does did can could should would " +
    "will shall may might must not no yes so than too very just also about into over under more most some any each all please " +
    "write give tell make explain describe list provide using use following answer question response word words sentence sentences " +
    // request nouns and numbers say how to answer, not what about
    "one two three four five six seven eight nine ten reason reasons tip tips way ways example examples step steps idea ideas " +
    "point points item items thing things fact facts brief briefly short detail detailed " +
    "的 了 是 在 和 与 或 一 个 这 那 请 我 你 他 她 它 们 吗 呢 吧 啊 把 被 对 为 以 及 中 上 下 不 也 就 都 而 要 给 用 写 出"
  ).split(" "),
);

function stem(w: string): string {
  if (w.length > 5 && w.endsWith("ing")) return w.slice(0, -3);
  if (w.length > 4 && w.endsWith("ed")) return w.slice(0, -2);
  if (w.length > 4 && w.endsWith("es")) return w.slice(0, -2);
  if (w.length > 3 && w.endsWith("s") && !w.endsWith("ss")) return w.slice(0, -1);
  return w;
}

/** Content units of a text: stemmed non-stopwords, and bigrams of consecutive CJK characters. */
export function contentUnits(text: string): Set<string> {
  const out = new Set<string>();
  const toks = tokenize(text);
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i];
    if (isCjkChar(t)) {
      const next = toks[i + 1];
      if (next && isCjkChar(next) && !(STOPWORDS.has(t) && STOPWORDS.has(next))) out.add(t + next);
      continue;
    }
    if (STOPWORDS.has(t) || (t.length < 3 && !/\d/.test(t))) continue;
    out.add(stem(t));
  }
  return out;
}

function coverage(of: Set<string>, inText: Set<string>): number | null {
  if (of.size === 0) return null;
  let hit = 0;
  for (const u of of) if (inText.has(u)) hit++;
  return hit / of.size;
}

export function relevanceScore(instruction: string, response: string, expected?: string): number {
  const parts: number[] = [lexicalRelevance(instruction, response).score];
  if (expected !== undefined) {
    const ref = coverage(contentUnits(expected), contentUnits(response));
    if (ref !== null) parts.push(ref);
  }
  return parts.reduce((a, b) => a + b, 0) / parts.length;
}

/** The number of items an instruction asks for ("5 tips", "three reasons", "列出3个"), or null. */
export function requestedCount(instruction: string): number | null {
  const ins = instruction.toLowerCase();
  const m =
    /\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten)\s+(?:\w+\s+)?(items|points|ways|tips|reasons|examples|steps|ideas|questions|facts|benefits|advantages|disadvantages|things|words|names|bullet points|sentences)\b/.exec(
      ins,
    ) ?? /(\d+|[一二两三四五六七八九十])\s*(?:个|条|种|点|项|句|步)/.exec(ins);
  if (!m) return null;
  const n = /^\d+$/.test(m[1]) ? Number(m[1]) : NUMBER_WORDS[m[1]];
  // "N words/sentences" is a length request, judged by the length score instead
  if (m[2] === "words" || m[2] === "sentences" || m[0].endsWith("句")) return null;
  return n > 0 && n <= 50 ? n : null;
}

export function completenessScore(
  instruction: string,
  response: string,
  format: FormatAnalysis,
  expected?: string,
): number {
  const parts: number[] = [];
  const wanted = requestedCount(instruction);
  if (wanted !== null) {
    const sentences = response.split(/(?<=[.!?。！？])\s*/u).filter((s) => s.trim().length > 0).length;
    const delivered = format.structure.listItems > 0 ? format.structure.listItems : sentences;
    parts.push(Math.min(1, delivered / wanted));
  }
  if (expected !== undefined && tokenize(expected).length > 3) parts.push(rougeL(response, expected).recall);
  const unfinished =
    format.style.penalties.unfinished !== undefined ||
    format.structure.malformed.some((m) => m.includes("fence"));
  parts.push(response.trim() === "" ? 0 : unfinished ? 0.5 : 1);
  return parts.reduce((a, b) => a + b, 0) / parts.length;
}

/** Combines the parts with IF_WEIGHTS. `ifevalFollowed` is the strict share of IFEval constraints followed. */
export function instructionFollowingScore(args: {
  instruction: string;
  response: string;
  format: FormatAnalysis;
  expected?: string;
  ifevalFollowed?: number;
}): IfScoreParts {
  const { instruction, response, format, expected } = args;
  const formatPart =
    args.ifevalFollowed !== undefined
      ? (args.ifevalFollowed + format.structure.score) / 2
      : (format.structure.score + format.length.score) / 2;
  const relevance = response.trim() === "" ? 0 : relevanceScore(instruction, response, expected);
  const completeness = completenessScore(instruction, response, format, expected);
  const quality = format.fluency ? (format.style.score + format.fluency.score) / 2 : format.style.score;
  const score =
    IF_WEIGHTS.format * formatPart +
    IF_WEIGHTS.relevance * relevance +
    IF_WEIGHTS.completeness * completeness +
    IF_WEIGHTS.quality * quality;
  return { format: formatPart, relevance, completeness, quality, score };
}
