/**
 * Line-oriented JSON reading for evaluation inputs (prompt files, response files, suites),
 * through the package's one JSONL reader (src/data/io/jsonl.ts: byte-exact line numbers,
 * invalid UTF-8 reported where it occurs). Every failure names the file and line and stops
 * the read: an evaluation input with a bad row is not scored. Blank lines are skipped.
 */
import { existsSync } from "node:fs";
import { readJsonl as readJsonlFile } from "../../data/io/jsonl.js";
import type { Reject } from "../../data/io/types.js";
import { SftError } from "../../errors.js";

export interface JsonlRow {
  value: unknown;
  line: number;
}

function rowError(reject: Reject): SftError {
  const { message } = reject.error;
  return new SftError(message.startsWith("invalid UTF-8") ? message : `not valid JSON: ${message}`, {
    where: { file: reject.file, line: reject.line },
    hint: "each line must hold one JSON object (JSONL), in UTF-8",
  });
}

export async function* readJsonlRows(file: string): AsyncGenerator<JsonlRow> {
  if (!existsSync(file)) {
    throw new SftError(`file not found: ${file}`, { where: { file }, hint: "check the path" });
  }
  const rows = readJsonlFile(file, {
    onReject: (reject) => {
      throw rowError(reject);
    },
  });
  for await (const { row, line } of rows) yield { value: row, line };
}

export async function readJsonl(file: string): Promise<JsonlRow[]> {
  const rows: JsonlRow[] = [];
  for await (const row of readJsonlRows(file)) rows.push(row);
  return rows;
}

/** The first zod issue of a failed parse, as "field: message". */
export function describeIssue(error: { issues: { path: PropertyKey[]; message: string }[] }): {
  field: string;
  message: string;
} {
  const issue = error.issues[0];
  return { field: issue.path.map(String).join(".") || "(row)", message: issue.message };
}
