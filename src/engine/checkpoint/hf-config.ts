/**
 * Hugging Face `config.json` ⇄ the engine's ModelConfig, and the tensors (names, shapes) a
 * model of a given config must have, with the validation every loader runs. What differs
 * between model families comes from the family (models/<family>/hf.ts, via the registry).
 */
import { readFileSync } from "node:fs";
import { SftError } from "../../errors.js";
import type { ModelConfig } from "../config.js";
import { configError, type HfJson } from "../models/hf-json.js";
import {
  familyOf,
  familyOfModelType,
  SUPPORTED_HF_CLASSES,
  SUPPORTED_MODEL_TYPES,
} from "../models/registry.js";
import type { StoredTensor, Tensor, TensorMap } from "../tensor.js";

export { configError } from "../models/hf-json.js";
export { SUPPORTED_MODEL_TYPES } from "../models/registry.js";

// ---------------------------------------------------------------------------------------
// config.json

/**
 * Converts a parsed HF `config.json` into the engine's ModelConfig. `file` is used in error
 * messages. Unsupported model types / architectures fail naming the supported ones.
 */
export function parseHfConfig(json: unknown, file: string): ModelConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw configError(file, undefined, "config.json must hold a JSON object");
  }
  const c = json as HfJson;
  const modelType = c.model_type;
  const supported = `supported model_type values: ${SUPPORTED_MODEL_TYPES.join(", ")} (SmolLM uses llama)`;
  if (typeof modelType !== "string") {
    throw configError(file, "model_type", 'missing "model_type"', supported);
  }
  const family = familyOfModelType(modelType);
  if (!family) {
    throw configError(file, "model_type", `unsupported model_type "${modelType}"`, supported);
  }
  if (Array.isArray(c.architectures)) {
    const bad = c.architectures.find((a) => typeof a !== "string" || !SUPPORTED_HF_CLASSES.includes(a));
    if (bad !== undefined) {
      throw configError(
        file,
        "architectures",
        `unsupported architecture "${String(bad)}"`,
        `supported architectures: ${SUPPORTED_HF_CLASSES.join(", ")}`,
      );
    }
  }
  return family.parseHfConfig(c, modelType, file);
}

/** ModelConfig → HF `config.json` object (what `transformers` writes for this model type). */
export function toHfConfig(
  config: ModelConfig,
  torchDtype: "float32" | "float16" | "bfloat16" = "float32",
): HfJson {
  const family = familyOf(config);
  const modelType = Object.hasOwn(family.hfClasses, config.modelType) ? config.modelType : family.id;
  const { bosTokenId, eosTokenId, padTokenId } = config;
  return {
    architectures: [family.hfClasses[modelType]],
    model_type: modelType,
    vocab_size: config.vocabSize,
    bos_token_id: bosTokenId,
    eos_token_id: eosTokenId,
    ...(padTokenId === null ? {} : { pad_token_id: padTokenId }),
    tie_word_embeddings: config.tieWordEmbeddings,
    torch_dtype: torchDtype,
    ...family.hfConfigFields(config),
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

/** Every weight a model of this config has, by HF name, with its shape (the family's list). */
export function expectedTensorShapes(config: ModelConfig): Map<string, number[]> {
  return familyOf(config).tensorShapes(config);
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

/**
 * Renames tensors stored under one of the family's aliases (GPT2Model's prefix-less names)
 * to the HF names the model expects; other tensors pass through.
 */
export function normalizeTensorNames(
  config: ModelConfig,
  tensors: Map<string, StoredTensor>,
): Map<string, StoredTensor> {
  const family = familyOf(config);
  let out: Map<string, StoredTensor> | null = null;
  for (const name of family.tensorShapes(config).keys()) {
    if (tensors.has(name)) continue;
    const alias = family.tensorNameAliases(name).find((a) => tensors.has(a));
    if (alias === undefined) continue;
    out ??= new Map(tensors);
    out.set(name, tensors.get(alias)!);
  }
  return out ?? tensors;
}
