/**
 * What a template produces for one conversation: the full text exactly as it is tokenized, and
 * for each message the character offsets that the mask is derived from. The offsets come from
 * how the text was built (segment templates) or from rendering the conversation prefix by
 * prefix (Jinja chat templates) — never from searching the text for a marker.
 */
import type { Message, RecordMeta } from "../record/record.js";

export interface RenderedTurn {
  messageIndex: number;
  role: Message["role"];
  /**
   * Where this turn's trainable text starts: for an assistant turn, right after the
   * generation prompt (so the text before it is exactly what generation is given).
   * Undefined when the template does not let it be derived.
   */
  trainStart: number | undefined;
  /**
   * Set when no generation prompt is a prefix of the rendering at this assistant turn (the
   * template writes the turn's start differently in context): training then starts where the
   * text of the messages before it ends, and pre-flight reports the mismatch.
   */
  trainStartFallback?: boolean;
  /** Where the turn's rendered text ends (exclusive); undefined when not derivable. */
  regionEnd: number | undefined;
}

export interface RenderedConversation {
  text: string;
  /** Prepend the tokenizer's BOS id to the tokens of `text` (segment templates). */
  prependBos: boolean;
  turns: RenderedTurn[];
}

export interface ConversationInput {
  messages: Message[];
  meta?: RecordMeta;
}

export interface GenerationPromptOptions {
  /** Chat templates: leave `enable_thinking` unset (the model may think) instead of false. */
  enableThinking?: boolean;
}

export interface ConversationRenderer {
  readonly name: string;
  readonly kind: "segments" | "chat-template";
  /** Renders a whole conversation for training. */
  render(conv: ConversationInput): RenderedConversation;
  /** Renders `conv` followed by the assistant header: what generation is given. */
  renderGenerationPrompt(
    conv: ConversationInput,
    opts?: GenerationPromptOptions,
  ): { text: string; prependBos: boolean };
  /** Token ids that close an assistant turn (the template's end-of-turn tokens and EOS). */
  readonly endTokenIds: ReadonlySet<number>;
}
