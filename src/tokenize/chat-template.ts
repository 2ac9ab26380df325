/**
 * Jinja chat templates (the `chat_template` of tokenizer_config.json), rendered with
 * @huggingface/jinja. Turn boundaries come from rendering the conversation prefix by prefix:
 *
 * - an assistant turn's trained text starts where the generation prompt for the messages
 *   before it ends — provided that prompt is a prefix of the full rendering. Two prompts are
 *   tried, longest first: with `enable_thinking=false` (Qwen3 then closes an empty
 *   `<think>\n\n</think>\n\n` block in the prompt, exactly as its template renders the final
 *   turn) and without it (for turns the template renders without a think block, or turns that
 *   carry their own reasoning);
 * - a message's region ends where the rendering of the messages up to it ends, when that is a
 *   prefix of the whole (templates such as Qwen3's change earlier turns as turns are added —
 *   the last assistant turn gains a think block — and then the region end is left open and the
 *   turn's end token bounds it);
 * - the end-of-turn tokens are found once per template, from the special tokens the template
 *   writes after an assistant reply.
 */
import { Template } from "@huggingface/jinja";
import { SftError } from "../errors.js";
import type { Message } from "../record/record.js";
import type {
  ConversationInput,
  ConversationRenderer,
  GenerationPromptOptions,
  RenderedConversation,
  RenderedTurn,
} from "./render-types.js";
import type { TextTokenizer } from "./tokenizer.js";

type JinjaMessage = Record<string, unknown>;

function toJinjaMessage(m: Message, nullContentForToolCalls: boolean): JinjaMessage {
  const callsOnly = m.content === "" && (m.tool_calls?.length ?? 0) > 0;
  const out: JinjaMessage = {
    role: m.role,
    content: callsOnly && nullContentForToolCalls ? null : m.content,
  };
  if (m.tool_calls && m.tool_calls.length > 0) {
    out.tool_calls = m.tool_calls.map((c) => ({
      id: c.id,
      type: c.type ?? "function",
      function: c.function,
    }));
  }
  if (m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id;
  if (m.name !== undefined) out.name = m.name;
  return out;
}

/** meta.tools as the list of tool schemas chat templates expect (`{type: "function", function}`). */
export function toolsFromMeta(tools: unknown, recordId?: string): unknown[] | undefined {
  if (tools === undefined || tools === null || tools === "") return undefined;
  let list = tools;
  if (typeof list === "string") {
    try {
      list = JSON.parse(list);
    } catch {
      throw new SftError(`meta.tools is a string but not JSON${recordId ? ` (record ${recordId})` : ""}`, {
        where: { field: "meta.tools" },
        hint: "store the tool schemas as a JSON array (or a JSON string of one)",
      });
    }
  }
  if (!Array.isArray(list)) list = [list];
  const arr = list as unknown[];
  if (arr.length === 0) return undefined;
  return arr.map((t) => {
    // Bare function schemas ({name, description, parameters}) get the OpenAI wrapper.
    if (t && typeof t === "object" && "name" in t && !("function" in t))
      return { type: "function", function: t };
    return t;
  });
}

export class ChatTemplateRenderer implements ConversationRenderer {
  readonly kind = "chat-template" as const;
  readonly endTokenIds: ReadonlySet<number>;
  private readonly template: Template;

  constructor(
    readonly name: string,
    source: string,
    private readonly tokenizer: TextTokenizer,
  ) {
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new SftError(`the chat template of ${tokenizer.source} does not parse: ${(e as Error).message}`, {
        where: { file: tokenizer.source, field: "chat_template" },
        hint: "fix the template, or use a named template (--template alpaca)",
      });
    }
    this.nullContentForToolCalls = this.probeNullContent();
    this.endTokenIds = this.probeEndTokens();
  }

  /**
   * Whether an assistant turn that only makes tool calls is passed with `content: null`.
   * Some templates write tool calls only then (DeepSeek-V3: `content is none`); others fail on
   * a null content (Qwen3, Llama 3 apply string operations to it) and get "".
   */
  private readonly nullContentForToolCalls: boolean;

  private probeNullContent(): boolean {
    const call = {
      role: "assistant",
      content: null,
      tool_calls: [{ type: "function", function: { name: "f", arguments: "{}" } }],
    };
    try {
      this.template.render({
        messages: [{ role: "user", content: "x" }, call],
        bos_token: "",
        eos_token: "",
      });
      return true;
    } catch {
      return false;
    }
  }

  /** Renders the template; throws an SftError naming the record when the template raises. */
  renderMessages(
    messages: Message[],
    meta: ConversationInput["meta"],
    addGenerationPrompt: boolean,
    extra: Record<string, unknown> = {},
  ): string {
    const tools = toolsFromMeta(meta?.tools);
    const vars: Record<string, unknown> = {
      messages: messages.map((m) => toJinjaMessage(m, this.nullContentForToolCalls)),
      add_generation_prompt: addGenerationPrompt,
      bos_token: this.tokenizer.bosToken ?? "",
      eos_token: this.tokenizer.eosToken ?? "",
      ...extra,
    };
    if (tools) vars.tools = tools;
    return this.template.render(vars);
  }

  private tryRender(
    messages: Message[],
    meta: ConversationInput["meta"],
    agp: boolean,
    extra?: Record<string, unknown>,
  ): string | undefined {
    try {
      return this.renderMessages(messages, meta, agp, extra);
    } catch {
      return undefined;
    }
  }

  /** The generation prompts to try for a turn, longest-match wins (see module comment). */
  private generationPromptCandidates(messages: Message[], meta: ConversationInput["meta"]): string[] {
    const out: string[] = [];
    for (const extra of [{ enable_thinking: false }, {}]) {
      const s = this.tryRender(messages, meta, true, extra);
      if (s !== undefined && !out.includes(s)) out.push(s);
    }
    return out;
  }

  render(conv: ConversationInput): RenderedConversation {
    const { messages, meta } = conv;
    const text = this.renderMessages(messages, meta, false);
    const regionStart: (number | undefined)[] = [0];
    for (let i = 1; i <= messages.length; i++) {
      if (i === messages.length) {
        regionStart.push(text.length);
        continue;
      }
      const prefix = this.tryRender(messages.slice(0, i), meta, false);
      regionStart.push(prefix !== undefined && text.startsWith(prefix) ? prefix.length : undefined);
    }
    const turns: RenderedTurn[] = messages.map((m, i) => {
      let trainStart: number | undefined;
      let trainStartFallback = false;
      if (m.role === "assistant") {
        const lowest = regionStart[i] ?? 0;
        for (const g of this.generationPromptCandidates(messages.slice(0, i), meta)) {
          if (
            g.length >= lowest &&
            text.startsWith(g) &&
            (trainStart === undefined || g.length > trainStart)
          ) {
            trainStart = g.length;
          }
        }
        // Prefix-diff fallback: the turn's whole rendered text is the assistant's.
        if (trainStart === undefined && regionStart[i] !== undefined) {
          trainStart = regionStart[i];
          trainStartFallback = true;
        }
      } else {
        trainStart = regionStart[i];
      }
      return {
        messageIndex: i,
        role: m.role,
        trainStart,
        regionEnd: regionStart[i + 1],
        ...(trainStartFallback ? { trainStartFallback } : {}),
      };
    });
    return { text, prependBos: false, turns };
  }

  /**
   * The generation prompt. By default with `enable_thinking=false` (Qwen3 then closes an empty
   * think block, matching how it renders a final reply without reasoning); `enableThinking`
   * leaves the variable unset, for models trained on replies that carry their reasoning.
   */
  renderGenerationPrompt(
    conv: ConversationInput,
    opts: GenerationPromptOptions = {},
  ): { text: string; prependBos: boolean } {
    const extra = opts.enableThinking ? {} : { enable_thinking: false };
    return { text: this.renderMessages(conv.messages, conv.meta, true, extra), prependBos: false };
  }

  /**
   * Renders a tiny probe conversation and keeps the special tokens written after the reply:
   * "<|im_end|>" for Qwen, "<|eot_id|>" for Llama 3, EOS for DeepSeek. EOS is always included.
   */
  private probeEndTokens(): Set<number> {
    const ids = new Set<number>();
    if (this.tokenizer.eosTokenId !== undefined) ids.add(this.tokenizer.eosTokenId);
    const user: Message = { role: "user", content: "x" };
    const full = this.tryRender([user, { role: "assistant", content: "y" }], undefined, false);
    if (full === undefined) return ids;
    for (const g of this.generationPromptCandidates([user], undefined)) {
      if (!full.startsWith(g)) continue;
      for (const id of this.tokenizer.encode(full.slice(g.length))) {
        if (this.tokenizer.isSpecial(id)) ids.add(id);
      }
      break;
    }
    return ids;
  }
}
