/**
 * sftkit's own record rows ({id, messages, meta}, see ../record.ts), read and written as is.
 */
import { type SftRecord, sftRecordSchema } from "../../record/record.js";
import {
  assertKnownKeys,
  type Converted,
  type DatasetFormat,
  isPlainObject,
  type Row,
  type RowContext,
  rowError,
  structured,
} from "./common.js";

const MESSAGE_KEYS = ["role", "content", "train", "tool_calls", "tool_call_id", "name"];

export const recordFormat: DatasetFormat = {
  name: "record",
  fields: ["id", "messages", "meta"],

  toRecord(row: Row, ctx: RowContext): Converted {
    assertKnownKeys(row, recordFormat.fields, ctx, "record");
    // CSV and flat Parquet files hold the nested fields as JSON text.
    row = { ...row, messages: structured(row.messages) };
    if (row.meta !== undefined) row.meta = structured(row.meta);
    if (Array.isArray(row.messages)) {
      row.messages.forEach((m, i) => {
        if (isPlainObject(m)) assertKnownKeys(m, MESSAGE_KEYS, ctx, `messages[${i}]`);
      });
    }
    const parsed = sftRecordSchema.safeParse(row);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw rowError(ctx, issue.path.map(String).join(".") || undefined, issue.message);
    }
    return { record: parsed.data, fieldOf: (i) => `messages[${i}].content` };
  },

  fromRecord(record: SftRecord): Row {
    return record;
  },
};
