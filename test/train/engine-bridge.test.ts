/**
 * The trainer's bridge to the engine: a null dropout seed means no dropout, and evaluation
 * never drops, so with LoRA dropout > 0 the eval loss is a pure function of the weights.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { validateTrainConfig } from "../../src/config/train.js";
import { openTrainableModel, type TrainBatch } from "../../src/train/engine-bridge.js";
import { STORIES_GGUF } from "./instruction-set.js";

function batch(): TrainBatch {
  const B = 2;
  const T = 16;
  const inputIds = Int32Array.from({ length: B * T }, (_, i) => 1 + ((i * 37) % 500));
  const labels = inputIds.slice();
  return { B, T, inputIds, labels, recordIds: ["a", "b"], trainedTokens: B * (T - 1), realTokens: B * T };
}

test("LoRA dropout 0.5: eval loss is deterministic and a null dropout seed means no dropout", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bridge-"));
  const config = validateTrainConfig({
    model: STORIES_GGUF,
    data: join(dir, "unused.json"),
    output_dir: join(dir, "run"),
    lora: { r: 8, alpha: 16, dropout: 0.5 },
  });
  const { trainable } = await openTrainableModel(config);
  // LoRA B starts at zero, so give it weights: otherwise dropout could not change anything
  const b = batch();
  trainable.forwardBackward(b, { lossDenominator: b.trainedTokens, dropoutSeed: 1, neftune: null });
  const p = trainable.params;
  for (let i = 0; i < p.trainableData.length; i++) p.trainableData[i] -= 0.5 * p.trainableGrad[i];
  p.zeroGrad();

  const e1 = trainable.evalLoss(b);
  const e2 = trainable.evalLoss(b);
  assert.equal(e1.lossSum, e2.lossSum, "eval twice, same loss");
  assert.equal(e1.tokens, b.trainedTokens);
  const noDrop = trainable.forwardBackward(b, {
    lossDenominator: b.trainedTokens,
    dropoutSeed: null,
    neftune: null,
  });
  assert.ok(Math.abs(noDrop - e1.lossSum) < 1e-6 * e1.lossSum, `null seed ${noDrop} vs eval ${e1.lossSum}`);
  const dropped = trainable.forwardBackward(b, {
    lossDenominator: b.trainedTokens,
    dropoutSeed: 5,
    neftune: null,
  });
  assert.ok(
    Math.abs(dropped - e1.lossSum) > 1e-4,
    `dropout must change the loss: ${dropped} vs ${e1.lossSum}`,
  );
  assert.equal(trainable.evalLoss(b).lossSum, e1.lossSum, "training calls leave eval unchanged");
});
