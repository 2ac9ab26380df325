/**
 * End-to-end fine-tuning of the real stories260K model (LoRA and full) on an instruction set
 * built here: losses fall, the run directory follows the contract, and what was saved loads
 * back into a model that gives the same logits as the one trained in memory.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadCheckpoint } from "../../src/engine/checkpoint/hf.js";
import { readPeftAdapter } from "../../src/engine/checkpoint/peft.js";
import { createModel, type Model } from "../../src/engine/model.js";
import { loadTokenizer } from "../../src/tokenize/tokenizer.js";
import { train } from "../../src/train/index.js";
import { STORIES_GGUF, writeInstructionSet } from "./instruction-set.js";

const quiet = { quiet: true };

function probeBatch(): { B: number; T: number; inputIds: Int32Array } {
  const T = 24;
  const inputIds = Int32Array.from({ length: 2 * T }, (_, i) => 1 + ((i * 37) % 500));
  return { B: 2, T, inputIds };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function losses(history: { loss?: number; eval_loss?: number }[], key: "loss" | "eval_loss"): number[] {
  return history.map((e) => e[key]).filter((x): x is number => x !== undefined);
}

test("LoRA fine-tuning of stories260K: losses fall, run dir follows the contract, the adapter loads back exactly", async () => {
  const dir = mkdtempSync(join(tmpdir(), "train-lora-"));
  const data = writeInstructionSet(dir, "train.json", 40);
  const evalData = writeInstructionSet(dir, "eval.json", 8, 100);
  const out = join(dir, "run");
  const logged: unknown[] = [];
  const r = await train(
    {
      model: STORIES_GGUF,
      data,
      eval_data: evalData,
      output_dir: out,
      max_steps: 24,
      per_device_train_batch_size: 4,
      learning_rate: 5e-3,
      lr_scheduler_type: "cosine",
      warmup_steps: 2,
      logging_steps: 4,
      eval_steps: 8,
      eval_on_start: true,
      save_steps: 8,
      save_total_limit: 1,
      lora: { r: 8, alpha: 16, dropout: 0 },
    },
    { ...quiet, onLog: (e) => logged.push(e) },
  );
  const train_ = losses(r.logHistory, "loss");
  const evals = losses(r.logHistory, "eval_loss");
  assert.ok(train_[train_.length - 1] < 0.6 * train_[0], `train loss ${train_.join(" ")}`);
  assert.equal(evals.length, 4, "eval at start and at steps 8, 16, 24");
  assert.ok(evals[3] < 0.7 * evals[0], `eval loss ${evals.join(" ")}`);
  assert.equal(logged.length, r.logHistory.length, "onLog saw every entry");

  // run directory contract
  const names = readdirSync(out).sort();
  for (const n of ["adapter", "config.yaml", "datasets.json", "metrics.jsonl", "runs", "trainer_state.json"])
    assert.ok(names.includes(n), `${n} in ${names}`);
  assert.deepEqual(
    names.filter((n) => n.startsWith("checkpoint-")),
    ["checkpoint-24"],
    "save_total_limit 1 keeps the newest (which is also the best here)",
  );
  const state = JSON.parse(readFileSync(join(out, "trainer_state.json"), "utf8"));
  assert.equal(state.global_step, 24);
  assert.equal(state.best_metric, evals[3]);
  assert.equal(state.best_model_checkpoint, join(out, "checkpoint-24"));
  assert.ok(state.log_history.every((e: { step: number }) => typeof e.step === "number"));
  const metricLines = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n");
  assert.equal(metricLines.length, r.logHistory.length);
  assert.ok(readdirSync(join(out, "runs"))[0].startsWith("events.out.tfevents."));

  // the adapter loads back onto the base and gives the in-memory model's logits
  const adapter = readPeftAdapter(r.resultDir);
  assert.equal(adapter.config.r, 8);
  const base = loadCheckpoint(STORIES_GGUF);
  const reloaded = createModel(base.config, base.tensors, {
    lora: { r: adapter.config.r, alpha: adapter.config.loraAlpha, targets: adapter.config.targetModules },
  });
  reloaded.loadAdapter(adapter.tensors, r.resultDir);
  const batch = probeBatch();
  const trained = (r.model as Model).logits(batch);
  const again = reloaded.logits(batch);
  assert.equal(maxAbsDiff(trained, again), 0, "F32 adapter: bit-identical logits");
  const untouched = createModel(base.config, base.tensors).logits(batch);
  assert.ok(maxAbsDiff(trained, untouched) > 1e-2, "the adapter changed the model");
});

test("full fine-tuning of stories260K: losses fall and model/ loads back with the same logits", async () => {
  const dir = mkdtempSync(join(tmpdir(), "train-full-"));
  const data = writeInstructionSet(dir, "train.json", 32);
  const out = join(dir, "run");
  const r = await train(
    {
      model: STORIES_GGUF,
      data,
      eval_split: 0.25,
      output_dir: out,
      finetuning_type: "full",
      max_steps: 16,
      per_device_train_batch_size: 2,
      gradient_accumulation_steps: 2,
      learning_rate: 2e-3,
      logging_steps: 4,
      eval_steps: 8,
      eval_on_start: true,
      save_steps: 0,
    },
    quiet,
  );
  const train_ = losses(r.logHistory, "loss");
  const evals = losses(r.logHistory, "eval_loss");
  assert.ok(train_[train_.length - 1] < 0.6 * train_[0], `train loss ${train_.join(" ")}`);
  assert.ok(evals[evals.length - 1] < 0.7 * evals[0], `eval loss ${evals.join(" ")}`);
  assert.equal(r.kind, "model");
  assert.ok(
    existsSync(join(out, "model", "config.json")) && existsSync(join(out, "model", "model.safetensors")),
  );
  assert.deepEqual(
    readdirSync(out).filter((n) => n.startsWith("checkpoint-")),
    ["checkpoint-16"],
    "save_steps 0: one checkpoint at the end",
  );
  // model/ stands on its own: its tokenizer encodes like the base's
  const text = "Who has the ball? Lily has the ball.";
  assert.deepEqual(
    (await loadTokenizer(join(out, "model"))).encode(text),
    (await loadTokenizer(STORIES_GGUF)).encode(text),
  );
  const saved = loadCheckpoint(join(out, "model"));
  const batch = probeBatch();
  assert.equal(
    maxAbsDiff((r.model as Model).logits(batch), createModel(saved.config, saved.tensors).logits(batch)),
    0,
  );
});
