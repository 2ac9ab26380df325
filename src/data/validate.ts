/**
 * Validation of datasets: the semantic rules every record must meet beyond its schema, and
 * whole-file validation that collects every bad row with file:line and the field at fault.
 */
import { SftError } from "../errors.js";
import type { FormatName } from "./formats/index.js";
import { type ReadRecordsOptions, readRecords } from "./io/records.js";
import type { Reject } from "./io/types.js";
import type { SftRecord } from "./record.js";

export interface RecordProblem {
  /** Index of the message at fault, when one is. */
  message?: number;
  problem: string;
}

/** What is wrong with a schema-valid record as training data (empty list: nothing). */
export function recordProblems(record: SftRecord): RecordProblem[] {
  const problems: RecordProblem[] = [];
  record.messages.forEach((m, i) => {
    if (m.role === "system" && i > 0)
      problems.push({ message: i, problem: "a system turn may only come first" });
    if (m.role === "assistant" && !m.tool_calls?.length && m.content.trim() === "") {
      problems.push({ message: i, problem: "empty response" });
    }
  });
  if (!record.messages.some((m) => m.role === "assistant")) {
    problems.push({ problem: "no assistant turn (nothing to train on)" });
  }
  return problems;
}

export const MAX_LISTED_ERRORS = 10;

/**
 * One SftError listing the first bad rows (each already "file:line: what is wrong") and
 * counting the rest.
 */
export function invalidRowsError(file: string, listed: string[], total: number, hint?: string): SftError {
  const lines = listed.slice(0, MAX_LISTED_ERRORS).map((l) => `  ${l}`);
  if (total > lines.length) lines.push(`  … and ${total - lines.length} more`);
  return new SftError(`${file}: ${total} invalid row${total === 1 ? "" : "s"}\n${lines.join("\n")}`, {
    hint,
    code: "E_INVALID_ROWS",
  });
}

/** The one-line form of a reject: file:line: field: what is wrong (no hint). */
export function rejectLine(reject: Reject): string {
  return reject.error.format().split("\n")[0];
}

export interface ValidationReport {
  file: string;
  format: FormatName | undefined;
  rows: number;
  valid: number;
  invalid: number;
  /** The first invalid rows (at most `maxErrors`). */
  errors: { line: number; field?: string; message: string; text: string }[];
}

/** Reads a whole dataset file and reports every row that would be rejected. */
export async function validateFile(
  file: string,
  opts: Omit<ReadRecordsOptions, "skipInvalid" | "onReject"> & { maxErrors?: number } = {},
): Promise<ValidationReport> {
  const maxErrors = opts.maxErrors ?? MAX_LISTED_ERRORS;
  let format: FormatName | undefined = opts.from;
  let valid = 0;
  let invalid = 0;
  const errors: ValidationReport["errors"] = [];
  const records = readRecords(file, {
    ...opts,
    skipInvalid: true,
    onFormat: (f) => {
      format = f;
    },
    onReject: (r) => {
      invalid++;
      if (errors.length < maxErrors) {
        errors.push({
          line: r.line,
          field: r.error.where.field,
          message: r.error.message,
          text: rejectLine(r),
        });
      }
    },
  });
  for await (const _ of records) valid++;
  return { file, format, rows: valid + invalid, valid, invalid, errors };
}
