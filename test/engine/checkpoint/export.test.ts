import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, test } from "node:test";
import { Tokenizer } from "@huggingface/tokenizers";
import { exportModel } from "../../../src/engine/checkpoint/export.js";
import { loadCheckpoint } from "../../../src/engine/checkpoint/hf.js";
import { ggufTokenizerFromHf, hfTokenizerFromGguf } from "../../../src/engine/checkpoint/hf-tokenizer.js";
import { mergeLora, peftTensorName, writePeftAdapter } from "../../../src/engine/checkpoint/peft.js";
import type { TensorMap } from "../../../src/engine/tensor.js";
import { SftError } from "../../../src/errors.js";
import { spmEncode } from "../../helpers/spm-encode.js";

const repoRoot = resolve(new URL("../../..", import.meta.url).pathname);
const shared = resolve(repoRoot, "../shared");
const asset = join(repoRoot, "assets/models/stories260K");
const dir = mkdtempSync(join(tmpdir(), "sft-export-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const TEXTS = [
  "Once upon a time, there was a little girl named Lily.",
  "The quick brown fox jumps over the lazy dog; 12345 numbers, ünïcödé and 中文 too.",
  "  two leading spaces,\ttabs\nand newlines  ",
  "def fibonacci(n):\n    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)",
];

test("a real SentencePiece tokenizer.json (Mistral, 32k) becomes a GGUF vocabulary that merges identically", () => {
  const tj = JSON.parse(readFileSync(join(shared, "tokenizers/mistral/tokenizer.json"), "utf8"));
  const tc = JSON.parse(readFileSync(join(shared, "tokenizers/mistral/tokenizer_config.json"), "utf8"));
  const info = ggufTokenizerFromHf(tj, tc)!;
  assert.ok(info);
  assert.equal(info.tokens.length, 32000);
  assert.deepEqual([info.bosTokenId, info.eosTokenId, info.unkTokenId], [1, 2, 0]);
  assert.deepEqual(info.tokenTypes?.slice(0, 4), [2, 3, 3, 6]);
  const hf = new Tokenizer(tj, tc);
  for (const text of TEXTS)
    assert.deepEqual(spmEncode(info, text), hf.encode(text, { add_special_tokens: false }).ids, text);
  // A byte-level BPE (Llama 3) is not SentencePiece-style.
  const llama3 = JSON.parse(readFileSync(join(shared, "tokenizers/llama3/tokenizer.json"), "utf8"));
  assert.equal(ggufTokenizerFromHf(llama3, null), null);
});

test("GGUF vocabulary → tokenizer.json → GGUF vocabulary keeps tokens, ids and merge behaviour", () => {
  const original = loadCheckpoint(join(asset, "stories260K.gguf")).tokenizer!;
  const files = hfTokenizerFromGguf(original);
  const back = ggufTokenizerFromHf(files.tokenizer, files.tokenizerConfig)!;
  assert.deepEqual(back.tokens, original.tokens);
  assert.deepEqual(back.tokenTypes, original.tokenTypes);
  assert.deepEqual([back.bosTokenId, back.eosTokenId, back.unkTokenId], [1, 2, 0]);
  for (const text of TEXTS) assert.deepEqual(spmEncode(back, text), spmEncode(original, text), text);
});

function tinyAdapter(config: ReturnType<typeof loadCheckpoint>["config"]) {
  let s = 3;
  const rand = (shape: number[]) => {
    const n = shape[0] * shape[1];
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      data[i] = (s / 2 ** 32 - 0.5) * 0.2;
    }
    return { shape, data };
  };
  const tensors: TensorMap = new Map();
  for (let l = 0; l < config.numLayers; l++) {
    const q = `model.layers.${l}.self_attn.q_proj`;
    tensors.set(peftTensorName(q, "A"), rand([4, config.hiddenSize]));
    tensors.set(peftTensorName(q, "B"), rand([config.numHeads * config.headDim, 4]));
  }
  return {
    config: {
      r: 4,
      loraAlpha: 8,
      loraDropout: 0,
      targetModules: ["q_proj"],
      baseModelNameOrPath: asset,
      useRslora: false,
      fanInFanOut: false,
    },
    tensors,
  };
}

test("exportModel: base + adapter → merged HF directory (tokenizer files copied) and merged GGUF (tokenizer embedded)", () => {
  const base = loadCheckpoint(asset);
  const adapter = tinyAdapter(base.config);
  const adapterDir = join(dir, "adapter");
  writePeftAdapter(adapterDir, adapter);
  const merged = mergeLora(base.tensors, adapter, base.config);

  const hfOut = join(dir, "merged-hf");
  const files = exportModel({ model: asset, adapter: adapterDir, out: hfOut, format: "hf" });
  assert.ok(files.includes(join(hfOut, "tokenizer.json")));
  assert.ok(readFileSync(join(hfOut, "tokenizer.json")).equals(readFileSync(join(asset, "tokenizer.json"))));
  const fromHf = loadCheckpoint(hfOut);
  for (const [name, t] of merged) assert.deepEqual(fromHf.tensors.get(name)?.data, t.data, name);
  assert.notDeepEqual(
    fromHf.tensors.get("model.layers.0.self_attn.q_proj.weight")?.data,
    base.tensors.get("model.layers.0.self_attn.q_proj.weight")?.data,
  );

  const ggufOut = join(dir, "merged.gguf");
  exportModel({ model: asset, adapter: adapterDir, out: ggufOut, format: "gguf", dtype: "f32" });
  const fromGguf = loadCheckpoint(ggufOut);
  assert.deepEqual(fromGguf.config, base.config);
  for (const [name, t] of merged) assert.deepEqual(fromGguf.tensors.get(name)?.data, t.data, name);
  const vocab = fromGguf.tokenizer!;
  const original = loadCheckpoint(join(asset, "stories260K.gguf")).tokenizer!;
  assert.deepEqual(vocab.tokens, original.tokens);
  for (const text of TEXTS) assert.deepEqual(spmEncode(vocab, text), spmEncode(original, text), text);

  // GGUF source → HF directory gets tokenizer files built from the embedded vocabulary.
  const fromGgufDir = join(dir, "from-gguf");
  exportModel({ model: join(asset, "stories260K.gguf"), out: fromGgufDir, format: "hf", dtype: "bf16" });
  assert.deepEqual(
    JSON.parse(readFileSync(join(fromGgufDir, "tokenizer.json"), "utf8")),
    JSON.parse(readFileSync(join(asset, "tokenizer.json"), "utf8")),
  );
  assert.equal(JSON.parse(readFileSync(join(fromGgufDir, "config.json"), "utf8")).torch_dtype, "bfloat16");
});

test("exportModel rejects an unavailable dtype and a bare config", () => {
  const e = (() => {
    try {
      exportModel({ model: asset, out: join(dir, "x.gguf"), format: "gguf", dtype: "Q4_K" });
    } catch (err) {
      return err;
    }
  })();
  assert.ok(e instanceof SftError);
  assert.equal(e.message, "--dtype Q4_K is not available for gguf (choose F32, F16, BF16, Q8_0, Q4_0)");
  assert.throws(() => exportModel({ model: join(asset, "config.json"), out: join(dir, "y"), format: "hf" }), {
    message: "nothing to export: a bare config.json holds no weights",
  });
});
