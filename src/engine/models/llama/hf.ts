/**
 * The Llama family's Hugging Face checkpoints: config.json (llama, mistral, qwen2, qwen3
 * model types) ⇄ ModelConfig, and the tensors (names, shapes) a checkpoint holds.
 */
import type { ModelConfig } from "../../config.js";
import {
  boolField,
  configError,
  type HfJson,
  hiddenAct,
  intField,
  numField,
  ropeParameters,
  ropeScaling,
  ropeScalingJson,
  specialTokenIds,
} from "../hf-json.js";

export const LLAMA_HF_CLASSES = {
  llama: "LlamaForCausalLM",
  mistral: "MistralForCausalLM",
  qwen2: "Qwen2ForCausalLM",
  qwen3: "Qwen3ForCausalLM",
} as const;

export function parseLlamaConfig(c: HfJson, modelType: string, file: string): ModelConfig {
  const hiddenSize = intField(c, file, "hidden_size");
  const numHeads = intField(c, file, "num_attention_heads");
  const numKvHeads = intField(c, file, "num_key_value_heads", numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw configError(
      file,
      "num_key_value_heads",
      `num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`,
    );
  }
  const headDim = intField(c, file, "head_dim", Math.floor(hiddenSize / numHeads));
  const isQwen2 = modelType === "qwen2";
  const attentionBias = isQwen2 ? true : boolField(c, "attention_bias", false);
  return {
    architecture: "llama",
    modelType,
    vocabSize: intField(c, file, "vocab_size"),
    hiddenSize,
    intermediateSize: intField(c, file, "intermediate_size"),
    numLayers: intField(c, file, "num_hidden_layers"),
    numHeads,
    numKvHeads,
    headDim,
    maxPositionEmbeddings: intField(c, file, "max_position_embeddings", 2048),
    normEps: numField(c, file, "rms_norm_eps", 1e-6),
    ropeTheta: numField(c, file, "rope_theta", numField(ropeParameters(c) ?? {}, file, "rope_theta", 10000)),
    ropeScaling: ropeScaling(c, file),
    tieWordEmbeddings: boolField(c, "tie_word_embeddings", false),
    attentionBias,
    // Qwen2 has biases on q/k/v only; Llama's attention_bias covers o_proj too.
    attentionOutBias: isQwen2 ? false : attentionBias,
    mlpBias: boolField(c, "mlp_bias", false),
    qkNorm: modelType === "qwen3",
    hiddenAct: hiddenAct(c, file, "hidden_act", "silu"),
    ...slidingWindow(c, modelType, file),
    ...specialTokenIds(c),
  };
}

/**
 * Mistral's `sliding_window` (null or absent: full attention). Qwen2/3 configs carry a
 * sliding_window too, but it applies only with use_sliding_window, which no released
 * checkpoint sets; such a config is refused rather than run with full attention.
 */
function slidingWindow(c: HfJson, modelType: string, file: string): Pick<ModelConfig, "slidingWindow"> {
  if (modelType === "mistral" && c.sliding_window != null)
    return { slidingWindow: intField(c, file, "sliding_window") };
  if (c.use_sliding_window === true) {
    throw configError(
      file,
      "use_sliding_window",
      `use_sliding_window: true is not supported for ${modelType}`,
      "set it to false (as the released checkpoints do) or convert the model without it",
    );
  }
  return {};
}

export function llamaConfigFields(config: ModelConfig): HfJson {
  return {
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    num_key_value_heads: config.numKvHeads,
    head_dim: config.headDim,
    max_position_embeddings: config.maxPositionEmbeddings,
    rms_norm_eps: config.normEps,
    rope_theta: config.ropeTheta,
    rope_scaling: ropeScalingJson(config.ropeScaling),
    // Qwen2's config has no attention_bias: its q/k/v biases are implied by the model type.
    attention_bias: config.modelType === "qwen2" ? undefined : config.attentionBias,
    mlp_bias: config.mlpBias,
    hidden_act: config.hiddenAct,
    ...(config.modelType === "mistral" ? { sliding_window: config.slidingWindow ?? null } : {}),
  };
}

export function llamaTensorShapes(config: ModelConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const C = config.hiddenSize;
  const I = config.intermediateSize;
  const V = config.vocabSize;
  const QD = config.numHeads * config.headDim;
  const KD = config.numKvHeads * config.headDim;
  m.set("model.embed_tokens.weight", [V, C]);
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}`;
    m.set(`${p}.input_layernorm.weight`, [C]);
    m.set(`${p}.self_attn.q_proj.weight`, [QD, C]);
    m.set(`${p}.self_attn.k_proj.weight`, [KD, C]);
    m.set(`${p}.self_attn.v_proj.weight`, [KD, C]);
    m.set(`${p}.self_attn.o_proj.weight`, [C, QD]);
    if (config.attentionBias) {
      m.set(`${p}.self_attn.q_proj.bias`, [QD]);
      m.set(`${p}.self_attn.k_proj.bias`, [KD]);
      m.set(`${p}.self_attn.v_proj.bias`, [KD]);
    }
    if (config.attentionOutBias) m.set(`${p}.self_attn.o_proj.bias`, [C]);
    if (config.qkNorm) {
      m.set(`${p}.self_attn.q_norm.weight`, [config.headDim]);
      m.set(`${p}.self_attn.k_norm.weight`, [config.headDim]);
    }
    m.set(`${p}.post_attention_layernorm.weight`, [C]);
    m.set(`${p}.mlp.gate_proj.weight`, [I, C]);
    m.set(`${p}.mlp.up_proj.weight`, [I, C]);
    m.set(`${p}.mlp.down_proj.weight`, [C, I]);
    if (config.mlpBias) {
      m.set(`${p}.mlp.gate_proj.bias`, [I]);
      m.set(`${p}.mlp.up_proj.bias`, [I]);
      m.set(`${p}.mlp.down_proj.bias`, [C]);
    }
  }
  m.set("model.norm.weight", [C]);
  if (!config.tieWordEmbeddings) m.set("lm_head.weight", [V, C]);
  return m;
}
