/**
 * Streaming reader for a file holding one JSON array of rows. A small scanner finds where
 * each element starts and ends (tracking strings and nesting only); each element is then
 * parsed once with JSON.parse. Memory holds one element at a time, never the whole file.
 */
import { SftError } from "../../errors.js";
import { findJsonSyntaxProblem, lineAndColumn } from "./json-syntax.js";
import { decodeLine, readByteLines } from "./lines.js";
import { makeReject, rejectOrThrow } from "./reject.js";
import type { ReadRowsOptions, RowItem } from "./types.js";

type State = "start" | "first" | "next" | "element" | "after" | "end";

const WS = new Set([0x20, 0x09, 0x0d, 0x0a]);
const STRING_STOP = /["\\]/g;

export async function* readJsonArray(file: string, opts: ReadRowsOptions): AsyncGenerator<RowItem> {
  let state = "start" as State;
  let parts: string[] = [];
  let elementLine = 0;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let scalar = false;
  let elementUtf8Problem: string | undefined;
  let lastLine = 0;
  const structureError = (line: number, message: string) =>
    new SftError(message, {
      where: { file, line },
      hint: "the file must hold one JSON array of rows ([{...}, {...}]) or one JSON object per line",
    });

  for await (const { bytes, line } of readByteLines(file)) {
    lastLine = line;
    const { text, invalidUtf8 } = decodeLine(bytes, line);
    // On a continuation line of an element, say which line the bad byte is on.
    if (invalidUtf8 && state === "element")
      elementUtf8Problem ??= invalidUtf8.replace("of the line", `of line ${line}`);
    let segmentStart = 0;
    let i = 0;
    const n = text.length;
    // Finishes the current element, which ends just before `end` on this line.
    const finish = function* (end: number): Generator<RowItem> {
      parts.push(text.slice(segmentStart, end));
      const elementText = parts.join("");
      parts = [];
      state = "after";
      if (elementUtf8Problem) {
        const problem = elementUtf8Problem;
        elementUtf8Problem = undefined;
        rejectOrThrow(opts.onReject, makeReject(file, elementLine, problem, elementText));
        return;
      }
      let row: unknown;
      try {
        row = JSON.parse(elementText);
      } catch {
        const { offset, problem } = findJsonSyntaxProblem(elementText);
        const { lineOffset, column } = lineAndColumn(elementText, offset);
        const where =
          lineOffset === 0 ? `column ${column}` : `line ${elementLine + lineOffset}, column ${column}`;
        rejectOrThrow(
          opts.onReject,
          makeReject(file, elementLine, `malformed JSON at ${where}: ${problem}`, elementText),
        );
        return;
      }
      yield { row, line: elementLine, file };
    };
    while (i < n) {
      const c = text.charCodeAt(i);
      if (state === "element") {
        if (inString) {
          if (escaped) escaped = false;
          else if (c === 0x5c) escaped = true;
          else if (c !== 0x22) {
            // Skip ahead to the next quote or backslash: most of a row is string content.
            STRING_STOP.lastIndex = i + 1;
            const stop = STRING_STOP.exec(text);
            i = stop ? stop.index : n;
            continue;
          } else {
            inString = false;
            if (depth === 0) {
              yield* finish(i + 1);
              i++;
              continue;
            }
          }
          i++;
          continue;
        }
        if (c === 0x22) inString = true;
        else if (c === 0x7b || c === 0x5b) depth++;
        else if (c === 0x7d || c === 0x5d) {
          if (depth === 0) {
            yield* finish(i);
            continue;
          }
          depth--;
          if (depth === 0) {
            yield* finish(i + 1);
            i++;
            continue;
          }
        } else if (scalar && (c === 0x2c || WS.has(c))) {
          yield* finish(i);
          continue;
        }
        i++;
        continue;
      }
      if (WS.has(c)) {
        i++;
        continue;
      }
      switch (state) {
        case "start":
          if (c !== 0x5b) throw structureError(line, `not a JSON array: expected '[' at column ${i + 1}`);
          state = "first";
          break;
        case "first":
        case "next":
          if (c === 0x5d) {
            if (state === "next") throw structureError(line, `trailing ',' before ']' at column ${i + 1}`);
            state = "end";
            break;
          }
          state = "element";
          elementLine = line;
          elementUtf8Problem = invalidUtf8;
          segmentStart = i;
          depth = c === 0x7b || c === 0x5b ? 1 : 0;
          inString = c === 0x22;
          escaped = false;
          scalar = !(c === 0x7b || c === 0x5b || c === 0x22);
          break;
        case "after":
          if (c === 0x2c) state = "next";
          else if (c === 0x5d) state = "end";
          else
            throw structureError(
              line,
              `expected ',' or ']' at column ${i + 1} after the element that starts at line ${elementLine}`,
            );
          break;
        case "end":
          throw structureError(line, `unexpected text after the closing ']' at column ${i + 1}`);
      }
      i++;
    }
    if (state === "element") {
      parts.push(`${text.slice(segmentStart)}\n`);
      segmentStart = 0;
    }
  }
  if (state === "element" && scalar) {
    throw structureError(lastLine, "unexpected end of file: the JSON array is not closed");
  }
  if (state === "start") throw structureError(lastLine || 1, "empty file: expected a JSON array");
  if (state !== "end") {
    const what =
      state === "element"
        ? `the element that starts at line ${elementLine} is not closed`
        : "the JSON array is not closed";
    throw structureError(lastLine, `unexpected end of file: ${what}`);
  }
}
