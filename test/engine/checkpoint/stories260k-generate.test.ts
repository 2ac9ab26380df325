import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { Tokenizer } from "@huggingface/tokenizers";
import { loadCheckpoint } from "../../../src/engine/checkpoint/hf.js";
import { referenceKernels } from "../../../src/engine/kernels/index.js";
import { createModel } from "../../../src/engine/model.js";

const repoRoot = resolve(new URL("../../..", import.meta.url).pathname);
const asset = join(repoRoot, "assets/models/stories260K");
const storiesGguf = resolve(repoRoot, "../shared/models/stories260K/stories260K.gguf");
const EXPECTED =
  "Once upon a time, there was a little girl named Lily. She loved to play outside in the park";

function argmax(v: Float32Array, from: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (v[from + i] > v[from + best]) best = i;
  return best;
}

const tokenizer = new Tokenizer(
  JSON.parse(readFileSync(join(asset, "tokenizer.json"), "utf8")),
  JSON.parse(readFileSync(join(asset, "tokenizer_config.json"), "utf8")),
);

for (const [label, path] of [
  ["the shared GGUF", storiesGguf],
  ["the built-in HF directory", asset],
] as const) {
  test(`greedy decoding from BOS with the engine reproduces the story opening (${label})`, () => {
    const ck = loadCheckpoint(path);
    const model = createModel(ck.config, ck.tensors, { kernels: referenceKernels });
    const V = ck.config.vocabSize;
    const bos = ck.config.bosTokenId ?? 1;
    // Full recomputation each step through logits(), and incrementally through the KV cache.
    const ids = [bos];
    for (let step = 0; step < 30; step++) {
      const logits = model.logits(
        { B: 1, T: ids.length, inputIds: Int32Array.from(ids) },
        { lastOnly: true },
      );
      ids.push(argmax(logits, 0, V));
    }
    const text = tokenizer.decode(ids, { skip_special_tokens: true });
    assert.ok(text.startsWith(EXPECTED), `got ${JSON.stringify(text)}`);

    const cache = model.createKVCache(1, 32);
    const cached = [bos];
    let logits = model.decodeStep(cache, Int32Array.from([bos]));
    for (let step = 0; step < 30; step++) {
      const next = argmax(logits, 0, V);
      cached.push(next);
      logits = model.decodeStep(cache, Int32Array.from([next]));
    }
    assert.deepEqual(cached, ids);
  });
}
