import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { expectedTensorShapes } from "../../../src/engine/checkpoint/hf.js";
import { referenceKernels } from "../../../src/engine/kernels/index.js";
import { createModel } from "../../../src/engine/model.js";
import {
  familyOf,
  familyOfModelType,
  ggufMappingOf,
  ggufWriterOf,
  MODEL_FAMILIES,
  SUPPORTED_GGUF_ARCHES,
  SUPPORTED_MODEL_TYPES,
} from "../../../src/engine/models/registry.js";
import { SftError } from "../../../src/errors.js";
import { TINY } from "./tiny.js";

const root = new URL("../../..", import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (name.endsWith(".ts")) out.push(p);
  }
  return out;
}

test("no code outside a family's folder asks which family it runs", () => {
  const offenders: string[] = [];
  for (const file of sourceFiles(join(root, "src"))) {
    const rel = relative(root, file);
    if (/^src\/engine\/models\/[^/]+\//.test(rel)) continue;
    readFileSync(file, "utf8")
      .split("\n")
      .forEach((line, i) => {
        if (/architecture\s*[!=]==|[!=]==\s*config\.architecture/.test(line))
          offenders.push(`${rel}:${i + 1}`);
      });
  }
  assert.deepEqual(offenders, [], "express the difference as a field of the family (models/family.ts)");
});

test("the registry finds families by id, HF model_type and GGUF architecture", () => {
  assert.deepEqual(
    MODEL_FAMILIES.map((f) => f.id),
    ["llama", "gpt2", "gemma"],
  );
  assert.deepEqual(SUPPORTED_MODEL_TYPES, [
    "llama",
    "mistral",
    "qwen2",
    "qwen3",
    "gpt2",
    "gemma2",
    "gemma3_text",
    "gemma3",
  ]);
  assert.equal(familyOfModelType("gemma3_text")?.id, "gemma");
  assert.deepEqual(SUPPORTED_GGUF_ARCHES, ["llama", "qwen2", "qwen3", "gpt2"]);
  assert.equal(familyOfModelType("mistral")?.id, "llama");
  assert.equal(familyOfModelType("gpt2")?.id, "gpt2");
  assert.equal(familyOfModelType("falcon"), undefined);
  assert.equal(ggufMappingOf("qwen3")?.family.id, "llama");
  assert.equal(ggufMappingOf("gpt2")?.family.id, "gpt2");
  const e = (() => {
    try {
      familyOf({ architecture: "falcon" });
    } catch (err) {
      return err;
    }
    return null;
  })();
  assert.ok(e instanceof SftError);
  assert.equal(e.message, 'unsupported architecture "falcon"');
  assert.match(
    e.hint ?? "",
    /llama \(Llama, Mistral, Qwen2\/3, SmolLM\), gpt2, gemma \(Gemma 2, Gemma 3 text\)/,
  );
});

test("each family's checkpoint tensor list is exactly the parameters its blocks build", () => {
  for (const [label, config] of Object.entries(TINY)) {
    const model = createModel(config, null, { kernels: referenceKernels, dtype: "float64" });
    const built = new Map([...model.stateDict()].map(([name, t]) => [name, t.shape]));
    const listed = expectedTensorShapes(config);
    assert.deepEqual(
      [...built.keys()].sort(),
      [...listed.keys()].sort(),
      `${label}: tensorShapes and blocks disagree on names`,
    );
    for (const [name, shape] of listed) assert.deepEqual(built.get(name), shape, `${label}: ${name}`);
  }
});

test("family capabilities: RoPE, position limits, LoRA layout", () => {
  const llama = familyOf(TINY.llama);
  const gpt2 = familyOf(TINY.gpt2);
  assert.equal(llama.usesRope, true);
  assert.equal(gpt2.usesRope, false);
  assert.equal(llama.maxPositions(TINY.llama), null);
  assert.equal(gpt2.maxPositions(TINY.gpt2), TINY.gpt2.maxPositionEmbeddings);
  assert.equal(llama.lora.fanInFanOut, false);
  assert.equal(gpt2.lora.fanInFanOut, true);
  for (const f of MODEL_FAMILIES) {
    for (const t of f.lora.defaultTargets) assert.ok(f.lora.targets.includes(t), `${f.id}: default ${t}`);
  }

  // RoPE models run past max_position_embeddings (the tables grow); learned positions end there.
  const B = 1;
  const run = (config: typeof TINY.llama, T: number) =>
    createModel(config, null, { kernels: referenceKernels, dtype: "float64" }).logits({
      B,
      T,
      inputIds: new Int32Array(B * T).fill(3),
    });
  const llamaShort = { ...TINY.llama, maxPositionEmbeddings: 8 };
  assert.equal(run(llamaShort, 12).length, 12 * TINY.llama.vocabSize);
  const limit = TINY.gpt2.maxPositionEmbeddings;
  assert.equal(run(TINY.gpt2, limit).length, limit * TINY.gpt2.vocabSize);
  assert.throws(() => run(TINY.gpt2, limit + 1), {
    message: `position ${limit} is beyond the model's ${limit} learned positions`,
  });
});

test("GGUF mappings: names round-trip, and export goes to the family's writing mapping", () => {
  for (const f of MODEL_FAMILIES) {
    for (const g of f.gguf) {
      if (g.writes) assert.ok(g.metadata, `${g.arch}: a mapping that writes needs metadata`);
    }
  }
  for (const label of ["llama", "qwen2-bias", "qwen3-qknorm", "llama-all-biases", "gpt2", "gpt2-untied"]) {
    const config = TINY[label];
    const { mapping } = ggufMappingOf(config.modelType === "mistral" ? "llama" : config.modelType)!;
    for (const name of expectedTensorShapes(config).keys()) {
      const g = mapping.tensorName(name);
      assert.ok(g, `${label}: ${name} has a GGUF name`);
      assert.equal(mapping.hfName(g), name);
    }
  }
  assert.equal(ggufWriterOf(TINY.llama)?.arch, "llama");
  assert.equal(ggufWriterOf({ ...TINY.llama, modelType: "mistral" })?.arch, "llama");
  assert.equal(ggufWriterOf(TINY["qwen2-bias"])?.arch, "qwen2");
  assert.equal(ggufWriterOf(TINY["qwen3-qknorm"])?.arch, "qwen3");
  assert.equal(ggufWriterOf(TINY.gpt2)?.arch, "gpt2");
  // llama.cpp's qwen2 graph needs the q/k/v biases and loads no others: no file it would reject.
  assert.equal(ggufWriterOf({ ...TINY["qwen2-bias"], attentionBias: false }), undefined);
  assert.equal(ggufWriterOf({ ...TINY["qwen2-bias"], mlpBias: true }), undefined);
});
