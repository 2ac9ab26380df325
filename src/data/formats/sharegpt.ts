/**
 * ShareGPT rows: `conversations` of {from, value} turns, `from` being human, gpt, system,
 * function_call (the assistant calls a tool; value is JSON {"name", "arguments"} or a list
 * of them) or observation (the tool's answer). A top-level `system` column and a `tools`
 * column (kept in meta.tools as given) are common companions.
 */
import { isDeepStrictEqual } from "node:util";
import type { Message, SftRecord, ToolCall } from "../../record/record.js";
import {
  type Converted,
  type DatasetFormat,
  identityColumns,
  identityOf,
  isPlainObject,
  layoutFor,
  missing,
  optionalString,
  pythonStyleJson,
  type Row,
  type RowContext,
  readTrainFlag,
  requireArray,
  rowError,
  type TrainKey,
  trainFlagColumn,
  wrongType,
} from "./common.js";

type TagKind = "user" | "assistant" | "system" | "call" | "tool";
const CANONICAL_TAGS: Record<TagKind, string> = {
  user: "human",
  assistant: "gpt",
  system: "system",
  call: "function_call",
  tool: "observation",
};
const TAG_ALIASES: Record<string, TagKind> = {
  human: "user",
  user: "user",
  gpt: "assistant",
  assistant: "assistant",
  system: "system",
  function_call: "call",
  observation: "tool",
  tool: "tool",
};
const TURN_KEYS = ["from", "value", "train", "loss_weight", "weight", "name", "tool_call_id"];
const DEFAULT_TRAIN_KEY: TrainKey = "loss_weight";

/** Tool calls from a function_call turn's value. */
function parseCallValue(value: string, ctx: RowContext, field: string): ToolCall[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw rowError(
      ctx,
      field,
      'function_call value is not JSON (expected {"name": ..., "arguments": {...}})',
    );
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  return list.map((call, k) => {
    const at = Array.isArray(parsed) ? `${field}[${k}]` : field;
    if (!isPlainObject(call)) throw wrongType(ctx, at, "a tool call object", call);
    if (typeof call.name !== "string") {
      if (call.name === undefined) throw missing(ctx, `${at}.name`);
      throw wrongType(ctx, `${at}.name`, "a string", call.name);
    }
    const args = call.arguments;
    const out: ToolCall = {
      type: "function",
      function: { name: call.name, arguments: typeof args === "string" ? args : pythonStyleJson(args ?? {}) },
    };
    if (typeof call.id === "string") out.id = call.id;
    return out;
  });
}

/** The canonical function_call value for tool calls (Python json.dumps style, as the common datasets use). */
function callValue(calls: ToolCall[]): string {
  const one = (c: ToolCall) => {
    // Arguments in the datasets' own style are embedded as a JSON object; any other text is
    // embedded as a JSON string so that it reads back unchanged.
    let args = JSON.stringify(c.function.arguments);
    try {
      const parsed = JSON.parse(c.function.arguments);
      if (isPlainObject(parsed) && pythonStyleJson(parsed) === c.function.arguments)
        args = c.function.arguments;
    } catch {
      // not JSON: keep it as a string
    }
    const id = c.id !== undefined ? `"id": ${JSON.stringify(c.id)}, ` : "";
    return `{${id}"name": ${JSON.stringify(c.function.name)}, "arguments": ${args}}`;
  };
  return calls.length === 1 ? one(calls[0]) : `[${calls.map(one).join(", ")}]`;
}

export const sharegptFormat: DatasetFormat = {
  name: "sharegpt",
  fields: ["conversations", "system"],

  toRecord(row: Row, ctx: RowContext): Converted {
    const turns = requireArray(row, "conversations", ctx);
    const layout: Record<string, unknown> = {};
    const messages: Message[] = [];
    const fields: string[] = [];
    const system = optionalString(row, "system", ctx);
    if (system !== undefined) {
      layout.system_column = true;
      if (system !== "") {
        messages.push({ role: "system", content: system });
        fields.push("system");
      }
    }
    const tags: Partial<Record<TagKind, string>> = {};
    const rawCalls: Record<string, string> = {};
    const trainKeys = new Set<TrainKey>();
    turns.forEach((turn, j) => {
      const at = `conversations[${j}]`;
      if (!isPlainObject(turn)) throw wrongType(ctx, at, "an object", turn);
      for (const key of Object.keys(turn)) {
        if (!TURN_KEYS.includes(key)) {
          throw rowError(ctx, `${at}.${key}`, `unsupported turn field (known: ${TURN_KEYS.join(", ")})`);
        }
      }
      if (turn.from === undefined) throw missing(ctx, `${at}.from`);
      if (typeof turn.from !== "string") throw wrongType(ctx, `${at}.from`, "a string", turn.from);
      const kind = TAG_ALIASES[turn.from];
      if (!kind) {
        throw rowError(
          ctx,
          `${at}.from`,
          `unknown speaker "${turn.from}" (expected human, gpt, system, function_call or observation)`,
        );
      }
      if (turn.from !== CANONICAL_TAGS[kind]) tags[kind] = turn.from;
      if (turn.value === undefined) throw missing(ctx, `${at}.value`);
      if (typeof turn.value !== "string") throw wrongType(ctx, `${at}.value`, "a string", turn.value);
      const { train, key } = readTrainFlag(turn, ctx, at);
      if (key) trainKeys.add(key);
      let message: Message;
      if (kind === "call") {
        const tool_calls = parseCallValue(turn.value, ctx, `${at}.value`);
        message = { role: "assistant", content: "", tool_calls };
        if (callValue(tool_calls) !== turn.value) rawCalls[messages.length] = turn.value;
      } else {
        message = { role: kind === "tool" ? "tool" : kind, content: turn.value };
      }
      if (train !== undefined) message.train = train;
      for (const k of ["name", "tool_call_id"] as const) {
        const v = turn[k];
        if (v === undefined) continue;
        if (typeof v !== "string") throw wrongType(ctx, `${at}.${k}`, "a string", v);
        message[k] = v;
      }
      messages.push(message);
      fields.push(`${at}.value`);
    });
    if (Object.keys(tags).length > 0) layout.tags = tags;
    if (Object.keys(rawCalls).length > 0) layout.raw_calls = rawCalls;
    if (trainKeys.size === 1) {
      const [key] = trainKeys;
      if (key !== DEFAULT_TRAIN_KEY) layout.train_key = key;
    }
    const { id, meta } = identityOf(row, sharegptFormat, ctx, layout);
    return { record: { id, messages, meta }, fieldOf: (i) => fields[i] ?? `conversations[${i}]` };
  },

  fromRecord(record: SftRecord): Row {
    const layout = layoutFor(record, "sharegpt");
    const tags = { ...CANONICAL_TAGS, ...((layout.tags as Partial<Record<TagKind, string>>) ?? {}) };
    const rawCalls = (layout.raw_calls as Record<string, string> | undefined) ?? {};
    const trainKey = (
      typeof layout.train_key === "string" ? layout.train_key : DEFAULT_TRAIN_KEY
    ) as TrainKey;
    const columns = identityColumns(record, sharegptFormat.fields);
    const out: Row = {};
    if ("id" in columns) out.id = columns.id;
    const conversations: Row[] = [];
    record.messages.forEach((m, i) => {
      if (i === 0 && m.role === "system" && layout.system_column === true) {
        out.system = m.content;
        return;
      }
      const extras: Row = {};
      if (m.name !== undefined) extras.name = m.name;
      if (m.tool_call_id !== undefined) extras.tool_call_id = m.tool_call_id;
      const flag = trainFlagColumn(m.train, trainKey);
      if (m.role === "assistant" && m.tool_calls?.length) {
        if (m.content !== "") conversations.push({ from: tags.assistant, value: m.content, ...flag });
        const raw = rawCalls[String(i)];
        let value = callValue(m.tool_calls);
        if (raw !== undefined) {
          try {
            const ctx = { file: "", line: 0, index: 0 };
            if (isDeepStrictEqual(parseCallValue(raw, ctx, ""), m.tool_calls)) value = raw;
          } catch {
            // the hint no longer parses: use the canonical value
          }
        }
        conversations.push({ from: tags.call, value, ...flag, ...extras });
        return;
      }
      const tag = m.role === "tool" ? tags.tool : tags[m.role];
      conversations.push({ from: tag, value: m.content, ...flag, ...extras });
    });
    if (layout.system_column === true && out.system === undefined) out.system = "";
    out.conversations = conversations;
    for (const [k, v] of Object.entries(columns)) if (k !== "id") out[k] = v;
    return out;
  },
};
