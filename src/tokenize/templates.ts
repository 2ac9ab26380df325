/**
 * Segment templates: the classic prompt formats (alpaca, vicuna, chinese, simple, multi-turn,
 * task, cot, the task-aware family) and user-defined ones from a YAML/JSON file. Each role has
 * a format string with placeholders:
 *
 *   {content}  the message text
 *   {eos}      the tokenizer's EOS token (required after {content} in the assistant format:
 *              it is the end token that closes — and is trained with — each assistant turn)
 *   {train}    optional, in the assistant format before {content}: training starts here
 *              instead of at {content} (e.g. vicuna's "ASSISTANT:{train} {content}", so that
 *              the space is part of the answer, as the model generates it)
 *
 * The generation prompt is everything before {train}/{content} of the assistant format.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { SftError } from "../errors.js";
import type { Message } from "../record/record.js";
import { toolsFromMeta } from "./chat-template.js";
import type {
  ConversationInput,
  ConversationRenderer,
  RenderedConversation,
  RenderedTurn,
} from "./render-types.js";
import type { TextTokenizer } from "./tokenizer.js";

export const segmentTemplateSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    /** Text at the very start (after BOS). */
    prefix: z.string().default(""),
    /** Format of a system message. */
    system: z.string().default("{content}\n\n"),
    /** System text used when the record has none ("" = none). */
    default_system: z.string().default(""),
    user: z.string(),
    /** Format of the user turn that follows a system message, when it differs (e.g. task's ### Input). */
    user_after_system: z.string().optional(),
    assistant: z.string(),
    /** Format of a tool result; defaults to the user format. */
    tool: z.string().optional(),
    /** Appended after an assistant turn when another message follows. */
    separator: z.string().default(""),
    /** Prepend BOS when the tokenizer's config adds one. */
    bos: z.boolean().default(true),
  })
  .strict();
export type SegmentTemplateSpec = z.input<typeof segmentTemplateSchema>;
type SegmentTemplate = z.output<typeof segmentTemplateSchema>;

const ALPACA_SYSTEM =
  "Below is an instruction that describes a task. Write a response that appropriately completes the request.";

/** The built-in templates, by name. */
export const BUILTIN_TEMPLATES: Record<string, SegmentTemplateSpec> = {
  alpaca: {
    name: "alpaca",
    description: "Stanford Alpaca: ### Instruction / ### Response",
    default_system: ALPACA_SYSTEM,
    user: "### Instruction:\n{content}\n\n",
    assistant: "### Response:\n{content}{eos}",
    tool: "### Input:\n{content}\n\n",
    separator: "\n\n",
  },
  vicuna: {
    name: "vicuna",
    description: "Vicuna v1.1: USER: … ASSISTANT: …</s>",
    default_system:
      "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions.",
    system: "{content} ",
    user: "USER: {content} ",
    assistant: "ASSISTANT:{train} {content}{eos}",
    tool: "TOOL: {content} ",
  },
  chinese: {
    name: "chinese",
    description: "Chinese Alpaca: ### 指令 / ### 回答",
    default_system: "以下是一个描述任务的指令，请写出一个恰当完成该请求的回答。",
    user: "### 指令:\n{content}\n\n",
    assistant: "### 回答:\n{content}{eos}",
    tool: "### 输入:\n{content}\n\n",
    separator: "\n\n",
  },
  simple: {
    name: "simple",
    description: "### Question / ### Answer",
    user: "### Question:\n{content}\n\n",
    assistant: "### Answer:\n{content}{eos}",
    separator: "\n\n",
  },
  "multi-turn": {
    name: "multi-turn",
    description: "### Conversation, then ### Human / ### Assistant turns",
    prefix: "### Conversation\n\n",
    user: "### Human:\n{content}\n\n",
    assistant: "### Assistant:\n{content}{eos}",
    tool: "### Tool:\n{content}\n\n",
    separator: "\n\n",
  },
  task: {
    name: "task",
    description:
      "### Task / ### Input / ### Output (the system message is the task, the user turn its input)",
    system: "### Task:\n{content}\n\n",
    user: "### Task:\n{content}\n\n",
    user_after_system: "### Input:\n{content}\n\n",
    assistant: "### Output:\n{content}{eos}",
    separator: "\n\n",
  },
  cot: {
    name: "cot",
    description: "chain of thought: ### Problem / ### Solution (the solution ends with its ### Answer)",
    default_system: "Solve the problem step by step, then give the final answer after ### Answer:.",
    user: "### Problem:\n{content}\n\n",
    assistant: "### Solution:\n{content}{eos}",
    separator: "\n\n",
  },
  qa: {
    name: "qa",
    description: "task-aware: question answering",
    default_system: "Answer the question accurately and concisely.",
    user: "### Question:\n{content}\n\n",
    assistant: "### Answer:\n{content}{eos}",
    separator: "\n\n",
  },
  summarization: {
    name: "summarization",
    description: "task-aware: summarization",
    default_system: "Summarize the following text.",
    user: "### Text:\n{content}\n\n",
    assistant: "### Summary:\n{content}{eos}",
    separator: "\n\n",
  },
  translation: {
    name: "translation",
    description: "task-aware: translation",
    default_system: "Translate the following text.",
    user: "### Source:\n{content}\n\n",
    assistant: "### Translation:\n{content}{eos}",
    separator: "\n\n",
  },
  classification: {
    name: "classification",
    description: "task-aware: classification",
    default_system: "Classify the following input. Answer with the label only.",
    user: "### Input:\n{content}\n\n",
    assistant: "### Label:\n{content}{eos}",
    separator: "\n\n",
  },
  generation: {
    name: "generation",
    description: "task-aware: open generation",
    default_system: "Complete the following request.",
    user: "### Prompt:\n{content}\n\n",
    assistant: "### Response:\n{content}{eos}",
    separator: "\n\n",
  },
};

/** Names of the task-aware family; "task-aware" picks one per record from `meta.task`. */
export const TASK_AWARE_TEMPLATES = ["qa", "summarization", "translation", "classification", "generation"];
export const TASK_AWARE = "task-aware";

export function builtinTemplateNames(): string[] {
  return [...Object.keys(BUILTIN_TEMPLATES), TASK_AWARE];
}

/** Checks a spec (built-in or user) and fills its defaults; `where` names its source for errors. */
export function validateSegmentTemplate(spec: unknown, where: string): SegmentTemplate {
  const parsed = segmentTemplateSchema.safeParse(spec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SftError(`invalid template: ${issue.message}`, {
      where: { file: where, field: issue.path.join(".") },
      hint: "a template needs name, user and assistant format strings (placeholders {content}, {eos}, {train})",
    });
  }
  const t = parsed.data;
  const a = t.assistant;
  const c = a.indexOf("{content}");
  const e = a.indexOf("{eos}");
  const tr = a.indexOf("{train}");
  if (c < 0 || e < c) {
    throw new SftError(
      `template "${t.name}": the assistant format must contain {content} followed by {eos}`,
      {
        where: { file: where, field: "assistant" },
        hint: 'e.g. assistant: "### Response:\\n{content}{eos}" — the EOS closes the turn and is trained',
      },
    );
  }
  if (tr >= 0 && tr > c) {
    throw new SftError(`template "${t.name}": {train} must come before {content}`, {
      where: { file: where, field: "assistant" },
    });
  }
  for (const field of ["user", "system", "tool", "user_after_system"] as const) {
    const f = t[field];
    if (f !== undefined && !f.includes("{content}")) {
      throw new SftError(`template "${t.name}": the ${field} format must contain {content}`, {
        where: { file: where, field },
      });
    }
  }
  return t;
}

/**
 * Reads user templates from a YAML or JSON file: either one template object or
 * `{ templates: [ … ] }`. Returns them by name.
 */
export function loadTemplateFile(path: string): Record<string, SegmentTemplateSpec> {
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch (e) {
    throw new SftError(`cannot read template file ${path}`, { where: { file: path }, cause: e });
  }
  let doc: unknown;
  try {
    doc = path.endsWith(".json") ? JSON.parse(raw) : parseYaml(raw);
  } catch (e) {
    throw new SftError(`template file ${path} does not parse: ${(e as Error).message}`, {
      where: { file: path },
      hint: "write the template as YAML or JSON",
    });
  }
  const list =
    doc && typeof doc === "object" && Array.isArray((doc as { templates?: unknown }).templates)
      ? ((doc as { templates: unknown[] }).templates as unknown[])
      : [doc];
  const out: Record<string, SegmentTemplateSpec> = {};
  list.forEach((spec, i) => {
    const t = validateSegmentTemplate(spec, list.length > 1 ? `${path} (templates[${i}])` : path);
    out[t.name] = t;
  });
  return out;
}

/** Heads the tool schemas a segment template lists in the system text (from meta.tools). */
export const TOOLS_HEADER = "You can call these tools (answer with a JSON object per call):";

/**
 * The text of a message in a segment template: its content, then one JSON object per tool
 * call (`{"name": …, "arguments": …}`), one per line.
 */
export function segmentContent(m: Message): string {
  if (!m.tool_calls || m.tool_calls.length === 0) return m.content;
  const calls = m.tool_calls.map(
    (c) => `{"name": ${JSON.stringify(c.function.name)}, "arguments": ${c.function.arguments}}`,
  );
  return [m.content, ...calls].filter(Boolean).join("\n");
}

function fill(format: string, content: string, eos: string): string {
  // split/join, not replaceAll: "$&" in a message must stay literal text.
  return format.split("{train}").join("").split("{eos}").join(eos).split("{content}").join(content);
}

/** A renderer for one segment template and tokenizer. */
export class SegmentTemplateRenderer implements ConversationRenderer {
  readonly kind = "segments" as const;
  readonly endTokenIds: ReadonlySet<number>;
  private readonly t: SegmentTemplate;
  private readonly eos: string;

  constructor(spec: SegmentTemplateSpec, tokenizer: TextTokenizer) {
    this.t = validateSegmentTemplate(spec, `template ${spec.name}`);
    if (tokenizer.eosToken === undefined || tokenizer.eosTokenId === undefined) {
      throw new SftError(
        `template "${this.t.name}" needs an EOS token, and ${tokenizer.source} defines none`,
        {
          where: { file: tokenizer.source, field: "eos_token" },
          hint: "set eos_token in tokenizer_config.json",
        },
      );
    }
    this.eos = tokenizer.eosToken;
    this.endTokenIds = new Set([tokenizer.eosTokenId]);
    this.prependBos = this.t.bos && tokenizer.addBosToken;
  }

  private readonly prependBos: boolean;

  get name(): string {
    return this.t.name;
  }

  /** Renders messages; `forGeneration` appends the assistant header. */
  private build(
    messages: Message[],
    meta: ConversationInput["meta"],
    forGeneration: boolean,
  ): RenderedConversation {
    const t = this.t;
    let text = t.prefix;
    const turns: RenderedTurn[] = [];
    const hasSystem = messages.some((m) => m.role === "system");
    const toolList = toolsFromMeta(meta?.tools);
    const toolText = toolList ? `${TOOLS_HEADER}\n${toolList.map((x) => JSON.stringify(x)).join("\n")}` : "";
    if (!hasSystem && (t.default_system || toolText)) {
      text += fill(t.system, [t.default_system, toolText].filter(Boolean).join("\n\n"), this.eos);
    }
    let prevRole: Message["role"] | undefined;
    messages.forEach((m, i) => {
      let format: string;
      if (m.role === "system") {
        format = t.system;
        if (toolText && i === 0) m = { ...m, content: `${m.content}\n\n${toolText}` };
      } else if (m.role === "assistant") format = t.assistant;
      else if (m.role === "tool") format = t.tool ?? t.user;
      else format = prevRole === "system" && t.user_after_system ? t.user_after_system : t.user;
      const start = text.length;
      const marker = format.includes("{train}") ? "{train}" : "{content}";
      const head = fill(format.slice(0, format.indexOf(marker)), "", this.eos);
      text += fill(format, segmentContent(m), this.eos);
      turns.push({ messageIndex: i, role: m.role, trainStart: start + head.length, regionEnd: text.length });
      if (m.role === "assistant" && i < messages.length - 1) text += t.separator;
      prevRole = m.role;
    });
    if (forGeneration) {
      const a = t.assistant;
      const marker = a.includes("{train}") ? "{train}" : "{content}";
      text += fill(a.slice(0, a.indexOf(marker)), "", this.eos);
    }
    return { text, prependBos: this.prependBos, turns };
  }

  render(conv: ConversationInput): RenderedConversation {
    return this.build(conv.messages, conv.meta, false);
  }

  renderGenerationPrompt(conv: ConversationInput): { text: string; prependBos: boolean } {
    const r = this.build(conv.messages, conv.meta, true);
    return { text: r.text, prependBos: r.prependBos };
  }
}

/** "task-aware": picks qa / summarization / translation / classification / generation by `meta.task`. */
export class TaskAwareRenderer implements ConversationRenderer {
  readonly kind = "segments" as const;
  readonly name = TASK_AWARE;
  readonly endTokenIds: ReadonlySet<number>;
  private readonly byTask = new Map<string, SegmentTemplateRenderer>();
  private readonly fallback: SegmentTemplateRenderer;

  constructor(tokenizer: TextTokenizer) {
    for (const name of TASK_AWARE_TEMPLATES) {
      this.byTask.set(name, new SegmentTemplateRenderer(BUILTIN_TEMPLATES[name], tokenizer));
    }
    this.fallback = new SegmentTemplateRenderer(BUILTIN_TEMPLATES.alpaca, tokenizer);
    this.endTokenIds = this.fallback.endTokenIds;
  }

  private pick(conv: ConversationInput): SegmentTemplateRenderer {
    const task = conv.meta?.task?.toLowerCase().replace(/[\s_-]+/g, "");
    const aliases: Record<string, string> = {
      qa: "qa",
      questionanswering: "qa",
      question: "qa",
      summarization: "summarization",
      summarisation: "summarization",
      summary: "summarization",
      translation: "translation",
      translate: "translation",
      classification: "classification",
      classify: "classification",
      generation: "generation",
      creativewriting: "generation",
      writing: "generation",
    };
    const name = task === undefined ? undefined : aliases[task];
    return (name && this.byTask.get(name)) || this.fallback;
  }

  render(conv: ConversationInput): RenderedConversation {
    return this.pick(conv).render(conv);
  }

  renderGenerationPrompt(conv: ConversationInput): { text: string; prependBos: boolean } {
    return this.pick(conv).renderGenerationPrompt(conv);
  }
}
