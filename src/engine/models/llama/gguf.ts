/**
 * llama.cpp's GGUF conventions for the Llama family: tensor names, the Q/K row permutation
 * llama.cpp applies for its interleaved RoPE (`llama` files only), ModelConfig from
 * `<arch>.*` metadata (Llama 3 RoPE scaling from `rope_freqs.weight` included), and the
 * metadata of a written file. One mapping per GGUF architecture: llama, qwen2, qwen3, each
 * read and written.
 */
import { SftError } from "../../../errors.js";
import type { ModelConfig, RopeScaling } from "../../config.js";
import type { GgufTypedValue, GgufValue } from "../../gguf-format.js";
import { numel, type StoredTensor, type Tensor } from "../../tensor.js";
import type { GgufMapping } from "../family.js";
import { configError } from "../hf-json.js";

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

/** Heads of a Q or K projection tensor (HF name), or null for every other tensor. */
function ropeHeads(hfName: string, config: ModelConfig): number | null {
  if (!/\.self_attn\.(q|k)_proj\./.test(hfName)) return null;
  return hfName.includes(".q_proj.") ? config.numHeads : config.numKvHeads;
}

/**
 * Llama 3.x GGUFs carry their RoPE scaling as per-frequency divisors (`rope_freqs.weight`)
 * instead of HF's `rope_scaling` parameters. This finds the HF "llama3" parameters that
 * produce exactly those divisors (HF's formula, the usual low/high frequency factors and
 * context lengths), and fails loudly rather than running with the wrong frequencies.
 */
export function llama3ScalingFromRopeFreqs(
  factors: Float32Array,
  config: Pick<ModelConfig, "ropeTheta" | "headDim">,
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

function readConfig(
  arch: string,
  modelType: string,
  metadata: Record<string, GgufValue>,
  tensors: Map<string, StoredTensor>,
  file: string,
): Omit<ModelConfig, "bosTokenId" | "eosTokenId" | "padTokenId"> {
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
  const headDim = num("attention.key_length", hiddenSize / numHeads);
  const ropeTheta = num("rope.freq_base", 10000);
  const ropeScaling: RopeScaling | null =
    typeof scalingType === "string" && scalingType !== "none" && typeof scalingFactor === "number"
      ? {
          type: scalingType,
          factor: scalingFactor,
          ...(typeof scalingOriginal === "number" ? { originalMaxPositionEmbeddings: scalingOriginal } : {}),
        }
      : null;
  const config: Omit<ModelConfig, "bosTokenId" | "eosTokenId" | "padTokenId"> = {
    architecture: "llama",
    modelType,
    vocabSize,
    hiddenSize,
    intermediateSize: num("feed_forward_length"),
    numLayers: num("block_count"),
    numHeads,
    numKvHeads: num("attention.head_count_kv", numHeads),
    headDim,
    maxPositionEmbeddings: num("context_length", 2048),
    normEps: num("attention.layer_norm_rms_epsilon", 1e-6),
    ropeTheta,
    ropeScaling,
    tieWordEmbeddings: !tensors.has("output.weight"),
    attentionBias: tensors.has("blk.0.attn_q.bias"),
    attentionOutBias: tensors.has("blk.0.attn_output.bias"),
    mlpBias: tensors.has("blk.0.ffn_up.bias"),
    qkNorm: tensors.has("blk.0.attn_q_norm.weight"),
    hiddenAct: "silu",
  };
  const ropeFreqs = tensors.get("rope_freqs.weight");
  if (ropeFreqs) config.ropeScaling = llama3ScalingFromRopeFreqs(ropeFreqs.data, config, file);
  return config;
}

function writeMetadata(arch: string, config: ModelConfig): Record<string, GgufValue | GgufTypedValue> {
  const u32 = (value: number): GgufTypedValue => ({ type: "u32", value });
  const f32 = (value: number): GgufTypedValue => ({ type: "f32", value });
  const metadata: Record<string, GgufValue | GgufTypedValue> = {
    [`${arch}.vocab_size`]: u32(config.vocabSize),
    [`${arch}.context_length`]: u32(config.maxPositionEmbeddings),
    [`${arch}.embedding_length`]: u32(config.hiddenSize),
    [`${arch}.feed_forward_length`]: u32(config.intermediateSize),
    [`${arch}.block_count`]: u32(config.numLayers),
    [`${arch}.attention.head_count`]: u32(config.numHeads),
    [`${arch}.attention.head_count_kv`]: u32(config.numKvHeads),
    [`${arch}.attention.key_length`]: u32(config.headDim),
    [`${arch}.attention.value_length`]: u32(config.headDim),
    [`${arch}.rope.dimension_count`]: u32(config.headDim),
    [`${arch}.rope.freq_base`]: f32(config.ropeTheta),
    [`${arch}.attention.layer_norm_rms_epsilon`]: f32(config.normEps),
  };
  const scaling = config.ropeScaling;
  // llama.cpp has no "llama3" scaling type: it reads per-frequency divisors (extraTensors).
  if (scaling && scaling.type !== "llama3") {
    metadata[`${arch}.rope.scaling.type`] = scaling.type;
    metadata[`${arch}.rope.scaling.factor`] = f32(scaling.factor);
    if (scaling.originalMaxPositionEmbeddings !== undefined) {
      metadata[`${arch}.rope.scaling.original_context_length`] = u32(scaling.originalMaxPositionEmbeddings);
    }
  }
  return metadata;
}

/** `llama` files: Llama, Mistral and SmolLM, with llama.cpp's permuted Q/K rows; read and written. */
export const llamaGguf: GgufMapping = {
  arch: "llama",
  hfName: ggufToHfName,
  tensorName: hfToGgufName,
  fromMetadata: (metadata, tensors, file) => readConfig("llama", "llama", metadata, tensors, file),
  fromGgufLayout(hfName, t, config) {
    const heads = ropeHeads(hfName, config);
    // A tensor of the wrong shape is reported by validation, not by the permutation.
    if (heads === null || t.shape[0] !== heads * config.headDim) return t;
    return { ...permuteRopeRows(t, heads, false), dtype: t.dtype };
  },
  // Qwen2/3 have their own GGUF architectures (q/k bias, q/k norm) that this writer does not produce.
  writes: (config) => config.modelType !== "qwen2" && config.modelType !== "qwen3" && !config.qkNorm,
  toGgufLayout(hfName, t, config) {
    const heads = ropeHeads(hfName, config);
    return heads === null ? t : permuteRopeRows(t, heads, true);
  },
  metadata: (config) => writeMetadata("llama", config),
  extraTensors(config) {
    const scaling = config.ropeScaling;
    if (scaling?.type !== "llama3") return [];
    const divisors = llama3RopeDivisors(scaling, config.ropeTheta, config.headDim);
    return [{ name: "rope_freqs.weight", tensor: { shape: [divisors.length], data: divisors } }];
  },
};

/**
 * A GGUF architecture with llama's tensor names and HF's own Q/K layout (llama.cpp runs it
 * with NEOX-style RoPE). llama.cpp loads exactly the tensors the architecture defines, so
 * `writes` accepts only configs whose biases and norms are those of the architecture.
 */
function hfLayoutGguf(arch: string, modelType: string, writes: (c: ModelConfig) => boolean): GgufMapping {
  return {
    arch,
    hfName: ggufToHfName,
    tensorName: hfToGgufName,
    fromMetadata: (metadata, tensors, file) => readConfig(arch, modelType, metadata, tensors, file),
    writes: (c) => c.modelType === modelType && !c.attentionOutBias && !c.mlpBias && writes(c),
    metadata: (config) => writeMetadata(arch, config),
  };
}

/** Qwen2/Qwen2.5: q/k/v biases, no q/k norms. */
export const qwen2Gguf = hfLayoutGguf("qwen2", "qwen2", (c) => c.attentionBias && !c.qkNorm);
/** Qwen3: q/k RMS norms, no biases. */
export const qwen3Gguf = hfLayoutGguf("qwen3", "qwen3", (c) => c.qkNorm && !c.attentionBias);
