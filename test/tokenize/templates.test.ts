import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { SftRecord } from "../../src/record/record.js";
import {
  IGNORE_INDEX,
  renderGenerationPrompt,
  renderRecord,
  SampleRejectedError,
  tokenizeRecord,
} from "../../src/tokenize/mask.js";
import { preflight } from "../../src/tokenize/preflight.js";
import { BUILTIN_TEMPLATES, loadTemplateFile } from "../../src/tokenize/templates.js";
import { loadTokenizer } from "../../src/tokenize/tokenizer.js";
import { decodeSlice, storiesGguf, tokenizerDir } from "./helpers.js";

const rec = (id: string, ...turns: [SftRecord["messages"][number]["role"], string][]): SftRecord => ({
  id,
  messages: turns.map(([role, content]) => ({ role, content })),
  meta: { source: "test" },
});

function trainedText(
  tok: { encode(t: string): number[]; decode(ids: readonly number[]): string },
  s: {
    inputIds: number[];
    labels: number[];
  },
): string {
  return decodeSlice(
    tok,
    s.inputIds.filter((_, i) => s.labels[i] !== IGNORE_INDEX),
  );
}

describe("classic templates", () => {
  const r = rec("t1", ["user", "Name a colour."], ["assistant", "Blue."]);
  const cases: [string, string][] = [
    [
      "alpaca",
      "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nName a colour.\n\n### Response:\nBlue.</s>",
    ],
    [
      "chinese",
      "以下是一个描述任务的指令，请写出一个恰当完成该请求的回答。\n\n### 指令:\nName a colour.\n\n### 回答:\nBlue.</s>",
    ],
    ["simple", "### Question:\nName a colour.\n\n### Answer:\nBlue.</s>"],
    ["multi-turn", "### Conversation\n\n### Human:\nName a colour.\n\n### Assistant:\nBlue.</s>"],
    ["task", "### Task:\nName a colour.\n\n### Output:\nBlue.</s>"],
    [
      "cot",
      "Solve the problem step by step, then give the final answer after ### Answer:.\n\n### Problem:\nName a colour.\n\n### Solution:\nBlue.</s>",
    ],
    [
      "vicuna",
      "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions. USER: Name a colour. ASSISTANT: Blue.</s>",
    ],
  ];
  for (const [name, want] of cases) {
    test(`${name} renders the documented format`, async () => {
      const tok = await loadTokenizer(storiesGguf);
      const out = renderRecord(r, tok, { template: name });
      assert.equal(out.text, want);
      assert.equal(out.prependBos, true);
      const s = tokenizeRecord(r, tok, { template: name });
      assert.equal(s.inputIds[0], tok.bosTokenId);
      assert.equal(trainedText(tok, s), name === "vicuna" ? " Blue.</s>" : "Blue.</s>");
    });
  }

  test("task: a system message is the task and the user turn its ### Input", async () => {
    const tok = await loadTokenizer(storiesGguf);
    const out = renderRecord(
      rec("t", ["system", "Translate to French."], ["user", "cat"], ["assistant", "chat"]),
      tok,
      { template: "task" },
    );
    assert.equal(out.text, "### Task:\nTranslate to French.\n\n### Input:\ncat\n\n### Output:\nchat</s>");
  });

  test("task-aware picks the template from meta.task, alpaca otherwise", async () => {
    const tok = await loadTokenizer(storiesGguf);
    const base = rec("t", ["user", "Long text."], ["assistant", "Short."]);
    const texts = ["summarization", "translation", "classification", "qa", "generation", undefined].map(
      (task) => renderRecord({ ...base, meta: { source: "t", task } }, tok, { template: "task-aware" }).text,
    );
    assert.ok(texts[0].includes("### Summary:\nShort."));
    assert.ok(texts[1].includes("### Translation:\nShort."));
    assert.ok(texts[2].includes("### Label:\nShort."));
    assert.ok(texts[3].includes("### Answer:\nShort."));
    assert.ok(texts[4].includes("### Prompt:\nLong text."));
    assert.ok(texts[5].includes("### Instruction:\nLong text."));
    for (const name of ["qa", "summarization", "translation", "classification", "generation"]) {
      assert.ok(BUILTIN_TEMPLATES[name]);
    }
  });

  test("a user template from YAML and JSON files, and errors for broken ones", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sft-tpl-"));
    const yamlPath = join(dir, "t.yaml");
    writeFileSync(
      yamlPath,
      'templates:\n  - name: bracket\n    user: "[Q] {content}\\n"\n    assistant: "[A]{train} {content}{eos}"\n    separator: "\\n"\n',
    );
    const tok = await loadTokenizer(storiesGguf);
    const r2 = rec("t", ["user", "hi"], ["assistant", "hello"], ["user", "again"], ["assistant", "yes"]);
    assert.equal(
      renderRecord(r2, tok, { template: yamlPath }).text,
      "[Q] hi\n[A] hello</s>\n[Q] again\n[A] yes</s>",
    );
    assert.equal(
      trainedText(tok, tokenizeRecord(r2, tok, { template: `${yamlPath}#bracket` })),
      " hello</s> yes</s>",
    );
    const jsonPath = join(dir, "t.json");
    writeFileSync(
      jsonPath,
      JSON.stringify({ name: "j", user: "U: {content}\n", assistant: "A: {content}{eos}" }),
    );
    assert.deepEqual(Object.keys(loadTemplateFile(jsonPath)), ["j"]);
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, 'name: nope\nuser: "{content}"\nassistant: "A: {content}"\n');
    assert.throws(() => loadTemplateFile(bad), /must contain \{content\} followed by \{eos\}/);
    assert.throws(() => renderRecord(r2, tok, { template: "no-such" }), /unknown template "no-such"/);
  });
});

describe("Jinja chat templates", () => {
  test("Qwen3: the final turn's empty <think> block is in the prompt, not in the loss; earlier turns have none", async () => {
    const tok = await loadTokenizer(tokenizerDir("qwen3"));
    const r = rec(
      "q",
      ["system", "Be terse."],
      ["user", "1+1?"],
      ["assistant", "2"],
      ["user", "2+2?"],
      ["assistant", "4"],
    );
    const s = tokenizeRecord(r, tok, { chatTemplate: true });
    assert.equal(
      s.text,
      "<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n2<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n4<|im_end|>\n",
    );
    assert.equal(trainedText(tok, s), "2<|im_end|>4<|im_end|>");
    const gen = renderGenerationPrompt(r, tok, { chatTemplate: true });
    assert.ok(gen.text.endsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
    assert.deepEqual(gen.inputIds, s.inputIds.slice(0, gen.inputIds.length));
  });

  test("Qwen3: a reply that carries its own reasoning trains the think block with it", async () => {
    const tok = await loadTokenizer(tokenizerDir("qwen3"));
    const r = rec("q", ["user", "1+1?"], ["assistant", "<think>\nadd one and one\n</think>\n\n2"]);
    const s = tokenizeRecord(r, tok, { chatTemplate: true });
    assert.equal(trainedText(tok, s), "<think>\nadd one and one\n</think>\n\n2<|im_end|>");
    // Its prompt is the one generation uses with thinking enabled; pre-flight accepts it.
    const gen = renderGenerationPrompt(r, tok, { chatTemplate: true, enableThinking: true });
    assert.ok(gen.text.endsWith("<|im_start|>assistant\n"));
    assert.deepEqual(s.inputIds.slice(0, gen.inputIds.length), gen.inputIds);
    assert.deepEqual((await preflight([r], tok, { chatTemplate: true })).failures, []);
  });

  test("Qwen3: reasoning in an earlier turn is dropped by the template; the mask follows the rendered tokens", async () => {
    const tok = await loadTokenizer(tokenizerDir("qwen3"));
    const r = rec(
      "q",
      ["user", "1+1?"],
      ["assistant", "<think>\nadd\n</think>\n\n2"],
      ["user", "2+2?"],
      ["assistant", "<think>\nadd again\n</think>\n\n4"],
    );
    const s = tokenizeRecord(r, tok, { chatTemplate: true });
    assert.ok(!s.text.includes("<think>\nadd\n"), "the template strips the first turn's reasoning");
    assert.equal(trainedText(tok, s), "2<|im_end|><think>\nadd again\n</think>\n\n4<|im_end|>");
  });

  test("Qwen3: tools from meta.tools are rendered in the system prompt, tool results are not trained", async () => {
    const tok = await loadTokenizer(tokenizerDir("qwen3"));
    const r: SftRecord = {
      id: "tools",
      messages: [
        { role: "user", content: "Weather in Paris?" },
        {
          role: "assistant",
          content: "",
          tool_calls: [{ type: "function", function: { name: "weather", arguments: '{"city": "Paris"}' } }],
        },
        { role: "tool", content: '{"temp": 21}' },
        { role: "assistant", content: "21 degrees." },
      ],
      meta: {
        source: "t",
        tools: JSON.stringify([{ name: "weather", description: "Weather by city", parameters: {} }]),
      },
    };
    const s = tokenizeRecord(r, tok, { chatTemplate: true });
    assert.ok(s.text.includes('<tools>\n{"type": "function", "function": {"name": "weather"'));
    assert.equal(
      trainedText(tok, s),
      '<tool_call>\n{"name": "weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>21 degrees.<|im_end|>',
    );
  });

  test("Llama 3: BOS comes from the template once; <|eot_id|> closes each trained turn", async () => {
    const tok = await loadTokenizer(tokenizerDir("llama3"));
    const r = rec("l", ["user", "hi"], ["assistant", "hello"]);
    const s = tokenizeRecord(r, tok, { chatTemplate: true });
    assert.equal(s.inputIds[0], tok.bosTokenId);
    assert.notEqual(s.inputIds[1], tok.bosTokenId);
    assert.equal(trainedText(tok, s), "hello<|eot_id|>");
  });

  test("--chat-template without a template in the tokenizer is an error that names the fix", async () => {
    const tok = await loadTokenizer(tokenizerDir("mistral"));
    assert.throws(
      () => tokenizeRecord(rec("m", ["user", "a"], ["assistant", "b"]), tok, { chatTemplate: true }),
      /has no chat template/,
    );
  });
});

describe("mask policies, train flags, truncation, rejection", () => {
  const conv = rec("c", ["user", "one"], ["assistant", "uno"], ["user", "two"], ["assistant", "dos"]);

  test("all_assistant (default), last_assistant, include_prompt", async () => {
    const tok = await loadTokenizer(tokenizerDir("qwen3"));
    assert.equal(
      trainedText(tok, tokenizeRecord(conv, tok, { chatTemplate: true })),
      "uno<|im_end|>dos<|im_end|>",
    );
    assert.equal(
      trainedText(tok, tokenizeRecord(conv, tok, { chatTemplate: true, maskPolicy: "last_assistant" })),
      "dos<|im_end|>",
    );
    const all = tokenizeRecord(conv, tok, { chatTemplate: true, maskPolicy: "include_prompt" });
    assert.deepEqual(all.labels, all.inputIds);
  });

  test("per-turn train flags override the policy", async () => {
    const tok = await loadTokenizer(tokenizerDir("qwen3"));
    const flagged: SftRecord = {
      ...conv,
      messages: conv.messages.map((m, i) => (i === 1 ? { ...m, train: false } : m)),
    };
    assert.equal(trainedText(tok, tokenizeRecord(flagged, tok, { chatTemplate: true })), "dos<|im_end|>");
    const userTrained: SftRecord = {
      ...conv,
      messages: conv.messages.map((m, i) => (i === 0 ? { ...m, train: true } : m)),
    };
    const s = tokenizeRecord(userTrained, tok, { template: "simple" });
    // A trained non-assistant turn trains its content as the template writes it.
    assert.equal(trainedText(tok, s), "one\n\nuno<|im_end|>dos<|im_end|>");
  });

  test("truncation keeps whole turns and is reported; a prompt that leaves no room is rejected", async () => {
    const tok = await loadTokenizer(tokenizerDir("qwen3"));
    const full = tokenizeRecord(conv, tok, { chatTemplate: true });
    const s = tokenizeRecord(conv, tok, {
      chatTemplate: true,
      maxSeqLength: full.inputIds.length - 2,
      truncation: "keep_whole_turns",
    });
    assert.equal(s.truncated, true);
    assert.match(
      s.truncation ?? "",
      /after the last trained turn that fits.*1 later trained turn\(s\) dropped/,
    );
    assert.equal(trainedText(tok, s), "uno<|im_end|>");
    assert.equal(tok.decode(s.inputIds.slice(-1)), "<|im_end|>");
    const long = rec("long", ["user", "word ".repeat(100)], ["assistant", "a b c d e f g h"]);
    const prompt = renderGenerationPrompt(long, tok, { chatTemplate: true }).inputIds.length;
    const cut = tokenizeRecord(long, tok, { chatTemplate: true, maxSeqLength: prompt + 3 });
    assert.equal(cut.inputIds.length, prompt + 3);
    assert.equal(cut.labels.filter((l) => l !== IGNORE_INDEX).length, 3);
    assert.match(cut.truncation ?? "", /response of message 1 cut.*its end token is not trained/);
    assert.throws(
      () => tokenizeRecord(long, tok, { chatTemplate: true, maxSeqLength: 50 }),
      (e: unknown) =>
        e instanceof SampleRejectedError &&
        /prompt before the first trained turn is \d+ tokens/.test(e.message),
    );
  });

  test("a record with nothing to train is rejected with the reason", async () => {
    const tok = await loadTokenizer(tokenizerDir("qwen3"));
    assert.throws(
      () => tokenizeRecord(rec("u", ["user", "only a question"]), tok, { chatTemplate: true }),
      /record u: no trained tokens: the record has no assistant turn/,
    );
    const off: SftRecord = { ...conv, messages: conv.messages.map((m) => ({ ...m, train: false })) };
    assert.throws(
      () => tokenizeRecord(off, tok, { chatTemplate: true }),
      /every assistant turn has train: false/,
    );
  });
});
