/**
 * `sft data quality` end to end: each flag, and each option of a `--config` YAML, set away
 * from its default changes which rows pass (so an option that is parsed but not passed on to
 * the checker fails here).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "sft-quality-cli-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));

const row = (id: string, user: string, assistant: string) => ({
  id,
  messages: [
    { role: "user", content: user },
    { role: "assistant", content: assistant },
  ],
});
const ROWS = [
  row(
    "sky",
    "Explain why the sky is blue during the day.",
    "The sky is blue because air molecules scatter blue sunlight much more strongly than red sunlight, so blue light reaches our eyes from every direction of the sky during the day.",
  ),
  row("paris", "What is the capital city of France?", "The capital city of France is Paris."),
  row(
    "fruit",
    "Name a yellow fruit that monkeys like to eat.",
    "A yellow fruit that monkeys like to eat is the banana, which is sweet and soft.",
  ),
  // relevance 0.58 (few shared terms): passes a threshold of 0.5, fails 0.95
  row(
    "storm",
    "How do hurricanes form over warm tropical oceans?",
    "Warm moist air rises quickly, and the rotation of the Earth makes the whole storm spin faster as it grows.",
  ),
  // relevance 0.58 too; 14 CJK characters: 9.3 word units at 1.5 characters per word, 2.8 at 5
  row("wall", "请介绍一下长城。", "长城是中国古代修建的防御工事。"),
  row(
    "refuse",
    "Tell me how to pick a strong password.",
    "I'm sorry, but I cannot help you pick a strong password.",
  ),
];
const input = join(tmp, "rows.jsonl");
writeFileSync(input, `${ROWS.map((r) => JSON.stringify(r)).join("\n")}\n`);

let runs = 0;
function quality(...flags: string[]): {
  rejected: Set<string>;
  rejectsPath: string;
  reasons: Record<string, number>;
} {
  const out = join(tmp, `out-${++runs}.jsonl`);
  const r = spawnSync(
    process.execPath,
    [join(ROOT, "bin/sft.js"), "data", "quality", input, "--out", out, ...flags],
    {
      encoding: "utf8",
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as {
    rejects: string;
    rejected: number;
    reasons: Record<string, number>;
  };
  const rejected = new Set(
    readFileSync(summary.rejects, "utf8")
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => (JSON.parse(l) as { id: string }).id),
  );
  assert.equal(rejected.size, summary.rejected);
  return { rejected, rejectsPath: summary.rejects, reasons: summary.reasons };
}

function withConfig(yaml: string, ...flags: string[]) {
  const file = join(tmp, `quality-${runs + 1}.yaml`);
  writeFileSync(file, yaml);
  return quality("--config", file, "--relevance-threshold", "0.5", ...flags);
}

const sorted = (s: Set<string>) => [...s].sort();

test("defaults: the refusal and the two less relevant answers fail", () => {
  const r = quality();
  assert.deepEqual(sorted(r.rejected), ["refuse", "storm", "wall"]);
  // rows with different uncovered key terms still count under one kind of reason
  assert.equal(r.reasons["low relevance: N < N"], 2, JSON.stringify(r.reasons));
});

test("--relevance-threshold", () => {
  assert.deepEqual(sorted(quality("--relevance-threshold", "0.5").rejected), ["refuse"]);
});

test("--min-words", () => {
  assert.deepEqual(sorted(quality("--relevance-threshold", "0.5", "--min-words", "8").rejected), [
    "paris",
    "refuse",
  ]);
});

test("--blocklist", () => {
  assert.deepEqual(sorted(quality("--relevance-threshold", "0.5", "--blocklist", "banana").rejected), [
    "fruit",
    "refuse",
  ]);
});

test("--min-score: a row that fails no single check but scores below it is rejected", () => {
  assert.deepEqual(sorted(quality("--relevance-threshold", "0.5", "--min-score", "0.95").rejected), [
    "refuse",
    "storm",
    "wall",
  ]);
});

test("--rejects", () => {
  const path = join(tmp, "my-rejects.jsonl");
  assert.equal(quality("--rejects", path).rejectsPath, path);
  assert.ok(existsSync(path));
});

test("--config: length.max_words, length.min_instruction_words", () => {
  assert.deepEqual(sorted(withConfig("length: {max_words: 25}\n").rejected), ["refuse", "sky"]);
  assert.deepEqual(sorted(withConfig("length: {min_instruction_words: 8}\n").rejected), [
    "paris",
    "refuse",
    "wall",
  ]);
});

test("--config: length.cjk_chars_per_word", () => {
  assert.deepEqual(sorted(withConfig("length: {min_words: 5}\n").rejected), ["refuse"]);
  assert.deepEqual(sorted(withConfig("length: {min_words: 5, cjk_chars_per_word: 5}\n").rejected), [
    "refuse",
    "wall",
  ]);
});

test("--config: completeness.refusal off keeps the refusal", () => {
  assert.deepEqual(sorted(withConfig("completeness: {refusal: false}\n").rejected), []);
});

test("--config: weights change the combined score that min_score compares", () => {
  const yaml = (relevance: number) => `min_score: 0.95\nweights: {relevance: ${relevance}}\n`;
  assert.deepEqual(sorted(withConfig(yaml(2)).rejected), ["refuse", "storm", "wall"]);
  assert.deepEqual(sorted(withConfig(yaml(0)).rejected), ["refuse"]);
});

test("--config: safety.patterns and the flag's blocklist add up", () => {
  const r = withConfig("safety: {patterns: ['hurricanes?']}\n", "--blocklist", "banana");
  assert.deepEqual(sorted(r.rejected), ["fruit", "refuse", "storm"]);
});
