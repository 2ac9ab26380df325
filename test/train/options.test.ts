/**
 * Train options that only a run can show: each set away from its default changes an
 * observable result of a real run on stories260K (trained tokens, step count, the first
 * loss, per-task eval keys, eval batches). The optimizer options (betas, epsilon, weight
 * decay, warmup, schedule, clipping) are checked against PyTorch in trainer.test.ts.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { validateTrainConfig } from "../../src/config/train.js";
import { buildTrainingData, prepareData } from "../../src/train/data.js";
import { openTrainableModel } from "../../src/train/engine-bridge.js";
import { train } from "../../src/train/index.js";
import { STORIES_GGUF, writeInstructionSet } from "./instruction-set.js";

const tmp = mkdtempSync(join(tmpdir(), "sft-train-options-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
const data = writeInstructionSet(tmp, "train.json", 12);
const evalData = writeInstructionSet(tmp, "eval.json", 4, 100);

let runs = 0;
async function run(options: Record<string, unknown>) {
  const dir = join(tmp, `run-${++runs}`);
  mkdirSync(dir);
  return train(
    {
      model: STORIES_GGUF,
      data,
      output_dir: join(dir, "out"),
      max_steps: 1,
      per_device_train_batch_size: 4,
      logging_steps: 1,
      save_steps: 0,
      tensorboard: false,
      lora: { r: 4, alpha: 8, dropout: 0, target_modules: ["q_proj", "v_proj"] },
      ...options,
    },
    { quiet: true },
  );
}

test("mask_policy include_prompt trains the prompt tokens too", async () => {
  const answers = await run({});
  const everything = await run({ mask_policy: "include_prompt" });
  assert.ok(
    everything.trainedTokens > answers.trainedTokens * 1.5,
    `${everything.trainedTokens} vs ${answers.trainedTokens}`,
  );
});

test("seed: another seed gives another data order (another first loss)", async () => {
  const a = await run({ seed: 42 });
  const b = await run({ seed: 7 });
  assert.notEqual(a.logHistory[0].loss, b.logHistory[0].loss);
});

test("num_train_epochs sets the number of steps when max_steps is not set", async () => {
  const one = await run({ max_steps: undefined, num_train_epochs: 1 });
  const two = await run({ max_steps: undefined, num_train_epochs: 2 });
  assert.equal(one.globalStep, 3);
  assert.equal(two.globalStep, 6);
});

test("datasets[].eval_path: each task's held-out file gives its own eval loss", async () => {
  const more = writeInstructionSet(tmp, "more.json", 8, 50);
  const moreEval = writeInstructionSet(tmp, "more-eval.json", 2, 200);
  const r = await run({
    data: undefined,
    datasets: [
      { path: data, task: "who", eval_path: evalData },
      { path: more, task: "more", eval_path: moreEval },
    ],
  });
  const last = r.logHistory.filter((e) => e.eval_loss !== undefined).at(-1) as Record<string, unknown>;
  assert.ok(last, "an eval ran");
  assert.equal(typeof last.eval_who_loss, "number");
  assert.equal(typeof last.eval_more_loss, "number");
});

test("per_device_eval_batch_size sets the size of the eval batches", async () => {
  const batches = async (size: number) => {
    const config = validateTrainConfig({
      model: STORIES_GGUF,
      data,
      eval_data: evalData,
      output_dir: join(tmp, "unused"),
      per_device_eval_batch_size: size,
    });
    const opened = await openTrainableModel(config);
    const prepared = await prepareData(config, opened.tokenizer);
    return buildTrainingData(prepared, config, opened.tokenizer.padTokenId).evalBatches.map((b) => b.batch.B);
  };
  assert.deepEqual(await batches(1), [1, 1, 1, 1]);
  assert.deepEqual(await batches(3), [3, 1]);
});
