/** Early stopping with the best checkpoint loaded at the end, and the stop on a non-finite loss. */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readPeftAdapter } from "../../src/engine/checkpoint/peft.js";
import { readSafetensorsSync } from "../../src/engine/checkpoint/safetensors.js";
import { SftError } from "../../src/errors.js";
import { train } from "../../src/train/index.js";
import { STORIES_GGUF, writeInstructionSet } from "./instruction-set.js";

test("early stopping after `patience` evals without improvement; the best checkpoint is kept and loaded", async () => {
  const dir = mkdtempSync(join(tmpdir(), "train-stop-"));
  const data = writeInstructionSet(dir, "train.json", 24);
  const out = join(dir, "run");
  // a threshold no eval can beat makes every eval after the first a non-improvement
  const r = await train(
    {
      model: STORIES_GGUF,
      data,
      eval_split: 0.25,
      output_dir: out,
      max_steps: 20,
      per_device_train_batch_size: 4,
      learning_rate: 5e-3,
      eval_steps: 2,
      save_steps: 2,
      save_total_limit: 1,
      early_stopping_patience: 2,
      early_stopping_threshold: 100,
      load_best_model_at_end: true,
      logging_steps: 1,
    },
    { quiet: true },
  );
  assert.equal(r.stoppedEarly, true);
  assert.equal(r.globalStep, 6, "evals at 2 (best), 4 and 6 (no improvement) → stop at 6");
  assert.equal(r.bestModelCheckpoint, join(out, "checkpoint-2"));
  assert.deepEqual(
    readdirSync(out)
      .filter((n) => n.startsWith("checkpoint-"))
      .sort(),
    ["checkpoint-2", "checkpoint-6"],
    "keep-last-1 plus the best",
  );
  // the saved adapter holds the best checkpoint's weights, not the last step's
  const best = readSafetensorsSync(join(out, "checkpoint-2", "trainable.safetensors"));
  const last = readSafetensorsSync(join(out, "checkpoint-6", "trainable.safetensors"));
  const adapter = readPeftAdapter(r.resultDir);
  let differsFromLast = false;
  for (const [name, t] of adapter.tensors) {
    assert.deepEqual(t.data, best.get(name)!.data, name);
    if (last.get(name)!.data.some((v, i) => v !== t.data[i])) differsFromLast = true;
  }
  assert.ok(differsFromLast);
});

test("a non-finite loss stops the run with the step and the batch's record ids; the state so far is kept", async () => {
  const dir = mkdtempSync(join(tmpdir(), "train-nan-"));
  const data = writeInstructionSet(dir, "train.json", 8);
  const out = join(dir, "run");
  await assert.rejects(
    train(
      {
        model: STORIES_GGUF,
        data,
        output_dir: out,
        finetuning_type: "full",
        max_steps: 6,
        per_device_train_batch_size: 2,
        learning_rate: 1e30,
        max_grad_norm: 0,
        logging_steps: 1,
      },
      { quiet: true },
    ),
    (e: unknown) =>
      e instanceof SftError &&
      e.code === "E_NONFINITE" &&
      /training stopped at step \d: the (loss|gradient norm) is (NaN|-?Infinity)/.test(e.message) &&
      /the batch held records: train-\d+, train-\d+/.test(e.hint ?? ""),
  );
  const state = JSON.parse(readFileSync(join(out, "trainer_state.json"), "utf8"));
  assert.ok(state.log_history.length >= 1);
  assert.ok(!existsSync(join(out, "model")));
});
