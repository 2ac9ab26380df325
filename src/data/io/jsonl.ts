import { findJsonSyntaxProblem } from "./json-syntax.js";
import { decodeLine, readByteLines } from "./lines.js";
import { makeReject, rejectOrThrow } from "./reject.js";
import type { ReadRowsOptions, RowItem } from "./types.js";

/** One JSON value per line; blank lines are skipped (they hold no row). */
export async function* readJsonl(file: string, opts: ReadRowsOptions): AsyncGenerator<RowItem> {
  for await (const { bytes, line } of readByteLines(file)) {
    const { text, invalidUtf8 } = decodeLine(bytes, line);
    if (text.trim() === "") continue;
    if (invalidUtf8) {
      rejectOrThrow(opts.onReject, makeReject(file, line, invalidUtf8, text));
      continue;
    }
    let row: unknown;
    try {
      row = JSON.parse(text);
    } catch {
      rejectOrThrow(opts.onReject, makeReject(file, line, describeMalformedLine(text), text));
      continue;
    }
    yield { row, line, file };
  }
}

export function describeMalformedLine(text: string): string {
  const { offset, problem } = findJsonSyntaxProblem(text);
  return `malformed JSON at column ${offset + 1}: ${problem}`;
}
