/**
 * Alpaca rows: `instruction`, `input`, `output`, optional `system` and `history`
 * ([[question, answer], …] turns before the last one). The user turn is the instruction,
 * followed by a blank line and the input when the input is not empty.
 */
import type { Message, SftRecord } from "../../record/record.js";
import {
  assertDefaultTraining,
  type Converted,
  cannotWrite,
  type DatasetFormat,
  identityColumns,
  identityOf,
  layoutFor,
  optionalString,
  type Row,
  type RowContext,
  requireString,
  structured,
  wrongType,
} from "./common.js";

const INPUT_SEPARATOR = "\n\n";

export const alpacaFormat: DatasetFormat = {
  name: "alpaca",
  fields: ["instruction", "input", "output", "system", "history"],

  toRecord(row: Row, ctx: RowContext): Converted {
    const instruction = requireString(row, "instruction", ctx);
    const input = optionalString(row, "input", ctx);
    const output = requireString(row, "output", ctx);
    const system = optionalString(row, "system", ctx);
    const layout: Record<string, unknown> = {};
    const messages: Message[] = [];
    const fields: string[] = [];
    if (system !== undefined && system !== "") {
      messages.push({ role: "system", content: system });
      fields.push("system");
    } else if (system === "") layout.empty_system = true;
    const rawHistory = row.history;
    if (rawHistory !== undefined && rawHistory !== null && rawHistory !== "") {
      const history = structured(rawHistory);
      if (!Array.isArray(history))
        throw wrongType(ctx, "history", "an array of [question, answer] pairs", rawHistory);
      if (history.length === 0) layout.empty_history = true;
      history.forEach((pair, k) => {
        if (!Array.isArray(pair) || pair.length !== 2) {
          throw wrongType(ctx, `history[${k}]`, "a [question, answer] pair", pair);
        }
        for (const j of [0, 1]) {
          if (typeof pair[j] !== "string") {
            throw wrongType(ctx, `history[${k}][${j}]`, "a string", pair[j]);
          }
        }
        messages.push({ role: "user", content: pair[0] }, { role: "assistant", content: pair[1] });
        fields.push(`history[${k}][0]`, `history[${k}][1]`);
      });
    }
    if (input === undefined) layout.no_input = true;
    else if (input !== "") layout.input = input;
    const userContent = input ? `${instruction}${INPUT_SEPARATOR}${input}` : instruction;
    messages.push({ role: "user", content: userContent }, { role: "assistant", content: output });
    fields.push("instruction", "output");
    const { id, meta } = identityOf(row, alpacaFormat, ctx, layout);
    return { record: { id, messages, meta }, fieldOf: (i) => fields[i] ?? `messages[${i}]` };
  },

  fromRecord(record: SftRecord): Row {
    assertDefaultTraining(record, "alpaca");
    const layout = layoutFor(record, "alpaca");
    const msgs = record.messages;
    let start = 0;
    let system: string | undefined;
    if (msgs[0]?.role === "system") {
      system = msgs[0].content;
      start = 1;
    }
    const turns = msgs.slice(start);
    if (turns.length === 0 || turns.length % 2 !== 0) {
      throw cannotWrite(
        record,
        "alpaca",
        "Alpaca needs alternating user/assistant turns ending with the assistant",
      );
    }
    for (let i = 0; i < turns.length; i++) {
      const m = turns[i];
      const want = i % 2 === 0 ? "user" : "assistant";
      if (m.role !== want) {
        throw cannotWrite(
          record,
          "alpaca",
          `message ${i + start} is ${m.role}, expected ${want} (no tool turns)`,
        );
      }
      if (m.tool_calls?.length) throw cannotWrite(record, "alpaca", `message ${i + start} makes tool calls`);
      if (m.name !== undefined || m.tool_call_id !== undefined) {
        throw cannotWrite(record, "alpaca", `message ${i + start} has a name or tool_call_id`);
      }
    }
    const last = turns.length - 2;
    const userContent = turns[last].content;
    let instruction = userContent;
    let input = "";
    const hinted = typeof layout.input === "string" ? layout.input : undefined;
    if (hinted && userContent.endsWith(`${INPUT_SEPARATOR}${hinted}`)) {
      instruction = userContent.slice(0, userContent.length - hinted.length - INPUT_SEPARATOR.length);
      input = hinted;
    }
    const out: Row = {};
    const columns = identityColumns(record, alpacaFormat.fields);
    if ("id" in columns) out.id = columns.id;
    out.instruction = instruction;
    if (!(layout.no_input === true && input === "")) out.input = input;
    out.output = turns[last + 1].content;
    if (system !== undefined) out.system = system;
    else if (layout.empty_system === true) out.system = "";
    if (last > 0) {
      out.history = [];
      for (let k = 0; k < last; k += 2)
        (out.history as string[][]).push([turns[k].content, turns[k + 1].content]);
    } else if (layout.empty_history === true) out.history = [];
    for (const [k, v] of Object.entries(columns)) if (k !== "id") out[k] = v;
    return out;
  },
};
