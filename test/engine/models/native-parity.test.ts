/**
 * The models on the native kernels at shapes above the kernels' threading cut-off must
 * match the same models on the TypeScript reference kernels (the tiny fixtures stay
 * single-threaded, so this is where multithreaded paths meet the models).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ModelConfig } from "../../../src/engine/config.js";
import { getKernels, referenceKernels } from "../../../src/engine/kernels/index.js";
import { createModel } from "../../../src/engine/model.js";
import { Rng } from "../../../src/util/rng.js";
import { TINY } from "./tiny.js";

const native = getKernels();

function medium(label: string): ModelConfig {
  const base = TINY[label];
  return {
    ...base,
    vocabSize: 97,
    hiddenSize: 128,
    intermediateSize: base.architecture === "gpt2" ? 256 : 160,
    numLayers: 1,
    numHeads: 4,
    numKvHeads: base.architecture === "gpt2" ? 4 : 2,
    headDim: 32,
    maxPositionEmbeddings: 256,
  };
}

for (const label of ["gpt2", "qwen3-qknorm", "llama"]) {
  test(`native kernels match the reference kernels on a multithreaded-size model: ${label}`, {
    skip: native.name !== "native" && "native addon not built",
  }, () => {
    const config = medium(label);
    const B = 2;
    const T = 130;
    const rng = new Rng(5);
    const ids = Int32Array.from({ length: B * T }, () => rng.nextUint32() % config.vocabSize);
    const labels = Int32Array.from(ids, (x, i) => (i % 7 === 3 ? -100 : x));
    const lora =
      label === "llama" ? { r: 4, targets: ["q_proj", "down_proj"], init: "random" as const } : null;
    const fast = createModel(config, null, { seed: 9, kernels: native, lora });
    const slow = createModel(config, null, { seed: 9, kernels: referenceKernels, lora });
    const a = fast.forwardBackward({ B, T, inputIds: ids, labels });
    const b = slow.forwardBackward({ B, T, inputIds: ids, labels });
    assert.ok(Math.abs(a.loss - b.loss) < 1e-5 * b.loss, `loss ${a.loss} vs ${b.loss}`);
    const pa = fast.trainableParameters();
    const pb = slow.trainableParameters();
    for (let i = 0; i < pa.length; i++) {
      let mag = 0;
      let diff = 0;
      for (let j = 0; j < pa[i].grad!.length; j++) {
        mag = Math.max(mag, Math.abs(pb[i].grad![j]));
        diff = Math.max(diff, Math.abs(pa[i].grad![j] - pb[i].grad![j]));
      }
      assert.ok(diff <= 1e-4 * mag, `${pa[i].name}: ${diff} of ${mag}`);
    }
  });
}
