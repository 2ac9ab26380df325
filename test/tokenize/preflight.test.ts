/** Each pre-flight check: a clean run on real data, and each failure with the message it gives. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { SftRecord } from "../../src/record/record.js";
import { packSamples } from "../../src/tokenize/pack.js";
import { checkPacking, preflight } from "../../src/tokenize/preflight.js";
import { loadTokenizer } from "../../src/tokenize/tokenizer.js";
import { alpacaRecords, chainedConversations, glaiveRecords, storiesGguf, tokenizerDir } from "./helpers.js";

const rec = (id: string, ...turns: [SftRecord["messages"][number]["role"], string][]): SftRecord => ({
  id,
  messages: turns.map(([role, content]) => ({ role, content })),
  meta: { source: "test" },
});

describe("pre-flight on real data passes", () => {
  test("qwen3 chat template and the GGUF vocabulary with alpaca, packed", async () => {
    const data = [
      ...alpacaRecords("alpaca_zh_demo.json", 20),
      ...chainedConversations(5),
      ...glaiveRecords(5),
    ];
    const qwen = await preflight(data, await loadTokenizer(tokenizerDir("qwen3")), {
      chatTemplate: true,
      pack: true,
      maxSeqLength: 2048,
    });
    assert.deepEqual(qwen.failures, []);
    assert.equal(qwen.ok, true);
    assert.equal(qwen.samples, data.length);
    const gguf = await preflight(data, await loadTokenizer(storiesGguf), {
      template: "alpaca",
      pack: true,
      maxSeqLength: 4096,
    });
    assert.deepEqual(gguf.failures, []);
  });
});

describe("each pre-flight failure names the record and shows the tokens", () => {
  test("trained-tokens: a record without an assistant turn", async () => {
    const tok = await loadTokenizer(tokenizerDir("qwen3"));
    const r = await preflight([rec("q-only", ["user", "Is anyone there?"])], tok, { chatTemplate: true });
    assert.equal(r.ok, false);
    assert.equal(r.counts["trained-tokens"], 1);
    assert.equal(r.failures[0].message, "record q-only: no trained tokens: the record has no assistant turn");
  });

  test("end-token: a chat template that closes assistant turns with no end token", async () => {
    const tok = await loadTokenizer(tokenizerDir("qwen3"));
    const plain =
      "{% for m in messages %}{{ m.role + ': ' + m.content + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}";
    const r = await preflight([rec("no-end", ["user", "hi"], ["assistant", "hello"])], tok, {
      chatTemplate: plain,
    });
    const f = r.failures.find((x) => x.check === "end-token");
    assert.ok(f, JSON.stringify(r.failures));
    assert.match(
      f.message,
      /^record no-end: trained turn \(message 1\) does not end with an end token in the loss; its last tokens are \[23811 " hello", 198 "\\n"\], expected one of \[151645 "<\|im_end\|>"\] trained$/,
    );
    assert.equal(f.recordId, "no-end");
  });

  test("end-token: a reply that spells the end token in its text", async () => {
    const tok = await loadTokenizer(tokenizerDir("qwen3"));
    const r = await preflight(
      [rec("spelled", ["user", "hi"], ["assistant", "Bye<|im_end|>then more"])],
      tok,
      {
        chatTemplate: true,
      },
    );
    const f = r.failures.find((x) => x.check === "end-token");
    assert.ok(f, JSON.stringify(r.failures));
    assert.equal(
      f.message,
      'record spelled: the reply of message 1 contains the end token [151645 "<|im_end|>"] in its text: the turn would end there and the rest of the reply would not be trained',
    );
  });

  test("doubled-bos: a template that writes BOS while the tokenizer adds one", async () => {
    const tok = await loadTokenizer(tokenizerDir("mistral"));
    const template = {
      name: "bos-twice",
      prefix: "<s>",
      user: "Q: {content}\n",
      assistant: "A: {content}{eos}",
    };
    const r = await preflight([rec("bos", ["user", "hi"], ["assistant", "hello"])], tok, { template });
    const f = r.failures.find((x) => x.check === "doubled-bos");
    assert.ok(f, JSON.stringify(r.failures));
    assert.equal(
      f.message,
      'record bos: the sample starts with BOS twice [1 "<s>", 1 "<s>", 1186 "Q"]: the template writes BOS and the tokenizer adds another',
    );
    assert.deepEqual(f.tokens, [1, 1]);
  });

  test("generation-prompt and round-trip: a header ending in a space that merges into the answer", async () => {
    const tok = await loadTokenizer(tokenizerDir("qwen3"));
    const template = { name: "space", user: "Q: {content}\n", assistant: "A: {content}{eos}" };
    const r = await preflight([rec("space", ["user", "hi"], ["assistant", "hello"])], tok, { template });
    const gen = r.failures.find((x) => x.check === "generation-prompt");
    assert.ok(gen, JSON.stringify(r.failures));
    // Training has "A:" then " hello"; generation is given "A:" then " ", a token training never saw.
    assert.equal(
      gen.message,
      'record space: the prompt trained on differs from the prompt rendered for generation at token 6: training has [23811 " hello", 151645 "<|im_end|>"], generation has [220 " "]',
    );
    const rt = r.failures.find((x) => x.check === "round-trip");
    assert.ok(rt, JSON.stringify(r.failures));
    assert.match(
      rt.message,
      /^record space: the mask boundary at character \d+ falls inside a token: the text before it tokenizes to \[220 " "\] but the whole has \[23811 " hello".*\] at token \d+$/,
    );
  });

  test("round-trip: text the tokenizer does not give back at a boundary (NFC normalisation)", async () => {
    const tok = await loadTokenizer(tokenizerDir("qwen3"));
    const decomposed = "e\u0301clair";
    const r = await preflight([rec("nfc", ["user", "dessert?"], ["assistant", decomposed])], tok, {
      chatTemplate: true,
    });
    const f = r.failures.find((x) => x.check === "round-trip");
    assert.ok(f, JSON.stringify(r.failures));
    assert.match(
      f.message,
      /^record nfc: decode\(encode\(text\)\) does not give the text back at the mask boundary at token \d+: the tokens \[.*\] decode to .*"éclair.*" but the text there is .*"e\u0301clair/,
    );
  });

  test("end-token and generation-prompt: DeepSeek-V3's template with tool calls (real glaive data)", async () => {
    const tok = await loadTokenizer(tokenizerDir("deepseek_v3"));
    const rec4 = glaiveRecords(4)[3];
    assert.equal(rec4.id, "glaive:4");
    const r = await preflight([rec4], tok, { chatTemplate: true });
    // Its first tool-call turn is never closed by an end token …
    const end = r.failures.find((f) => f.check === "end-token");
    assert.ok(end);
    assert.match(
      end.message,
      /^record glaive:4: trained turn \(message 1\) does not end with an end token in the loss; its last tokens are \[.*128809 "<｜tool▁call▁end｜>", 128810 "<｜tool▁outputs▁begin｜>".*\], expected one of \[1 "<｜end▁of▁sentence｜>"\] trained$/,
    );
    // … and later ones are written without the <｜Assistant｜> header generation would give.
    const gen = r.failures.find((f) => f.check === "generation-prompt");
    assert.ok(gen);
    assert.equal(
      gen.message,
      'record glaive:4: the template renders the start of assistant turn (message 5) unlike its generation prompt, so the whole rendered turn is trained from [2755 "?\\n", 128808 "<｜tool▁call▁begin｜>", 8701 "function", 128814 "<｜tool▁sep｜>"]; generation would be given a different prompt',
    );
  });

  test("packing: rows whose positions or segments let samples see each other", () => {
    const samples = [
      { id: "p1", inputIds: [5, 6, 7], labels: [-100, 6, 7] },
      { id: "p2", inputIds: [8, 9], labels: [-100, 9] },
    ];
    const { rows } = packSamples(samples, { maxSeqLength: 8 });
    assert.deepEqual(checkPacking(rows, samples), []);
    const broken = rows.map((r) => ({ ...r, positions: r.positions.map((_, i) => i) }));
    const f1 = checkPacking(broken, samples);
    assert.equal(f1.length, 1);
    assert.equal(
      f1[0].message,
      "record p2: packed row 0: position ids do not restart at the sample: token 0 has position 3",
    );
    const merged = rows.map((r) => ({ ...r, segments: r.segments.map(() => 1) }));
    assert.equal(
      checkPacking(merged, samples)[0].message,
      "record p2: packed row 0: shares its segment with the sample before it: attention would cross samples",
    );
  });
});
