/**
 * Parity with the independent PyTorch implementation (tools/torch_reference.py): the
 * committed fixtures hold tiny random models, a batch, and torch's float64 loss, logits
 * and gradients. The engine (float32, default kernels) must match: loss to 1e-5 relative,
 * logits and gradients to 1e-4 of each tensor's largest magnitude.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadCheckpoint } from "../../../src/engine/checkpoint/hf.js";
import { readSafetensorsFile } from "../../../src/engine/checkpoint/safetensors.js";
import { referenceKernels } from "../../../src/engine/kernels/index.js";
import type { Kernels } from "../../../src/engine/kernels/types.js";
import { type Batch, createModel } from "../../../src/engine/model.js";
import { relMaxDiff } from "../../helpers/numeric.js";

const FIXTURES = fileURLToPath(new URL("../../fixtures/torch/", import.meta.url));

export function readBatchJson(path: string): Batch {
  const j = JSON.parse(readFileSync(path, "utf8")) as {
    input_ids: number[][];
    labels: number[][];
    segments?: number[][];
  };
  const B = j.input_ids.length;
  const T = j.input_ids[0].length;
  const batch: Batch = {
    B,
    T,
    inputIds: Int32Array.from(j.input_ids.flat()),
    labels: Int32Array.from(j.labels.flat()),
  };
  if (j.segments) batch.segments = Int32Array.from(j.segments.flat());
  return batch;
}

function checkFixture(name: string, kernels?: Kernels, chunkRows?: number): void {
  const dir = join(FIXTURES, name);
  const { config, tensors } = loadCheckpoint(dir);
  const loraPath = join(dir, "lora.json");
  const lora = existsSync(loraPath)
    ? (JSON.parse(readFileSync(loraPath, "utf8")) as {
        r: number;
        alpha: number;
        targets: string[];
        rslora?: boolean;
      })
    : null;
  const model = createModel(config, tensors, {
    kernels,
    logitsChunkElements: chunkRows ? chunkRows * config.vocabSize : undefined,
    lora: lora ? { r: lora.r, alpha: lora.alpha, targets: lora.targets, rsLora: lora.rslora ?? false } : null,
  });
  if (lora) model.loadAdapter(readSafetensorsFile(join(dir, "adapter_model.safetensors")).tensors);
  const expected = readSafetensorsFile(join(dir, "expected.safetensors")).tensors;
  const batch = readBatchJson(join(dir, "batch.json"));
  model.zeroGrad();
  const { loss } = model.forwardBackward(batch);
  const want = expected.get("loss")!.data[0];
  assert.ok(Math.abs(loss - want) <= 1e-5 * Math.abs(want), `${name}: loss ${loss} vs torch ${want}`);
  const logits = model.logits(batch);
  assert.ok(relMaxDiff(logits, expected.get("logits")!.data) < 1e-4, `${name}: logits`);
  const trainable = model.trainableParameters();
  const gradNames = [...expected.keys()].filter((k) => k.startsWith("grad.")).sort();
  assert.deepEqual(trainable.map((p) => `grad.${p.name}`).sort(), gradNames, `${name}: trainable tensors`);
  for (const p of trainable) {
    const ref = expected.get(`grad.${p.name}`)!;
    assert.deepEqual([...p.shape], ref.shape, `${name}: ${p.name} shape`);
    const rel = relMaxDiff(p.grad!, ref.data);
    assert.ok(rel < 1e-4, `${name}: grad of ${p.name} off by ${rel} of its max`);
  }
}

const names = readdirSync(FIXTURES).filter((d) => existsSync(join(FIXTURES, d, "expected.safetensors")));

test("torch fixtures are present for every architecture variant", () => {
  for (const n of [
    "llama",
    "smollm-tied",
    "qwen2-bias-packed",
    "qwen3-qknorm",
    "gpt2",
    "llama-lora",
    "gpt2-lora",
    "mistral-window",
    "mistral-window-lora",
    "gemma3",
    "gemma3-lora",
    "gemma2",
    "gemma2-lora",
  ]) {
    assert.ok(names.includes(n), n);
  }
});

for (const name of names) {
  test(`matches the PyTorch reference (default kernels): ${name}`, () => checkFixture(name));
}

test("matches the PyTorch reference with the TypeScript reference kernels", () => {
  for (const name of ["qwen3-qknorm", "gpt2-packed-untied", "llama-lora", "mistral-window", "gemma2-lora"])
    checkFixture(name, referenceKernels);
});
