/**
 * CSV (RFC 4180): a header row names the columns; fields may be quoted with '"', a quote
 * inside a quoted field is doubled, and quoted fields may span lines. Every value reads as
 * a string. A row's line number is the line where it starts.
 */
import { decodeLine, readByteLines } from "./lines.js";
import { makeReject, rejectOrThrow } from "./reject.js";
import type { ReadRowsOptions, RowItem } from "./types.js";

export async function* readCsv(file: string, opts: ReadRowsOptions): AsyncGenerator<RowItem> {
  let header: string[] | undefined;
  let fields: string[] = [];
  let field = "";
  let inQuotes = false;
  let afterQuote = false; // just closed a quoted field: only ',' or end of line may follow
  let startLine = 0;
  let problem: string | undefined;
  const rawLines: string[] = [];

  for await (const { bytes, line } of readByteLines(file)) {
    const decoded = decodeLine(bytes, line);
    let text = decoded.text;
    // A CRLF line ending is not data, unless the line break sits inside a quoted field.
    const crlf = text.endsWith("\r");
    if (crlf) text = text.slice(0, -1);
    if (!inQuotes) {
      if (text === "") continue;
      startLine = line;
      fields = [];
      field = "";
      afterQuote = false;
      problem = decoded.invalidUtf8;
      rawLines.length = 0;
    } else {
      problem ??= decoded.invalidUtf8?.replace("of the line", `of line ${line}`);
      field += "\n";
    }
    rawLines.push(text);
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (inQuotes) {
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i++;
          } else {
            inQuotes = false;
            afterQuote = true;
          }
        } else field += c;
      } else if (c === ",") {
        fields.push(field);
        field = "";
        afterQuote = false;
      } else if (afterQuote) {
        problem ??= `unexpected text after a closing quote at column ${i + 1} of line ${line}`;
      } else if (c === '"' && field === "") {
        inQuotes = true;
      } else field += c;
    }
    if (inQuotes) {
      if (crlf) field += "\r";
      continue;
    }
    fields.push(field);
    const raw = rawLines.join("\n");
    if (!header) {
      if (problem) throw makeReject(file, startLine, `CSV header: ${problem}`, raw).error;
      header = fields;
      continue;
    }
    if (problem) {
      rejectOrThrow(opts.onReject, makeReject(file, startLine, problem, raw));
      continue;
    }
    if (fields.length !== header.length) {
      rejectOrThrow(
        opts.onReject,
        makeReject(
          file,
          startLine,
          `CSV row has ${fields.length} fields but the header has ${header.length}`,
          raw,
        ),
      );
      continue;
    }
    const row: Record<string, string> = {};
    for (let k = 0; k < header.length; k++) row[header[k]] = fields[k];
    yield { row, line: startLine, file };
  }
  if (inQuotes) {
    throw makeReject(file, startLine, "unexpected end of file inside a quoted CSV field", rawLines.join("\n"))
      .error;
  }
}

/** One CSV field: quoted when it holds a comma, quote, or line break (RFC 4180). */
export function csvField(value: unknown): string {
  let s: string;
  if (value === undefined || value === null) s = "";
  else if (typeof value === "string") s = value;
  else if (typeof value === "object") s = JSON.stringify(value);
  else s = String(value);
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replaceAll('"', '""')}"` : s;
}
