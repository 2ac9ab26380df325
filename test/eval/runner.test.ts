import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { evalConfigSchema, validateEvalConfig } from "../../src/config/eval.js";
import { SftError } from "../../src/errors.js";
import type { PerplexityScorer } from "../../src/eval/format.js";
import { LocalPerplexityScorer } from "../../src/eval/perplexity-local.js";
import { deriveSuggestions, runEvaluation } from "../../src/eval/runner.js";
import { OpenAiBackend } from "../../src/llm/index.js";
import { countInFlight } from "../helpers/in-flight.js";
import { startOpenAiServer } from "../helpers/openai-server.js";
import { skipWithoutPython, TEST_PYTHON } from "./code/python-available.js";
import { writeEvalFixture } from "./eval-fixture.js";

const STORIES = resolve(
  new URL("../..", import.meta.url).pathname,
  "../shared/models/stories260K/stories260K.gguf",
);

/** Perplexity from character frequencies of English prose: unusual characters cost more. */
const charScorer: PerplexityScorer = {
  name: "char-frequency",
  vocabSize: 256,
  async perplexity(texts) {
    const common = "etaoinshrdlu ";
    return texts.map((t) => {
      const chars = [...t];
      const nll = chars.reduce((a, c) => a + (common.includes(c.toLowerCase()) ? 1.5 : 4), 0);
      return Math.exp(nll / Math.max(1, chars.length));
    });
  },
};

describe("evaluation runner", () => {
  it("python: the code checker runs the configured interpreter", { skip: skipWithoutPython }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "runner-python-"));
    const task = {
      task_id: "t/0",
      prompt: "def add(a, b):\n",
      canonical_solution: "    return a + b\n",
      test: "def check(candidate):\n    assert candidate(1, 2) == 3\n",
      entry_point: "add",
    };
    writeFileSync(join(dir, "he.jsonl"), `${JSON.stringify(task)}\n`);
    writeFileSync(join(dir, "r.jsonl"), `${JSON.stringify({ id: "t/0", response: "    return a + b\n" })}\n`);
    const config = (python: string) =>
      evalConfigSchema.parse({
        base: { kind: "responses", path: "r.jsonl" },
        sft: { kind: "responses", path: "r.jsonl" },
        suites: ["he.jsonl"],
        python,
      });
    const r = await runEvaluation(config(TEST_PYTHON), { baseDir: dir });
    assert.equal(r.tasks[0].sft.score, 1);
    await assert.rejects(
      runEvaluation(config(join(dir, "no-such-python3")), { baseDir: dir }),
      /no Python interpreter ".*no-such-python3"/,
    );
  });

  it("judge.max_samples judges only the first N pairs; judge.concurrency caps the judge's requests in flight", async () => {
    const dir = mkdtempSync(join(tmpdir(), "runner-judge-"));
    writeEvalFixture(dir);
    const judge = await startOpenAiServer({ answer: () => "[[C]]", delayMs: 15 });
    try {
      const counted = countInFlight(new OpenAiBackend({ baseUrl: judge.url, model: "judge" }));
      const config = evalConfigSchema.parse({
        base: { kind: "responses", path: "base.jsonl" },
        sft: { kind: "responses", path: "sft.jsonl" },
        suites: ["suite.jsonl"],
        judge: { llm: { base_url: judge.url, model: "judge" }, max_samples: 3, concurrency: 2 },
      });
      const r = await runEvaluation(config, { baseDir: dir, judge: counted.backend });
      assert.ok(r.samples.length > 3);
      assert.equal(r.judge?.pairs.length, 3);
      // both orders of each pair are asked
      assert.equal(judge.log.length, 6);
      assert.equal(counted.most(), 2);
    } finally {
      await judge.close();
    }
  });

  it("includes fluency when a perplexity scorer is given, and nowhere else", async () => {
    const dir = mkdtempSync(join(tmpdir(), "runner-"));
    writeEvalFixture(dir);
    const config = evalConfigSchema.parse({
      base: { kind: "responses", path: "base.jsonl" },
      sft: { kind: "responses", path: "sft.jsonl" },
      suites: ["suite.jsonl"],
      max_samples: 4,
    });
    const withPpl = await runEvaluation(config, { baseDir: dir, perplexity: charScorer });
    assert.equal(withPpl.samples.length, 4);
    assert.ok(withPpl.format.sft.fluency !== null && withPpl.format.sft.fluency > 0);
    for (const s of withPpl.samples) {
      const f = s.sft.format.fluency!;
      assert.ok(Math.abs(s.sft.if_score.quality - (s.sft.format.style.score + f.score) / 2) < 1e-12);
    }
    const without = await runEvaluation(config, { baseDir: dir });
    assert.equal(without.format.sft.fluency, null);
    await assert.rejects(
      runEvaluation({ ...config, fluency: { model: "no-such-model" } }, { baseDir: dir }),
      (e: unknown) => e instanceof SftError && /not found/.test(e.message),
    );
  });

  it("fluency from a real reference model (stories260K) ranks story-like text above gibberish", async () => {
    const scorer = await LocalPerplexityScorer.load(STORIES);
    assert.equal(scorer.vocabSize, 512);
    const [story, noise] = await scorer.perplexity([
      "Once upon a time, there was a little girl named Lily. She loved to play outside.",
      "zq xv qqq jjj kkk 123 !!! ##",
    ]);
    assert.ok(story < 10 && noise > 100, `${story} ${noise}`);
    const dir = mkdtempSync(join(tmpdir(), "runner-"));
    writeEvalFixture(dir);
    const config = evalConfigSchema.parse({
      base: { kind: "responses", path: "base.jsonl" },
      sft: { kind: "responses", path: "sft.jsonl" },
      suites: ["suite.jsonl"],
      max_samples: 3,
      fluency: { model: STORIES },
    });
    const r = await runEvaluation(config, { baseDir: dir });
    for (const s of r.samples) {
      const f = s.sft.format.fluency;
      assert.ok(f && f.score >= 0 && f.score <= 1 && f.perplexity > 1);
    }
    assert.ok(r.format.base.fluency !== null);
  });

  it("config needs suites or IFEval prompts; suggestions follow the numbers", () => {
    assert.throws(
      () =>
        validateEvalConfig({ base: { kind: "responses", path: "a" }, sft: { kind: "responses", path: "b" } }),
      /no suites and no ifeval/,
    );
    const agg = (score: number, len: number) => ({
      score,
      pass_rate: score,
      if_score: score,
      mean_length: len,
    });
    const fmt = {
      structure: 1,
      length: 1,
      style: 1,
      fluency: null,
      if_parts: { format: 1, relevance: 1, completeness: 1, quality: 1 },
    };
    const s = deriveSuggestions({
      version: 1,
      created_at: "",
      models: { base: "b", sft: "s" },
      attention_threshold: 0.1,
      overall: {
        n: 10,
        base: agg(0.5, 10),
        sft: agg(0.55, 40),
        improvement: 0.05,
        macro_improvement: 0.05,
        samples_improved: 3,
        samples_regressed: 2,
        samples_unchanged: 5,
      },
      tasks: [
        { task: "a", n: 5, base: agg(0.5, 10), sft: agg(0.6, 40), improvement: 0.1, needs_attention: false },
        { task: "b", n: 5, base: agg(0.5, 10), sft: agg(0.55, 40), improvement: 0.05, needs_attention: true },
      ],
      format: { base: fmt, sft: fmt },
      best_task: { task: "a", improvement: 0.1 },
      attention_tasks: [{ task: "b", improvement: 0.05 }],
    });
    assert.match(s[0], /only \+0\.050/);
    assert.ok(s.some((x) => /Task "b" barely moved/.test(x)));
    assert.ok(!s.some((x) => /Task "a"/.test(x)));
    assert.ok(s.some((x) => /4\.0× as long/.test(x)));
  });
});
