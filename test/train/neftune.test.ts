/**
 * NEFTune through the trainer: with embedding noise a stories260K LoRA run still learns,
 * its losses differ from the noiseless run, and the same seed gives the same run (the noise
 * seed is derived per step and micro-batch, not drawn from a running counter).
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { train } from "../../src/train/index.js";
import { STORIES_GGUF, writeInstructionSet } from "./instruction-set.js";

async function run(dir: string, name: string, data: string, evalData: string, neftune?: number) {
  const r = await train(
    {
      model: STORIES_GGUF,
      data,
      eval_data: evalData,
      output_dir: join(dir, name),
      max_steps: 12,
      per_device_train_batch_size: 4,
      gradient_accumulation_steps: 2,
      learning_rate: 5e-3,
      logging_steps: 1,
      eval_steps: 12,
      save_steps: 12,
      seed: 7,
      lora: { r: 8, alpha: 16, dropout: 0 },
      ...(neftune !== undefined ? { neftune_noise_alpha: neftune } : {}),
    },
    { quiet: true },
  );
  const loss = r.logHistory.map((e) => e.loss).filter((x): x is number => x !== undefined);
  const evalLoss = r.logHistory.map((e) => e.eval_loss).filter((x): x is number => x !== undefined);
  return { loss, evalLoss };
}

test("neftune_noise_alpha 5: loss falls, differs from the noiseless run, same seed reproduces it exactly", async () => {
  const dir = mkdtempSync(join(tmpdir(), "train-neftune-"));
  const data = writeInstructionSet(dir, "train.json", 40);
  const evalData = writeInstructionSet(dir, "eval.json", 8, 100);
  const noisy = await run(dir, "a", data, evalData, 5);
  const again = await run(dir, "b", data, evalData, 5);
  const plain = await run(dir, "c", data, evalData);
  assert.equal(noisy.loss.length, 12);
  const head = (xs: number[]) => (xs[0] + xs[1]) / 2;
  const tail = (xs: number[]) => (xs[xs.length - 1] + xs[xs.length - 2]) / 2;
  assert.ok(tail(noisy.loss) < 0.8 * head(noisy.loss), `noisy train loss ${noisy.loss.join(" ")}`);
  assert.deepEqual(again.loss, noisy.loss, "same seed, same noise, same losses");
  assert.deepEqual(again.evalLoss, noisy.evalLoss);
  // step 1 starts from the same weights: only the embedding noise can move its loss
  assert.notEqual(noisy.loss[0], plain.loss[0], "noise changes the first step's loss");
  assert.ok(
    noisy.loss.some((x, i) => Math.abs(x - plain.loss[i]) > 1e-4),
    `noisy ${noisy.loss.join(" ")} vs plain ${plain.loss.join(" ")}`,
  );
});
