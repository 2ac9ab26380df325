/**
 * Content a template dropped: a template that does not know tool calls, tool schemas, tool
 * results or system prompts renders them as nothing (Llama 3's writes a tool-call turn as an
 * empty reply and never mentions `tools`), and training would then learn from a conversation
 * that is not the one in the data. This compares each message's content with the rendered text
 * of its own turn. It is a necessary condition only (text found could have come from elsewhere
 * in the turn), but content that is nowhere in its turn is certainly lost.
 */
import type { Message, RecordMeta } from "../record/record.js";
import { toolsFromMeta } from "./chat-template.js";
import type { RenderedConversation } from "./render-types.js";

export type LostKind = "tool call" | "tool schema" | "tool result" | "system prompt" | "message content";

export interface LostContent {
  /** The message whose content is missing; absent for the record's tool schemas. */
  messageIndex?: number;
  kind: LostKind;
  /** What is missing, shortened for messages (a tool name, the start of the text). */
  detail: string;
}

/** Text after the last `</think>`: chat templates keep an earlier turn's reasoning out of its history. */
function visibleReply(content: string): string {
  const k = content.lastIndexOf("</think>");
  return k < 0 ? content : content.slice(k + "</think>".length);
}

function appears(window: string, text: string): boolean {
  if (window.includes(text)) return true;
  // Templates that write values through `tojson` escape quotes, newlines and non-ASCII.
  const escaped = JSON.stringify(text).slice(1, -1);
  return escaped !== text && window.includes(escaped);
}

/** The scalar values inside a tool call's JSON arguments (at most 20): each must be rendered. */
function argumentLeaves(args: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    return args.trim() ? [args.trim()] : [];
  }
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (out.length >= 20) return;
    if (typeof v === "string") {
      if (v.trim()) out.push(v.trim());
    } else if (typeof v === "number" || typeof v === "boolean") out.push(String(v));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  walk(parsed);
  return out;
}

function short(text: string): string {
  const one = text.replace(/\s+/g, " ").trim();
  return JSON.stringify(one.length > 40 ? `${one.slice(0, 40)}…` : one);
}

function toolName(tool: unknown): string | undefined {
  if (!tool || typeof tool !== "object") return undefined;
  const t = tool as { name?: unknown; function?: { name?: unknown } };
  const name = t.function?.name ?? t.name;
  return typeof name === "string" && name ? name : undefined;
}

/** Every piece of a record's content that is absent from its rendering. */
export function findLostContent(
  messages: readonly Message[],
  meta: RecordMeta | undefined,
  rendered: RenderedConversation,
): LostContent[] {
  const { text, turns } = rendered;
  const lost: LostContent[] = [];
  messages.forEach((m, i) => {
    const turn = turns[i];
    const from = turn?.trainStart ?? turns[i - 1]?.regionEnd ?? 0;
    let to = turn?.regionEnd;
    for (let j = i + 1; to === undefined && j < turns.length; j++) to = turns[j].trainStart;
    const window = text.slice(Math.min(from, text.length), to ?? text.length);
    const content = (m.role === "assistant" ? visibleReply(m.content) : m.content).trim();
    if (content && !appears(window, content)) {
      const kind: LostKind =
        m.role === "system" ? "system prompt" : m.role === "tool" ? "tool result" : "message content";
      lost.push({ messageIndex: i, kind, detail: short(content) });
    }
    for (const call of m.tool_calls ?? []) {
      const name = call.function.name;
      const missing = [name, ...argumentLeaves(call.function.arguments)].some((v) => !appears(window, v));
      if (missing) lost.push({ messageIndex: i, kind: "tool call", detail: name });
    }
  });
  let tools: unknown[] | undefined;
  try {
    tools = toolsFromMeta(meta?.tools);
  } catch {
    // a malformed meta.tools fails rendering itself, with its own message
  }
  for (const tool of tools ?? []) {
    const name = toolName(tool);
    if (name && !text.includes(name)) lost.push({ kind: "tool schema", detail: name });
  }
  return lost;
}

/** `message 3 (tool call search_recipes), tools (tool schema search_recipes)`. */
export function describeLostContent(lost: readonly LostContent[]): string {
  return lost
    .map((l) =>
      l.messageIndex === undefined
        ? `meta.tools: ${l.kind} "${l.detail}"`
        : `message ${l.messageIndex}: ${l.kind} ${l.kind === "tool call" ? `"${l.detail}"` : l.detail}`,
    )
    .join("; ");
}

export const LOST_CONTENT_HINT =
  "render with a template that writes tool calls, tool schemas and system prompts (--chat-template FILE with such a Jinja template, or a classic template: --template alpaca|multi-turn|… writes them as text), or set these records aside with --lost-content drop (they go to the rejects file with this reason)";
