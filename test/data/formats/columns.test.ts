import assert from "node:assert/strict";
import { test } from "node:test";
import { applyColumnMapping, detectFormat, parseColumnMapping } from "../../../src/data/formats/index.js";
import { SftError } from "../../../src/errors.js";

test("--columns parses field=column pairs and rejects anything else with an exact message", () => {
  assert.deepEqual(parseColumnMapping("instruction=question, output = answer"), {
    instruction: "question",
    output: "answer",
  });
  assert.throws(
    () => parseColumnMapping("instruction"),
    (e: unknown) =>
      e instanceof SftError && e.message === '--columns: "instruction" is not a field=column pair',
  );
});

test("column mapping renames top-level columns and keys inside message lists", () => {
  const row = { q: "hi", chat: [{ who: "human", text: "x" }] };
  assert.deepEqual(
    applyColumnMapping(row, { instruction: "q", conversations: "chat", from: "who", value: "text" }),
    {
      instruction: "hi",
      conversations: [{ from: "human", value: "x" }],
    },
  );
});

test("format detection by field names", () => {
  assert.equal(detectFormat({ instruction: "a", input: "", output: "b" }), "alpaca");
  assert.equal(detectFormat({ conversations: [], tools: "[]" }), "sharegpt");
  assert.equal(detectFormat({ messages: [] }), "openai");
  assert.equal(detectFormat({ id: "x", messages: [], meta: {} }), "record");
  assert.equal(detectFormat({ prompt: "a", completion: "b" }), "prompt-completion");
  assert.equal(detectFormat({ text: "a" }), "text");
  assert.equal(detectFormat({ question: "a" }), undefined);
});
