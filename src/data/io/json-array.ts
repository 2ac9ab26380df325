/**
 * Streaming reader for a file holding one JSON array of rows. A byte scanner reads the file in
 * 1 MiB chunks and finds where each element starts and ends (tracking strings and nesting
 * only; string contents are skipped with indexOf); each element is then checked for UTF-8 and
 * parsed once with JSON.parse. Memory holds one chunk and one element at a time — never a whole
 * line, so a minified one-line array of any size reads in bounded memory.
 *
 * Positions: lines are 1-based; columns are 1-based byte columns (equal to character columns
 * for ASCII), so that a position in a multi-gigabyte single line costs nothing to compute.
 */
import { isUtf8 } from "node:buffer";
import { createReadStream } from "node:fs";
import { SftError } from "../../errors.js";
import { findJsonSyntaxProblem } from "./json-syntax.js";
import { firstInvalidUtf8Byte } from "./lines.js";
import { makeReject, rejectOrThrow } from "./reject.js";
import type { ReadRowsOptions, RowItem } from "./types.js";

type State = "start" | "first" | "next" | "element" | "after" | "end";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;
const isWs = (c: number) => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
const opens = (c: number) => c === 0x7b || c === 0x5b;
const closes = (c: number) => c === 0x7d || c === 0x5d;

/** Where a byte offset inside an element's bytes lies: its line and byte column. */
function positionIn(
  bytes: Buffer,
  offset: number,
  startLine: number,
  startColumn: number,
): { line: number; column: number; firstLine: boolean } {
  let line = startLine;
  let lineStart = -1;
  for (let k = bytes.indexOf(NEWLINE); k >= 0 && k < offset; k = bytes.indexOf(NEWLINE, k + 1)) {
    line++;
    lineStart = k;
  }
  return lineStart < 0
    ? { line, column: startColumn + offset, firstLine: true }
    : { line, column: offset - lineStart, firstLine: false };
}

export async function* readJsonArray(file: string, opts: ReadRowsOptions): AsyncGenerator<RowItem> {
  const structureError = (line: number, message: string) =>
    new SftError(message, {
      where: { file, line },
      hint: "the file must hold one JSON array of rows ([{...}, {...}]) or one JSON object per line",
    });

  let state = "start" as State;
  // The current element: its bytes so far (earlier chunks), where it starts, how it nests.
  let parts: Buffer[] = [];
  let elementLine = 0;
  let elementColumn = 0;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let scalar = false;
  // Line bookkeeping: `line` is the line of byte `counted` (absolute offset); lines are counted
  // lazily up to the offsets that need them, so string contents are never walked byte by byte.
  let line = 1;
  let lineStart = 0;
  let counted = 0;
  let base = 0;
  let first = true;

  /** The element that ends just before `end` in `chunk`, parsed (undefined when rejected). */
  const finish = (chunk: Buffer, from: number, end: number): RowItem | undefined => {
    parts.push(chunk.subarray(from, end));
    const bytes = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    parts = [];
    state = "after";
    if (!isUtf8(bytes)) {
      const at = firstInvalidUtf8Byte(bytes);
      const pos = positionIn(bytes, at, elementLine, elementColumn);
      const byte = `0x${(bytes[at] ?? 0).toString(16).padStart(2, "0")}`;
      const problem = pos.firstLine
        ? `invalid UTF-8 (byte ${byte} at byte ${pos.column} of the line)`
        : `invalid UTF-8 (byte ${byte} at byte ${pos.column} of line ${pos.line})`;
      rejectOrThrow(opts.onReject, makeReject(file, elementLine, problem, bytes.toString("utf8")));
      return undefined;
    }
    const text = bytes.toString("utf8");
    try {
      return { row: JSON.parse(text), line: elementLine, file };
    } catch {
      const { offset, problem } = findJsonSyntaxProblem(text);
      const pos = positionIn(bytes, Buffer.byteLength(text.slice(0, offset)), elementLine, elementColumn);
      const where = pos.firstLine ? `column ${pos.column}` : `line ${pos.line}, column ${pos.column}`;
      rejectOrThrow(
        opts.onReject,
        makeReject(file, elementLine, `malformed JSON at ${where}: ${problem}`, text),
      );
      return undefined;
    }
  };

  const stream = createReadStream(file, { highWaterMark: 1 << 20 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const n = chunk.length;
    let i = 0;
    if (first) {
      first = false;
      if (n >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) {
        i = 3;
        lineStart = counted = 3;
      }
    }
    let nextNewline = chunk.indexOf(NEWLINE, Math.max(0, counted - base));
    /** Counts the lines up to absolute offset `to`, so `line`/`lineStart` describe it. */
    const syncTo = (to: number) => {
      while (nextNewline >= 0 && base + nextNewline < to) {
        line++;
        lineStart = base + nextNewline + 1;
        nextNewline = chunk.indexOf(NEWLINE, nextNewline + 1);
      }
      counted = to;
    };
    const column = (k: number) => {
      syncTo(base + k);
      return base + k - lineStart + 1;
    };
    let nextQuote = -1;
    let nextBackslash = -1;
    let segmentStart = 0;
    while (i < n) {
      if (state === "element") {
        if (inString) {
          if (escaped) {
            escaped = false;
            i++;
            continue;
          }
          if (nextQuote < i) nextQuote = chunk.indexOf(QUOTE, i);
          if (nextQuote < 0) nextQuote = n;
          if (nextBackslash < i) nextBackslash = chunk.indexOf(BACKSLASH, i);
          if (nextBackslash < 0) nextBackslash = n;
          const stop = Math.min(nextQuote, nextBackslash);
          if (stop >= n) {
            i = n;
            break;
          }
          if (chunk[stop] === BACKSLASH) {
            escaped = true;
            i = stop + 1;
            continue;
          }
          inString = false;
          i = stop + 1;
          if (depth === 0) {
            const item = finish(chunk, segmentStart, i);
            if (item) yield item;
          }
          continue;
        }
        const c = chunk[i];
        if (c === QUOTE) inString = true;
        else if (opens(c)) depth++;
        else if (closes(c)) {
          if (depth === 0) {
            const item = finish(chunk, segmentStart, i);
            if (item) yield item;
            continue;
          }
          depth--;
          if (depth === 0) {
            const item = finish(chunk, segmentStart, i + 1);
            if (item) yield item;
            i++;
            continue;
          }
        } else if (scalar && (c === 0x2c || isWs(c))) {
          const item = finish(chunk, segmentStart, i);
          if (item) yield item;
          continue;
        }
        i++;
        continue;
      }
      const c = chunk[i];
      if (isWs(c)) {
        i++;
        continue;
      }
      switch (state) {
        case "start":
          if (c !== 0x5b) {
            const col = column(i);
            throw structureError(line, `not a JSON array: expected '[' at column ${col}`);
          }
          state = "first";
          break;
        case "first":
        case "next":
          if (c === 0x5d) {
            if (state === "next") {
              const col = column(i);
              throw structureError(line, `trailing ',' before ']' at column ${col}`);
            }
            state = "end";
            break;
          }
          state = "element";
          elementColumn = column(i);
          elementLine = line;
          segmentStart = i;
          depth = opens(c) ? 1 : 0;
          inString = c === QUOTE;
          escaped = false;
          scalar = !(opens(c) || c === QUOTE);
          break;
        case "after":
          if (c === 0x2c) state = "next";
          else if (c === 0x5d) state = "end";
          else {
            const col = column(i);
            throw structureError(
              line,
              `expected ',' or ']' at column ${col} after the element that starts at line ${elementLine}`,
            );
          }
          break;
        case "end": {
          const col = column(i);
          throw structureError(line, `unexpected text after the closing ']' at column ${col}`);
        }
      }
      i++;
    }
    if (state === "element") parts.push(chunk.subarray(segmentStart));
    syncTo(base + n);
    base += n;
  }
  // The last line number of the file (a final newline does not open another line).
  const lastLine = base > 0 && lineStart === base ? line - 1 : line;
  if (state === "element" && scalar) {
    throw structureError(lastLine, "unexpected end of file: the JSON array is not closed");
  }
  if (state === "start") throw structureError(base > 0 ? lastLine : 1, "empty file: expected a JSON array");
  if (state !== "end") {
    const what =
      state === "element"
        ? `the element that starts at line ${elementLine} is not closed`
        : "the JSON array is not closed";
    throw structureError(lastLine, `unexpected end of file: ${what}`);
  }
}
