/**
 * Hugging Face `config.json` ⇄ the engine's ModelConfig, and the tensors (names, shapes) a
 * model of a given config must have, with the validation every loader runs.
 */
import { readFileSync } from "node:fs";
import { SftError } from "../../errors.js";
import type { ModelConfig, RopeScaling } from "../config.js";
import type { StoredTensor, Tensor, TensorMap } from "../tensor.js";

// ---------------------------------------------------------------------------------------
// config.json

interface FamilySpec {
  architecture: ModelConfig["architecture"];
  hfClass: string;
}

/** HF `model_type` values this engine runs, and the `architectures` class each implies. */
const FAMILIES: Record<string, FamilySpec> = {
  llama: { architecture: "llama", hfClass: "LlamaForCausalLM" },
  mistral: { architecture: "llama", hfClass: "MistralForCausalLM" },
  qwen2: { architecture: "llama", hfClass: "Qwen2ForCausalLM" },
  qwen3: { architecture: "llama", hfClass: "Qwen3ForCausalLM" },
  gpt2: { architecture: "gpt2", hfClass: "GPT2LMHeadModel" },
};
export const SUPPORTED_MODEL_TYPES = Object.keys(FAMILIES);
const SUPPORTED_CLASSES = Object.values(FAMILIES).map((f) => f.hfClass);

type Json = Record<string, unknown>;

export function configError(
  file: string,
  field: string | undefined,
  message: string,
  hint?: string,
): SftError {
  return new SftError(message, {
    where: field === undefined ? { file } : { file, field },
    hint,
    code: "E_CONFIG",
  });
}

function intField(json: Json, file: string, key: string, fallback?: number): number {
  const v = json[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw configError(
      file,
      key,
      `missing required field "${key}"`,
      "every Hugging Face config.json of this model type has it",
    );
  }
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
    throw configError(file, key, `"${key}" must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

function numField(json: Json, file: string, key: string, fallback: number): number {
  const v = json[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw configError(file, key, `"${key}" must be a number, got ${JSON.stringify(v)}`);
  }
  return v;
}

function boolField(json: Json, key: string, fallback: boolean): boolean {
  const v = json[key];
  return typeof v === "boolean" ? v : fallback;
}

function tokenId(v: unknown): number | null {
  return typeof v === "number" && Number.isInteger(v) ? v : null;
}

function eosIds(v: unknown): number | number[] | null {
  if (Array.isArray(v)) return v.filter((x): x is number => Number.isInteger(x));
  return tokenId(v);
}

/** Newer transformers write `rope_parameters: { rope_theta, rope_type, factor, … }` instead of rope_theta/rope_scaling. */
function ropeParameters(json: Json): Json | null {
  const p = json.rope_parameters;
  return p && typeof p === "object" && !Array.isArray(p) ? (p as Json) : null;
}

function ropeScaling(json: Json, file: string): RopeScaling | null {
  const field = json.rope_scaling == null && ropeParameters(json) ? "rope_parameters" : "rope_scaling";
  const r = json[field];
  if (r === undefined || r === null) return null;
  if (typeof r !== "object") throw configError(file, field, `${field} must be an object or null`);
  const o = r as Json;
  const type = String(o.rope_type ?? o.type ?? "");
  if (type === "default" || type === "") return null;
  const factor = typeof o.factor === "number" ? o.factor : 1;
  const out: RopeScaling = { type, factor };
  if (typeof o.low_freq_factor === "number") out.lowFreqFactor = o.low_freq_factor;
  if (typeof o.high_freq_factor === "number") out.highFreqFactor = o.high_freq_factor;
  if (typeof o.original_max_position_embeddings === "number") {
    out.originalMaxPositionEmbeddings = o.original_max_position_embeddings;
  }
  return out;
}

/**
 * Converts a parsed HF `config.json` into the engine's ModelConfig. `file` is used in error
 * messages. Unsupported model types / architectures fail naming the supported ones.
 */
export function parseHfConfig(json: unknown, file: string): ModelConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw configError(file, undefined, "config.json must hold a JSON object");
  }
  const c = json as Json;
  const modelType = c.model_type;
  const supported = `supported model_type values: ${SUPPORTED_MODEL_TYPES.join(", ")} (SmolLM uses llama)`;
  if (typeof modelType !== "string") {
    throw configError(file, "model_type", 'missing "model_type"', supported);
  }
  const family = FAMILIES[modelType];
  if (!family) {
    throw configError(file, "model_type", `unsupported model_type "${modelType}"`, supported);
  }
  if (Array.isArray(c.architectures)) {
    const bad = c.architectures.find((a) => typeof a !== "string" || !SUPPORTED_CLASSES.includes(a));
    if (bad !== undefined) {
      throw configError(
        file,
        "architectures",
        `unsupported architecture "${String(bad)}"`,
        `supported architectures: ${SUPPORTED_CLASSES.join(", ")}`,
      );
    }
  }
  if (family.architecture === "gpt2") return parseGpt2Config(c, file);

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
    bosTokenId: tokenId(c.bos_token_id),
    eosTokenId: eosIds(c.eos_token_id),
    padTokenId: tokenId(c.pad_token_id),
  };
}

function hiddenAct(
  c: Json,
  file: string,
  key: string,
  fallback: ModelConfig["hiddenAct"],
): ModelConfig["hiddenAct"] {
  const v = c[key] ?? fallback;
  if (v === "silu" || v === "swish") return "silu";
  if (v === "gelu_new" || v === "gelu_pytorch_tanh") return "gelu_new";
  if (v === "gelu") return "gelu";
  throw configError(
    file,
    key,
    `unsupported activation ${JSON.stringify(v)} (supported: silu, gelu_new, gelu)`,
  );
}

function parseGpt2Config(c: Json, file: string): ModelConfig {
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
    bosTokenId: tokenId(c.bos_token_id),
    eosTokenId: eosIds(c.eos_token_id),
    padTokenId: tokenId(c.pad_token_id),
  };
}

/** ModelConfig → HF `config.json` object (what `transformers` writes for this model type). */
export function toHfConfig(
  config: ModelConfig,
  torchDtype: "float32" | "float16" | "bfloat16" = "float32",
): Json {
  const family = FAMILIES[config.modelType] ?? FAMILIES[config.architecture];
  const common = {
    architectures: [family.hfClass],
    model_type: FAMILIES[config.modelType] ? config.modelType : config.architecture,
    vocab_size: config.vocabSize,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenId,
    ...(config.padTokenId === null ? {} : { pad_token_id: config.padTokenId }),
    tie_word_embeddings: config.tieWordEmbeddings,
    torch_dtype: torchDtype,
  };
  if (config.architecture === "gpt2") {
    return {
      ...common,
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
  const scaling = config.ropeScaling;
  return {
    ...common,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    num_key_value_heads: config.numKvHeads,
    head_dim: config.headDim,
    max_position_embeddings: config.maxPositionEmbeddings,
    rms_norm_eps: config.normEps,
    rope_theta: config.ropeTheta,
    rope_scaling: scaling
      ? {
          rope_type: scaling.type,
          factor: scaling.factor,
          ...(scaling.lowFreqFactor === undefined ? {} : { low_freq_factor: scaling.lowFreqFactor }),
          ...(scaling.highFreqFactor === undefined ? {} : { high_freq_factor: scaling.highFreqFactor }),
          ...(scaling.originalMaxPositionEmbeddings === undefined
            ? {}
            : { original_max_position_embeddings: scaling.originalMaxPositionEmbeddings }),
        }
      : null,
    attention_bias: config.modelType === "qwen2" ? undefined : config.attentionBias,
    mlp_bias: config.mlpBias,
    hidden_act: config.hiddenAct,
  };
}

/** Reads and parses a `config.json` file. */
export function readHfConfig(path: string): ModelConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw configError(path, undefined, "cannot read config.json", String((e as Error).message));
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw configError(path, undefined, `not valid JSON (${(e as Error).message})`);
  }
  return parseHfConfig(json, path);
}

// ---------------------------------------------------------------------------------------
// Expected tensors

/** Every weight a model of this config has, by HF name, with its shape. */
export function expectedTensorShapes(config: ModelConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const C = config.hiddenSize;
  const I = config.intermediateSize;
  const V = config.vocabSize;
  if (config.architecture === "gpt2") {
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

const FLOAT_DTYPES = new Set(["F32", "F16", "BF16", "F64", "Q8_0"]);

/**
 * Checks that every expected tensor is present with the right shape and a float dtype, and
 * returns exactly the expected tensors (extras such as rotary caches or attention-mask
 * buffers are dropped; a tied lm_head.weight is dropped too).
 */
export function validateTensors(
  config: ModelConfig,
  tensors: Map<string, Tensor | StoredTensor>,
  file: string,
): TensorMap {
  const out: TensorMap = new Map();
  const hint = "the checkpoint does not match its config.json; re-save it or fix the config";
  for (const [name, shape] of expectedTensorShapes(config)) {
    const t = tensors.get(name);
    if (!t) {
      throw new SftError(`missing tensor (expected shape [${shape.join(", ")}])`, {
        where: { file, field: name },
        hint,
        code: "E_CHECKPOINT",
      });
    }
    const dtype = (t as StoredTensor).dtype;
    if (dtype !== undefined && !FLOAT_DTYPES.has(dtype)) {
      throw new SftError(`unsupported dtype ${dtype} for a weight (supported: F32, F16, BF16, F64, Q8_0)`, {
        where: { file, field: name },
        hint: "store weights as floating point",
        code: "E_CHECKPOINT",
      });
    }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new SftError(`wrong shape [${t.shape.join(", ")}], expected [${shape.join(", ")}]`, {
        where: { file, field: name },
        hint,
        code: "E_CHECKPOINT",
      });
    }
    out.set(name, { shape: t.shape, data: t.data });
  }
  return out;
}

/** GPT-2 checkpoints saved from GPT2Model lack the `transformer.` prefix (`h.0.attn.c_attn.weight`, `wte.weight`). */
export function normalizeGpt2Names(tensors: Map<string, StoredTensor>): Map<string, StoredTensor> {
  if (tensors.has("transformer.wte.weight") || !tensors.has("wte.weight")) return tensors;
  const out = new Map<string, StoredTensor>();
  for (const [name, t] of tensors) out.set(name === "lm_head.weight" ? name : `transformer.${name}`, t);
  return out;
}
