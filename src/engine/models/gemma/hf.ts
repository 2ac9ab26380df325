/**
 * The Gemma family's Hugging Face checkpoints: config.json (gemma2, gemma3_text, and the text
 * part of gemma3) ⇄ ModelConfig, and the tensors (names, shapes) a checkpoint holds.
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

export const GEMMA_HF_CLASSES = {
  gemma2: "Gemma2ForCausalLM",
  gemma3_text: "Gemma3ForCausalLM",
  gemma3: "Gemma3ForConditionalGeneration",
} as const;

function optionalNumber(c: HfJson, file: string, key: string): number | null {
  const v = c[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0)
    throw configError(file, key, `"${key}" must be a positive number or null, got ${JSON.stringify(v)}`);
  return v;
}

/** Which layers slide: `layer_types`, else Gemma 3's sliding_window_pattern, else Gemma 2's alternation. */
function slidingLayers(c: HfJson, modelType: string, numLayers: number, file: string): boolean[] {
  const types = c.layer_types;
  if (Array.isArray(types)) {
    if (types.length !== numLayers) {
      throw configError(
        file,
        "layer_types",
        `layer_types has ${types.length} entries for ${numLayers} layers`,
      );
    }
    return types.map((t, i) => {
      if (t === "sliding_attention") return true;
      if (t === "full_attention") return false;
      throw configError(
        file,
        `layer_types[${i}]`,
        `unknown layer type ${JSON.stringify(t)} (expected "sliding_attention" or "full_attention")`,
      );
    });
  }
  if (modelType === "gemma2") return Array.from({ length: numLayers }, (_, i) => i % 2 === 0);
  const pattern = intField(c, file, "sliding_window_pattern", 6);
  return Array.from({ length: numLayers }, (_, i) => (i + 1) % pattern !== 0);
}

export function parseGemmaConfig(json: HfJson, modelType: string, file: string): ModelConfig {
  // A gemma3 (vision + text) checkpoint: its language model is a gemma3_text model.
  let c = json;
  let type = modelType;
  if (modelType === "gemma3") {
    const text = json.text_config;
    if (!text || typeof text !== "object" || Array.isArray(text))
      throw configError(file, "text_config", "a gemma3 config.json needs a text_config object");
    c = { ...(text as HfJson) };
    type = "gemma3_text";
    c.tie_word_embeddings ??= json.tie_word_embeddings;
    for (const k of ["bos_token_id", "eos_token_id", "pad_token_id"]) c[k] ??= json[k];
  }
  const hiddenSize = intField(c, file, "hidden_size");
  const numHeads = intField(c, file, "num_attention_heads");
  const numKvHeads = intField(c, file, "num_key_value_heads", numHeads);
  const numLayers = intField(c, file, "num_hidden_layers");
  const headDim = intField(c, file, "head_dim", 256);
  const isGemma3 = type === "gemma3_text";
  // Newer configs nest the RoPE settings per layer type in rope_parameters.
  const rp = ropeParameters(c);
  const fullRp = rp && typeof rp.full_attention === "object" ? (rp.full_attention as HfJson) : null;
  const slidingRp = rp && typeof rp.sliding_attention === "object" ? (rp.sliding_attention as HfJson) : null;
  const ropeTheta = fullRp
    ? numField(fullRp, file, "rope_theta", 1e6)
    : numField(c, file, "rope_theta", isGemma3 ? 1e6 : 10000);
  const config: ModelConfig = {
    architecture: "gemma",
    modelType: type,
    vocabSize: intField(c, file, "vocab_size", 262208),
    hiddenSize,
    intermediateSize: intField(c, file, "intermediate_size"),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    maxPositionEmbeddings: intField(c, file, "max_position_embeddings", 32768),
    normEps: numField(c, file, "rms_norm_eps", 1e-6),
    ropeTheta,
    ropeScaling: fullRp ? ropeScaling({ rope_scaling: fullRp }, file) : ropeScaling(c, file),
    tieWordEmbeddings: boolField(c, "tie_word_embeddings", true),
    attentionBias: boolField(c, "attention_bias", false),
    attentionOutBias: boolField(c, "attention_bias", false),
    mlpBias: false,
    qkNorm: isGemma3,
    hiddenAct: hiddenAct(
      c,
      file,
      c.hidden_activation === undefined ? "hidden_act" : "hidden_activation",
      "gelu_new",
    ),
    slidingWindow: optionalNumber(c, file, "sliding_window"),
    slidingLayers: slidingLayers(c, type, numLayers, file),
    queryPreAttnScalar: numField(c, file, "query_pre_attn_scalar", headDim),
    attnLogitSoftcap: optionalNumber(c, file, "attn_logit_softcapping"),
    finalLogitSoftcap: optionalNumber(c, file, "final_logit_softcapping"),
    ...specialTokenIds(c),
  };
  if (isGemma3) {
    config.ropeLocalTheta = slidingRp
      ? numField(slidingRp, file, "rope_theta", 10000)
      : numField(c, file, "rope_local_base_freq", 10000);
  }
  return config;
}

export function gemmaConfigFields(config: ModelConfig): HfJson {
  const sliding = config.slidingLayers ?? [];
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
    ...(config.ropeLocalTheta === undefined ? {} : { rope_local_base_freq: config.ropeLocalTheta }),
    attention_bias: config.attentionBias,
    hidden_activation: config.hiddenAct === "gelu_new" ? "gelu_pytorch_tanh" : config.hiddenAct,
    query_pre_attn_scalar: config.queryPreAttnScalar ?? config.headDim,
    sliding_window: config.slidingWindow ?? null,
    layer_types: sliding.map((s) => (s ? "sliding_attention" : "full_attention")),
    attn_logit_softcapping: config.attnLogitSoftcap ?? null,
    final_logit_softcapping: config.finalLogitSoftcap ?? null,
  };
}

export function gemmaTensorShapes(config: ModelConfig): Map<string, number[]> {
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
      m.set(`${p}.self_attn.o_proj.bias`, [C]);
    }
    if (config.qkNorm) {
      m.set(`${p}.self_attn.q_norm.weight`, [config.headDim]);
      m.set(`${p}.self_attn.k_norm.weight`, [config.headDim]);
    }
    m.set(`${p}.post_attention_layernorm.weight`, [C]);
    m.set(`${p}.pre_feedforward_layernorm.weight`, [C]);
    m.set(`${p}.post_feedforward_layernorm.weight`, [C]);
    m.set(`${p}.mlp.gate_proj.weight`, [I, C]);
    m.set(`${p}.mlp.up_proj.weight`, [I, C]);
    m.set(`${p}.mlp.down_proj.weight`, [C, I]);
  }
  m.set("model.norm.weight", [C]);
  if (!config.tieWordEmbeddings) m.set("lm_head.weight", [V, C]);
  return m;
}

/** gemma3 (vision + text) checkpoints hold the language model under another prefix. */
export function gemmaTensorNameAliases(name: string): readonly string[] {
  if (name.startsWith("model.")) {
    const rest = name.slice("model.".length);
    return [`language_model.model.${rest}`, `model.language_model.${rest}`];
  }
  if (name === "lm_head.weight") return ["language_model.lm_head.weight"];
  return [];
}
