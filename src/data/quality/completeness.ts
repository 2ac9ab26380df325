/**
 * Completeness of a response: is it cut off, unfinished, a refusal, or "as an AI" filler?
 * Each check is written against the mistakes a naive rule makes:
 *  - Truncation: a response need not end in "." — lists, code blocks, headings, URLs,
 *    numbers and emoji are fine endings. Flagged: the server said it stopped at max_tokens
 *    (finish_reason "length"), or the text ends in a dangling comma/colon/connective
 *    ("and", "the", "，", "以及"…), or the last line is an empty list marker.
 *  - Unfinished code: an odd number of ``` fences.
 *  - Unfinished list: the request asks for N items ("list five", "3 tips", "列出三个") and
 *    the response's list has fewer.
 *  - Refusal: only when the response *opens* with one ("I'm sorry, but I can't…",
 *    "抱歉，我无法…"); "I can't stress enough…" or a story quoting a refusal is not one.
 *  - Boilerplate: "As an AI language model, I…" where the model talks about itself, not
 *    an explanation *of* AI language models.
 */

export interface CompletenessOptions {
  truncation: boolean;
  refusal: boolean;
  boilerplate: boolean;
}

export interface CompletenessResult {
  ok: boolean;
  score: number;
  reasons: string[];
}

const DANGLING_EN =
  /(?:[,:;(\-–—]|\b(?:and|or|but|the|a|an|of|to|with|for|in|on|at|by|from|that|which|because|such as|is|are|was|were|be|as|than|then|if|when|while|including|e\.g\.)|…|\.\.\.)\s*$/i;
const DANGLING_ZH = /(?:[，、：；（]|以及|和|与|或|的|是|在|因为|所以|但是|而且|包括|例如|比如)\s*$/;
const LIST_MARKER_ONLY = /^\s*(?:[-*•]|\d+[.)、]|[一二三四五六七八九十]+[、.])\s*$/;

/** Number words 1–10 (English and Chinese) as they appear in counted requests ("three tips", "列出五个"). */
export const NUMBER_WORDS: Readonly<Record<string, number>> = {
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  一: 1,
  两: 2,
  二: 2,
  三: 3,
  四: 4,
  五: 5,
  六: 6,
  七: 7,
  八: 8,
  九: 9,
  十: 10,
};

/** The number of items the request asks for, if it asks for a count. */
export function requestedItemCount(instruction: string): number | undefined {
  const en =
    /\b(?:list|give|name|provide|suggest|generate|write|share|offer|outline|describe|identify|create|brainstorm)\b(?:\s+\w+){0,2}?\s+(\d{1,2}|two|three|four|five|six|seven|eight|nine|ten)\s+(?!sentences?\b|words?\b|paragraphs?\b|lines?\b|characters?\b|minutes?\b|years?\b|days?\b|times?\b|percent\b)\w+/i.exec(
      instruction,
    );
  const zh =
    /(?:列出|列举|给出|写出|举出|提供|说出|写|给我|推荐)(\d{1,2}|[两二三四五六七八九十])(?:个|条|种|点|项|本|部|句|首|款|家|位|件)/.exec(
      instruction,
    );
  const m = en?.[1] ?? zh?.[1];
  if (!m) return undefined;
  const n = /^\d+$/.test(m) ? Number(m) : NUMBER_WORDS[m.toLowerCase()];
  return n !== undefined && n >= 2 && n <= 20 ? n : undefined;
}

/** Items of the longest numbered or bulleted list in the text (top level only). */
export function listItemCount(text: string): number {
  let numbered = 0;
  let bullets = 0;
  let inFence = false;
  for (const line of text.split("\n")) {
    if (/^\s*```/.test(line)) inFence = !inFence;
    if (inFence) continue;
    if (
      /^\s{0,3}(?:\d+[.)、]|[一二三四五六七八九十]+[、.]|第[一二三四五六七八九十\d]+[、.，：:])\s*\S/.test(
        line,
      )
    )
      numbered++;
    else if (/^\s{0,1}[-*•]\s+\S/.test(line)) bullets++;
  }
  return Math.max(numbered, bullets);
}

const REFUSAL_OPENING_EN =
  /^\W*(?:(?:i['’]?m|i am)\s+(?:very\s+|so\s+)?sorry|sorry|unfortunately|i apologi[sz]e)\b[^.!?\n]{0,80}\b(?:can(?:not|['’]t)|unable|not able|won['’]t|will not|do not|don['’]t)\b|^\W*i\s+(?:can(?:not|['’]t)|am unable to|am not able to|won['’]t)\s+(?:help|assist|provide|comply|fulfil|fulfill|do that|answer|create|write|generate|support)/i;
const REFUSAL_OPENING_ZH =
  /^\W*(?:(?:很|非常)?抱歉|对不起|不好意思)[^。！？\n]{0,30}(?:无法|不能|不可以|没办法|不便)|^\W*我(?:无法|不能)(?:提供|回答|帮助|协助|完成|满足)/;
const BOILERPLATE_EN =
  /\bas an? (?:ai|artificial intelligence)(?: language model| assistant| model)?\s*,\s*i\b/i;
const BOILERPLATE_ZH = /作为(?:一个|一名)?(?:人工智能|AI|ai)(?:语言模型|助手|模型)?[，,]\s*我/;

export function checkCompleteness(
  instruction: string,
  response: string,
  opts: CompletenessOptions,
  finishReason?: string,
): CompletenessResult {
  const reasons: string[] = [];
  const text = response.trim();
  if (opts.truncation) {
    if (finishReason === "length") reasons.push("truncated: generation stopped at max_tokens");
    const fences = (text.match(/^\s*```/gm) ?? []).length;
    if (fences % 2 === 1) reasons.push("unfinished code block (odd number of ``` fences)");
    const lines = text.split("\n");
    const last = lines[lines.length - 1] ?? "";
    if (LIST_MARKER_ONLY.test(last)) reasons.push("ends with an empty list item");
    else if (
      fences % 2 === 0 &&
      !/^\s*(```|\||#)/.test(last) &&
      (DANGLING_EN.test(last) || DANGLING_ZH.test(last))
    ) {
      // "e.g." and an ellipsis closing a quoted line are fine in the middle, not at the very end
      reasons.push("ends mid-sentence");
    }
    const asked = requestedItemCount(instruction);
    if (asked !== undefined) {
      const got = listItemCount(text);
      if (got > 0 && got < asked) reasons.push(`unfinished list: asked for ${asked} items, got ${got}`);
    }
  }
  const opening = text.slice(0, 200);
  if (opts.refusal && (REFUSAL_OPENING_EN.test(opening) || REFUSAL_OPENING_ZH.test(opening))) {
    reasons.push("refusal");
  }
  if (opts.boilerplate && (BOILERPLATE_EN.test(text) || BOILERPLATE_ZH.test(text))) {
    reasons.push('"as an AI…" boilerplate');
  }
  return {
    ok: reasons.length === 0,
    score: reasons.length === 0 ? 1 : Math.max(0, 1 - 0.5 * reasons.length),
    reasons,
  };
}
