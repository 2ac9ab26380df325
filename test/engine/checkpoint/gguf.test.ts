import assert from "node:assert/strict";
import { resolve } from "node:path";
import { test } from "node:test";
import { readGguf, readGgufMetadata, readGgufTokenizer } from "../../../src/engine/checkpoint/gguf.js";

const repoRoot = resolve(new URL("../../..", import.meta.url).pathname);
const storiesGguf = resolve(repoRoot, "../shared/models/stories260K/stories260K.gguf");

test("stories260K.gguf: metadata, embedded SentencePiece vocabulary and tensor infos", () => {
  const h = readGgufMetadata(storiesGguf);
  assert.equal(h.version, 3);
  assert.equal(h.metadata["general.architecture"], "llama");
  assert.equal(h.metadata["llama.block_count"], 5);
  assert.equal(h.metadataTypes["tokenizer.ggml.tokens"], "array:string");
  assert.equal(h.tensors.length, 3 + 5 * 9);
  const tok = readGgufTokenizer(storiesGguf);
  assert.ok(tok);
  assert.equal(tok.model, "llama");
  assert.equal(tok.tokens.length, 512);
  assert.deepEqual(tok.tokens.slice(0, 4), ["<unk>", "<s>", "</s>", "<0x00>"]);
  assert.equal(tok.tokens[259], "▁t");
  assert.equal(tok.bosTokenId, 1);
  assert.equal(tok.eosTokenId, 2);
  assert.equal(tok.scores?.length, 512);
  assert.deepEqual(tok.tokenTypes?.slice(0, 4), [2, 3, 3, 6]);
});

test("stories260K.gguf: tensors read as Float32 with PyTorch-order shapes", () => {
  const g = readGguf(storiesGguf);
  assert.deepEqual(g.tensors.get("token_embd.weight")?.shape, [512, 64]);
  assert.deepEqual(g.tensors.get("blk.0.attn_k.weight")?.shape, [32, 64]);
  assert.deepEqual(g.tensors.get("blk.3.ffn_down.weight")?.shape, [64, 172]);
  assert.ok(g.tensors.get("output_norm.weight")?.data.every(Number.isFinite));
});
