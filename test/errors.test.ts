import assert from "node:assert/strict";
import { test } from "node:test";
import { SftError } from "../src/errors.js";

test("SftError formats file:line: field: message and the hint", () => {
  const e = new SftError("missing field", {
    where: { file: "a.jsonl", line: 3, field: "output" },
    hint: "add it",
  });
  assert.equal(e.format(), "a.jsonl:3: output: missing field\n  hint: add it");
});
