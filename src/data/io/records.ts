/**
 * Reading and writing SFT records: rows → format conversion → schema and semantic checks.
 * Every rejected row carries file:line and the source field at fault.
 */
import { SftError } from "../../errors.js";
import { type SftRecord, sftRecordSchema } from "../../record/record.js";
import type { ColumnMapping, Converted, FormatName } from "../formats/index.js";
import {
  applyColumnMapping,
  detectFormat,
  FORMAT_SIGNATURES,
  getFormat,
  recordToRow,
} from "../formats/index.js";
import { recordProblems } from "../validate.js";
import { fromError } from "./reject.js";
import { type RowSource, readRows, writeRows } from "./rows.js";
import type { FileType, Reject, RowItem } from "./types.js";

export interface ReadRecordsOptions {
  /** The dataset format; detected from the first row when absent. */
  from?: FormatName;
  /** Format field → dataset column, for datasets with other column names. */
  columns?: ColumnMapping;
  /** Skip bad rows (reporting them to onReject) instead of throwing at the first one. */
  skipInvalid?: boolean;
  onReject?: (reject: Reject) => void;
  /** Told once which format the rows are read as. */
  onFormat?: (format: FormatName) => void;
  /** Accept user/assistant/tool turns in any order (see RecordRules). */
  allowNonAlternating?: boolean;
  fileType?: FileType;
}

export interface ConvertedRow {
  record: SftRecord;
  item: RowItem;
  format: FormatName;
}

function fieldFromPath(path: PropertyKey[], conv: Converted): string | undefined {
  if (path[0] === "messages" && typeof path[1] === "number") {
    const rest = path.slice(2).map(String);
    const base = conv.fieldOf(path[1]);
    return rest.length === 0 || rest[0] === "content"
      ? base
      : `${base.replace(/\.(content|value)$/, "")}.${rest.join(".")}`;
  }
  return path.map(String).join(".") || undefined;
}

/** Like readRecords, but also yields the source row and the format it was read as. */
export async function* readConvertedRows(
  path: string,
  opts: ReadRecordsOptions = {},
): AsyncGenerator<ConvertedRow> {
  const handle = (reject: Reject) => {
    if (!opts.skipInvalid) throw reject.error;
    opts.onReject?.(reject);
  };
  let index = 0;
  let format = opts.from;
  if (format) {
    getFormat(format);
    opts.onFormat?.(format);
  }
  const rows = readRows(path, {
    fileType: opts.fileType,
    onReject: (r) => {
      index++;
      handle(r);
    },
  });
  for await (const item of rows) {
    const ctx = { file: item.file, line: item.line, index: index++ };
    let row = item.row;
    const isObject = typeof row === "object" && row !== null && !Array.isArray(row);
    if (isObject && opts.columns) row = applyColumnMapping(row as Record<string, unknown>, opts.columns);
    if (!format && isObject) {
      format = detectFormat(row);
      if (!format) {
        throw new SftError(
          `cannot tell the dataset format from the first row (its fields: ${Object.keys(row as object).join(", ") || "none"})`,
          {
            where: { file: item.file, line: item.line },
            hint: `expected ${FORMAT_SIGNATURES}; pass --from FORMAT, or map your column names with --columns (e.g. instruction=question,output=answer)`,
          },
        );
      }
      opts.onFormat?.(format);
    }
    try {
      if (!isObject) {
        const got = row === null ? "null" : Array.isArray(row) ? "an array" : typeof row;
        throw new SftError(`expected a JSON object, got ${got}`, {
          where: { file: item.file, line: item.line },
        });
      }
      const conv = getFormat(format as FormatName).toRecord(row as Record<string, unknown>, ctx);
      const parsed = sftRecordSchema.safeParse(conv.record);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new SftError(issue.message, {
          where: { file: item.file, line: item.line, field: fieldFromPath(issue.path, conv) },
        });
      }
      const [problem] = recordProblems(parsed.data, { allowNonAlternating: opts.allowNonAlternating });
      if (problem) {
        let field = problem.message === undefined ? undefined : conv.fieldOf(problem.message);
        // the role sits next to the content: `from` beside ShareGPT's `value`, `role` beside `content`
        if (field && problem.field === "role")
          field = field.replace(/\.value$/, ".from").replace(/\.content$/, ".role");
        throw new SftError(problem.problem, { where: { file: item.file, line: item.line, field } });
      }
      yield { record: parsed.data, item, format: format as FormatName };
    } catch (e) {
      if (!(e instanceof SftError) || e.where.file === undefined) throw e;
      handle(fromError(e, item.file, item.line, item.row));
    }
  }
}

/**
 * Streams the SFT records of a dataset file in any supported format. A bad row throws an
 * SftError (file:line: field: what is wrong), or with `skipInvalid` goes to `onReject`.
 */
export async function* readRecords(path: string, opts: ReadRecordsOptions = {}): AsyncGenerator<SftRecord> {
  for await (const { record } of readConvertedRows(path, opts)) yield record;
}

export interface WriteRecordsOptions {
  /** The dataset format to write (default: sftkit's record format). */
  to?: FormatName;
  fileType?: FileType;
}

/** Writes records in the given format, atomically and streaming. */
export async function writeRecords(
  path: string,
  records: RowSource<SftRecord>,
  opts: WriteRecordsOptions = {},
): Promise<{ count: number }> {
  const to = opts.to ?? "record";
  getFormat(to);
  async function* rows() {
    for await (const record of records) yield recordToRow(record, to);
  }
  return writeRows(path, rows(), { fileType: opts.fileType, emptyColumns: getFormat(to).fields });
}
