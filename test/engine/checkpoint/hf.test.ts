import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, test } from "node:test";
import { readGguf, writeGguf } from "../../../src/engine/checkpoint/gguf.js";
import {
  expectedTensorShapes,
  loadCheckpoint,
  parseHfConfig,
  permuteRopeRows,
  saveGgufModel,
  saveHfModel,
  toHfConfig,
} from "../../../src/engine/checkpoint/hf.js";
import { readSafetensorsSync, writeSafetensors } from "../../../src/engine/checkpoint/safetensors.js";
import type { ModelConfig } from "../../../src/engine/config.js";
import type { Tensor, TensorMap } from "../../../src/engine/tensor.js";
import { errorOf } from "../../helpers/errors.js";

const repoRoot = resolve(new URL("../../..", import.meta.url).pathname);
const storiesGguf = resolve(repoRoot, "../shared/models/stories260K/stories260K.gguf");
const dir = mkdtempSync(join(tmpdir(), "sft-hf-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function randomTensors(config: ModelConfig, seed: number): TensorMap {
  let s = seed >>> 0;
  const out: TensorMap = new Map();
  for (const [name, shape] of expectedTensorShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      data[i] = s / 2 ** 32 - 0.5;
    }
    out.set(name, { shape, data });
  }
  return out;
}

const tinyLlama = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: 40,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
  rms_norm_eps: 1e-5,
  rope_theta: 500000,
  rope_scaling: {
    rope_type: "llama3",
    factor: 8,
    low_freq_factor: 1,
    high_freq_factor: 4,
    original_max_position_embeddings: 32,
  },
  tie_word_embeddings: false,
  bos_token_id: 1,
  eos_token_id: [2, 3],
  hidden_act: "silu",
};

test("parseHfConfig: llama 3 with rope scaling, GQA and a list of EOS ids", () => {
  const c = parseHfConfig(tinyLlama, "config.json");
  assert.deepEqual(c, {
    architecture: "llama",
    modelType: "llama",
    vocabSize: 40,
    hiddenSize: 16,
    intermediateSize: 24,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 4,
    maxPositionEmbeddings: 64,
    normEps: 1e-5,
    ropeTheta: 500000,
    ropeScaling: {
      type: "llama3",
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 32,
    },
    tieWordEmbeddings: false,
    attentionBias: false,
    attentionOutBias: false,
    mlpBias: false,
    qkNorm: false,
    hiddenAct: "silu",
    bosTokenId: 1,
    eosTokenId: [2, 3],
    padTokenId: null,
  });
});

test("parseHfConfig: mistral, qwen2 (q/k/v bias), qwen3 (q/k norm, explicit head_dim), SmolLM (tied llama), gpt2", () => {
  const mistral = parseHfConfig(
    {
      ...tinyLlama,
      model_type: "mistral",
      architectures: ["MistralForCausalLM"],
      sliding_window: 4096,
      rope_scaling: null,
    },
    "m.json",
  );
  assert.equal(mistral.modelType, "mistral");
  assert.equal(mistral.ropeScaling, null);
  assert.equal(mistral.slidingWindow, 4096);
  assert.equal(toHfConfig(mistral).sliding_window, 4096);
  assert.equal(
    parseHfConfig({ ...tinyLlama, model_type: "mistral", sliding_window: null }, "m.json").slidingWindow,
    undefined,
  );
  assert.throws(
    () =>
      parseHfConfig(
        { ...tinyLlama, model_type: "qwen2", use_sliding_window: true, sliding_window: 8 },
        "q.json",
      ),
    /use_sliding_window: true is not supported for qwen2/,
  );
  const qwen2 = parseHfConfig(
    { ...tinyLlama, model_type: "qwen2", architectures: ["Qwen2ForCausalLM"] },
    "q2.json",
  );
  assert.equal(qwen2.attentionBias, true);
  assert.equal(qwen2.attentionOutBias, false);
  const qwen3 = parseHfConfig(
    {
      ...tinyLlama,
      model_type: "qwen3",
      architectures: ["Qwen3ForCausalLM"],
      head_dim: 8,
      tie_word_embeddings: true,
    },
    "q3.json",
  );
  assert.equal(qwen3.qkNorm, true);
  assert.equal(qwen3.headDim, 8);
  assert.equal(qwen3.attentionBias, false);
  assert.equal(qwen3.tieWordEmbeddings, true);
  const smol = parseHfConfig({ ...tinyLlama, tie_word_embeddings: true }, "s.json");
  assert.equal(smol.tieWordEmbeddings, true);
  const gpt2 = parseHfConfig(
    {
      architectures: ["GPT2LMHeadModel"],
      model_type: "gpt2",
      vocab_size: 50,
      n_embd: 12,
      n_layer: 2,
      n_head: 3,
      n_positions: 32,
      activation_function: "gelu_new",
      layer_norm_epsilon: 1e-5,
      bos_token_id: 0,
      eos_token_id: 0,
    },
    "g.json",
  );
  assert.equal(gpt2.architecture, "gpt2");
  assert.equal(gpt2.intermediateSize, 48);
  assert.equal(gpt2.headDim, 4);
  assert.equal(gpt2.tieWordEmbeddings, true);
  assert.equal(gpt2.hiddenAct, "gelu_new");
  for (const c of [
    tinyLlama,
    { ...tinyLlama, model_type: "qwen3", architectures: ["Qwen3ForCausalLM"], head_dim: 8 },
  ]) {
    const parsed = parseHfConfig(c, "x.json");
    assert.deepEqual(parseHfConfig(toHfConfig(parsed), "y.json"), parsed);
  }
  assert.deepEqual(parseHfConfig(toHfConfig(gpt2), "g2.json"), gpt2);
  assert.deepEqual(parseHfConfig(toHfConfig(qwen2), "q.json"), qwen2);
});

test("parseHfConfig: the newer rope_parameters block gives rope theta and scaling", () => {
  const { rope_theta: _t, rope_scaling: _s, ...rest } = tinyLlama;
  const c = parseHfConfig(
    {
      ...rest,
      rope_parameters: {
        rope_type: "llama3",
        rope_theta: 500000,
        factor: 8,
        low_freq_factor: 1,
        high_freq_factor: 4,
        original_max_position_embeddings: 32,
      },
    },
    "c.json",
  );
  assert.equal(c.ropeTheta, 500000);
  assert.deepEqual(c.ropeScaling, parseHfConfig(tinyLlama, "c.json").ropeScaling);
  const plain = parseHfConfig(
    { ...rest, rope_parameters: { rope_type: "default", rope_theta: 1000000 } },
    "c.json",
  );
  assert.equal(plain.ropeTheta, 1000000);
  assert.equal(plain.ropeScaling, null);
});

test("parseHfConfig: unsupported model_type / architecture and bad fields name the file and the supported ones", () => {
  const e1 = errorOf(() => parseHfConfig({ ...tinyLlama, model_type: "falcon" }, "/m/config.json"));
  assert.equal(
    e1.format(),
    '/m/config.json: model_type: unsupported model_type "falcon"\n  hint: supported model_type values: llama, mistral, qwen2, qwen3, gpt2, gemma2, gemma3_text, gemma3 (SmolLM uses llama)',
  );
  const e2 = errorOf(() =>
    parseHfConfig({ ...tinyLlama, architectures: ["LlamaForSequenceClassification"] }, "c.json"),
  );
  assert.equal(
    e2.format(),
    'c.json: architectures: unsupported architecture "LlamaForSequenceClassification"\n  hint: supported architectures: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, GPT2LMHeadModel, Gemma2ForCausalLM, Gemma3ForCausalLM, Gemma3ForConditionalGeneration',
  );
  const { hidden_size: _, ...noHidden } = tinyLlama;
  assert.equal(
    errorOf(() => parseHfConfig(noHidden, "c.json"))
      .format()
      .split("\n")[0],
    'c.json: hidden_size: missing required field "hidden_size"',
  );
  assert.equal(
    errorOf(() => parseHfConfig({ ...tinyLlama, num_key_value_heads: 3 }, "c.json")).message,
    "num_attention_heads (4) must be a multiple of num_key_value_heads (3)",
  );
});

test("permuteRopeRows: llama.cpp's per-head interleave and its inverse", () => {
  // One head of d = 4, one column: HF rows [a0, a1, b0, b1] (halves) ↔ GGUF rows [a0, b0, a1, b1] (pairs).
  const hf = { shape: [8, 1], data: Float32Array.from([0, 1, 2, 3, 10, 11, 12, 13]) };
  const gguf = permuteRopeRows(hf, 2, true);
  assert.deepEqual([...gguf.data], [0, 2, 1, 3, 10, 12, 11, 13]);
  assert.deepEqual([...permuteRopeRows(gguf, 2, false).data], [...hf.data]);
  const wide: Tensor = { shape: [16, 3], data: Float32Array.from({ length: 48 }, (_, i) => i) };
  assert.deepEqual(permuteRopeRows(permuteRopeRows(wide, 2, true), 2, false).data, wide.data);
});

function assertSameTensors(a: TensorMap, b: TensorMap, tol = 0): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [name, t] of a) {
    const u = b.get(name)!;
    assert.deepEqual(u.shape, t.shape, name);
    if (tol === 0) assert.deepEqual(u.data, t.data, name);
    else for (let i = 0; i < t.data.length; i++) assert.ok(Math.abs(u.data[i] - t.data[i]) <= tol, name);
  }
}

test("saveHfModel → loadCheckpoint round trips llama, qwen2, qwen3 and gpt2, single file and sharded", () => {
  const configs: [string, ModelConfig][] = [
    ["llama", parseHfConfig(tinyLlama, "x")],
    ["qwen2", parseHfConfig({ ...tinyLlama, model_type: "qwen2", architectures: ["Qwen2ForCausalLM"] }, "x")],
    [
      "qwen3",
      parseHfConfig({ ...tinyLlama, model_type: "qwen3", tie_word_embeddings: true, architectures: [] }, "x"),
    ],
    [
      "gpt2",
      parseHfConfig(
        { model_type: "gpt2", vocab_size: 30, n_embd: 8, n_layer: 2, n_head: 2, n_positions: 16 },
        "x",
      ),
    ],
  ];
  configs.forEach(([label, config], i) => {
    const tensors = randomTensors(config, i + 1);
    const out = join(dir, `save-${label}`);
    saveHfModel(out, config, tensors);
    const back = loadCheckpoint(out);
    assert.deepEqual(back.config, config, label);
    assert.equal(back.source.kind, "hf-dir");
    assertSameTensors(tensors, back.tensors);
    // Sharded, BF16.
    const shardedDir = join(dir, `sharded-${label}`);
    const files = saveHfModel(shardedDir, config, tensors, { dtype: "BF16", maxShardBytes: 2000 });
    assert.ok(
      files.some((f) => f.endsWith("model.safetensors.index.json")),
      label,
    );
    const sharded = loadCheckpoint(shardedDir);
    assert.equal(JSON.parse(readFileSync(join(shardedDir, "config.json"), "utf8")).torch_dtype, "bfloat16");
    assertSameTensors(tensors, sharded.tensors, 2 ** -8);
    // Saving again unsharded into the same directory leaves no stale shards or index behind.
    saveHfModel(shardedDir, config, tensors);
    assert.deepEqual(readdirSync(shardedDir).sort(), ["config.json", "model.safetensors"]);
    assertSameTensors(tensors, loadCheckpoint(shardedDir).tensors);
  });
});

test("GPT-2 checkpoints without the transformer. prefix load; extra buffers are ignored", () => {
  const config = parseHfConfig(
    { model_type: "gpt2", vocab_size: 30, n_embd: 8, n_layer: 1, n_head: 2, n_positions: 16 },
    "x",
  );
  const tensors = randomTensors(config, 9);
  const bare = new Map<string, Tensor>([...tensors].map(([k, v]) => [k.replace(/^transformer\./, ""), v]));
  bare.set("h.0.attn.bias", { shape: [1, 1, 16, 16], data: new Float32Array(256) });
  const d = join(dir, "gpt2-bare");
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, "config.json"), JSON.stringify(toHfConfig(config)));
  writeSafetensors(join(d, "model.safetensors"), bare);
  assertSameTensors(tensors, loadCheckpoint(d).tensors);
});

test("a bare config.json loads with no tensors (random initialisation is the caller's)", () => {
  const p = join(dir, "bare-config.json");
  writeFileSync(p, JSON.stringify(tinyLlama));
  const ck = loadCheckpoint(p);
  assert.equal(ck.tensors.size, 0);
  assert.equal(ck.source.kind, "config");
  assert.equal(ck.config.numKvHeads, 2);
});

test("broken model directories fail naming the file, the tensor and the problem", () => {
  const config = parseHfConfig(tinyLlama, "x");
  const good = randomTensors(config, 3);
  const make = (name: string, tensors: Map<string, Tensor>, dtype?: "F16") => {
    const d = join(dir, name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "config.json"), JSON.stringify(tinyLlama));
    writeSafetensors(join(d, "model.safetensors"), tensors, dtype ? { dtype } : {});
    return d;
  };
  const missing = new Map(good);
  missing.delete("model.layers.1.mlp.up_proj.weight");
  const d1 = make("missing", missing);
  assert.equal(
    errorOf(() => loadCheckpoint(d1))
      .format()
      .split("\n")[0],
    `${d1}/model.safetensors: model.layers.1.mlp.up_proj.weight: missing tensor (expected shape [24, 16])`,
  );
  const wrong = new Map(good);
  wrong.set("model.layers.0.self_attn.k_proj.weight", { shape: [16, 16], data: new Float32Array(256) });
  const d2 = make("wrong-shape", wrong);
  assert.equal(
    errorOf(() => loadCheckpoint(d2))
      .format()
      .split("\n")[0],
    `${d2}/model.safetensors: model.layers.0.self_attn.k_proj.weight: wrong shape [16, 16], expected [8, 16]`,
  );
  // An integer tensor where a weight belongs.
  const d3 = make("int-weight", good);
  const raw = readFileSync(join(d3, "model.safetensors"));
  const headerLen = Number(raw.readBigUInt64LE(0));
  const header = raw.subarray(8, 8 + headerLen).toString("utf8");
  const i = header.indexOf('"model.norm.weight":{"dtype":"F32"');
  assert.ok(i >= 0);
  const patched = `${header.slice(0, i)}"model.norm.weight":{"dtype":"I32"${header.slice(i + '"model.norm.weight":{"dtype":"F32"'.length)}`;
  writeFileSync(
    join(d3, "model.safetensors"),
    Buffer.concat([raw.subarray(0, 8), Buffer.from(patched), raw.subarray(8 + headerLen)]),
  );
  assert.equal(
    errorOf(() => loadCheckpoint(d3))
      .format()
      .split("\n")[0],
    `${d3}/model.safetensors: model.norm.weight: unsupported dtype I32 for a weight (supported: F32, F16, BF16, F64, Q8_0)`,
  );
  const d4 = join(dir, "no-weights");
  mkdirSync(d4, { recursive: true });
  writeFileSync(join(d4, "config.json"), JSON.stringify(tinyLlama));
  writeFileSync(join(d4, "pytorch_model.bin"), "");
  const e4 = errorOf(() => loadCheckpoint(d4));
  assert.equal(e4.message, "no model.safetensors or model.safetensors.index.json in the model directory");
  assert.match(e4.hint ?? "", /PyTorch \.bin checkpoints are not read/);
  assert.equal(errorOf(() => loadCheckpoint(join(dir, "nowhere"))).message, "model path not found");
});

test("saveGgufModel → loadCheckpoint: names, Q/K permutation and metadata round trip (F32 exact, Q8_0 close)", () => {
  const config = parseHfConfig(
    { ...tinyLlama, hidden_size: 64, intermediate_size: 96, rope_scaling: null },
    "x",
  );
  const tensors = randomTensors(config, 5);
  const tok = loadCheckpoint(storiesGguf).tokenizer!;
  const p = join(dir, "tiny.gguf");
  saveGgufModel(p, config, tensors, { type: "F32", tokenizer: tok });
  const raw = readGguf(p);
  // On disk: llama.cpp names and the interleaved Q layout.
  const q = tensors.get("model.layers.0.self_attn.q_proj.weight")!;
  assert.deepEqual(
    raw.tensors.get("blk.0.attn_q.weight")?.data,
    permuteRopeRows(q, config.numHeads, true).data,
  );
  assert.equal(raw.metadata["llama.attention.head_count_kv"], 2);
  assert.equal(raw.metadata["llama.rope.freq_base"], 500000);
  const back = loadCheckpoint(p);
  assert.deepEqual(back.config, { ...config, eosTokenId: 2, maxPositionEmbeddings: 64 });
  assertSameTensors(tensors, back.tensors);
  assert.deepEqual(back.tokenizer?.tokens, tok.tokens);
  assert.deepEqual(back.tokenizer?.scores, tok.scores);
  const pq = join(dir, "tiny-q8.gguf");
  saveGgufModel(pq, config, tensors, { type: "Q8_0" });
  const q8 = readGguf(pq);
  assert.equal(q8.tensors.get("blk.0.attn_q.weight")?.dtype, "Q8_0");
  assert.equal(q8.tensors.get("blk.0.ffn_down.weight")?.dtype, "Q8_0"); // rows of 96
  assert.equal(q8.tensors.get("blk.0.attn_norm.weight")?.dtype, "F32");
  assertSameTensors(tensors, loadCheckpoint(pq).tensors, 0.5 / 127 + 2 ** -10);
});

test("stories260K.gguf loads as a Llama with HF names, shapes and its SentencePiece tokenizer", () => {
  const ck = loadCheckpoint(storiesGguf);
  assert.equal(ck.source.kind, "gguf");
  const c = ck.config;
  assert.deepEqual(
    [c.vocabSize, c.hiddenSize, c.intermediateSize, c.numLayers, c.numHeads, c.numKvHeads, c.headDim],
    [512, 64, 172, 5, 8, 4, 8],
  );
  assert.equal(c.normEps, 1e-5);
  assert.equal(c.ropeTheta, 10000);
  assert.equal(c.tieWordEmbeddings, false);
  assert.equal(ck.tensors.size, 3 + 5 * 9);
  assert.deepEqual(ck.tensors.get("model.embed_tokens.weight")?.shape, [512, 64]);
  assert.deepEqual(ck.tensors.get("model.layers.4.self_attn.k_proj.weight")?.shape, [32, 64]);
  assert.deepEqual(ck.tensors.get("model.layers.2.mlp.down_proj.weight")?.shape, [64, 172]);
  assert.deepEqual(ck.tensors.get("lm_head.weight")?.shape, [512, 64]);
  assert.equal(ck.tokenizer?.tokens.length, 512);
  assert.equal(ck.tokenizer?.bosTokenId, 1);
  assert.equal(ck.tokenizer?.padTokenId, null); // stored as 0xFFFFFFFF
  // The GGUF's interleaved Q rows were put back into HF order.
  const shared = readSafetensorsSync(
    resolve(repoRoot, "../shared/models/stories260K/stories260K.f32.safetensors"),
  );
  const ggufQ = shared.get("blk.1.attn_q.weight")!;
  assert.deepEqual(
    ck.tensors.get("model.layers.1.self_attn.q_proj.weight")?.data,
    permuteRopeRows(ggufQ, 8, false).data,
  );
  assert.deepEqual(
    ck.tensors.get("model.layers.1.self_attn.v_proj.weight")?.data,
    shared.get("blk.1.attn_v.weight")?.data,
  );
});

test("GGUF files of an unsupported architecture or with a missing tensor fail naming file, tensor and problem", () => {
  const falcon = join(dir, "falcon.gguf");
  writeGguf(falcon, {
    metadata: { "general.architecture": "falcon" },
    tensors: [
      { name: "token_embd.weight", tensor: { shape: [2, 2], data: new Float32Array(4) }, type: "F32" },
    ],
  });
  assert.equal(
    errorOf(() => loadCheckpoint(falcon)).format(),
    `${falcon}: general.architecture: unsupported GGUF architecture "falcon"\n  hint: supported GGUF architectures: llama, qwen2, qwen3, gpt2`,
  );
  const config = parseHfConfig(
    { ...tinyLlama, hidden_size: 64, intermediate_size: 96, rope_scaling: null },
    "x",
  );
  const full = join(dir, "full.gguf");
  saveGgufModel(full, config, randomTensors(config, 11), { type: "F32" });
  const g = readGguf(full);
  const partial = join(dir, "partial.gguf");
  writeGguf(partial, {
    metadata: g.metadata,
    tensors: [...g.tensors]
      .filter(([name]) => name !== "blk.1.ffn_gate.weight")
      .map(([name, tensor]) => ({ name, tensor, type: "F32" as const })),
  });
  assert.equal(
    errorOf(() => loadCheckpoint(partial))
      .format()
      .split("\n")[0],
    `${partial}: model.layers.1.mlp.gate_proj.weight: missing tensor (expected shape [96, 64])`,
  );
});

test("Llama 3 GGUFs: rope_freqs.weight is turned back into HF llama3 rope_scaling, or fails loudly", () => {
  const config = parseHfConfig(
    { ...tinyLlama, hidden_size: 256, num_attention_heads: 4, intermediate_size: 32, rope_scaling: null },
    "x",
  );
  // HF's llama3 frequencies, in the inverse-frequency domain: scaled = inv / factor below the
  // low-frequency wavelength, unchanged above the high one, interpolated in between.
  const d = config.headDim;
  const [factor, low, high, original] = [8, 1, 4, 32];
  const divisors = new Float32Array(d / 2);
  for (let i = 0; i < d / 2; i++) {
    const inv = 1 / config.ropeTheta ** ((2 * i) / d);
    const wavelen = (2 * Math.PI) / inv;
    let scaled = wavelen > original / low ? inv / factor : inv;
    if (!(wavelen < original / high) && !(wavelen > original / low)) {
      const smooth = (original / wavelen - low) / (high - low);
      scaled = ((1 - smooth) * scaled) / factor + smooth * scaled;
    }
    divisors[i] = inv / scaled;
  }
  assert.ok(
    divisors.some((v) => v > 1 && v < 8),
    "the test must cover the interpolated band",
  );
  const tensors = randomTensors(config, 12);
  const p = join(dir, "llama3.gguf");
  saveGgufModel(p, config, tensors, { type: "F32" });
  const g = readGguf(p);
  const withFreqs = join(dir, "llama3-freqs.gguf");
  const list = [...g.tensors].map(([name, tensor]) => ({ name, tensor, type: "F32" as const }));
  writeGguf(withFreqs, {
    metadata: g.metadata,
    tensors: [
      ...list,
      { name: "rope_freqs.weight", tensor: { shape: [d / 2], data: divisors }, type: "F32" },
    ],
  });
  assert.deepEqual(loadCheckpoint(withFreqs).config.ropeScaling, {
    type: "llama3",
    factor: 8,
    lowFreqFactor: 1,
    highFreqFactor: 4,
    originalMaxPositionEmbeddings: 32,
  });
  const odd = join(dir, "odd-freqs.gguf");
  writeGguf(odd, {
    metadata: g.metadata,
    tensors: [
      ...list,
      {
        name: "rope_freqs.weight",
        tensor: { shape: [d / 2], data: divisors.map((v, i) => v + i * 0.01) },
        type: "F32",
      },
    ],
  });
  assert.equal(
    errorOf(() => loadCheckpoint(odd))
      .format()
      .split("\n")[0],
    `${odd}: rope_freqs.weight: rope_freqs.weight does not match Llama 3 RoPE scaling with any usual parameters`,
  );
});

test("saveGgufModel writes llama3 rope scaling as rope_freqs.weight, and it loads back as the same rope_scaling", () => {
  const config = parseHfConfig(
    { ...tinyLlama, hidden_size: 256, num_attention_heads: 4, intermediate_size: 32 },
    "x",
  );
  assert.equal(config.ropeScaling?.type, "llama3");
  const p = join(dir, "llama3-save.gguf");
  saveGgufModel(p, config, randomTensors(config, 13), { type: "F32" });
  assert.deepEqual(readGguf(p).tensors.get("rope_freqs.weight")?.shape, [config.headDim / 2]);
  assert.deepEqual(loadCheckpoint(p).config.ropeScaling, config.ropeScaling);
});
