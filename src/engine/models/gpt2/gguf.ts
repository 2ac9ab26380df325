/**
 * llama.cpp's GGUF conventions for GPT-2 (`general.architecture = gpt2`): tensor names,
 * `gpt2.*` metadata, and the Conv1D weights, which HF stores [in, out] and GGUF as ordinary
 * [out, in] matrices (llama.cpp's converter transposes them), so they are transposed both ways.
 */
import type { ModelConfig } from "../../config.js";
import type { GgufTypedValue, GgufValue } from "../../gguf-format.js";
import type { StoredTensor, Tensor } from "../../tensor.js";
import type { GgufMapping } from "../family.js";
import { configError } from "../hf-json.js";

const LAYER_NAMES: [gguf: string, hf: string][] = [
  ["attn_norm.weight", "ln_1.weight"],
  ["attn_norm.bias", "ln_1.bias"],
  ["attn_qkv.weight", "attn.c_attn.weight"],
  ["attn_qkv.bias", "attn.c_attn.bias"],
  ["attn_output.weight", "attn.c_proj.weight"],
  ["attn_output.bias", "attn.c_proj.bias"],
  ["ffn_norm.weight", "ln_2.weight"],
  ["ffn_norm.bias", "ln_2.bias"],
  ["ffn_up.weight", "mlp.c_fc.weight"],
  ["ffn_up.bias", "mlp.c_fc.bias"],
  ["ffn_down.weight", "mlp.c_proj.weight"],
  ["ffn_down.bias", "mlp.c_proj.bias"],
];
const GLOBAL_NAMES: [gguf: string, hf: string][] = [
  ["token_embd.weight", "transformer.wte.weight"],
  ["position_embd.weight", "transformer.wpe.weight"],
  ["output_norm.weight", "transformer.ln_f.weight"],
  ["output_norm.bias", "transformer.ln_f.bias"],
  ["output.weight", "lm_head.weight"],
];
const TO_HF_LAYER = new Map(LAYER_NAMES);
const TO_GGUF_LAYER = new Map(LAYER_NAMES.map(([g, h]) => [h, g]));
const TO_HF_GLOBAL = new Map(GLOBAL_NAMES);
const TO_GGUF_GLOBAL = new Map(GLOBAL_NAMES.map(([g, h]) => [h, g]));

function hfName(name: string): string | null {
  const g = TO_HF_GLOBAL.get(name);
  if (g) return g;
  const m = /^blk\.(\d+)\.(.+)$/.exec(name);
  const rest = m ? TO_HF_LAYER.get(m[2]) : undefined;
  return m && rest ? `transformer.h.${m[1]}.${rest}` : null;
}

function tensorName(name: string): string | null {
  const g = TO_GGUF_GLOBAL.get(name);
  if (g) return g;
  const m = /^transformer\.h\.(\d+)\.(.+)$/.exec(name);
  const rest = m ? TO_GGUF_LAYER.get(m[2]) : undefined;
  return m && rest ? `blk.${m[1]}.${rest}` : null;
}

/** The block matrices HF keeps as Conv1D ([in, out]). */
const isConv1dWeight = (name: string) =>
  /\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/.test(name);

function transpose(t: Tensor): Tensor {
  const [rows, cols] = t.shape;
  const out = new Float32Array(t.data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = t.data[r * cols + c];
  return { shape: [cols, rows], data: out };
}

function readConfig(
  metadata: Record<string, GgufValue>,
  tensors: Map<string, StoredTensor>,
  file: string,
): Omit<ModelConfig, "bosTokenId" | "eosTokenId" | "padTokenId"> {
  const num = (k: string, fallback?: number): number => {
    const v = metadata[`gpt2.${k}`];
    if (typeof v === "number") return v;
    if (fallback !== undefined) return fallback;
    throw configError(
      file,
      `gpt2.${k}`,
      `missing GGUF metadata "gpt2.${k}"`,
      "the file was not written by a llama.cpp converter",
    );
  };
  const hiddenSize = num("embedding_length");
  const numHeads = num("attention.head_count");
  const embd = tensors.get("token_embd.weight");
  const tokens = metadata["tokenizer.ggml.tokens"];
  return {
    architecture: "gpt2",
    modelType: "gpt2",
    vocabSize: num("vocab_size", embd ? embd.shape[0] : Array.isArray(tokens) ? tokens.length : undefined),
    hiddenSize,
    intermediateSize: num("feed_forward_length", 4 * hiddenSize),
    numLayers: num("block_count"),
    numHeads,
    numKvHeads: numHeads,
    headDim: hiddenSize / numHeads,
    maxPositionEmbeddings: num("context_length"),
    normEps: num("attention.layer_norm_epsilon", 1e-5),
    ropeTheta: 0,
    ropeScaling: null,
    tieWordEmbeddings: !tensors.has("output.weight"),
    attentionBias: true,
    attentionOutBias: true,
    mlpBias: true,
    qkNorm: false,
    hiddenAct: "gelu_new",
  };
}

function writeMetadata(config: ModelConfig): Record<string, GgufValue | GgufTypedValue> {
  const u32 = (value: number): GgufTypedValue => ({ type: "u32", value });
  return {
    "gpt2.vocab_size": u32(config.vocabSize),
    "gpt2.context_length": u32(config.maxPositionEmbeddings),
    "gpt2.embedding_length": u32(config.hiddenSize),
    "gpt2.feed_forward_length": u32(config.intermediateSize),
    "gpt2.block_count": u32(config.numLayers),
    "gpt2.attention.head_count": u32(config.numHeads),
    "gpt2.attention.layer_norm_epsilon": { type: "f32", value: config.normEps },
  };
}

export const gpt2Gguf: GgufMapping = {
  arch: "gpt2",
  hfName,
  tensorName,
  fromMetadata: readConfig,
  fromGgufLayout: (name, t) => (isConv1dWeight(name) ? { ...transpose(t), dtype: t.dtype } : t),
  // llama.cpp's gpt2 graph uses the tanh GELU: other activations would run differently there.
  writes: (config) => config.hiddenAct === "gelu_new",
  toGgufLayout: (name, t) => (isConv1dWeight(name) ? transpose(t) : t),
  metadata: writeMetadata,
};
