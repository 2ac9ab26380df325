/**
 * End to end on a real model: stories260K is fine-tuned here (LoRA, a few dozen steps) to
 * answer "Who has the X?" questions, then `sft eval CONFIG.yaml` evaluates the base model
 * and the fine-tuned one (base + adapter, both run by the package's own engine) on a small
 * suite, and every number of report.json must be what its per-sample results add up to.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import type { EvalResult } from "../../src/eval/runner.js";
import { train } from "../../src/train/index.js";

const repoRoot = resolve(new URL("../..", import.meta.url).pathname);
const STORIES = resolve(repoRoot, "../shared/models/stories260K/stories260K.gguf");

const OWNERS: [string, string][] = [
  ["ball", "Tom"],
  ["cat", "Lily"],
  ["dog", "Ben"],
  ["cake", "Sue"],
  ["box", "Max"],
  ["tree", "Amy"],
];
const answer = (thing: string, name: string) => `${name} has the ${thing}. ${name} is happy.`;

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);

test("stories260K vs its fine-tuned copy: sft eval CONFIG.yaml end to end, and the report adds up", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sft-eval-stories-"));
  const rows = OWNERS.flatMap(([thing, name]) =>
    [`Who has the ${thing}?`, `Tell me who has the ${thing}.`].map((instruction) => ({
      instruction,
      input: "",
      output: answer(thing, name),
    })),
  );
  writeFileSync(join(dir, "train.json"), JSON.stringify(rows));
  const run = await train(
    {
      model: STORIES,
      data: join(dir, "train.json"),
      output_dir: join(dir, "run"),
      max_steps: 60,
      per_device_train_batch_size: 4,
      learning_rate: 1e-2,
      warmup_steps: 2,
      logging_steps: 20,
      save_steps: 60,
      lora: { r: 8, alpha: 16, dropout: 0 },
    },
    { quiet: true },
  );
  assert.ok(run.logHistory.length > 0);

  const suite = OWNERS.flatMap(([thing, name]) => [
    {
      id: `who-${thing}`,
      instruction: `Who has the ${thing}?`,
      expected: `${name} has the ${thing}`,
      task: "owner",
      checker: "contains",
    },
    {
      id: `pattern-${thing}`,
      instruction: `Tell me who has the ${thing}.`,
      task: "pattern",
      checker: "regex",
      pattern: "^\\s*[A-Z][a-z]+ has the [a-z]+\\.",
      flags: "",
    },
    {
      id: `rouge-${thing}`,
      instruction: `Who has the ${thing}?`,
      expected: answer(thing, name),
      task: "similarity",
      checker: "rouge_l",
    },
  ]);
  writeFileSync(join(dir, "suite.jsonl"), suite.map((r) => JSON.stringify(r)).join("\n"));
  writeFileSync(
    join(dir, "eval.yaml"),
    [
      `base: { kind: local, model: "${STORIES}", name: stories260K }`,
      `sft: { kind: local, model: "${STORIES}", adapter: run/adapter, name: stories260K-sft }`,
      "suites: [suite.jsonl]",
      "generation: { max_tokens: 20 }",
      "out: report",
    ].join("\n"),
  );
  const cli = spawnSync(
    process.execPath,
    [join(repoRoot, "bin/sft.js"), "eval", join(dir, "eval.yaml"), "--quiet"],
    {
      encoding: "utf8",
      cwd: repoRoot,
    },
  );
  assert.equal(cli.status, 0, cli.stderr + cli.stdout);
  const r = JSON.parse(readFileSync(join(dir, "report", "report.json"), "utf8")) as EvalResult;
  assert.equal(r.samples.length, suite.length);
  assert.deepEqual(r.models, { base: "stories260K", sft: "stories260K-sft" });
  for (const t of r.tasks) {
    const ss = r.samples.filter((s) => s.task === t.task);
    close(t.base.score, mean(ss.map((s) => s.base.score)), `${t.task} base`);
    close(t.sft.score, mean(ss.map((s) => s.sft.score)), `${t.task} sft`);
    close(t.improvement, t.sft.score - t.base.score, `${t.task} improvement`);
    assert.equal(t.needs_attention, t.improvement < 0.1);
  }
  close(r.overall.improvement, mean(r.samples.map((s) => s.sft.score - s.base.score)), "overall");
  // the fine-tuned copy learned the answer pattern; the base model tells stories
  const pattern = r.tasks.find((t) => t.task === "pattern")!;
  assert.ok(pattern.sft.score > pattern.base.score + 0.5, JSON.stringify(pattern));
  assert.ok(r.overall.improvement > 0.3, String(r.overall.improvement));
  const html = readFileSync(join(dir, "report", "report.html"), "utf8");
  assert.ok(html.includes(`${r.overall.base.score.toFixed(3)} → ${r.overall.sft.score.toFixed(3)}`));
});
