import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readRecords } from "../../src/data/io/index.js";
import { validateFile } from "../../src/data/validate.js";
import { SftError } from "../../src/errors.js";

const tmp = () => mkdtempSync(join(tmpdir(), "sft-validate-"));

/** Writes lines (strings, or raw bytes for invalid UTF-8) as a JSONL file. */
function jsonl(dir: string, name: string, lines: (string | Buffer)[]): string {
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat(lines.map((l) => Buffer.concat([Buffer.from(l), Buffer.from("\n")]))));
  return path;
}

test("each kind of bad Alpaca row is reported with file:line: field: exact problem", async () => {
  const dir = tmp();
  const path = jsonl(dir, "bad.jsonl", [
    '{"instruction": "ok", "input": "", "output": "fine"}',
    '{"instruction": "broken", "output": }',
    '{"instruction": "no output", "input": ""}',
    '{"instruction": 42, "input": "", "output": "x"}',
    Buffer.concat([
      Buffer.from('{"instruction": "caf'),
      Buffer.from([0xe9]),
      Buffer.from('", "output": "x"}'),
    ]),
    '{"instruction": "empty", "input": "", "output": "  "}',
    '{"instruction": "hist", "output": "x", "history": [["q"]]}',
    '{"instruction": "ok too", "output": "yes"}',
  ]);
  const report = await validateFile(path);
  assert.equal(report.format, "alpaca");
  assert.equal(report.rows, 8);
  assert.equal(report.valid, 2);
  assert.equal(report.invalid, 6);
  assert.deepEqual(
    report.errors.map((e) => e.text),
    [
      `${path}:2: malformed JSON at column 37: expected a value`,
      `${path}:3: output: missing required field`,
      `${path}:4: instruction: expected a string, got number`,
      `${path}:5: invalid UTF-8 (byte 0xe9 at byte 21 of the line)`,
      `${path}:6: output: empty response`,
      `${path}:7: history[0]: expected a [question, answer] pair, got array`,
    ],
  );
});

test("OpenAI and ShareGPT rows: roles, loss weights, empty responses, tool calls", async () => {
  const dir = tmp();
  const openai = jsonl(dir, "chat.jsonl", [
    '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}',
    '{"messages": [{"role": "user", "content": "hi"}, {"role": "bot", "content": "hello"}]}',
    '{"messages": [{"role": "user", "content": "hi", "loss_weight": 0.0}, {"role": "assistant", "content": "x", "loss_weight": 0.5}]}',
    '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]}',
    '{"messages": [{"role": "user", "content": "hi"}]}',
    '{"messages": "nope"}',
    '{"messages": [{"role": "user", "content": "hi", "thinking": "..."}, {"role": "assistant", "content": "x"}]}',
    "[1, 2]",
  ]);
  const report = await validateFile(openai);
  assert.equal(report.format, "openai");
  assert.deepEqual(
    report.errors.map((e) => e.text),
    [
      `${openai}:2: messages[1].role: unknown role "bot" (expected system, user, assistant or tool)`,
      `${openai}:3: messages[1].loss_weight: expected 0 or 1, got 0.5`,
      `${openai}:4: messages[1].content: empty response`,
      `${openai}:5: no assistant turn (nothing to train on)`,
      `${openai}:6: messages: expected an array, got string`,
      `${openai}:7: messages[0].thinking: unsupported message field (known: role, content, name, tool_calls, tool_call_id, train, loss_weight, weight)`,
      `${openai}:8: expected a JSON object, got an array`,
    ],
  );
  const sharegpt = jsonl(dir, "sg.jsonl", [
    '{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}',
    '{"conversations": [{"from": "human", "value": "hi"}, {"from": "robot", "value": "yo"}]}',
    '{"conversations": [{"from": "human", "value": "hi"}, {"from": "function_call", "value": "call it"}]}',
    '{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt"}]}',
  ]);
  const sg = await validateFile(sharegpt);
  assert.deepEqual(
    sg.errors.map((e) => e.text),
    [
      `${sharegpt}:2: conversations[1].from: unknown speaker "robot" (expected human, gpt, system, function_call or observation)`,
      `${sharegpt}:3: conversations[1].value: function_call value is not JSON (expected {"name": ..., "arguments": {...}})`,
      `${sharegpt}:4: conversations[1].value: missing required field`,
    ],
  );
});

test("readRecords throws the first problem unless skipInvalid; rejects carry line, reason and row", async () => {
  const dir = tmp();
  const path = jsonl(dir, "a.jsonl", [
    '{"instruction": "a", "output": "b"}',
    '{"instruction": "c", "output": ""}',
    '{"instruction": "d", "output": "e"}',
  ]);
  await assert.rejects(
    (async () => {
      for await (const _ of readRecords(path));
    })(),
    (e: unknown) => e instanceof SftError && e.format() === `${path}:2: output: empty response`,
  );
  const rejects: { line: number; reason: string; row: unknown }[] = [];
  const ids: string[] = [];
  for await (const r of readRecords(path, { skipInvalid: true, onReject: (x) => rejects.push(x) }))
    ids.push(r.id);
  assert.deepEqual(ids, ["a-0", "a-2"]);
  assert.equal(rejects.length, 1);
  assert.equal(rejects[0].line, 2);
  assert.equal(rejects[0].reason, "output: empty response");
  assert.deepEqual(rejects[0].row, { instruction: "c", output: "" });
});

test("format detection failure and column mapping", async () => {
  const dir = tmp();
  const path = jsonl(dir, "qa.jsonl", ['{"question": "2+2?", "answer": "4"}']);
  await assert.rejects(
    (async () => {
      for await (const _ of readRecords(path));
    })(),
    (e: unknown) =>
      e instanceof SftError &&
      e.format().split("\n")[0] ===
        `${path}:1: cannot tell the dataset format from the first row (its fields: question, answer)`,
  );
  const recs = [];
  for await (const r of readRecords(path, { columns: { instruction: "question", output: "answer" } }))
    recs.push(r);
  assert.deepEqual(recs[0].messages, [
    { role: "user", content: "2+2?" },
    { role: "assistant", content: "4" },
  ]);
  const sg = jsonl(dir, "roles.jsonl", [
    '{"chat": [{"speaker": "human", "text": "hi"}, {"speaker": "gpt", "text": "yo"}]}',
  ]);
  const out = [];
  for await (const r of readRecords(sg, {
    columns: { conversations: "chat", from: "speaker", value: "text" },
  })) {
    out.push(r);
  }
  assert.deepEqual(out[0].messages, [
    { role: "user", content: "hi" },
    { role: "assistant", content: "yo" },
  ]);
});

test("roles out of order are errors with file:line, the source field and the fix; allowNonAlternating accepts them", async () => {
  const dir = tmp();
  const path = jsonl(dir, "order.jsonl", [
    '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}',
    '{"messages": [{"role": "assistant", "content": "I start"}, {"role": "user", "content": "hm"}, {"role": "assistant", "content": "ok"}]}',
    '{"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "a"}, {"role": "user", "content": "b"}, {"role": "assistant", "content": "c"}]}',
    '{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "assistant", "content": "c"}]}',
    '{"messages": [{"role": "user", "content": "a"}, {"role": "tool", "content": "{}"}, {"role": "assistant", "content": "c"}]}',
  ]);
  const report = await validateFile(path, { from: "openai" });
  assert.equal(report.valid, 1);
  const fix =
    "put the turns in user/assistant order (or fix the role names), or pass --allow-non-alternating (allow_non_alternating: true) for a template that supports it";
  assert.deepEqual(
    report.errors.map((e) => e.text),
    [
      `${path}:2: messages[0].role: the conversation starts with an assistant turn (message 0); the first turn after the system prompt must be the user's: ${fix}`,
      `${path}:3: messages[2].role: two user turns in a row (messages 1 and 2): ${fix}`,
      `${path}:4: messages[2].role: two assistant turns in a row (messages 1 and 2): ${fix}`,
      `${path}:5: messages[1].role: a tool result (message 1) follows a user turn, not an assistant turn with tool calls: ${fix}`,
    ],
  );
  const sharegpt = jsonl(dir, "sg.jsonl", [
    '{"conversations": [{"from": "human", "value": "a"}, {"from": "human", "value": "b"}, {"from": "gpt", "value": "c"}]}',
  ]);
  const sg = await validateFile(sharegpt);
  assert.equal(
    sg.errors[0].text,
    `${sharegpt}:1: conversations[1].from: two user turns in a row (messages 0 and 1): ${fix}`,
  );
  const allowed = await validateFile(path, { from: "openai", allowNonAlternating: true });
  assert.equal(allowed.invalid, 0, JSON.stringify(allowed.errors));
  // A lone assistant turn is plain text, not a conversation out of order.
  const text = jsonl(dir, "text.jsonl", ['{"text": "Once upon a time."}']);
  assert.equal((await validateFile(text)).valid, 1);
});
