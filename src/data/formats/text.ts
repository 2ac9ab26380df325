/**
 * Plain-text rows: one `text` field, read as a single trained assistant turn (continued
 * pre-training style data). Only records of that shape can be written back as text.
 */
import type { SftRecord } from "../../record/record.js";
import {
  assertDefaultTraining,
  type Converted,
  cannotWrite,
  type DatasetFormat,
  identityColumns,
  identityOf,
  type Row,
  type RowContext,
  requireString,
} from "./common.js";

export const textFormat: DatasetFormat = {
  name: "text",
  fields: ["text"],

  toRecord(row: Row, ctx: RowContext): Converted {
    const text = requireString(row, "text", ctx);
    const { id, meta } = identityOf(row, textFormat, ctx, {});
    return { record: { id, messages: [{ role: "assistant", content: text }], meta }, fieldOf: () => "text" };
  },

  fromRecord(record: SftRecord): Row {
    const m = record.messages;
    if (m.length !== 1 || m[0].role !== "assistant" || m[0].tool_calls?.length) {
      throw cannotWrite(record, "text", "only a record with a single assistant turn is plain text");
    }
    assertDefaultTraining(record, "text");
    const columns = identityColumns(record, textFormat.fields);
    const out: Row = {};
    if ("id" in columns) out.id = columns.id;
    out.text = m[0].content;
    for (const [k, v] of Object.entries(columns)) if (k !== "id") out[k] = v;
    return out;
  },
};
