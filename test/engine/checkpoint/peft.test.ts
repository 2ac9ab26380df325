import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { parseHfConfig } from "../../../src/engine/checkpoint/hf.js";
import {
  type LoraAdapter,
  loraMergeScale,
  mergeLora,
  type PeftLoraConfig,
  peftTensorName,
  readPeftAdapter,
  writePeftAdapter,
} from "../../../src/engine/checkpoint/peft.js";
import { writeSafetensors } from "../../../src/engine/checkpoint/safetensors.js";
import type { Tensor, TensorMap } from "../../../src/engine/tensor.js";
import { errorOf } from "../../helpers/errors.js";

const dir = mkdtempSync(join(tmpdir(), "sft-peft-"));
after(() => rmSync(dir, { recursive: true, force: true }));

let seed = 7;
function rand(shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    data[i] = seed / 2 ** 32 - 0.5;
  }
  return { shape, data };
}

const llamaConfig = parseHfConfig(
  {
    model_type: "llama",
    vocab_size: 20,
    hidden_size: 8,
    intermediate_size: 12,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 1,
  },
  "x",
);
const gpt2Config = parseHfConfig(
  { model_type: "gpt2", vocab_size: 20, n_embd: 8, n_layer: 1, n_head: 2, n_positions: 8 },
  "x",
);

const loraConfig: PeftLoraConfig = {
  r: 3,
  loraAlpha: 6,
  loraDropout: 0.05,
  targetModules: ["q_proj", "down_proj"],
  baseModelNameOrPath: "/models/base",
  useRslora: false,
  fanInFanOut: false,
};

test("writePeftAdapter writes PEFT's adapter_config.json and key names; readPeftAdapter reads them back", () => {
  const tensors: TensorMap = new Map([
    [peftTensorName("model.layers.0.self_attn.q_proj", "A"), rand([3, 8])],
    [peftTensorName("model.layers.0.self_attn.q_proj", "B"), rand([8, 3])],
    [peftTensorName("model.layers.0.mlp.down_proj", "A"), rand([3, 12])],
    [peftTensorName("model.layers.0.mlp.down_proj", "B"), rand([8, 3])],
  ]);
  const out = join(dir, "adapter");
  writePeftAdapter(out, { config: loraConfig, tensors });
  const json = JSON.parse(readFileSync(join(out, "adapter_config.json"), "utf8"));
  assert.equal(json.peft_type, "LORA");
  assert.equal(json.task_type, "CAUSAL_LM");
  assert.equal(json.r, 3);
  assert.equal(json.lora_alpha, 6);
  assert.equal(json.lora_dropout, 0.05);
  assert.deepEqual(json.target_modules, ["q_proj", "down_proj"]);
  assert.equal(json.bias, "none");
  assert.equal(json.use_rslora, false);
  assert.equal(json.fan_in_fan_out, false);
  assert.equal(json.base_model_name_or_path, "/models/base");
  const back = readPeftAdapter(out);
  assert.deepEqual(back.config, loraConfig);
  assert.deepEqual([...back.tensors.keys()], [...tensors.keys()]);
  assert.ok([...back.tensors.keys()][0] === "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
  for (const [k, t] of tensors) assert.deepEqual(back.tensors.get(k)?.data, t.data);
});

/** y = x·Wᵀ (Linear, W [out, in]) or x·W (Conv1D, W [in, out]) for one input row x. */
function applyWeight(W: Tensor, x: Float32Array, inOut: boolean): Float64Array {
  const [d0, d1] = W.shape;
  const outF = inOut ? d1 : d0;
  const y = new Float64Array(outF);
  for (let o = 0; o < outF; o++) {
    for (let i = 0; i < x.length; i++) y[o] += x[i] * (inOut ? W.data[i * d1 + o] : W.data[o * d1 + i]);
  }
  return y;
}

/** The LoRA branch as a model computes it: scale · B (A x). */
function applyLora(A: Tensor, B: Tensor, x: Float32Array, scale: number): Float64Array {
  const [r, inF] = A.shape;
  const outF = B.shape[0];
  const h = new Float64Array(r);
  for (let k = 0; k < r; k++) for (let i = 0; i < inF; i++) h[k] += A.data[k * inF + i] * x[i];
  const y = new Float64Array(outF);
  for (let o = 0; o < outF; o++) for (let k = 0; k < r; k++) y[o] += scale * B.data[o * r + k] * h[k];
  return y;
}

function checkMerged(
  base: TensorMap,
  adapter: LoraAdapter,
  merged: TensorMap,
  module: string,
  inOut: boolean,
  scale: number,
) {
  const A = adapter.tensors.get(peftTensorName(module, "A"))!;
  const B = adapter.tensors.get(peftTensorName(module, "B"))!;
  const x = rand([A.shape[1]]).data;
  const want = applyWeight(base.get(`${module}.weight`)!, x, inOut);
  const lora = applyLora(A, B, x, scale);
  const got = applyWeight(merged.get(`${module}.weight`)!, x, inOut);
  let maxDiff = 0;
  for (let o = 0; o < want.length; o++) maxDiff = Math.max(maxDiff, Math.abs(got[o] - (want[o] + lora[o])));
  assert.ok(maxDiff < 1e-5, `${module}: merged weight differs from base + LoRA branch by ${maxDiff}`);
  assert.ok(
    lora.some((v) => Math.abs(v) > 1e-3),
    "the LoRA branch must matter",
  );
}

test("mergeLora: merged Linear weights compute base + scale·B·A·x (alpha/r and rsLoRA alpha/sqrt(r))", () => {
  const q = "model.layers.0.self_attn.q_proj";
  const down = "model.layers.0.mlp.down_proj";
  const base: TensorMap = new Map([
    [`${q}.weight`, rand([8, 8])],
    [`${down}.weight`, rand([8, 12])],
    ["model.norm.weight", rand([8])],
  ]);
  const tensors: TensorMap = new Map([
    [peftTensorName(q, "A"), rand([3, 8])],
    [peftTensorName(q, "B"), rand([8, 3])],
    [peftTensorName(down, "A"), rand([3, 12])],
    [peftTensorName(down, "B"), rand([8, 3])],
  ]);
  for (const useRslora of [false, true]) {
    const adapter = { config: { ...loraConfig, useRslora }, tensors };
    const scale = useRslora ? 6 / Math.sqrt(3) : 2;
    assert.equal(loraMergeScale(adapter.config, q), scale);
    const baseCopy = Float32Array.from(base.get(`${q}.weight`)!.data);
    const merged = mergeLora(base, adapter, llamaConfig);
    checkMerged(base, adapter, merged, q, false, scale);
    checkMerged(base, adapter, merged, down, false, scale);
    assert.equal(merged.get("model.norm.weight"), base.get("model.norm.weight"));
    assert.deepEqual(base.get(`${q}.weight`)!.data, baseCopy, "the base map is left untouched");
  }
  // rank_pattern / alpha_pattern override per module, as PEFT does.
  const patterned = { ...loraConfig, rankPattern: { down_proj: 3 }, alphaPattern: { down_proj: 12 } };
  assert.equal(loraMergeScale(patterned, down), 4);
  assert.equal(loraMergeScale(patterned, q), 2);
});

test("mergeLora: GPT-2 Conv1D weights [in, out] get (B·A)ᵀ", () => {
  const attn = "transformer.h.0.attn.c_attn";
  const base: TensorMap = new Map([[`${attn}.weight`, rand([8, 24])]]);
  const adapter: LoraAdapter = {
    config: { ...loraConfig, targetModules: ["c_attn"], fanInFanOut: true },
    tensors: new Map([
      [peftTensorName(attn, "A"), rand([3, 8])],
      [peftTensorName(attn, "B"), rand([24, 3])],
    ]),
  };
  const merged = mergeLora(base, adapter, gpt2Config);
  checkMerged(base, adapter, merged, attn, true, 2);
});

test("adapter errors name the file, the tensor and the problem", () => {
  const q = "model.layers.0.self_attn.q_proj";
  const d = join(dir, "half");
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, "adapter_config.json"), JSON.stringify({ peft_type: "LORA", r: 3, lora_alpha: 6 }));
  writeSafetensors(join(d, "adapter_model.safetensors"), new Map([[peftTensorName(q, "A"), rand([3, 8])]]));
  assert.equal(
    errorOf(() => readPeftAdapter(d))
      .format()
      .split("\n")[0],
    `${d}/adapter_model.safetensors: ${peftTensorName(q, "B")}: missing tensor: every LoRA module needs both lora_A and lora_B`,
  );
  const d2 = join(dir, "prefix");
  mkdirSync(d2, { recursive: true });
  writeFileSync(join(d2, "adapter_config.json"), JSON.stringify({ peft_type: "PREFIX_TUNING" }));
  assert.equal(
    errorOf(() => readPeftAdapter(d2))
      .format()
      .split("\n")[0],
    `${d2}/adapter_config.json: peft_type: unsupported peft_type "PREFIX_TUNING" (supported: LORA)`,
  );
  // Keys with the adapter name inside (older PEFT) are normalised.
  const d3 = join(dir, "named");
  mkdirSync(d3, { recursive: true });
  writeFileSync(join(d3, "adapter_config.json"), JSON.stringify({ peft_type: "LORA", r: 3, lora_alpha: 6 }));
  writeSafetensors(
    join(d3, "adapter_model.safetensors"),
    new Map([
      [`base_model.model.${q}.lora_A.default.weight`, rand([3, 8])],
      [`base_model.model.${q}.lora_B.default.weight`, rand([8, 3])],
    ]),
  );
  const named = readPeftAdapter(d3);
  assert.ok(named.tensors.has(peftTensorName(q, "B")));
  const wrongBase: TensorMap = new Map([[`${q}.weight`, rand([8, 9])]]);
  assert.equal(
    errorOf(() => mergeLora(wrongBase, named, llamaConfig)).message,
    `wrong shape: the adapter implies [8, 8] for ${q}.weight, the base has [8, 9]`,
  );
  assert.equal(
    errorOf(() => mergeLora(new Map(), named, llamaConfig)).message,
    `the base model has no ${q}.weight to merge into`,
  );
});
