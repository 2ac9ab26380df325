import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { SftError } from "../../../src/errors.js";
import { readJsonl } from "../../../src/eval/io/jsonl.js";

const dir = mkdtempSync(join(tmpdir(), "sft-eval-jsonl-"));

async function errorOf(file: string): Promise<SftError> {
  try {
    await readJsonl(file);
  } catch (e) {
    assert.ok(e instanceof SftError, String(e));
    return e;
  }
  assert.fail("expected an SftError");
}

test("rows with their line numbers; blank lines, CRLF and a BOM are read as the data side reads them", async () => {
  const file = join(dir, "ok.jsonl");
  writeFileSync(file, '\uFEFF{"id":"a"}\r\n\r\n{"id":"b","text":"雪"}\r\n');
  assert.deepEqual(await readJsonl(file), [
    { value: { id: "a" }, line: 1 },
    { value: { id: "b", text: "雪" }, line: 3 },
  ]);
});

test("invalid UTF-8 stops the read at its line instead of being scored as U+FFFD", async () => {
  const file = join(dir, "bad-utf8.jsonl");
  writeFileSync(
    file,
    Buffer.concat([
      Buffer.from('{"id":"a"}\n{"id":"b","response":"caf'),
      Buffer.from([0xe9]),
      Buffer.from('"}\n'),
    ]),
  );
  const e = await errorOf(file);
  assert.deepEqual(e.where, { file, line: 2 });
  assert.match(e.message, /invalid UTF-8 \(byte 0xe9/);
});

test("malformed JSON names file, line and column", async () => {
  const file = join(dir, "broken.jsonl");
  writeFileSync(file, '{"id":"a"}\n{"id": }\n');
  const e = await errorOf(file);
  assert.deepEqual(e.where, { file, line: 2 });
  assert.match(e.message, /^not valid JSON: malformed JSON at column 8/);
});
