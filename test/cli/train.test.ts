/** `sft train` on the command line: help, config errors, resume rules, and a multi-task run. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot, STORIES_GGUF, writeInstructionSet } from "../train/instruction-set.js";

const SFT = join(repoRoot, "bin", "sft.js");
const sft = (...args: string[]) => spawnSync(process.execPath, [SFT, ...args], { encoding: "utf8" });

test("--help lists the contract flags and an example", () => {
  const r = sft("train", "--help");
  assert.equal(r.status, 0);
  for (const flag of [
    "--model",
    "--data",
    "--out",
    "--eval-data",
    "--max-steps",
    "--batch-size",
    "--grad-accum",
    "--lr",
    "--seed",
    "--save-steps",
    "--lora-r",
    "--chat-template",
    "--template",
    "--resume",
  ])
    assert.ok(r.stdout.includes(flag), flag);
  assert.match(r.stdout, /Examples:\n\s+sft train --model/);
});

test("a YAML typo fails with file:line and a did-you-mean; --resume takes no other options", () => {
  const dir = mkdtempSync(join(tmpdir(), "cli-train-"));
  const cfg = join(dir, "train.yaml");
  writeFileSync(cfg, `model: ${STORIES_GGUF}\ndata: x.jsonl\noutput_dir: ${dir}/run\nwarmup_ration: 0.1\n`);
  const r = sft("train", cfg);
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /train\.yaml:4: warmup_ration: unknown option "warmup_ration" \(did you mean "warmup_ratio"\?\)/,
  );
  const resume = sft("train", "--resume", join(dir, "run"), "--lr", "1");
  assert.equal(resume.status, 1);
  assert.match(resume.stderr, /--resume continues a run with its own saved config/);
  const missing = sft("train", "--resume", join(dir, "nothing-here"));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no config\.yaml in the run directory/);
});

test("multi-task run from flags: weighted counts printed and recorded, eval loss per task", () => {
  const dir = mkdtempSync(join(tmpdir(), "cli-train-"));
  const qa = writeInstructionSet(dir, "qa.json", 12);
  const chat = writeInstructionSet(dir, "chat.json", 16, 50);
  const out = join(dir, "run");
  const r = sft(
    "train",
    "--model",
    STORIES_GGUF,
    "--dataset",
    `${qa}:qa:2`,
    "--dataset",
    `${chat}:chat:0.5`,
    "--eval-split",
    "0.25",
    "--out",
    out,
    "--max-steps",
    "6",
    "--batch-size",
    "4",
    "--eval-steps",
    "3",
    "--logging-steps",
    "3",
  );
  assert.equal(r.status, 0, r.stderr);
  // 12 qa records: 3 held out, 9 trained twice; 16 chat: 4 held out, half of 12 trained
  assert.match(r.stdout, /per-task samples per epoch: qa=18, chat=6/);
  const datasets = JSON.parse(readFileSync(join(out, "datasets.json"), "utf8"));
  assert.deepEqual(datasets.task_counts_per_epoch, { qa: 18, chat: 6 });
  assert.equal(datasets.fingerprints.length, 2);
  // Alpaca rows carry no system prompt (the template's default is not the data's)
  assert.deepEqual(datasets.system_prompts, {
    records: 28,
    distinct: 1,
    top: [{ system: null, records: 28 }],
  });
  assert.match(datasets.fingerprints[0].sha256, /^[0-9a-f]{64}$/);
  const state = JSON.parse(readFileSync(join(out, "trainer_state.json"), "utf8"));
  const evals = state.log_history.filter((e: Record<string, number>) => e.eval_loss !== undefined);
  assert.equal(evals.length, 2);
  for (const e of evals) {
    assert.ok(e.eval_qa_loss > 0 && e.eval_chat_loss > 0);
    // the overall loss is the token-weighted mean of the per-task losses: it lies between them
    assert.ok(e.eval_loss >= Math.min(e.eval_qa_loss, e.eval_chat_loss) - 1e-12);
    assert.ok(e.eval_loss <= Math.max(e.eval_qa_loss, e.eval_chat_loss) + 1e-12);
  }
  assert.match(r.stdout, /eval at step 3: eval_loss [\d.]+ \(qa [\d.]+, chat [\d.]+\)/);
  assert.match(r.stdout, /training done: 6 steps/);
});
