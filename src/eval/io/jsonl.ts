/**
 * Line-oriented JSON reading for evaluation inputs (prompt files, response files, suites).
 * Every parse failure names the file and line. Blank lines are skipped.
 */
import { createReadStream, existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { SftError } from "../../errors.js";

export interface JsonlRow {
  value: unknown;
  line: number;
}

export async function* readJsonlRows(file: string): AsyncGenerator<JsonlRow> {
  if (!existsSync(file)) {
    throw new SftError(`file not found: ${file}`, { where: { file }, hint: "check the path" });
  }
  const lines = createInterface({ input: createReadStream(file, { encoding: "utf8" }), crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
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
