/**
 * Line-oriented JSON reading for evaluation inputs (prompt files, response files, suites).
 * Every parse failure names the file and line; invalid UTF-8 is an error, as in
 * `sft data validate` (decoding would silently turn it into U+FFFD). Blank lines are skipped.
 */
import { existsSync } from "node:fs";
import { decodeLine, readByteLines } from "../../data/io/lines.js";
import { SftError } from "../../errors.js";

export interface JsonlRow {
  value: unknown;
  line: number;
}

export async function* readJsonlRows(file: string): AsyncGenerator<JsonlRow> {
  if (!existsSync(file)) {
    throw new SftError(`file not found: ${file}`, { where: { file }, hint: "check the path" });
  }
  for await (const { bytes, line } of readByteLines(file)) {
    const { text, invalidUtf8 } = decodeLine(bytes, line);
    if (invalidUtf8) {
      throw new SftError(invalidUtf8, {
        where: { file, line },
        hint: "save the file as UTF-8 (e.g. iconv -f LATIN1 -t UTF-8)",
      });
    }
    const trimmed = text.trim();
    if (trimmed === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (e) {
      throw new SftError(`not valid JSON: ${(e as Error).message}`, {
        where: { file, line },
        hint: "each line must hold one JSON object (JSONL)",
      });
    }
    yield { value, line };
  }
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
