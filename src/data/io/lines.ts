/**
 * Byte-level line splitting with exact line numbers and UTF-8 checking. Lines are split on
 * raw 0x0A bytes (not on decoded text) so that an invalid byte sequence is detected on the
 * line where it occurs instead of being silently replaced by U+FFFD during decoding.
 */
import { isUtf8 } from "node:buffer";
import { createReadStream } from "node:fs";

export interface ByteLine {
  bytes: Buffer;
  /** 1-based line number in the file. */
  line: number;
}

/** Yields every line of the file without its trailing "\n" (a trailing "\r" is kept). */
export async function* readByteLines(path: string): AsyncGenerator<ByteLine> {
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  let pending: Buffer[] = [];
  let line = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(10, from);
      if (nl < 0) break;
      let bytes = chunk.subarray(from, nl);
      if (pending.length > 0) {
        pending.push(bytes);
        bytes = Buffer.concat(pending);
        pending = [];
      }
      yield { bytes, line: ++line };
      from = nl + 1;
    }
    if (from < chunk.length) pending.push(chunk.subarray(from));
  }
  if (pending.length > 0) yield { bytes: Buffer.concat(pending), line: ++line };
}

export interface DecodedLine {
  text: string;
  /** Set when the bytes are not valid UTF-8; `text` then holds a lossy decoding. */
  invalidUtf8?: string;
}

const BOM = "\uFEFF";

/** Decodes one line, reporting invalid UTF-8 precisely (which byte, where). */
export function decodeLine(bytes: Buffer, line: number): DecodedLine {
  let text = bytes.toString("utf8");
  if (line === 1 && text.startsWith(BOM)) text = text.slice(1);
  if (isUtf8(bytes)) return { text };
  const at = firstInvalidUtf8Byte(bytes);
  const byte = bytes[at] ?? 0;
  return {
    text,
    invalidUtf8: `invalid UTF-8 (byte 0x${byte.toString(16).padStart(2, "0")} at byte ${at + 1} of the line)`,
  };
}

/** Index of the first byte that does not start or continue a valid UTF-8 sequence. */
export function firstInvalidUtf8Byte(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    let need: number;
    let min: number;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return bytes.length;
}
