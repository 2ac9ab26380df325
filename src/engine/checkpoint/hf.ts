/**
 * Hugging Face checkpoints: `config.json` ⇄ ModelConfig, model directories (config.json +
 * model.safetensors or a sharded index) and GGUF files as one `loadCheckpoint`, and
 * `saveHfModel` / `saveGgufModel` to write them back.
 *
 * In memory every checkpoint uses Hugging Face tensor names and layouts. GGUF's llama
 * tensors are renamed, and the Q/K row permutation llama.cpp applies for its interleaved
 * RoPE is undone so q_proj/k_proj are in HF's "rotate half" layout (the GGUF writer
 * re-applies it).
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { SftError } from "../../errors.js";
import type { ModelConfig, RopeScaling } from "../config.js";
import { numel, type StoredTensor, type Tensor, type TensorMap } from "../tensor.js";
import { writeAtomically } from "./file-io.js";
import {
  type GgufTokenizerInfo,
  type GgufTypedValue,
  type GgufValue,
  type GgufWriteTensor,
  type GgufWriteType,
  ggufTokenizerInfo,
  readGguf,
  writeGguf,
} from "./gguf.js";
import { hfTokenizerFromGguf } from "./hf-tokenizer.js";
import {
  readSafetensorsFile,
  SAFETENSORS_INDEX_NAME,
  type SafetensorsWriteDType,
  writeShardedSafetensors,
} from "./safetensors.js";

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

function configError(file: string, field: string | undefined, message: string, hint?: string): SftError {
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

function ropeScaling(json: Json, file: string): RopeScaling | null {
  const r = json.rope_scaling;
  if (r === undefined || r === null) return null;
  if (typeof r !== "object")
    throw configError(file, "rope_scaling", "rope_scaling must be an object or null");
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
    ropeTheta: numField(c, file, "rope_theta", 10000),
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
function normalizeGpt2Names(tensors: Map<string, StoredTensor>): Map<string, StoredTensor> {
  if (tensors.has("transformer.wte.weight") || !tensors.has("wte.weight")) return tensors;
  const out = new Map<string, StoredTensor>();
  for (const [name, t] of tensors) out.set(name === "lm_head.weight" ? name : `transformer.${name}`, t);
  return out;
}

// ---------------------------------------------------------------------------------------
// GGUF ⇄ HF naming and layout

const GGUF_LAYER_NAMES: [gguf: string, hf: string][] = [
  ["attn_norm.weight", "input_layernorm.weight"],
  ["attn_q.weight", "self_attn.q_proj.weight"],
  ["attn_k.weight", "self_attn.k_proj.weight"],
  ["attn_v.weight", "self_attn.v_proj.weight"],
  ["attn_output.weight", "self_attn.o_proj.weight"],
  ["attn_q.bias", "self_attn.q_proj.bias"],
  ["attn_k.bias", "self_attn.k_proj.bias"],
  ["attn_v.bias", "self_attn.v_proj.bias"],
  ["attn_output.bias", "self_attn.o_proj.bias"],
  ["attn_q_norm.weight", "self_attn.q_norm.weight"],
  ["attn_k_norm.weight", "self_attn.k_norm.weight"],
  ["ffn_norm.weight", "post_attention_layernorm.weight"],
  ["ffn_gate.weight", "mlp.gate_proj.weight"],
  ["ffn_up.weight", "mlp.up_proj.weight"],
  ["ffn_down.weight", "mlp.down_proj.weight"],
  ["ffn_gate.bias", "mlp.gate_proj.bias"],
  ["ffn_up.bias", "mlp.up_proj.bias"],
  ["ffn_down.bias", "mlp.down_proj.bias"],
];
const GGUF_GLOBAL_NAMES: [gguf: string, hf: string][] = [
  ["token_embd.weight", "model.embed_tokens.weight"],
  ["output_norm.weight", "model.norm.weight"],
  ["output.weight", "lm_head.weight"],
];
const GGUF_TO_HF_LAYER = new Map(GGUF_LAYER_NAMES);
const HF_TO_GGUF_LAYER = new Map(GGUF_LAYER_NAMES.map(([g, h]) => [h, g]));
const GGUF_TO_HF_GLOBAL = new Map(GGUF_GLOBAL_NAMES);
const HF_TO_GGUF_GLOBAL = new Map(GGUF_GLOBAL_NAMES.map(([g, h]) => [h, g]));

/** llama.cpp tensor name → HF name, or null for tensors with no HF counterpart (e.g. rope_freqs). */
export function ggufToHfName(name: string): string | null {
  const g = GGUF_TO_HF_GLOBAL.get(name);
  if (g) return g;
  const m = /^blk\.(\d+)\.(.+)$/.exec(name);
  if (!m) return null;
  const rest = GGUF_TO_HF_LAYER.get(m[2]);
  return rest ? `model.layers.${m[1]}.${rest}` : null;
}

export function hfToGgufName(name: string): string | null {
  const g = HF_TO_GGUF_GLOBAL.get(name);
  if (g) return g;
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
  if (!m) return null;
  const rest = HF_TO_GGUF_LAYER.get(m[2]);
  return rest ? `blk.${m[1]}.${rest}` : null;
}

/**
 * llama.cpp stores Q and K for its interleaved RoPE: inside each head, row 2i+j holds HF
 * row j·(d/2)+i (j = 0, 1). `toGguf` applies that permutation; otherwise it is undone.
 * Works on weights [heads·d, in] and biases [heads·d].
 */
export function permuteRopeRows(t: Tensor, numHeads: number, toGguf: boolean): Tensor {
  const rows = t.shape[0];
  const cols = t.shape.length > 1 ? numel(t.shape) / rows : 1;
  const d = rows / numHeads;
  if (!Number.isInteger(d) || d % 2 !== 0) {
    throw new Error(`cannot permute ${rows} rows into ${numHeads} heads of even size`);
  }
  const half = d / 2;
  const out = new Float32Array(t.data.length);
  for (let h = 0; h < numHeads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const ggufRow = h * d + 2 * i + j;
        const hfRow = h * d + j * half + i;
        const [from, to] = toGguf ? [hfRow, ggufRow] : [ggufRow, hfRow];
        out.set(t.data.subarray(from * cols, from * cols + cols), to * cols);
      }
    }
  }
  return { shape: t.shape, data: out };
}

/** GGUF architectures loadable here; only `llama` uses the permuted (interleaved-RoPE) Q/K layout. */
const GGUF_ARCHES: Record<string, { modelType: string; permutesQk: boolean }> = {
  llama: { modelType: "llama", permutesQk: true },
  qwen2: { modelType: "qwen2", permutesQk: false },
  qwen3: { modelType: "qwen3", permutesQk: false },
};

function ggufConfig(
  metadata: Record<string, GgufValue>,
  tensors: Map<string, StoredTensor>,
  file: string,
): { config: ModelConfig; permutesQk: boolean } {
  const arch = metadata["general.architecture"];
  const spec = typeof arch === "string" ? GGUF_ARCHES[arch] : undefined;
  if (!spec) {
    throw configError(
      file,
      "general.architecture",
      `unsupported GGUF architecture ${JSON.stringify(arch)}`,
      `supported GGUF architectures: ${Object.keys(GGUF_ARCHES).join(", ")}`,
    );
  }
  const key = (k: string) => `${arch}.${k}`;
  const num = (k: string, fallback?: number): number => {
    const v = metadata[key(k)];
    if (typeof v === "number") return v;
    if (fallback !== undefined) return fallback;
    throw configError(
      file,
      key(k),
      `missing GGUF metadata "${key(k)}"`,
      "the file was not written by a llama.cpp converter",
    );
  };
  const hiddenSize = num("embedding_length");
  const numHeads = num("attention.head_count");
  const embd = tensors.get("token_embd.weight");
  const tokens = metadata["tokenizer.ggml.tokens"];
  const vocabSize = num(
    "vocab_size",
    embd ? embd.shape[0] : Array.isArray(tokens) ? tokens.length : undefined,
  );
  const scalingType = metadata[key("rope.scaling.type")];
  const scalingFactor = metadata[key("rope.scaling.factor")];
  const scalingOriginal = metadata[key("rope.scaling.original_context_length")];
  const tok = ggufTokenizerInfo(metadata);
  const qNorm = tensors.has("blk.0.attn_q_norm.weight");
  const qBias = tensors.has("blk.0.attn_q.bias");
  const oBias = tensors.has("blk.0.attn_output.bias");
  const config: ModelConfig = {
    architecture: "llama",
    modelType: spec.modelType,
    vocabSize,
    hiddenSize,
    intermediateSize: num("feed_forward_length"),
    numLayers: num("block_count"),
    numHeads,
    numKvHeads: num("attention.head_count_kv", numHeads),
    headDim: num("attention.key_length", hiddenSize / numHeads),
    maxPositionEmbeddings: num("context_length", 2048),
    normEps: num("attention.layer_norm_rms_epsilon", 1e-6),
    ropeTheta: num("rope.freq_base", 10000),
    ropeScaling:
      typeof scalingType === "string" && scalingType !== "none" && typeof scalingFactor === "number"
        ? {
            type: scalingType,
            factor: scalingFactor,
            ...(typeof scalingOriginal === "number"
              ? { originalMaxPositionEmbeddings: scalingOriginal }
              : {}),
          }
        : null,
    tieWordEmbeddings: !tensors.has("output.weight"),
    attentionBias: qBias,
    attentionOutBias: oBias,
    mlpBias: tensors.has("blk.0.ffn_up.bias"),
    qkNorm: qNorm,
    hiddenAct: "silu",
    bosTokenId: tok?.bosTokenId ?? null,
    eosTokenId: tok?.eosTokenId ?? null,
    padTokenId:
      tok?.padTokenId !== undefined && tok.padTokenId !== null && tok.padTokenId < vocabSize
        ? tok.padTokenId
        : null,
  };
  return { config, permutesQk: spec.permutesQk };
}

/**
 * Llama 3.x GGUFs carry their RoPE scaling as per-frequency divisors (`rope_freqs.weight`)
 * instead of HF's `rope_scaling` parameters. This finds the HF "llama3" parameters that
 * produce exactly those divisors (HF's formula, the usual low/high frequency factors and
 * context lengths), and fails loudly rather than running with the wrong frequencies.
 */
export function llama3ScalingFromRopeFreqs(
  factors: Float32Array,
  config: ModelConfig,
  file: string,
): RopeScaling {
  const factor = Math.max(...factors);
  const bands: [number, number][] = [
    [1, 4],
    [1, 2],
    [2, 4],
  ];
  // Original context lengths are powers of two in every released model (8192 for Llama 3.x).
  for (let original = 16; original <= 2 ** 22; original *= 2) {
    for (const [low, high] of bands) {
      const scaling: RopeScaling = {
        type: "llama3",
        factor,
        lowFreqFactor: low,
        highFreqFactor: high,
        originalMaxPositionEmbeddings: original,
      };
      const want = llama3RopeDivisors(scaling, config.ropeTheta, config.headDim);
      if (want.length === factors.length && want.every((w, i) => Math.abs(factors[i] - w) <= 1e-4 * w))
        return scaling;
    }
  }
  throw new SftError("rope_freqs.weight does not match Llama 3 RoPE scaling with any usual parameters", {
    where: { file, field: "rope_freqs.weight" },
    hint: "convert the original Hugging Face model directory instead of this GGUF",
    code: "E_CHECKPOINT",
  });
}

/** The per-frequency divisors llama.cpp stores as `rope_freqs.weight` for HF "llama3" RoPE scaling. */
export function llama3RopeDivisors(scaling: RopeScaling, theta: number, headDim: number): Float32Array {
  const low = scaling.lowFreqFactor ?? 1;
  const high = scaling.highFreqFactor ?? 4;
  const original = scaling.originalMaxPositionEmbeddings ?? 8192;
  const out = new Float32Array(headDim / 2);
  for (let i = 0; i < headDim / 2; i++) {
    const wavelen = 2 * Math.PI * theta ** ((2 * i) / headDim);
    if (wavelen < original / high) out[i] = 1;
    else if (wavelen > original / low) out[i] = scaling.factor;
    else {
      const smooth = (original / wavelen - low) / (high - low);
      out[i] = 1 / ((1 - smooth) / scaling.factor + smooth);
    }
  }
  return out;
}

/** GGUF tensors (llama.cpp names and Q/K layout) → HF names and layout. */
function ggufTensorsToHf(
  tensors: Map<string, StoredTensor>,
  config: ModelConfig,
  permutesQk: boolean,
): Map<string, StoredTensor> {
  const out = new Map<string, StoredTensor>();
  for (const [gName, t] of tensors) {
    const name = ggufToHfName(gName);
    if (!name) continue;
    let value: StoredTensor = t;
    if (permutesQk && /\.self_attn\.(q|k)_proj\./.test(name)) {
      const heads = name.includes(".q_proj.") ? config.numHeads : config.numKvHeads;
      // A tensor of the wrong shape is reported by validation, not by the permutation.
      if (t.shape[0] === heads * config.headDim)
        value = { ...permuteRopeRows(t, heads, false), dtype: t.dtype };
    }
    out.set(name, value);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// loadCheckpoint

export interface CheckpointSource {
  kind: "hf-dir" | "gguf" | "config";
  /** The path given. */
  path: string;
  /** The files read. */
  files: string[];
}

export interface LoadedCheckpoint {
  config: ModelConfig;
  /** HF names and layouts; empty when only a config.json was given (initialise randomly). */
  tensors: TensorMap;
  /** The tokenizer embedded in a GGUF file. */
  tokenizer?: GgufTokenizerInfo;
  source: CheckpointSource;
}

/**
 * Loads a model from an HF model directory (config.json + model.safetensors or
 * model.safetensors.index.json), a `.gguf` file, or a bare `config.json` (no tensors).
 */
export function loadCheckpoint(path: string): LoadedCheckpoint {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    throw new SftError("model path not found", {
      where: { file: path },
      hint: "pass a Hugging Face model directory, a .gguf file or a config.json",
      code: "E_CHECKPOINT",
    });
  }
  if (st.isDirectory()) return loadHfDir(path);
  if (path.endsWith(".gguf")) return loadGgufCheckpoint(path);
  if (basename(path).endsWith(".json")) {
    return {
      config: readHfConfig(path),
      tensors: new Map(),
      source: { kind: "config", path, files: [path] },
    };
  }
  throw new SftError("unrecognised model file", {
    where: { file: path },
    hint: "pass a Hugging Face model directory, a .gguf file or a config.json",
    code: "E_CHECKPOINT",
  });
}

function loadHfDir(dir: string): LoadedCheckpoint {
  const configPath = join(dir, "config.json");
  if (!existsSync(configPath)) {
    const ggufs = readdirSync(dir).filter((f) => f.endsWith(".gguf"));
    if (ggufs.length === 1) return loadGgufCheckpoint(join(dir, ggufs[0]));
    throw new SftError("no config.json in the model directory", {
      where: { file: dir },
      hint: "a Hugging Face model directory holds config.json and model.safetensors",
      code: "E_CHECKPOINT",
    });
  }
  const config = readHfConfig(configPath);
  const single = join(dir, "model.safetensors");
  const index = join(dir, SAFETENSORS_INDEX_NAME);
  let weightsPath: string;
  if (existsSync(single)) weightsPath = single;
  else if (existsSync(index)) weightsPath = index;
  else {
    const hasBin =
      existsSync(join(dir, "pytorch_model.bin")) || existsSync(join(dir, "pytorch_model.bin.index.json"));
    throw new SftError("no model.safetensors or model.safetensors.index.json in the model directory", {
      where: { file: dir },
      hint: hasBin
        ? "PyTorch .bin checkpoints are not read; convert with transformers: model.save_pretrained(dir, safe_serialization=True)"
        : "download the weights, or pass the config.json alone to start from random weights",
      code: "E_CHECKPOINT",
    });
  }
  let { tensors } = readSafetensorsFile(weightsPath);
  if (config.architecture === "gpt2") tensors = normalizeGpt2Names(tensors);
  return {
    config,
    tensors: validateTensors(config, tensors, weightsPath),
    source: { kind: "hf-dir", path: dir, files: [configPath, weightsPath] },
  };
}

function loadGgufCheckpoint(path: string): LoadedCheckpoint {
  const g = readGguf(path);
  const { config, permutesQk } = ggufConfig(g.metadata, g.tensors, path);
  const ropeFreqs = g.tensors.get("rope_freqs.weight");
  if (ropeFreqs) config.ropeScaling = llama3ScalingFromRopeFreqs(ropeFreqs.data, config, path);
  const hfTensors = ggufTensorsToHf(g.tensors, config, permutesQk);
  const tokenizer = ggufTokenizerInfo(g.metadata) ?? undefined;
  return {
    config,
    tensors: validateTensors(config, hfTensors, path),
    ...(tokenizer ? { tokenizer } : {}),
    source: { kind: "gguf", path, files: [path] },
  };
}

// ---------------------------------------------------------------------------------------
// Saving

export interface SaveHfOptions {
  dtype?: SafetensorsWriteDType;
  /** Shard above this many bytes of tensor data (default 5 GB, as transformers). */
  maxShardBytes?: number;
}

const TORCH_DTYPE = { F32: "float32", F16: "float16", BF16: "bfloat16" } as const;

/**
 * Writes `dir/config.json` and `dir/model.safetensors` (or shards + index), each atomically.
 * Tensors are validated against the config first, so a bad save fails before touching disk.
 */
export function saveHfModel(
  dir: string,
  config: ModelConfig,
  tensors: TensorMap,
  opts: SaveHfOptions = {},
): string[] {
  const dtype = opts.dtype ?? "F32";
  const valid = validateTensors(config, tensors, dir);
  const files = writeShardedSafetensors(dir, valid, {
    dtype,
    maxShardBytes: opts.maxShardBytes ?? 5e9,
    metadata: { format: "pt" },
  });
  // A previous save into this directory may have used another shard count: its leftovers
  // would shadow or contradict the new weights, so remove them.
  for (const name of readdirSync(dir)) {
    if (
      /^model(-\d{5}-of-\d{5})?\.safetensors(\.index\.json)?$/.test(name) &&
      !files.includes(join(dir, name))
    ) {
      rmSync(join(dir, name), { force: true });
    }
  }
  const configPath = join(dir, "config.json");
  const json = toHfConfig(config, TORCH_DTYPE[dtype]);
  writeAtomically(configPath, (w) => w.write(Buffer.from(`${JSON.stringify(json, null, 2)}\n`, "utf8")));
  return [configPath, ...files];
}

export interface SaveGgufOptions {
  /** Type for 2-D weights; 1-D tensors are always F32, and Q8_0 falls back to F16 for rows not a multiple of 32. */
  type?: GgufWriteType;
  tokenizer?: GgufTokenizerInfo;
  name?: string;
}

/** Writes a llama-architecture GGUF (llama.cpp names, permuted Q/K, `llama.*` metadata, embedded tokenizer). */
export function saveGgufModel(
  path: string,
  config: ModelConfig,
  tensors: TensorMap,
  opts: SaveGgufOptions = {},
): void {
  if (
    config.architecture !== "llama" ||
    config.modelType === "qwen2" ||
    config.modelType === "qwen3" ||
    config.qkNorm
  ) {
    throw new SftError(
      `GGUF export supports the llama architecture (llama, mistral, SmolLM); got ${config.modelType}`,
      {
        where: { file: path },
        hint: "save as a Hugging Face directory instead and convert it with llama.cpp",
        code: "E_CHECKPOINT",
      },
    );
  }
  const valid = validateTensors(config, tensors, path);
  const type = opts.type ?? "F16";
  const out: GgufWriteTensor[] = [];
  for (const [name, t] of valid) {
    const gName = hfToGgufName(name);
    if (!gName) throw new Error(`no GGUF name for ${name}`);
    let value = t;
    if (/\.self_attn\.(q|k)_proj\./.test(name)) {
      value = permuteRopeRows(t, name.includes(".q_proj.") ? config.numHeads : config.numKvHeads, true);
    }
    let tType: GgufWriteType = t.shape.length === 1 ? "F32" : type;
    if (tType === "Q8_0" && t.shape[t.shape.length - 1] % 32 !== 0) tType = "F16";
    out.push({ name: gName, tensor: value, type: tType });
  }
  const u32 = (value: number): GgufTypedValue => ({ type: "u32", value });
  const f32 = (value: number): GgufTypedValue => ({ type: "f32", value });
  const metadata: Record<string, GgufValue | GgufTypedValue> = {
    "general.architecture": "llama",
    "general.name": opts.name ?? basename(path).replace(/\.gguf$/, ""),
    "llama.vocab_size": u32(config.vocabSize),
    "llama.context_length": u32(config.maxPositionEmbeddings),
    "llama.embedding_length": u32(config.hiddenSize),
    "llama.feed_forward_length": u32(config.intermediateSize),
    "llama.block_count": u32(config.numLayers),
    "llama.attention.head_count": u32(config.numHeads),
    "llama.attention.head_count_kv": u32(config.numKvHeads),
    "llama.attention.key_length": u32(config.headDim),
    "llama.attention.value_length": u32(config.headDim),
    "llama.rope.dimension_count": u32(config.headDim),
    "llama.rope.freq_base": f32(config.ropeTheta),
    "llama.attention.layer_norm_rms_epsilon": f32(config.normEps),
  };
  const scaling = config.ropeScaling;
  if (scaling?.type === "llama3") {
    // llama.cpp has no "llama3" scaling type: it reads per-frequency divisors instead.
    const divisors = llama3RopeDivisors(scaling, config.ropeTheta, config.headDim);
    out.push({
      name: "rope_freqs.weight",
      tensor: { shape: [divisors.length], data: divisors },
      type: "F32",
    });
  } else if (scaling) {
    metadata["llama.rope.scaling.type"] = scaling.type;
    metadata["llama.rope.scaling.factor"] = f32(scaling.factor);
    if (scaling.originalMaxPositionEmbeddings !== undefined) {
      metadata["llama.rope.scaling.original_context_length"] = u32(scaling.originalMaxPositionEmbeddings);
    }
  }
  const tok = opts.tokenizer;
  if (tok) {
    metadata["tokenizer.ggml.model"] = tok.model;
    metadata["tokenizer.ggml.tokens"] = { type: "array", itemType: "string", value: tok.tokens };
    if (tok.scores) metadata["tokenizer.ggml.scores"] = { type: "array", itemType: "f32", value: tok.scores };
    if (tok.tokenTypes)
      metadata["tokenizer.ggml.token_type"] = { type: "array", itemType: "i32", value: tok.tokenTypes };
    if (tok.merges)
      metadata["tokenizer.ggml.merges"] = { type: "array", itemType: "string", value: tok.merges };
    const ids: [string, number | null][] = [
      ["tokenizer.ggml.bos_token_id", tok.bosTokenId],
      ["tokenizer.ggml.eos_token_id", tok.eosTokenId],
      ["tokenizer.ggml.unknown_token_id", tok.unkTokenId],
      ["tokenizer.ggml.padding_token_id", tok.padTokenId],
    ];
    for (const [k, v] of ids) if (v !== null) metadata[k] = u32(v);
    if (tok.addBosToken !== null) metadata["tokenizer.ggml.add_bos_token"] = tok.addBosToken;
    if (tok.addEosToken !== null) metadata["tokenizer.ggml.add_eos_token"] = tok.addEosToken;
    if (tok.chatTemplate !== null) metadata["tokenizer.chat_template"] = tok.chatTemplate;
  }
  writeGguf(path, { metadata, tensors: out });
}

/**
 * Converts any loadable checkpoint (GGUF file, HF directory) into an HF model directory:
 * config.json + model.safetensors, and for a GGUF with a SentencePiece vocabulary also
 * tokenizer.json + tokenizer_config.json built from it. Returns the files written.
 */
export function convertToHfDir(source: string, outDir: string, opts: SaveHfOptions = {}): string[] {
  const ck = loadCheckpoint(source);
  if (ck.tensors.size === 0) {
    throw new SftError("nothing to convert: a bare config.json holds no weights", {
      where: { file: source },
      code: "E_CHECKPOINT",
    });
  }
  const files = saveHfModel(outDir, ck.config, ck.tensors, opts);
  if (ck.tokenizer && ck.tokenizer.model === "llama") {
    const { tokenizer, tokenizerConfig } = hfTokenizerFromGguf(ck.tokenizer, {
      modelMaxLength: ck.config.maxPositionEmbeddings,
    });
    for (const [name, json] of [
      ["tokenizer.json", tokenizer],
      ["tokenizer_config.json", tokenizerConfig],
    ] as const) {
      const p = join(outDir, name);
      writeAtomically(p, (w) => w.write(Buffer.from(`${JSON.stringify(json, null, 2)}\n`, "utf8")));
      files.push(p);
    }
  }
  return files;
}
