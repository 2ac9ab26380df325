import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { buildConfigSchema } from "../../../src/config/build.js";
import {
  buildInstructionData,
  loadSeedTasks,
  parseInstructionReply,
  proposalProblem,
  renderPrompt,
} from "../../../src/data/build/index.js";
import {
  DEFAULT_TAXONOMY,
  diversityReport,
  drawFromTaxonomy,
  loadTaxonomy,
  taskPairs,
} from "../../../src/data/taxonomy/index.js";
import { createLlmBackend, LlmStore } from "../../../src/llm/index.js";
import type { SftRecord } from "../../../src/record/record.js";
import { startOpenAiServer } from "../../helpers/openai-server.js";

const seeds = resolve(new URL("../../../../shared/data/seeds", import.meta.url).pathname);

test("real seed task files load (self-instruct JSONL and the Chinese set)", () => {
  const en = loadSeedTasks(join(seeds, "alpaca_seed_tasks.jsonl"));
  const zh = loadSeedTasks(join(seeds, "belle_zh_seed_tasks.json"));
  assert.equal(en.length, 175);
  assert.equal(zh.length, 175);
  assert.match(zh[0].instruction, /[\u4e00-\u9fff]/);
  assert.ok(en.some((t) => t.input.length > 0));
});

test("instruction replies are parsed: labels, quotes, numbering and Input sections", () => {
  assert.deepEqual(parseInstructionReply('Instruction: "Sort the list."\nInput: 3, 1, 2'), {
    instruction: "Sort the list.",
    input: "3, 1, 2",
  });
  assert.deepEqual(parseInstructionReply("1. Task: Name a color.\nInput: <noinput>"), {
    instruction: "Name a color.",
    input: "",
  });
  assert.deepEqual(parseInstructionReply("指令：写一首诗\n输入：春天"), {
    instruction: "写一首诗",
    input: "春天",
  });
  assert.equal(renderPrompt("about {{topic}} ({{nope}})", { topic: "x" }), "about x ({{nope}})");
});

test("taxonomy sampling is stratified: every value is used evenly, and diversity reports what is missing", async () => {
  const pairs = taskPairs(DEFAULT_TAXONOMY);
  const counts = new Map<string, number>();
  const styles = new Map<string, number>();
  for (let i = 0; i < pairs.length * 2; i++) {
    const d = drawFromTaxonomy(DEFAULT_TAXONOMY, 9, i);
    counts.set(`${d.task_type}/${d.subtype}`, (counts.get(`${d.task_type}/${d.subtype}`) ?? 0) + 1);
    styles.set(d.style, (styles.get(d.style) ?? 0) + 1);
  }
  assert.equal(counts.size, pairs.length);
  assert.ok([...counts.values()].every((c) => c === 2));
  assert.ok(Math.max(...styles.values()) - Math.min(...styles.values()) <= 1);
  const rows: SftRecord[] = [
    {
      id: "1",
      messages: [{ role: "user", content: "write a poem" }],
      meta: { source: "t", task: "creative/poem", domain: "arts", difficulty: "easy", style: "creative" },
    },
    {
      id: "2",
      messages: [{ role: "user", content: "sum 2 and 3" }],
      meta: { source: "t", task: "reasoning/math_word_problem", difficulty: "easy" },
    },
  ];
  const rep = await diversityReport(rows, DEFAULT_TAXONOMY);
  assert.equal(rep.dimensions.task_type.covered, 2);
  assert.ok(rep.dimensions.task_type.missing.includes("code"));
  assert.deepEqual(rep.dimensions.difficulty.missing, ["medium", "hard"]);
  assert.equal(rep.dimensions.domain.unlabelled, 1);
  assert.equal(rep.dimensions.difficulty.evenness, 0);
  // an edited taxonomy file is data: unknown keys are rejected with a hint
  const dir = mkdtempSync(join(tmpdir(), "sft-tax-"));
  writeFileSync(
    join(dir, "t.yaml"),
    "task_types: {code: [sql]}\ndomains: [db]\ndifficulty: [easy]\nstyle: [formal]\n",
  );
  assert.deepEqual(loadTaxonomy(join(dir, "t.yaml")).domains, ["db"]);
  writeFileSync(
    join(dir, "bad.yaml"),
    "task_types: {code: [sql]}\ndomain: [db]\ndifficulty: [easy]\nstyle: [formal]\n",
  );
  assert.throws(() => loadTaxonomy(join(dir, "bad.yaml")), /unknown key "domain"/);
});

test("Chinese build and self-instruct with the Chinese seed tasks", async () => {
  const server = await startOpenAiServer();
  const dir = mkdtempSync(join(tmpdir(), "sft-zh-"));
  const store = new LlmStore(join(dir, "s.sqlite"));
  try {
    const llm = { base_url: server.url, model: "scripted", retry_base_ms: 10 };
    const backend = createLlmBackend(buildConfigSchema.parse({ out: "x", llm, topics: ["a"] }).llm, {
      store,
    });
    const zh = buildConfigSchema.parse({
      out: join(dir, "zh.jsonl"),
      language: "zh",
      llm,
      topics: ["天文学"],
      prompt_types: ["qa", "task"],
      per_topic: 2,
    });
    const r = await buildInstructionData(zh, { backend, store });
    const rows = readFileSync(r.out, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as SftRecord);
    assert.equal(rows.length, 4);
    assert.ok(rows.every((x) => /[\u4e00-\u9fff]/.test(x.messages[0].content) && x.meta.topic === "天文学"));
    // the built-in Chinese prompts were the ones sent
    assert.ok(
      server.log.some((e) => e.body?.messages.some((m) => m.content.includes("请围绕以下主题：天文学"))),
    );

    const si = buildConfigSchema.parse({
      out: join(dir, "si.jsonl"),
      language: "zh",
      llm,
      mode: "self-instruct",
      self_instruct: {
        seed_tasks: join(seeds, "belle_zh_seed_tasks.json"),
        num_instructions: 6,
        batch_size: 4,
      },
    });
    const s = await buildInstructionData(si, { backend, store });
    assert.equal(s.written, 6);
    const prompts = server.log.filter((e) => e.body?.messages[0].content.includes("请想出一个新的任务"));
    assert.ok(prompts.length >= 6);
    // prompts of later rounds show machine-generated examples from earlier rounds
    const siRows = readFileSync(s.out, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as SftRecord);
    const kept = siRows.map((x) => x.messages[0].content);
    assert.ok(
      prompts.some((p) => kept.some((k) => p.body!.messages[0].content.includes(`Instruction: ${k}`))),
    );
    assert.ok(siRows.every((x) => x.meta.type === "self-instruct"));
  } finally {
    store.close();
    await server.close();
  }
});

test("self-instruct drops proposals too close (ROUGE-L > 0.7) to a seed or kept task, with the reason", async () => {
  let k = 0;
  const server = await startOpenAiServer({
    answer: (body) => {
      if (!body.messages[0].content.includes("Come up with a new task")) return "A complete answer about it.";
      k++;
      // every other proposal copies a seed task almost verbatim
      const fresh = [
        "Name unusual hobbies for retired sailors.",
        "Translate a cooking recipe into formal legal language.",
        "Explain why cats knock cups off tables.",
        "Design a board game about volcanoes.",
      ];
      return k % 2
        ? "Instruction: Is there anything I can eat for a breakfast that doesn't include eggs, yet includes protein?"
        : `Instruction: ${fresh[(k / 2 - 1) % fresh.length]}`;
    },
  });
  const dir = mkdtempSync(join(tmpdir(), "sft-si-"));
  const store = new LlmStore(join(dir, "s.sqlite"));
  try {
    const config = buildConfigSchema.parse({
      out: join(dir, "si.jsonl"),
      llm: { base_url: server.url, model: "m", concurrency: 1 },
      mode: "self-instruct",
      self_instruct: {
        seed_tasks: join(seeds, "alpaca_seed_tasks.jsonl"),
        num_instructions: 3,
        batch_size: 4,
      },
    });
    const r = await buildInstructionData(config, { backend: createLlmBackend(config.llm, { store }), store });
    assert.equal(r.written, 3);
    const rejects = readFileSync(r.rejects, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { reasons: string[] });
    assert.ok(rejects.length >= 3);
    assert.ok(rejects.every((x) => /rouge-l 0\.\d+ > 0\.7/.test(x.reasons[0])));
  } finally {
    store.close();
    await server.close();
  }
});

test("self-instruct heuristics: length, blocked words (whole words), leading punctuation", () => {
  const opts = { blocked_words: ["image", "map", "图片"], min_words: 3, max_words: 150 };
  assert.equal(proposalProblem("Summarise the article in two sentences.", opts), undefined);
  assert.match(proposalProblem("Describe the image below in detail.", opts)!, /"image"/);
  assert.equal(
    proposalProblem("Explain how imagery works in poetry.", opts),
    undefined,
    "imagery is not image",
  );
  assert.equal(proposalProblem("Explain what a bitmap font is.", opts), undefined, "bitmap is not map");
  assert.match(proposalProblem("请描述这张图片的内容", opts)!, /图片/);
  assert.match(proposalProblem("Hi.", opts)!, /too short/);
  assert.match(proposalProblem("- List three fruits please now.", opts)!, /punctuation/);
  assert.equal(proposalProblem("请写一首关于春天的诗", opts), undefined);
});
