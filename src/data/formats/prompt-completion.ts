/**
 * Prompt/completion rows: `prompt` and `completion` strings (one user turn, one assistant
 * turn), or the conversational form where both are lists of chat messages (used on write
 * whenever the record has more turns or explicit per-turn train flags).
 */
import type { SftRecord } from "../../record/record.js";
import {
  type Converted,
  cannotWrite,
  type DatasetFormat,
  identityColumns,
  identityOf,
  layoutFor,
  missing,
  type Row,
  type RowContext,
  structured,
  wrongType,
} from "./common.js";
import { chatMessagesOut, parseChatMessages } from "./openai.js";

export const promptCompletionFormat: DatasetFormat = {
  name: "prompt-completion",
  fields: ["prompt", "completion"],

  toRecord(row: Row, ctx: RowContext): Converted {
    if (row.prompt === undefined) throw missing(ctx, "prompt");
    if (row.completion === undefined) throw missing(ctx, "completion");
    const prompt = structured(row.prompt);
    const completion = structured(row.completion);
    if (typeof prompt === "string") {
      if (typeof completion !== "string") throw wrongType(ctx, "completion", "a string", row.completion);
      const { id, meta } = identityOf(row, promptCompletionFormat, ctx, {});
      const record = {
        id,
        messages: [
          { role: "user" as const, content: prompt },
          { role: "assistant" as const, content: completion },
        ],
        meta,
      };
      return { record, fieldOf: (i) => (i === 0 ? "prompt" : "completion") };
    }
    if (!Array.isArray(prompt)) throw wrongType(ctx, "prompt", "a string or a list of messages", row.prompt);
    if (!Array.isArray(completion)) throw wrongType(ctx, "completion", "a list of messages", row.completion);
    const p = parseChatMessages(prompt, ctx, "prompt");
    const c = parseChatMessages(completion, ctx, "completion");
    const layout = { conversational: true, prompt_layout: p.layout, completion_layout: c.layout };
    const { id, meta } = identityOf(row, promptCompletionFormat, ctx, layout);
    const split = p.messages.length;
    return {
      record: { id, messages: [...p.messages, ...c.messages], meta },
      fieldOf: (i) => (i < split ? `prompt[${i}].content` : `completion[${i - split}].content`),
    };
  },

  fromRecord(record: SftRecord): Row {
    const layout = layoutFor(record, "prompt-completion");
    const msgs = record.messages;
    const columns = identityColumns(record, promptCompletionFormat.fields);
    const out: Row = {};
    if ("id" in columns) out.id = columns.id;
    const simple =
      msgs.length === 2 &&
      msgs[0].role === "user" &&
      msgs[1].role === "assistant" &&
      !msgs[1].tool_calls?.length &&
      msgs.every((m) => m.name === undefined && m.tool_call_id === undefined && m.train === undefined);
    if (simple && layout.conversational !== true) {
      out.prompt = msgs[0].content;
      out.completion = msgs[1].content;
    } else {
      // The completion is the trailing run of assistant (and tool) turns after the last user turn.
      let split = msgs.length;
      while (split > 0 && msgs[split - 1].role !== "user") split--;
      if (split === 0 || split === msgs.length) {
        throw cannotWrite(record, "prompt-completion", "it needs a user turn followed by the completion");
      }
      const pl = (layout.prompt_layout as Record<string, unknown> | undefined) ?? {};
      const cl = (layout.completion_layout as Record<string, unknown> | undefined) ?? {};
      out.prompt = chatMessagesOut(msgs.slice(0, split), pl);
      out.completion = chatMessagesOut(msgs.slice(split), cl);
    }
    for (const [k, v] of Object.entries(columns)) if (k !== "id") out[k] = v;
    return out;
  },
};
