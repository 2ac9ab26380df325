/**
 * Record → tokens + labels, with the label mask derived from the token sequence itself.
 *
 * The whole rendered text is tokenized once. Each character offset where training starts or a
 * turn ends is mapped to a token index by tokenizing the text before it and checking that those
 * tokens are a prefix of the whole — so a boundary is known to fall between tokens, or the
 * split token is recorded as a boundary issue (pre-flight reports it). An assistant turn is
 * trained from its start through the first end-of-turn token inside its region (Qwen's
 * `<|im_end|>`, Llama 3's `<|eot_id|>`, EOS for segment templates); what follows (e.g. the
 * newline after `<|im_end|>`) is not. Labels are aligned with input_ids (-100 = not trained);
 * the shift to next-token targets happens in the model, as in Hugging Face.
 */

import { SftError } from "../errors.js";
import type { SftRecord } from "../record/record.js";
import { describeLostContent, findLostContent, LOST_CONTENT_HINT, type LostContent } from "./content-loss.js";
import type { ConversationRenderer, GenerationPromptOptions, RenderedConversation } from "./render-types.js";
import { createRenderer, type TemplateChoice } from "./renderer.js";
import type { TextTokenizer } from "./tokenizer.js";

export const IGNORE_INDEX = -100;

/**
 * Which turns are trained. `all_assistant` (default): every assistant turn. `last_assistant`:
 * only the final assistant turn. `include_prompt`: every token. A message's own `train` flag
 * overrides the policy for that message (except under include_prompt).
 */
export type MaskPolicy = "all_assistant" | "last_assistant" | "include_prompt";
export const MASK_POLICIES: MaskPolicy[] = ["all_assistant", "last_assistant", "include_prompt"];

/**
 * What happens to a sample longer than maxSeqLength. `truncate_response` (default, as Hugging
 * Face TRL does): keep the prompt and cut the response at the limit; the cut response trains on
 * the tokens it keeps and has no end token, so the model is never taught to stop where the cut
 * fell; later turns are dropped; a record whose prompt alone fills the limit is rejected.
 * `keep_whole_turns`: cut after the last trained turn that fits whole (end token included);
 * a record whose first trained turn does not fit is rejected. `drop`: reject every over-long
 * record.
 */
export type Truncation = "truncate_response" | "keep_whole_turns" | "drop";
export const TRUNCATIONS: Truncation[] = ["truncate_response", "keep_whole_turns", "drop"];

/**
 * What happens to a record whose rendering lost content (a tool call, tool schema, tool result
 * or system prompt the template does not write): `fail` (default) keeps the sample and lets the
 * pre-flight check fail on it; `drop` rejects the record with the reason.
 */
export type LostContentPolicy = "fail" | "drop";
export const LOST_CONTENT_POLICIES: LostContentPolicy[] = ["fail", "drop"];

export interface TokenizeOptions extends TemplateChoice {
  maskPolicy?: MaskPolicy;
  /** Longest sample in tokens; longer ones are truncated (see `truncation`). */
  maxSeqLength?: number;
  truncation?: Truncation;
  lostContent?: LostContentPolicy;
}

/** One trained turn, in token indices [start, end). */
export interface TrainedSpan {
  messageIndex: number;
  role: string;
  start: number;
  end: number;
  /** The index of the end-of-turn token that closes it, when found (end === endTokenIndex + 1). */
  endTokenIndex: number | undefined;
  /** The span was cut by truncation. */
  cut: boolean;
  /** Training starts at the turn's rendered start because no generation prompt matched there. */
  startFallback?: boolean;
}

/** A character boundary that does not fall between two tokens of the whole. */
export interface BoundaryIssue {
  charOffset: number;
  tokenIndex: number;
  /** What tokenizing the text before the boundary gave, from the first differing token. */
  prefixTokens: number[];
  /** What the whole text has there. */
  wholeTokens: number[];
}

export interface TokenizedSample {
  id: string;
  inputIds: number[];
  labels: number[];
  /** The rendered text (without the BOS id the template prepends, if any). */
  text: string;
  truncated: boolean;
  /** Why and where it was truncated. */
  truncation?: string;
  spans: TrainedSpan[];
  boundaryIssues: BoundaryIssue[];
  /** Number of tokens the template prepended as ids before the text (BOS). */
  prefixIdCount: number;
  /** Text offset ↔ token index for every boundary used (for checks and viewers). */
  boundaries: { charOffset: number; tokenIndex: number }[];
  /** Content of the record the rendering does not hold (pre-flight fails on it). */
  lostContent: LostContent[];
  /**
   * The untrained generation header a template appends after the last turn even when no
   * generation prompt is asked for (Llama 3's `<|start_header_id|>assistant<|end_header_id|>`),
   * cut off the sample: its text and how many tokens it had.
   */
  trimmedTrailer?: { text: string; tokens: number };
}

/**
 * Why a record gives no sample: `untrainable` (nothing to train: a data or template problem
 * pre-flight fails on), or set aside as configured: `too-long` (truncation), `lost-content`.
 */
export type RejectionKind = "untrainable" | "too-long" | "lost-content";

/** Thrown when a record cannot give a training sample; `reason` says why. */
export class SampleRejectedError extends SftError {
  constructor(
    readonly recordId: string,
    readonly reason: string,
    hint?: string,
    readonly kind: RejectionKind = "untrainable",
  ) {
    super(`record ${recordId}: ${reason}`, {
      where: { field: `record ${recordId}` },
      hint,
      code: "E_SAMPLE_REJECTED",
    });
    this.name = "SampleRejectedError";
  }
}

function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** Maps character offsets of a rendered text to token indices of its tokenization. */
class BoundaryMapper {
  readonly ids: number[];
  readonly issues: BoundaryIssue[] = [];
  readonly boundaries = new Map<number, number>();
  private readonly prefix: number[];

  constructor(
    private readonly tokenizer: TextTokenizer,
    private readonly rendered: RenderedConversation,
  ) {
    const bos = tokenizer.bosTokenId;
    this.prefix = rendered.prependBos && bos !== undefined ? [bos] : [];
    this.ids = [...this.prefix, ...tokenizer.encode(rendered.text)];
  }

  get prefixIdCount(): number {
    return this.prefix.length;
  }

  tokenAt(charOffset: number): number {
    const known = this.boundaries.get(charOffset);
    if (known !== undefined) return known;
    let k: number;
    if (charOffset <= 0) k = this.prefix.length;
    else if (charOffset >= this.rendered.text.length) k = this.ids.length;
    else {
      const head = [...this.prefix, ...this.tokenizer.encode(this.rendered.text.slice(0, charOffset))];
      k = commonPrefixLength(head, this.ids);
      if (k < head.length) {
        this.issues.push({
          charOffset,
          tokenIndex: k,
          prefixTokens: head.slice(k, k + 4),
          wholeTokens: this.ids.slice(k, k + 4),
        });
      }
    }
    this.boundaries.set(charOffset, k);
    return k;
  }
}

function trainedMessageIndices(record: SftRecord, policy: MaskPolicy): Set<number> {
  const out = new Set<number>();
  const msgs = record.messages;
  let lastAssistant = -1;
  msgs.forEach((m, i) => {
    if (m.role === "assistant") lastAssistant = i;
  });
  msgs.forEach((m, i) => {
    let trained = policy === "last_assistant" ? i === lastAssistant : m.role === "assistant";
    if (m.train !== undefined) trained = m.train;
    if (trained) out.add(i);
  });
  return out;
}

const trailers = new WeakMap<ConversationRenderer, string | null>();

/**
 * The generation header a template writes after the last turn whether or not a generation
 * prompt is asked for, found once per template: if rendering [user] with and without
 * add_generation_prompt gives the same text, the template ignores the flag, and what it writes
 * after an assistant reply's end token (in [user, assistant]) is that header.
 */
function alwaysAppendedHeader(renderer: ConversationRenderer, tokenizer: TextTokenizer): string | undefined {
  const known = trailers.get(renderer);
  if (known !== undefined) return known ?? undefined;
  let found: string | null = null;
  try {
    const user = { role: "user" as const, content: "x" };
    const one = renderer.render({ messages: [user] }).text;
    const gen = renderer.renderGenerationPrompt({ messages: [user] }).text;
    const two = renderer.render({ messages: [user, { role: "assistant", content: "y" }] }).text;
    if (one === gen && two.startsWith(`${one}y`)) {
      const after = two.slice(one.length + 1);
      for (const id of renderer.endTokenIds) {
        const end = tokenizer.decode([id]);
        if (end && after.startsWith(end)) {
          const header = after.slice(end.length);
          if (header && one.endsWith(header)) found = header;
          break;
        }
      }
    }
  } catch {
    // a template that cannot render the probe has no such header
  }
  trailers.set(renderer, found);
  return found ?? undefined;
}

/** Renders a record with the chosen template, without tokenizing. */
export function renderRecord(
  record: SftRecord,
  tokenizer: TextTokenizer,
  opts: TemplateChoice = {},
): RenderedConversation {
  return createRenderer(tokenizer, opts).render({ messages: record.messages, meta: record.meta });
}

/**
 * Tokenizes one record into `{ inputIds, labels, text, truncated }` (plus the spans and
 * boundaries the pre-flight checks use). Throws SampleRejectedError when no token is trained.
 */
export function tokenizeRecord(
  record: SftRecord,
  tokenizer: TextTokenizer,
  opts: TokenizeOptions = {},
): TokenizedSample {
  const renderer: ConversationRenderer = createRenderer(tokenizer, opts);
  const policy = opts.maskPolicy ?? "all_assistant";
  let rendered: RenderedConversation;
  try {
    rendered = renderer.render({ messages: record.messages, meta: record.meta });
  } catch (e) {
    if (e instanceof SftError) throw new SampleRejectedError(record.id, e.message, e.hint);
    throw new SampleRejectedError(
      record.id,
      `the ${renderer.name} template failed to render: ${(e as Error).message}`,
      "check the record's roles and fields against what the template expects",
    );
  }
  const lostContent = findLostContent(record.messages, record.meta, rendered);
  if (lostContent.length > 0 && opts.lostContent === "drop") {
    throw new SampleRejectedError(
      record.id,
      `rendering with the ${renderer.name} drops content of this record: ${describeLostContent(lostContent)}`,
      LOST_CONTENT_HINT,
      "lost-content",
    );
  }
  const map = new BoundaryMapper(tokenizer, rendered);
  const allIds = map.ids;
  const spans: TrainedSpan[] = [];
  const trainedIdx = trainedMessageIndices(record, policy);
  for (const turn of rendered.turns) {
    if (policy !== "include_prompt" && !trainedIdx.has(turn.messageIndex)) continue;
    if (policy === "include_prompt" && turn.role !== "assistant") continue;
    if (turn.trainStart === undefined) {
      throw new SampleRejectedError(
        record.id,
        `the ${renderer.name} template renders message ${turn.messageIndex} (${turn.role}) differently once later turns follow, so where its trained text starts cannot be derived`,
        "use a named template (--template) for this data, or drop the train flag on that message",
      );
    }
    const start = map.tokenAt(turn.trainStart);
    const bound = turn.regionEnd === undefined ? allIds.length : map.tokenAt(turn.regionEnd);
    if (turn.role === "assistant") {
      let endTok: number | undefined;
      for (let j = start; j < bound; j++) {
        if (renderer.endTokenIds.has(allIds[j])) {
          endTok = j;
          break;
        }
      }
      spans.push({
        messageIndex: turn.messageIndex,
        role: turn.role,
        start,
        end: endTok === undefined ? bound : endTok + 1,
        endTokenIndex: endTok,
        cut: false,
        ...(turn.trainStartFallback ? { startFallback: true } : {}),
      });
    } else {
      spans.push({
        messageIndex: turn.messageIndex,
        role: turn.role,
        start,
        end: bound,
        endTokenIndex: undefined,
        cut: false,
      });
    }
  }

  const trainedSpans = spans.filter((s) => s.end > s.start);
  if (policy !== "include_prompt" && trainedSpans.length === 0) {
    const hasAssistant = record.messages.some((m) => m.role === "assistant");
    const reason = !hasAssistant
      ? "no trained tokens: the record has no assistant turn"
      : spans.length === 0
        ? "no trained tokens: every assistant turn has train: false"
        : "no trained tokens: the assistant turns render to no tokens";
    throw new SampleRejectedError(record.id, reason, "add an assistant reply, or set train: true on a turn");
  }

  // A generation header the template appends after the last turn is never trained: cut it off.
  let text = rendered.text;
  let ids = allIds;
  let trimmedTrailer: TokenizedSample["trimmedTrailer"];
  const header = alwaysAppendedHeader(renderer, tokenizer);
  if (header && text.endsWith(header)) {
    const at = map.tokenAt(text.length - header.length);
    const lastTrained = Math.max(0, ...spans.map((s) => s.end));
    if (at >= lastTrained && at < ids.length) {
      trimmedTrailer = { text: header, tokens: ids.length - at };
      ids = ids.slice(0, at);
      text = text.slice(0, text.length - header.length);
      for (const s of spans) s.end = Math.min(s.end, at);
    }
  }

  let inputIds = ids;
  let truncated = false;
  let truncation: string | undefined;
  const max = opts.maxSeqLength;
  const mode = opts.truncation ?? "truncate_response";
  if (max !== undefined && ids.length > max) {
    truncated = true;
    const tooLong = (hint: string, why = "") =>
      new SampleRejectedError(
        record.id,
        `${ids.length} tokens, longer than max_seq_length ${max}${why} (truncation: ${mode})`,
        hint,
        "too-long",
      );
    if (mode === "drop") throw tooLong("raise max_seq_length, or use truncation: truncate_response");
    const fitting = trainedSpans.filter((s) => s.end <= max);
    let cut: number;
    if (policy === "include_prompt") {
      cut = mode === "keep_whole_turns" && fitting.length > 0 ? fitting[fitting.length - 1].end : max;
      truncation = `cut from ${ids.length} to ${cut} tokens (max_seq_length ${max})`;
    } else if (mode === "keep_whole_turns") {
      // Cut right after the last trained turn that fits, end token included.
      if (fitting.length === 0) {
        throw tooLong(
          "raise max_seq_length, or use truncation: truncate_response to train on the start of the response",
          `, and its first trained turn ends at token ${trainedSpans[0].end}`,
        );
      }
      cut = fitting[fitting.length - 1].end;
      const dropped = trainedSpans.length - fitting.length;
      truncation = `cut from ${ids.length} to ${cut} tokens after the last trained turn that fits (max_seq_length ${max}); ${dropped} later trained turn(s) dropped`;
    } else {
      const straddling = trainedSpans.find((s) => s.start < max && s.end > max);
      if (!straddling && fitting.length === 0) {
        throw new SampleRejectedError(
          record.id,
          `the prompt before the first trained turn is ${trainedSpans[0].start} tokens, not shorter than max_seq_length ${max}: no response token would be trained`,
          "raise max_seq_length or shorten the prompt",
          "too-long",
        );
      }
      if (straddling) {
        cut = max;
        const dropped = trainedSpans.filter((s) => s.start >= max).length;
        truncation = `response of message ${straddling.messageIndex} cut: ${ids.length} tokens to ${max} (max_seq_length); its end token is not trained${dropped ? `; ${dropped} later trained turn(s) dropped` : ""}`;
      } else {
        // The limit falls in a prompt after whole trained turns: end after the last of them.
        cut = fitting[fitting.length - 1].end;
        const dropped = trainedSpans.length - fitting.length;
        truncation = `cut from ${ids.length} to ${cut} tokens after the last trained turn that fits (max_seq_length ${max}); ${dropped} later trained turn(s) dropped`;
      }
    }
    inputIds = ids.slice(0, cut);
    for (const s of spans) {
      if (s.end > cut) {
        s.cut = true;
        s.end = Math.max(s.start, cut);
        if (s.endTokenIndex !== undefined && s.endTokenIndex >= cut) s.endTokenIndex = undefined;
      }
    }
  }

  const labels = new Array<number>(inputIds.length).fill(IGNORE_INDEX);
  if (policy === "include_prompt") {
    for (let i = map.prefixIdCount; i < inputIds.length; i++) labels[i] = inputIds[i];
  } else {
    for (const s of spans) for (let i = s.start; i < s.end; i++) labels[i] = inputIds[i];
  }
  return {
    id: record.id,
    inputIds,
    labels,
    text,
    truncated,
    ...(truncation ? { truncation } : {}),
    spans: spans.filter((s) => s.end > s.start || !s.cut),
    boundaryIssues: map.issues,
    prefixIdCount: map.prefixIdCount,
    boundaries: [...map.boundaries].map(([charOffset, tokenIndex]) => ({ charOffset, tokenIndex })),
    lostContent,
    ...(trimmedTrailer ? { trimmedTrailer } : {}),
  };
}

export type TokenizeResult =
  | { ok: true; sample: TokenizedSample }
  | { ok: false; id: string; reason: string; kind: RejectionKind };

/** tokenizeRecord that returns rejections instead of throwing them. */
export function tryTokenizeRecord(
  record: SftRecord,
  tokenizer: TextTokenizer,
  opts: TokenizeOptions = {},
): TokenizeResult {
  try {
    return { ok: true, sample: tokenizeRecord(record, tokenizer, opts) };
  } catch (e) {
    if (e instanceof SampleRejectedError)
      return { ok: false, id: e.recordId, reason: e.reason, kind: e.kind };
    throw e;
  }
}

/**
 * The prompt generation is given for a conversation: the messages before the final assistant
 * turn (a trailing assistant message is dropped), then the assistant header.
 */
export function renderGenerationPrompt(
  input: SftRecord | SftRecord["messages"],
  tokenizer: TextTokenizer,
  opts: TemplateChoice & GenerationPromptOptions = {},
): { text: string; inputIds: number[] } {
  const messages = Array.isArray(input) ? input : input.messages;
  const meta = Array.isArray(input) ? undefined : input.meta;
  const upTo =
    messages.length > 0 && messages[messages.length - 1].role === "assistant"
      ? messages.length - 1
      : messages.length;
  const r = createRenderer(tokenizer, opts).renderGenerationPrompt(
    {
      messages: messages.slice(0, upTo),
      meta,
    },
    { enableThinking: opts.enableThinking },
  );
  const bos = r.prependBos && tokenizer.bosTokenId !== undefined ? [tokenizer.bosTokenId] : [];
  return { text: r.text, inputIds: [...bos, ...tokenizer.encode(r.text)] };
}
