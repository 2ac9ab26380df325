/**
 * Gemma config.json reading: gemma2 and gemma3_text fields, the layer types, and the text
 * part of a gemma3 (vision + text) checkpoint, whose tensors live under another prefix.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseHfConfig, toHfConfig } from "../../../src/engine/checkpoint/hf.js";
import { createModel } from "../../../src/engine/model.js";
import { familyOf } from "../../../src/engine/models/registry.js";

const text = {
  model_type: "gemma3_text",
  architectures: ["Gemma3ForCausalLM"],
  vocab_size: 48,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 6,
  num_attention_heads: 4,
  num_key_value_heads: 1,
  head_dim: 8,
  query_pre_attn_scalar: 8,
  sliding_window: 4,
  rope_theta: 1000000,
  rope_local_base_freq: 10000,
  rope_scaling: null,
  hidden_activation: "gelu_pytorch_tanh",
  bos_token_id: 2,
  eos_token_id: 1,
};

test("gemma3_text: sliding_window_pattern 6 (default), rope bases, scale, tied; round trip through toHfConfig", () => {
  const c = parseHfConfig(text, "g.json");
  assert.equal(c.architecture, "gemma");
  assert.deepEqual(c.slidingLayers, [true, true, true, true, true, false]);
  assert.equal(c.ropeLocalTheta, 10000);
  assert.equal(c.ropeTheta, 1000000);
  assert.equal(c.queryPreAttnScalar, 8);
  assert.equal(c.qkNorm, true);
  assert.equal(c.tieWordEmbeddings, true);
  assert.equal(c.attnLogitSoftcap, null);
  const back = toHfConfig(c);
  assert.equal(back.hidden_activation, "gelu_pytorch_tanh");
  assert.deepEqual(parseHfConfig(back, "back.json"), c);
});

test("gemma2: alternating sliding layers from layer 0 and both soft-caps", () => {
  const c = parseHfConfig(
    {
      ...text,
      model_type: "gemma2",
      architectures: ["Gemma2ForCausalLM"],
      num_hidden_layers: 4,
      rope_local_base_freq: undefined,
      attn_logit_softcapping: 50,
      final_logit_softcapping: 30,
    },
    "g2.json",
  );
  assert.deepEqual(c.slidingLayers, [true, false, true, false]);
  assert.equal(c.attnLogitSoftcap, 50);
  assert.equal(c.finalLogitSoftcap, 30);
  assert.equal(c.qkNorm, false);
  assert.equal(c.ropeLocalTheta, undefined);
});

test("gemma3 (vision + text): the text_config is read, and the weights under language_model.* load", () => {
  const c = parseHfConfig(
    {
      model_type: "gemma3",
      architectures: ["Gemma3ForConditionalGeneration"],
      text_config: { ...text, model_type: undefined, layer_types: undefined, sliding_window_pattern: 3 },
      vision_config: { hidden_size: 1152 },
    },
    "mm.json",
  );
  assert.equal(c.modelType, "gemma3_text");
  assert.deepEqual(c.slidingLayers, [true, true, false, true, true, false]);
  assert.equal(toHfConfig(c).architectures?.toString(), "Gemma3ForCausalLM");
  const shapes = familyOf(c).tensorShapes(c);
  const tensors = new Map(
    [...shapes].map(([name, shape]) => [
      name.replace(/^model\./, "model.language_model."),
      { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.01) },
    ]),
  );
  const model = createModel(c, tensors, {});
  const logits = model.logits({ B: 1, T: 3, inputIds: Int32Array.from([2, 5, 7]) });
  assert.equal(logits.length, 3 * 48);
  assert.throws(
    () =>
      parseHfConfig({ model_type: "gemma3", architectures: ["Gemma3ForConditionalGeneration"] }, "x.json"),
    /text_config/,
  );
});

test("gemma: bad layer_types are named with the file and field", () => {
  assert.throws(
    () => parseHfConfig({ ...text, layer_types: ["sliding_attention"] }, "lt.json"),
    /layer_types has 1 entries for 6 layers/,
  );
  assert.throws(
    () => parseHfConfig({ ...text, num_hidden_layers: 1, layer_types: ["local"] }, "lt.json"),
    /unknown layer type "local"/,
  );
});
