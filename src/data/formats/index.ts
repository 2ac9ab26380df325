/**
 * Dataset formats: converting rows of Alpaca, ShareGPT, OpenAI messages, prompt/completion,
 * plain text and sftkit's own record format to and from the one record type.
 */
import { SftError } from "../../errors.js";
import type { SftRecord } from "../../record/record.js";
import { alpacaFormat } from "./alpaca.js";
import { type DatasetFormat, FORMAT_NAMES, type FormatName, isPlainObject, type Row } from "./common.js";
import { openaiFormat } from "./openai.js";
import { promptCompletionFormat } from "./prompt-completion.js";
import { recordFormat } from "./record-format.js";
import { sharegptFormat } from "./sharegpt.js";
import { textFormat } from "./text.js";

export type { Converted, DatasetFormat, FormatName, RowContext } from "./common.js";
export { FORMAT_NAMES } from "./common.js";

const FORMATS: Record<FormatName, DatasetFormat> = {
  record: recordFormat,
  alpaca: alpacaFormat,
  sharegpt: sharegptFormat,
  openai: openaiFormat,
  "prompt-completion": promptCompletionFormat,
  text: textFormat,
};

export function getFormat(name: string): DatasetFormat {
  if (!(FORMAT_NAMES as readonly string[]).includes(name)) {
    throw new SftError(`unknown dataset format "${name}"`, {
      hint: `use one of: ${FORMAT_NAMES.join(", ")}`,
    });
  }
  return FORMATS[name as FormatName];
}

/** A format name given by a user (e.g. a --from flag); undefined stays undefined. */
export function parseFormatName(value: string | undefined, flag: string): FormatName | undefined {
  if (value === undefined) return undefined;
  if (!(FORMAT_NAMES as readonly string[]).includes(value)) {
    throw new SftError(`${flag}: unknown format "${value}"`, {
      hint: `use one of: ${FORMAT_NAMES.join(", ")}`,
    });
  }
  return value as FormatName;
}

/** The format a row is written in, judged by its field names; undefined when none fits. */
export function detectFormat(row: unknown): FormatName | undefined {
  if (!isPlainObject(row)) return undefined;
  if ("messages" in row && "meta" in row) return "record";
  if ("conversations" in row) return "sharegpt";
  if ("messages" in row) return "openai";
  if ("instruction" in row) return "alpaca";
  if ("prompt" in row || "completion" in row) return "prompt-completion";
  if ("text" in row) return "text";
  return undefined;
}

export const FORMAT_SIGNATURES =
  "instruction/output (alpaca), conversations (sharegpt), messages (openai), prompt/completion, text, or id/messages/meta (record)";

/** Maps a format's field name to the name the dataset uses instead, e.g. { output: "answer" }. */
export type ColumnMapping = Record<string, string>;

/** Parses "instruction=question,output=answer" into a ColumnMapping. */
export function parseColumnMapping(spec: string): ColumnMapping {
  const mapping: ColumnMapping = {};
  for (const pair of spec.split(",")) {
    const m = /^\s*([^=\s]+)\s*=\s*([^=]+?)\s*$/.exec(pair);
    if (!m) {
      throw new SftError(`--columns: "${pair}" is not a field=column pair`, {
        hint: "write the format's field name, '=', then your column name: --columns instruction=question,output=answer",
      });
    }
    mapping[m[1]] = m[2];
  }
  return mapping;
}

const MESSAGE_LISTS = ["conversations", "messages", "prompt", "completion"];

/** Renames a row's columns (and the keys inside its message lists) to the format's names. */
export function applyColumnMapping(row: Row, mapping: ColumnMapping): Row {
  const rename = (obj: Row): Row => {
    const out: Row = { ...obj };
    for (const [field, column] of Object.entries(mapping)) {
      if (field === column || !(column in obj)) continue;
      out[field] = obj[column];
      delete out[column];
    }
    return out;
  };
  const out = rename(row);
  for (const key of MESSAGE_LISTS) {
    const list = out[key];
    if (Array.isArray(list)) out[key] = list.map((m) => (isPlainObject(m) ? rename(m) : m));
  }
  return out;
}

/** A record as a row of the given format (throws SftError when the format cannot hold it). */
export function recordToRow(record: SftRecord, format: FormatName): Row {
  return FORMATS[format].fromRecord(record);
}
