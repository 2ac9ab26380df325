/**
 * Content a template loses: on the real glaive tool-call data, Llama 3's template writes a
 * tool-call turn as an empty reply and never mentions the tool schemas; pre-flight fails on
 * each such record, naming the record, the message and what was lost, and `lostContent: "drop"`
 * sets the records aside with the reason instead. The same template appends the assistant
 * header after the last turn: it is trimmed, and said.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { SftRecord } from "../../src/record/record.js";
import { findLostContent } from "../../src/tokenize/content-loss.js";
import { renderRecord, tokenizeRecord } from "../../src/tokenize/mask.js";
import { preflight } from "../../src/tokenize/preflight.js";
import { loadTokenizer } from "../../src/tokenize/tokenizer.js";
import { alpacaRecords, glaiveRecords, tokenizerDir } from "./helpers.js";

describe("lost content", () => {
  test("Llama 3's template drops glaive's tool calls and tool schemas: pre-flight fails, naming them", async () => {
    const tok = await loadTokenizer(tokenizerDir("llama3"));
    const [first] = glaiveRecords(1);
    assert.equal(first.messages[3].tool_calls?.[0].function.name, "search_recipes");
    const r = await preflight([first], tok, { chatTemplate: true });
    assert.equal(r.ok, false);
    assert.equal(r.counts["lost-content"], 1);
    assert.equal(
      r.failures[0].message,
      'record glaive:1: the template drops content of this record: message 3: tool call "search_recipes"; meta.tools: tool schema "search_recipes"',
    );
    // The sample itself is still made (the check, not the tokenizer, decides).
    assert.equal(tokenizeRecord(first, tok, { chatTemplate: true }).lostContent.length, 2);
  });

  test("lostContent: drop sets the records aside with the reason; the rest pass", async () => {
    const tok = await loadTokenizer(tokenizerDir("llama3"));
    const data = [...glaiveRecords(3), ...alpacaRecords("alpaca_en_demo.json", 3)];
    const r = await preflight(data, tok, { chatTemplate: true, lostContent: "drop" });
    assert.equal(r.ok, true, JSON.stringify(r.failures));
    const lossy = glaiveRecords(3).filter((g) => g.messages.some((m) => m.tool_calls?.length));
    assert.ok(lossy.length >= 1);
    assert.ok(r.dropped.length >= lossy.length);
    assert.equal(r.samples, data.length - r.dropped.length);
    assert.match(
      r.dropped.find((d) => d.recordId === "glaive:1")?.reason ?? "",
      /^rendering with the chat-template drops content of this record: message 3: tool call "search_recipes"/,
    );
  });

  test("templates that write tools keep everything: Qwen3's chat template and the classic alpaca", async () => {
    const data = glaiveRecords(6);
    const qwen = await loadTokenizer(tokenizerDir("qwen3"));
    const mistral = await loadTokenizer(tokenizerDir("mistral"));
    for (const r of data) {
      assert.deepEqual(
        findLostContent(r.messages, r.meta, renderRecord(r, qwen, { chatTemplate: true })),
        [],
      );
      assert.deepEqual(
        findLostContent(r.messages, r.meta, renderRecord(r, mistral, { template: "alpaca" })),
        [],
      );
    }
  });

  test("a chat template that skips system and tool turns loses the system prompt and the tool result", async () => {
    const tok = await loadTokenizer(tokenizerDir("qwen3"));
    // Renders user and assistant turns only, as some older chat templates do.
    const template =
      "{% for m in messages %}{% if m.role == 'user' or m.role == 'assistant' %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    const rec: SftRecord = {
      id: "sys",
      messages: [
        { role: "system", content: "Answer like a pirate." },
        { role: "user", content: "Weather?" },
        { role: "assistant", content: "Checking." },
        { role: "tool", content: '{"temp": 21}' },
        { role: "assistant", content: "Ahoy, 21 degrees!" },
      ],
      meta: { source: "test" },
    };
    const r = await preflight([rec], tok, { chatTemplate: template });
    assert.equal(
      r.failures.find((f) => f.check === "lost-content")?.message,
      'record sys: the template drops content of this record: message 0: system prompt "Answer like a pirate."; message 3: tool result "{\\"temp\\": 21}"',
    );
  });
});

describe("a generation header appended after the last turn", () => {
  test("Llama 3: trimmed, so training rows end in <|eot_id|>, and pre-flight says so", async () => {
    const tok = await loadTokenizer(tokenizerDir("llama3"));
    const data = alpacaRecords("alpaca_en_demo.json", 4);
    const s = tokenizeRecord(data[0], tok, { chatTemplate: true });
    assert.equal(tok.decode(s.inputIds.slice(-1)), "<|eot_id|>");
    assert.equal(s.labels.at(-1), s.inputIds.at(-1));
    assert.deepEqual(s.trimmedTrailer, {
      text: "<|start_header_id|>assistant<|end_header_id|>\n\n",
      tokens: 4,
    });
    assert.ok(s.text.endsWith("<|eot_id|>"));
    const r = await preflight(data, tok, { chatTemplate: true });
    assert.equal(r.ok, true, JSON.stringify(r.failures));
    assert.deepEqual(r.notices, [
      'the template appends "<|start_header_id|>assistant<|end_header_id|>\\n\\n" after the last turn even without a generation prompt: these 4 untrained trailing tokens were trimmed from 4 sample(s)',
    ]);
  });

  test("Qwen3 honours add_generation_prompt: nothing is trimmed", async () => {
    const tok = await loadTokenizer(tokenizerDir("qwen3"));
    const [rec] = alpacaRecords("alpaca_en_demo.json", 1);
    const s = tokenizeRecord(rec, tok, { chatTemplate: true });
    assert.equal(s.trimmedTrailer, undefined);
    assert.equal(tok.decode(s.inputIds.slice(-2)), "<|im_end|>\n");
    assert.deepEqual((await preflight([rec], tok, { chatTemplate: true })).notices, []);
  });
});
