/**
 * GGUF model files ⇄ the engine's ModelConfig and HF-named tensors, for every family with a
 * GGUF mapping (ModelFamily.gguf, e.g. models/llama/gguf.ts). The mapping supplies tensor
 * names, layouts and the `<arch>.*` metadata; this module adds what every architecture
 * shares: `general.*` and `tokenizer.*` keys, special-token ids, tensor types, validation.
 */
import { basename } from "node:path";
import { SftError } from "../../errors.js";
import type { ModelConfig } from "../config.js";
import { configError } from "../models/hf-json.js";
import { ggufMappingOf, ggufWriterOf, MODEL_FAMILIES, SUPPORTED_GGUF_ARCHES } from "../models/registry.js";
import type { StoredTensor, TensorMap } from "../tensor.js";
import {
  GGUF_BLOCK_TYPES,
  type GgufTokenizerInfo,
  type GgufTypedValue,
  type GgufValue,
  type GgufWriteTensor,
  type GgufWriteType,
  ggufTokenizerInfo,
  writeGguf,
} from "./gguf.js";
import { validateTensors } from "./hf-config.js";

export interface GgufModel {
  config: ModelConfig;
  /** HF names and layouts, not yet validated against the config. */
  tensors: Map<string, StoredTensor>;
}

/** A GGUF file's config and tensors, in HF names and layouts; fails naming the supported architectures. */
export function ggufModelToHf(
  metadata: Record<string, GgufValue>,
  tensors: Map<string, StoredTensor>,
  file: string,
): GgufModel {
  const arch = metadata["general.architecture"];
  const found = typeof arch === "string" ? ggufMappingOf(arch) : undefined;
  if (!found) {
    throw configError(
      file,
      "general.architecture",
      `unsupported GGUF architecture ${JSON.stringify(arch)}`,
      `supported GGUF architectures: ${SUPPORTED_GGUF_ARCHES.join(", ")}`,
    );
  }
  const { mapping } = found;
  const base = mapping.fromMetadata(metadata, tensors, file);
  const tok = ggufTokenizerInfo(metadata);
  const config: ModelConfig = {
    ...base,
    bosTokenId: tok?.bosTokenId ?? null,
    eosTokenId: tok?.eosTokenId ?? null,
    padTokenId:
      tok?.padTokenId !== undefined && tok.padTokenId !== null && tok.padTokenId < base.vocabSize
        ? tok.padTokenId
        : null,
  };
  const out = new Map<string, StoredTensor>();
  for (const [gName, t] of tensors) {
    const name = mapping.hfName(gName);
    if (!name) continue;
    out.set(name, mapping.fromGgufLayout ? mapping.fromGgufLayout(name, t, config) : t);
  }
  return { config, tensors: out };
}

export interface SaveGgufOptions {
  /** Type for 2-D weights; 1-D tensors are always F32, and Q8_0/Q4_0 fall back to F16 for rows not a multiple of 32. */
  type?: GgufWriteType;
  tokenizer?: GgufTokenizerInfo;
  name?: string;
}

/** The GGUF architectures export writes (llama: Llama, Mistral, SmolLM), for error messages. */
function writableModels(): string {
  const arches = MODEL_FAMILIES.flatMap((f) => f.gguf.filter((g) => g.writes).map((g) => g.arch));
  return arches.join(", ");
}

/**
 * Writes a GGUF file (llama.cpp names, layouts and metadata from the family's mapping, the
 * embedded tokenizer). Fails before touching disk when no mapping writes this model.
 */
export function saveGgufModel(
  path: string,
  config: ModelConfig,
  tensors: TensorMap,
  opts: SaveGgufOptions = {},
): void {
  const mapping = ggufWriterOf(config);
  if (!mapping?.metadata) {
    throw new SftError(
      `GGUF export has no writer for model_type "${config.modelType}" (GGUF architectures written: ${writableModels()})`,
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
    const gName = mapping.tensorName(name);
    if (!gName) throw new Error(`no GGUF name for ${name}`);
    const value = mapping.toGgufLayout ? mapping.toGgufLayout(name, t, config) : t;
    let tType: GgufWriteType = t.shape.length === 1 ? "F32" : type;
    if (GGUF_BLOCK_TYPES.includes(tType) && t.shape[t.shape.length - 1] % 32 !== 0) tType = "F16";
    out.push({ name: gName, tensor: value, type: tType });
  }
  for (const extra of mapping.extraTensors?.(config) ?? []) out.push({ ...extra, type: "F32" });
  const u32 = (value: number): GgufTypedValue => ({ type: "u32", value });
  const metadata: Record<string, GgufValue | GgufTypedValue> = {
    "general.architecture": mapping.arch,
    "general.name": opts.name ?? basename(path).replace(/\.gguf$/, ""),
    ...mapping.metadata(config),
  };
  const tok = opts.tokenizer;
  if (tok) {
    metadata["tokenizer.ggml.model"] = tok.model;
    if (tok.pre) metadata["tokenizer.ggml.pre"] = tok.pre;
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
