/**
 * Gradient accumulation equals one big batch: the loss is averaged over the trained tokens
 * of the whole accumulated batch, so 4 micro-batches of 1 give the gradient of 1 batch of 4.
 * Adam's epsilon is set large here so an update is close to lr·g (linear in the gradient)
 * and float-rounding differences in tiny gradients cannot be amplified to ±lr by g/|g|.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { Model } from "../../src/engine/model.js";
import { train } from "../../src/train/index.js";
import { STORIES_GGUF, writeInstructionSet } from "./instruction-set.js";

async function run(dir: string, name: string, batch: number, accum: number) {
  const data = join(dir, "train.json");
  const r = await train(
    {
      model: STORIES_GGUF,
      data,
      output_dir: join(dir, name),
      max_steps: 3,
      per_device_train_batch_size: batch,
      gradient_accumulation_steps: accum,
      learning_rate: 1e-2,
      adam_epsilon: 1,
      max_grad_norm: 0,
      logging_steps: 1,
      save_steps: 0,
      lora: { r: 4, alpha: 8, dropout: 0, target_modules: ["q_proj", "v_proj", "down_proj"] },
      tensorboard: false,
    },
    { quiet: true },
  );
  const model = r.model as Model;
  const weights = new Float32Array(model.store.trainableData);
  const norms = r.logHistory.map((e) => e.grad_norm!);
  const lossesLogged = r.logHistory.map((e) => e.loss!);
  return { weights, norms, losses: lossesLogged };
}

test("4 micro-batches of 1 with accumulation 4 equal 1 batch of 4", async () => {
  const dir = mkdtempSync(join(tmpdir(), "train-accum-"));
  // samples of different lengths, so a mean of per-micro-batch means would differ
  writeInstructionSet(dir, "train.json", 16);
  const big = await run(dir, "big", 4, 1);
  const accumulated = await run(dir, "accum", 1, 4);
  const single = await run(dir, "single", 1, 1);
  for (let s = 0; s < 3; s++) {
    assert.ok(
      Math.abs(big.losses[s] - accumulated.losses[s]) < 1e-6 * big.losses[s],
      `loss at step ${s + 1}`,
    );
    assert.ok(
      Math.abs(big.norms[s] - accumulated.norms[s]) < 1e-5 * big.norms[s],
      `grad norm at step ${s + 1}`,
    );
  }
  let maxDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < big.weights.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(big.weights[i] - accumulated.weights[i]));
    maxAbs = Math.max(maxAbs, Math.abs(big.weights[i]));
  }
  assert.ok(maxDiff < 1e-6 * Math.max(1, maxAbs), `weights differ by ${maxDiff}`);
  // control: without accumulation the steps see other data and the gradients differ
  assert.ok(Math.abs(single.norms[1] - big.norms[1]) > 1e-3 * big.norms[1]);
});
