/**
 * GPT-2's Hugging Face checkpoints: config.json (n_embd, n_head, …) ⇄ ModelConfig, the
 * tensors a checkpoint holds (Conv1D weights stored [in, out]), and the prefix-less names
 * of checkpoints saved from GPT2Model instead of GPT2LMHeadModel.
 */
import type { ModelConfig } from "../../config.js";
import {
  boolField,
  configError,
  type HfJson,
  hiddenAct,
  intField,
  numField,
  specialTokenIds,
} from "../hf-json.js";

export const GPT2_HF_CLASSES = { gpt2: "GPT2LMHeadModel" } as const;

export function parseGpt2Config(c: HfJson, _modelType: string, file: string): ModelConfig {
  const hiddenSize = intField(c, file, "n_embd");
  const numHeads = intField(c, file, "n_head");
  if (hiddenSize % numHeads !== 0) {
    throw configError(file, "n_head", `n_embd (${hiddenSize}) must be a multiple of n_head (${numHeads})`);
  }
  return {
    architecture: "gpt2",
    modelType: "gpt2",
    vocabSize: intField(c, file, "vocab_size"),
    hiddenSize,
    intermediateSize: intField(c, file, "n_inner", 4 * hiddenSize),
    numLayers: intField(c, file, "n_layer"),
    numHeads,
    numKvHeads: numHeads,
    headDim: hiddenSize / numHeads,
    maxPositionEmbeddings: intField(c, file, "n_positions"),
    normEps: numField(c, file, "layer_norm_epsilon", 1e-5),
    ropeTheta: 0, // learned absolute positions: no RoPE
    ropeScaling: null,
    tieWordEmbeddings: boolField(c, "tie_word_embeddings", true),
    attentionBias: true,
    attentionOutBias: true,
    mlpBias: true,
    qkNorm: false,
    hiddenAct: hiddenAct(c, file, "activation_function", "gelu_new"),
    ...specialTokenIds(c),
  };
}

export function gpt2ConfigFields(config: ModelConfig): HfJson {
  return {
    n_embd: config.hiddenSize,
    n_layer: config.numLayers,
    n_head: config.numHeads,
    n_inner: config.intermediateSize,
    n_positions: config.maxPositionEmbeddings,
    n_ctx: config.maxPositionEmbeddings,
    layer_norm_epsilon: config.normEps,
    activation_function: config.hiddenAct,
  };
}

export function gpt2TensorShapes(config: ModelConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const C = config.hiddenSize;
  const I = config.intermediateSize;
  const V = config.vocabSize;
  m.set("transformer.wte.weight", [V, C]);
  m.set("transformer.wpe.weight", [config.maxPositionEmbeddings, C]);
  for (let l = 0; l < config.numLayers; l++) {
    const p = `transformer.h.${l}`;
    m.set(`${p}.ln_1.weight`, [C]);
    m.set(`${p}.ln_1.bias`, [C]);
    m.set(`${p}.attn.c_attn.weight`, [C, 3 * C]);
    m.set(`${p}.attn.c_attn.bias`, [3 * C]);
    m.set(`${p}.attn.c_proj.weight`, [C, C]);
    m.set(`${p}.attn.c_proj.bias`, [C]);
    m.set(`${p}.ln_2.weight`, [C]);
    m.set(`${p}.ln_2.bias`, [C]);
    m.set(`${p}.mlp.c_fc.weight`, [C, I]);
    m.set(`${p}.mlp.c_fc.bias`, [I]);
    m.set(`${p}.mlp.c_proj.weight`, [I, C]);
    m.set(`${p}.mlp.c_proj.bias`, [C]);
  }
  m.set("transformer.ln_f.weight", [C]);
  m.set("transformer.ln_f.bias", [C]);
  if (!config.tieWordEmbeddings) m.set("lm_head.weight", [V, C]);
  return m;
}

/** Checkpoints saved from GPT2Model name tensors without `transformer.` (`h.0.attn.c_attn.weight`, `wte.weight`). */
export function gpt2TensorNameAliases(name: string): readonly string[] {
  return name.startsWith("transformer.") ? [name.slice("transformer.".length)] : [];
}
