/** Packing: several samples per row, the same trained tokens per epoch as unpacked, fewer rows, loss falls. */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { train } from "../../src/train/index.js";
import { STORIES_GGUF, writeInstructionSet } from "./instruction-set.js";

test("packed training sees every trained token of the epoch in fewer, fuller rows", async () => {
  const dir = mkdtempSync(join(tmpdir(), "train-pack-"));
  const data = writeInstructionSet(dir, "train.json", 24);
  const common = {
    model: STORIES_GGUF,
    data,
    num_train_epochs: 2,
    per_device_train_batch_size: 2,
    learning_rate: 5e-3,
    logging_steps: 1,
    save_steps: 0,
    max_seq_length: 256,
    tensorboard: false,
  };
  const packed = await train({ ...common, output_dir: join(dir, "packed"), packing: true }, { quiet: true });
  const plain = await train({ ...common, output_dir: join(dir, "plain") }, { quiet: true });
  assert.equal(packed.trainedTokens, plain.trainedTokens, "the same trained tokens per epoch");
  assert.ok(packed.globalStep < plain.globalStep / 1.5, `${packed.globalStep} vs ${plain.globalStep} steps`);
  const losses = packed.logHistory.map((e) => e.loss!).filter((x) => x !== undefined);
  assert.ok(losses[losses.length - 1] < 0.7 * losses[0], losses.join(" "));
});
