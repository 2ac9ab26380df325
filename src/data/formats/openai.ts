/**
 * OpenAI chat rows: `messages` of {role, content, name?, tool_calls?, tool_call_id?}, with
 * an optional per-turn train flag (`loss_weight`, `weight` or `train`). Content may be a
 * string, null (assistant tool calls) or an array of text parts ({type: "text", text}, or
 * {type: "text", value} as some exporters write).
 */
import { type Message, ROLES, type Role, type SftRecord, type ToolCall } from "../../record/record.js";
import {
  type Converted,
  type DatasetFormat,
  identityColumns,
  identityOf,
  isPlainObject,
  layoutFor,
  missing,
  type Row,
  type RowContext,
  readTrainFlag,
  requireArray,
  rowError,
  structured,
  type TrainKey,
  trainFlagColumn,
  wrongType,
} from "./common.js";

const MESSAGE_KEYS = [
  "role",
  "content",
  "name",
  "tool_calls",
  "tool_call_id",
  "train",
  "loss_weight",
  "weight",
];
const DEFAULT_TRAIN_KEY: TrainKey = "loss_weight";

export interface ParsedMessages {
  messages: Message[];
  /** Shape hints needed to write these messages back exactly. */
  layout: Record<string, unknown>;
}

/** Parses a list of OpenAI-style messages; `field` names the list in error messages. */
export function parseChatMessages(list: unknown[], ctx: RowContext, field: string): ParsedMessages {
  const messages: Message[] = [];
  const parts: { key: string; messages: number[] } = { key: "text", messages: [] };
  const nullContent: number[] = [];
  const noContent: number[] = [];
  const trainKeys = new Set<TrainKey>();
  let argumentsAsObjects = false;
  let callsWithoutType = false;
  list.forEach((raw, i) => {
    const at = `${field}[${i}]`;
    if (!isPlainObject(raw)) throw wrongType(ctx, at, "an object", raw);
    for (const key of Object.keys(raw)) {
      if (!MESSAGE_KEYS.includes(key)) {
        throw rowError(ctx, `${at}.${key}`, `unsupported message field (known: ${MESSAGE_KEYS.join(", ")})`);
      }
    }
    const role = raw.role;
    if (role === undefined) throw missing(ctx, `${at}.role`);
    if (typeof role !== "string") throw wrongType(ctx, `${at}.role`, "a string", role);
    if (!(ROLES as readonly string[]).includes(role)) {
      throw rowError(ctx, `${at}.role`, `unknown role "${role}" (expected system, user, assistant or tool)`);
    }
    const message: Message = { role: role as Role, content: "" };
    const content = raw.content;
    if (content === undefined || content === null) {
      if (!Array.isArray(raw.tool_calls)) throw missing(ctx, `${at}.content`);
      (content === null ? nullContent : noContent).push(i);
    } else if (typeof content === "string") message.content = content;
    else if (Array.isArray(content)) {
      const texts: string[] = [];
      let key = "text";
      content.forEach((part, k) => {
        const partAt = `${at}.content[${k}]`;
        if (!isPlainObject(part)) throw wrongType(ctx, partAt, "a content part object", part);
        if (part.type !== "text") {
          throw rowError(
            ctx,
            `${partAt}.type`,
            `unsupported content part type ${JSON.stringify(part.type)} (only text)`,
          );
        }
        key = typeof part.text === "string" ? "text" : "value";
        const text = part[key];
        if (typeof text !== "string") throw wrongType(ctx, `${partAt}.text`, "a string", text);
        texts.push(text);
      });
      message.content = texts.join("");
      if (content.length === 1) {
        if (parts.messages.length > 0 && parts.key !== key) {
          throw rowError(ctx, `${at}.content`, `mixes "text" and "value" content parts within one row`);
        }
        parts.key = key;
        parts.messages.push(i);
      }
    } else throw wrongType(ctx, `${at}.content`, "a string, null or an array of text parts", content);
    const { train, key: trainKey } = readTrainFlag(raw, ctx, at);
    if (train !== undefined) message.train = train;
    if (trainKey) trainKeys.add(trainKey);
    if (raw.name !== undefined) {
      if (typeof raw.name !== "string") throw wrongType(ctx, `${at}.name`, "a string", raw.name);
      message.name = raw.name;
    }
    if (raw.tool_call_id !== undefined) {
      if (typeof raw.tool_call_id !== "string")
        throw wrongType(ctx, `${at}.tool_call_id`, "a string", raw.tool_call_id);
      message.tool_call_id = raw.tool_call_id;
    }
    if (raw.tool_calls !== undefined) {
      const calls = structured(raw.tool_calls);
      if (!Array.isArray(calls)) throw wrongType(ctx, `${at}.tool_calls`, "an array", raw.tool_calls);
      message.tool_calls = calls.map((call, k): ToolCall => {
        const callAt = `${at}.tool_calls[${k}]`;
        if (!isPlainObject(call)) throw wrongType(ctx, callAt, "an object", call);
        const fn = call.function;
        if (fn === undefined) throw missing(ctx, `${callAt}.function`);
        if (!isPlainObject(fn)) throw wrongType(ctx, `${callAt}.function`, "an object", fn);
        if (typeof fn.name !== "string") {
          if (fn.name === undefined) throw missing(ctx, `${callAt}.function.name`);
          throw wrongType(ctx, `${callAt}.function.name`, "a string", fn.name);
        }
        let args: string;
        if (typeof fn.arguments === "string") args = fn.arguments;
        else if (isPlainObject(fn.arguments)) {
          args = JSON.stringify(fn.arguments);
          argumentsAsObjects = true;
        } else if (fn.arguments === undefined) throw missing(ctx, `${callAt}.function.arguments`);
        else throw wrongType(ctx, `${callAt}.function.arguments`, "a JSON string or an object", fn.arguments);
        if (call.type !== undefined && call.type !== "function") {
          throw rowError(ctx, `${callAt}.type`, `unsupported tool call type ${JSON.stringify(call.type)}`);
        }
        if (call.type === undefined) callsWithoutType = true;
        if (call.id !== undefined && typeof call.id !== "string")
          throw wrongType(ctx, `${callAt}.id`, "a string", call.id);
        const out: ToolCall = { type: "function", function: { name: fn.name, arguments: args } };
        if (typeof call.id === "string") out.id = call.id;
        return out;
      });
    }
    messages.push(message);
  });
  const layout: Record<string, unknown> = {};
  if (parts.messages.length > 0) layout.content_parts = parts;
  if (nullContent.length > 0) layout.null_content = nullContent;
  if (noContent.length > 0) layout.no_content = noContent;
  if (trainKeys.size === 1) {
    const [key] = trainKeys;
    if (key !== DEFAULT_TRAIN_KEY) layout.train_key = key;
  }
  if (argumentsAsObjects) layout.arguments_objects = true;
  if (callsWithoutType) layout.call_without_type = true;
  return { messages, layout };
}

/** Writes messages in OpenAI shape, restoring the source's shape where hints say so. */
export function chatMessagesOut(messages: Message[], layout: Record<string, unknown>, offset = 0): Row[] {
  const parts = layout.content_parts as { key: string; messages: number[] } | undefined;
  const listed = (name: string, i: number) =>
    Array.isArray(layout[name]) && (layout[name] as number[]).includes(i);
  const trainKey = (typeof layout.train_key === "string" ? layout.train_key : DEFAULT_TRAIN_KEY) as TrainKey;
  return messages.map((m, j) => {
    const i = j + offset;
    const out: Row = { role: m.role };
    if (m.content === "" && m.tool_calls?.length && listed("no_content", i)) {
      // the source had no content key here
    } else if (m.content === "" && m.tool_calls?.length && listed("null_content", i)) out.content = null;
    else if (parts?.messages.includes(i)) out.content = [{ type: "text", [parts.key]: m.content }];
    else out.content = m.content;
    if (m.name !== undefined) out.name = m.name;
    if (m.tool_calls !== undefined) {
      out.tool_calls = m.tool_calls.map((c) => {
        const call: Row = {};
        if (c.id !== undefined) call.id = c.id;
        if (layout.call_without_type !== true) call.type = c.type;
        let args: unknown = c.function.arguments;
        if (layout.arguments_objects === true) {
          try {
            const parsed = JSON.parse(c.function.arguments);
            if (isPlainObject(parsed)) args = parsed;
          } catch {
            // not JSON: keep the string
          }
        }
        call.function = { name: c.function.name, arguments: args };
        return call;
      });
    }
    if (m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id;
    Object.assign(out, trainFlagColumn(m.train, trainKey));
    return out;
  });
}

export const openaiFormat: DatasetFormat = {
  name: "openai",
  fields: ["messages"],

  toRecord(row: Row, ctx: RowContext): Converted {
    const list = requireArray(row, "messages", ctx);
    const { messages, layout } = parseChatMessages(list, ctx, "messages");
    const { id, meta } = identityOf(row, openaiFormat, ctx, layout);
    return { record: { id, messages, meta }, fieldOf: (i) => `messages[${i}].content` };
  },

  fromRecord(record: SftRecord): Row {
    const columns = identityColumns(record, openaiFormat.fields);
    const out: Row = {};
    if ("id" in columns) out.id = columns.id;
    out.messages = chatMessagesOut(record.messages, layoutFor(record, "openai"));
    for (const [k, v] of Object.entries(columns)) if (k !== "id") out[k] = v;
    return out;
  },
};
