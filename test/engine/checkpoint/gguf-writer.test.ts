import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, test } from "node:test";
import { exportModel } from "../../../src/engine/checkpoint/export.js";
import { readGguf, readGgufMetadata, writeGguf } from "../../../src/engine/checkpoint/gguf.js";
import { loadCheckpoint } from "../../../src/engine/checkpoint/hf.js";
import { llamaConfig } from "../../helpers/llama-config.js";
import { randomModelDir } from "../../helpers/random-model.js";

const repoRoot = resolve(new URL("../../..", import.meta.url).pathname);
const mistralTokenizer = resolve(repoRoot, "../shared/tokenizers/mistral");
const dir = mkdtempSync(join(tmpdir(), "sft-gguf-writer-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("the header buffer grows past its first 64 KiB: long strings, many keys, a large string array", () => {
  const long = "▁wörld ".repeat(20000);
  const many: string[] = Array.from({ length: 50000 }, (_, i) => `piece-${i}`);
  const metadata: Record<string, string | { type: "array"; itemType: "string"; value: string[] }> = {
    "general.architecture": "llama",
    "t.long": long,
    "t.tokens": { type: "array", itemType: "string", value: many },
  };
  for (let i = 0; i < 3000; i++) metadata[`t.key${i}`] = `value ${i}`;
  const data = Float32Array.from({ length: 64 }, (_, i) => i / 7);
  const path = join(dir, "big-header.gguf");
  writeGguf(path, { metadata, tensors: [{ name: "w", tensor: { shape: [2, 32], data }, type: "F32" }] });
  const g = readGguf(path);
  assert.equal(g.metadata["t.long"], long);
  assert.deepEqual(g.metadata["t.tokens"], many);
  assert.equal(g.metadata["t.key2999"], "value 2999");
  assert.deepEqual(g.tensors.get("w")?.data, data);
});

test("a random small Llama with the real 32,000-token Mistral tokenizer exports as F32 GGUF and reads back", () => {
  const config = llamaConfig({
    modelType: "mistral",
    vocabSize: 32000,
    hiddenSize: 32,
    intermediateSize: 64,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 8,
    maxPositionEmbeddings: 512,
  });
  const { dir: modelDir, tensors } = randomModelDir(join(dir, "mistral-random"), config, mistralTokenizer);
  const out = join(dir, "mistral-random.gguf");
  exportModel({ model: modelDir, out, format: "gguf", dtype: "F32" });
  const h = readGgufMetadata(out);
  const tokens = h.metadata["tokenizer.ggml.tokens"] as string[];
  assert.equal(tokens.length, 32000);
  assert.deepEqual(tokens.slice(0, 3), ["<unk>", "<s>", "</s>"]);
  const back = loadCheckpoint(out);
  assert.equal(back.config.vocabSize, 32000);
  for (const [name, t] of tensors) assert.deepEqual(back.tensors.get(name)?.data, t.data, name);
});
