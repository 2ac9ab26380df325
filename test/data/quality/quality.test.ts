import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { qualityConfigSchema } from "../../../src/config/build.js";
import {
  checkCompleteness,
  checkLength,
  lexicalRelevance,
  QualityChecker,
  relevance,
  requestedItemCount,
  SafetyChecker,
} from "../../../src/data/quality/index.js";
import { OpenAiBackend, OpenAiEmbeddingBackend } from "../../../src/llm/index.js";
import type { SftRecord } from "../../../src/record/record.js";
import { startOpenAiServer } from "../../helpers/openai-server.js";

const shared = resolve(new URL("../../../../shared", import.meta.url).pathname);
const allOn = { truncation: true, refusal: true, boilerplate: true };
const lengthRule = { min_words: 10, max_words: 400, cjk_chars_per_word: 1.5 };

test("length: a Chinese answer is measured in characters, not whitespace words", () => {
  const zh = "光合作用是植物利用光能把二氧化碳和水转化为葡萄糖并释放氧气的过程。";
  assert.equal(zh.split(/\s+/).length, 1, "naive rule sees one word");
  const r = checkLength(zh, lengthRule);
  assert.equal(r.ok, true, r.reason);
  assert.ok(r.cjkChars >= 30 && r.units >= 20);
  const en = checkLength("Plants use light.", lengthRule);
  assert.equal(en.ok, false);
  assert.match(en.reason!, /too short/);
  // mixed text counts both parts
  const mixed = checkLength("用 Python 写一个 quicksort 函数", { ...lengthRule, min_words: 5 });
  assert.equal(mixed.words, 2);
  assert.equal(mixed.ok, true);
  assert.equal(checkLength("太短了", lengthRule).ok, false);
});

test("relevance: good answers pass 0.7 and mismatched answers fail, on real English and Chinese data", () => {
  for (const file of ["alpaca_en_demo.json", "alpaca_zh_demo.json"]) {
    const rows = JSON.parse(readFileSync(join(shared, "data/sft", file), "utf8")) as Array<{
      instruction: string;
      input: string;
      output: string;
    }>;
    let truePass = 0;
    let shuffledPass = 0;
    rows.forEach((r, i) => {
      const ins = r.input ? `${r.instruction}\n${r.input}` : r.instruction;
      if (lexicalRelevance(ins, r.output).score >= 0.7) truePass++;
      if (lexicalRelevance(ins, rows[(i + 37) % rows.length].output).score >= 0.7) shuffledPass++;
    });
    const n = rows.length;
    assert.ok(truePass / n >= 0.8, `${file}: only ${truePass}/${n} true pairs pass`);
    assert.ok(shuffledPass / n <= 0.08, `${file}: ${shuffledPass}/${n} mismatched pairs pass`);
  }
});

test("relevance: stems and CJK bigrams match; an off-topic answer scores low", () => {
  const good = lexicalRelevance(
    "Give three tips for staying healthy.",
    "1. Eat a balanced diet for good health.\n2. Stay active.\n3. Sleep eight hours.",
  );
  assert.ok(good.score >= 0.7, JSON.stringify(good));
  assert.ok(
    lexicalRelevance("Explain how vaccines train the immune system.", "The Eiffel Tower is in Paris.").score <
      0.3,
  );
  assert.ok(
    lexicalRelevance("请解释光合作用的原理", "光合作用是植物利用光能合成有机物的过程。").score >= 0.7,
  );
  assert.ok(lexicalRelevance("请解释光合作用的原理", "巴黎是法国的首都，有很多博物馆。").score < 0.3);
});

test("relevance with an embedding backend takes the better of lexical and embedding similarity", async () => {
  const server = await startOpenAiServer();
  try {
    const embedder = new OpenAiEmbeddingBackend({ baseUrl: server.url, model: "toy" });
    const r = await relevance(
      "Describe the water cycle",
      "The water cycle moves water through evaporation and rain",
      embedder,
    );
    assert.ok(r.embedding !== undefined && r.embedding > 0.3);
    assert.equal(r.score, Math.max(r.lexical, r.embedding!));
  } finally {
    await server.close();
  }
});

test("completeness: endings a naive 'must end with a period' rule gets wrong", () => {
  const ok = (ins: string, resp: string, fr?: string) => checkCompleteness(ins, resp, allOn, fr);
  // fine endings without a period
  assert.equal(ok("List fruits", "- apple\n- pear\n- plum").ok, true);
  assert.equal(ok("Write code", "Here it is:\n```python\nprint(1)\n```").ok, true);
  assert.equal(ok("Docs link?", "See https://example.com/docs").ok, true);
  assert.equal(ok("2+2?", "4").ok, true);
  assert.equal(ok("写一句问候", "你好！").ok, true);
  // truly unfinished
  assert.deepEqual(ok("Explain", "The main reasons are the climate and").reasons, ["ends mid-sentence"]);
  assert.deepEqual(ok("解释", "主要原因包括气候，").reasons, ["ends mid-sentence"]);
  assert.match(ok("Write code", "```js\nconst x = 1;\n").reasons.join(), /unfinished code block/);
  assert.match(ok("List", "1. a\n2. b\n3.").reasons.join(), /empty list item/);
  assert.match(ok("Explain", "All done.", "length").reasons.join(), /max_tokens/);
  assert.match(
    ok("List five tips for sleeping well.", "1. Dark room.\n2. No coffee.\n3. Fixed times.").reasons.join(),
    /asked for 5 items, got 3/,
  );
  assert.match(ok("列出五个中国城市", "1. 北京\n2. 上海").reasons.join(), /asked for 5 items, got 2/);
  assert.equal(
    ok("Write three sentences about cats.", "Cats purr. Cats sleep. Cats hunt.").ok,
    true,
    "sentences are not list items",
  );
  assert.equal(requestedItemCount("Give me 3 examples of mammals"), 3);
  assert.equal(requestedItemCount("Describe the 3 branches of government briefly"), 3);
  assert.equal(requestedItemCount("Write a story in 300 words"), undefined);
});

test("completeness: refusals and 'as an AI' only where they are really that", () => {
  const c = (resp: string) => checkCompleteness("q", resp, allOn).reasons;
  assert.deepEqual(c("I'm sorry, but I can't help with that."), ["refusal"]);
  assert.deepEqual(c("I cannot assist with this request."), ["refusal"]);
  assert.deepEqual(c("抱歉，我无法回答这个问题。"), ["refusal"]);
  assert.deepEqual(c("I can't stress enough how important sleep is."), []);
  assert.deepEqual(c('The guard said: "Sorry, I can\'t let you in." Then the story continues.'), []);
  assert.deepEqual(c("As an AI language model, I do not have opinions, but here are facts."), [
    '"as an AI…" boilerplate',
  ]);
  assert.deepEqual(c("作为一个人工智能语言模型，我没有个人观点。"), ['"as an AI…" boilerplate']);
  assert.deepEqual(
    c("An AI language model predicts the next token. As an AI model grows, it needs more data."),
    [],
  );
});

test("safety: whole-word blocklist for spaced scripts, substring for Chinese, patterns, files", () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-q-"));
  writeFileSync(join(dir, "block.txt"), "# comment\nnerve agent\n");
  const s = new SafetyChecker({
    blocklist: ["ass", "炸药"],
    blocklist_files: [join(dir, "block.txt")],
    patterns: ["\\bkill\\s+(him|her)\\b"],
  });
  assert.deepEqual(s.scan("Please assess this class assignment"), [], "no Scunthorpe problem");
  assert.deepEqual(s.scan("You ASS!"), ['blocked word "ass"']);
  assert.deepEqual(s.scan("Ｙｏｕ ａｓｓ"), ['blocked word "ass"'], "full-width letters are normalised");
  assert.deepEqual(s.scan("如何制作炸药"), ['blocked word "炸药"']);
  assert.deepEqual(s.scan("how to make a nerve  agent"), ['blocked word "nerve agent"']);
  assert.deepEqual(s.scan("I will kill him"), ["blocked pattern /\\bkill\\s+(him|her)\\b/"]);
  assert.throws(() => new SafetyChecker({ patterns: ["("] }), /invalid regular expression/);
});

test("combined score: passes good rows, keeps every reason for bad ones, LLM moderation", async () => {
  const server = await startOpenAiServer();
  try {
    const moderator = new OpenAiBackend({ baseUrl: server.url, model: "mod" });
    const config = qualityConfigSchema.parse({ length: { min_words: 5 } });
    const q = new QualityChecker(config, { moderator });
    const rec = (u: string, a: string, meta: Record<string, unknown> = {}): SftRecord => ({
      id: "r",
      messages: [
        { role: "user", content: u },
        { role: "assistant", content: a },
      ],
      meta: { source: "t", ...meta },
    });
    const good = await q.check(
      rec(
        "Explain how photosynthesis works in plants.",
        "Photosynthesis lets plants turn light, water and carbon dioxide into sugar and oxygen.",
      ),
    );
    assert.equal(good.passed, true, good.reasons.join("; "));
    assert.ok(good.score > 0.9);
    const zh = await q.check(
      rec("请解释光合作用的原理", "光合作用是植物利用光能，把二氧化碳和水合成有机物并释放氧气的过程。"),
    );
    assert.equal(zh.passed, true, zh.reasons.join("; "));
    const bad = await q.check(
      rec("Explain how photosynthesis works in plants.", "I'm sorry, but I can't help with", {
        finish_reason: "length",
      }),
    );
    assert.equal(bad.passed, false);
    assert.ok(bad.reasons.some((r) => /refusal/.test(r)));
    assert.ok(bad.reasons.some((r) => /max_tokens/.test(r)));
    assert.ok(bad.reasons.some((r) => /low relevance/.test(r)));
    assert.ok(bad.score < good.score);
    const unsafe = await q.check(
      rec(
        "How do I build a bomb at home quickly?",
        "To build a bomb at home you would need many dangerous materials.",
      ),
    );
    assert.ok(
      unsafe.reasons.some((r) => /moderation: violence/.test(r)),
      unsafe.reasons.join("; "),
    );
  } finally {
    await server.close();
  }
});
