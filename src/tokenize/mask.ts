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

export interface TokenizeOptions extends TemplateChoice {
  maskPolicy?: MaskPolicy;
  /** Longest sample in tokens; longer ones are truncated (see `truncation`). */
  maxSeqLength?: number;
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
}

/** Thrown when a record cannot give a training sample; `reason` says why. */
export class SampleRejectedError extends SftError {
  constructor(
    readonly recordId: string,
    readonly reason: string,
    hint?: string,
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
  const map = new BoundaryMapper(tokenizer, rendered);
  const ids = map.ids;
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
    const bound = turn.regionEnd === undefined ? ids.length : map.tokenAt(turn.regionEnd);
    if (turn.role === "assistant") {
      let endTok: number | undefined;
      for (let j = start; j < bound; j++) {
        if (renderer.endTokenIds.has(ids[j])) {
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

  let inputIds = ids;
  let truncated = false;
  let truncation: string | undefined;
  const max = opts.maxSeqLength;
  if (max !== undefined && ids.length > max) {
    truncated = true;
    // Keep whole turns: cut right after the last trained turn that fits, end token included.
    const fitting = trainedSpans.filter((s) => s.end <= max);
    let cut: number;
    if (policy === "include_prompt") {
      cut = fitting.length > 0 ? fitting[fitting.length - 1].end : max;
      truncation = `cut from ${ids.length} to ${cut} tokens (max_seq_length ${max})`;
    } else if (fitting.length > 0) {
      cut = fitting[fitting.length - 1].end;
      const dropped = trainedSpans.length - fitting.length;
      truncation = `cut from ${ids.length} to ${cut} tokens after the last trained turn that fits (max_seq_length ${max}); ${dropped} later trained turn(s) dropped`;
    } else {
      const first = trainedSpans[0];
      if (first.start >= max) {
        throw new SampleRejectedError(
          record.id,
          `the prompt before the first trained turn is ${first.start} tokens, not shorter than max_seq_length ${max}: no response token would be trained`,
          "raise max_seq_length or shorten the prompt",
        );
      }
      cut = max;
      truncation = `response of message ${first.messageIndex} cut: ${ids.length} tokens to ${max} (max_seq_length); its end token is not trained`;
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
    text: rendered.text,
    truncated,
    ...(truncation ? { truncation } : {}),
    spans: spans.filter((s) => s.end > s.start || !s.cut),
    boundaryIssues: map.issues,
    prefixIdCount: map.prefixIdCount,
    boundaries: [...map.boundaries].map(([charOffset, tokenIndex]) => ({ charOffset, tokenIndex })),
  };
}

export type TokenizeResult =
  | { ok: true; sample: TokenizedSample }
  | { ok: false; id: string; reason: string };

/** tokenizeRecord that returns rejections instead of throwing them. */
export function tryTokenizeRecord(
  record: SftRecord,
  tokenizer: TextTokenizer,
  opts: TokenizeOptions = {},
): TokenizeResult {
  try {
    return { ok: true, sample: tokenizeRecord(record, tokenizer, opts) };
  } catch (e) {
    if (e instanceof SampleRejectedError) return { ok: false, id: e.recordId, reason: e.reason };
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
