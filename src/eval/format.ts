/**
 * Output-format analysis of one response to one instruction. Four measures, each in [0, 1]:
 *
 * structure — what markdown structure the response has (headings, bullet/numbered list
 *   items, fenced code blocks, tables, paragraphs) against what the instruction asks for.
 *   The instruction "asks" for a list when it says list/steps/bullet/enumerate/N items (or
 *   列出/步骤/要点), for code when it says code/function/script/program/implement (or 代码/函数),
 *   for a table when it says table (表格), for headings when it says sections/headings (标题).
 *   score = (asked elements present / asked elements), 1 when nothing is asked, minus 0.25
 *   per malformation (an unclosed ``` fence, an odd number of `**`, a table row whose
 *   column count differs from its header), floored at 0.
 *
 * length — the response's length in word units (words + CJK characters / 1.5) against a
 *   target range read from the instruction: "N words"/"N 字" → [0.7N, 1.3N]; "at least N"
 *   → [N, ∞); "at most / under / fewer than N" → [1, N]; "N sentences" → N·[8, 30] words;
 *   "briefly/one sentence/short/简要" → [3, 60]; "in detail/explain/essay/详细" → [80, 1000];
 *   otherwise a default [5, 600]. score = 1 inside the range; below it len/lo; above it
 *   hi/len (so twice too long scores 0.5).
 *
 * fluency — from the perplexity of the response under a reference language model, when a
 *   `PerplexityScorer` is given (./perplexity-local.ts runs any model the engine loads): score = 1 − ln(ppl)/ln(V), V the model's vocabulary size
 *   (a model that guesses uniformly has ppl = V and scores 0; a perfectly predictable text
 *   scores 1). Null when no scorer is configured (then it is left out of every average).
 *
 * style (professionalism) — 1 minus penalties: shouting (share of ALL-CAPS words of ≥ 3
 *   letters beyond 30%: up to 0.3), exclamation marks beyond one per 100 words (up to 0.2),
 *   runs of repeated punctuation like "!!!" or "???" (0.1), emoji beyond one per 50 words
 *   (up to 0.1), slang/profanity words (0.1 each, up to 0.3), assistant boilerplate such as
 *   "as an AI language model" (0.2), repeated sentences (share of duplicate sentences, up
 *   to 0.4), and an unfinished ending (the last line stops mid-sentence: 0.1).
 */
import { countLength } from "../text/tokenize.js";

/** Perplexity of texts under a reference model; the engine provides one. */
export interface PerplexityScorer {
  readonly name: string;
  /** Vocabulary size: the perplexity of a uniform guess, used to normalise. */
  readonly vocabSize: number;
  perplexity(texts: string[]): Promise<number[]>;
}

export interface StructureInfo {
  headings: number;
  listItems: number;
  codeBlocks: number;
  tables: number;
  paragraphs: number;
  malformed: string[];
  asked: ("list" | "code" | "table" | "headings")[];
  score: number;
}

export interface LengthInfo {
  units: number;
  target: [number, number];
  reason: string;
  score: number;
}

export interface StyleInfo {
  penalties: Record<string, number>;
  score: number;
}

export interface FormatAnalysis {
  structure: StructureInfo;
  length: LengthInfo;
  fluency: { perplexity: number; score: number } | null;
  style: StyleInfo;
}

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

export function analyzeStructure(instruction: string, response: string): StructureInfo {
  const lines = response.split("\n");
  let headings = 0;
  let listItems = 0;
  let codeBlocks = 0;
  let tables = 0;
  const malformed: string[] = [];
  let inFence = false;
  let tableCols = -1;
  let tableCounted = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^\s*(```|~~~)/.test(line)) {
      if (!inFence) codeBlocks++;
      inFence = !inFence;
      continue;
    }
    if (inFence) continue;
    if (/^#{1,6}\s+\S/.test(line) || (/^(=+|-+)\s*$/.test(line) && i > 0 && lines[i - 1].trim() !== ""))
      headings++;
    else if (/^\s*([-*+•]|\d+[.)、]|[a-z][.)])\s+\S/.test(line)) listItems++;
    if (/^\s*\|.*\|\s*$/.test(line)) {
      const cols = line
        .trim()
        .replace(/^\||\|$/g, "")
        .split("|").length;
      // a separator row right under a header row makes a table
      if (/^\s*\|?\s*:?-{2,}/.test(line) && tableCols !== -1 && !tableCounted) {
        tables++;
        tableCounted = true;
      }
      if (tableCols === -1) tableCols = cols;
      else if (cols !== tableCols && !/^\s*\|?\s*:?-{2,}/.test(line))
        malformed.push(`table row ${i + 1} has ${cols} columns`);
    } else {
      tableCols = -1;
      tableCounted = false;
    }
  }
  if (inFence) malformed.push("unclosed ``` code fence");
  const outsideCode = response.replace(/```[\s\S]*?```/g, "");
  if ((outsideCode.match(/\*\*/g)?.length ?? 0) % 2 === 1) malformed.push("unbalanced ** emphasis");
  const paragraphs = response.split(/\n\s*\n/).filter((p) => p.trim()).length;

  const ins = instruction.toLowerCase();
  const asked: StructureInfo["asked"] = [];
  if (
    /\b(list|bullet|bulleted|enumerate|steps?|itemi[sz]e)\b|\b\d+\s+(items|points|ways|tips|reasons|examples)\b|列出|列举|步骤|要点/.test(
      ins,
    )
  )
    asked.push("list");
  if (/\b(code|function|script|program|implement|snippet|class)\b|代码|函数|程序/.test(ins))
    asked.push("code");
  if (/\btable\b|表格/.test(ins)) asked.push("table");
  if (/\b(sections|headings|headers)\b|标题|小节/.test(ins)) asked.push("headings");
  const present = { list: listItems > 0, code: codeBlocks > 0, table: tables > 0, headings: headings > 0 };
  const base = asked.length ? asked.filter((a) => present[a]).length / asked.length : 1;
  return {
    headings,
    listItems,
    codeBlocks,
    tables,
    paragraphs,
    malformed,
    asked,
    score: clamp01(base - 0.25 * malformed.length),
  };
}

const NUM = "(\\d+(?:,\\d{3})*)";

/** The target length range (word units) an instruction implies, and why. */
export function lengthTarget(instruction: string): { target: [number, number]; reason: string } {
  const ins = instruction.toLowerCase();
  const num = (s: string) => Number(s.replace(/,/g, ""));
  let m = new RegExp(`(?:at least|no less than|minimum of|more than)\\s+${NUM}\\s+words`).exec(ins);
  if (m) return { target: [num(m[1]), Number.POSITIVE_INFINITY], reason: `at least ${m[1]} words` };
  m = new RegExp(
    `(?:at most|no more than|under|fewer than|less than|maximum of|within)\\s+${NUM}\\s+words`,
  ).exec(ins);
  if (m) return { target: [1, num(m[1])], reason: `at most ${m[1]} words` };
  m = new RegExp(`${NUM}\\s*(?:-|to)?\\s*(?:\\d+\\s*)?words`).exec(ins) ?? /(\d+)\s*(?:个)?字/.exec(ins);
  if (m) {
    const n = num(m[1]);
    // a Chinese character count is 1.5 characters per word unit
    const units = /字/.test(m[0]) ? n / 1.5 : n;
    return {
      target: [0.7 * units, 1.3 * units],
      reason: `about ${m[1]} ${/字/.test(m[0]) ? "characters" : "words"}`,
    };
  }
  m = /(\d+)\s+sentences?/.exec(ins);
  if (m) return { target: [8 * num(m[1]), 30 * num(m[1])], reason: `${m[1]} sentences` };
  if (
    /\b(one sentence|a sentence|single sentence|one word|briefly|brief|short|concise|in a few words)\b|简要|简短|一句话/.test(
      ins,
    )
  )
    return { target: [1, 60], reason: "asks for a short answer" };
  if (/\b(in detail|detailed|essay|explain|elaborate|comprehensive|thorough)\b|详细|论述|解释/.test(ins))
    return { target: [60, 1200], reason: "asks for a detailed answer" };
  return { target: [5, 600], reason: "default range" };
}

export function analyzeLength(instruction: string, response: string): LengthInfo {
  const units = countLength(response).units;
  const { target, reason } = lengthTarget(instruction);
  const [lo, hi] = target;
  const score = units === 0 ? 0 : units < lo ? units / lo : units > hi ? hi / units : 1;
  return { units: Math.round(units * 100) / 100, target, reason, score: clamp01(score) };
}

const SLANG = /\b(lol|lmao|omg|wtf|gonna|wanna|gotta|dude|bro|ya|u r|idk|tbh|damn|shit|fuck\w*|crap)\b/gi;
const BOILERPLATE =
  /\b(as an ai( language model)?|i am an ai|i'm an ai|as a large language model|i cannot browse)\b|作为一个?(ai|人工智能)(语言模型)?/i;
const EMOJI = /\p{Extended_Pictographic}/gu;

function sentencesOf(text: string): string[] {
  return text
    .split(/(?<=[.!?。！？])\s*|\n+/u)
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length >= 12);
}

export function analyzeStyle(response: string): StyleInfo {
  const penalties: Record<string, number> = {};
  const words = response.match(/[\p{L}\p{N}']+/gu) ?? [];
  const wordUnits = Math.max(1, countLength(response).units);
  const longWords = words.filter((w) => /\p{L}{3,}/u.test(w));
  const caps = longWords.filter((w) => w === w.toUpperCase() && w !== w.toLowerCase()).length;
  if (longWords.length >= 5 && caps / longWords.length > 0.3)
    penalties.shouting = Math.min(0.3, caps / longWords.length - 0.3 + 0.1);
  const excl = response.match(/[!！]/g)?.length ?? 0;
  if (excl > wordUnits / 100 + 1)
    penalties.exclamations = Math.min(0.2, 0.05 * (excl - wordUnits / 100 - 1) + 0.05);
  if (/([!?！？.])\1{2,}/u.test(response.replace(/\.{3}/g, "…"))) penalties.repeated_punctuation = 0.1;
  const emoji = response.match(EMOJI)?.length ?? 0;
  if (emoji > wordUnits / 50) penalties.emoji = Math.min(0.1, 0.02 * emoji);
  const slang = response.match(SLANG)?.length ?? 0;
  if (slang) penalties.slang = Math.min(0.3, 0.1 * slang);
  if (BOILERPLATE.test(response)) penalties.boilerplate = 0.2;
  const sentences = sentencesOf(response);
  if (sentences.length >= 2) {
    const dup = sentences.length - new Set(sentences).size;
    if (dup > 0) penalties.repetition = Math.min(0.4, (0.8 * dup) / sentences.length);
  }
  const lastLine = response.trim().split("\n").pop() ?? "";
  const inCode = (response.match(/```/g)?.length ?? 0) % 2 === 1;
  if (
    !inCode &&
    lastLine.length > 0 &&
    !/^\s*([-*+]|\d+[.)]|#|\||```)/.test(lastLine) &&
    /[\p{L}\p{N},;:]$/u.test(lastLine.trim()) &&
    countLength(lastLine).units > 8
  )
    penalties.unfinished = 0.1;
  const total = Object.values(penalties).reduce((a, b) => a + b, 0);
  return { penalties, score: clamp01(1 - total) };
}

/** Fluency score from a perplexity (see the module comment). */
export function fluencyFromPerplexity(perplexity: number, vocabSize: number): number {
  if (!Number.isFinite(perplexity) || perplexity <= 0) return 0;
  return clamp01(1 - Math.log(Math.max(1, perplexity)) / Math.log(Math.max(2, vocabSize)));
}

/** Analyses many responses; perplexities are computed in one batch when a scorer is given. */
export async function analyzeFormats(
  pairs: { instruction: string; response: string }[],
  scorer?: PerplexityScorer,
): Promise<FormatAnalysis[]> {
  const ppl = scorer ? await scorer.perplexity(pairs.map((p) => p.response)) : null;
  return pairs.map((p, i) => ({
    structure: analyzeStructure(p.instruction, p.response),
    length: analyzeLength(p.instruction, p.response),
    fluency:
      ppl && scorer ? { perplexity: ppl[i], score: fluencyFromPerplexity(ppl[i], scorer.vocabSize) } : null,
    style: analyzeStyle(p.response),
  }));
}
