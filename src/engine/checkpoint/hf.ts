/**
 * Hugging Face checkpoints: `config.json` ⇄ ModelConfig, model directories (config.json +
 * model.safetensors or a sharded index) and GGUF files as one `loadCheckpoint`, and
 * `saveHfModel` / `saveGgufModel` to write them back.
 *
 * In memory every checkpoint uses Hugging Face tensor names and layouts. GGUF tensors are
 * renamed and re-laid-out by the family's GGUF mapping (for llama files the Q/K row
 * permutation llama.cpp applies for its interleaved RoPE is undone, and re-applied on write).
 */
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { SftError } from "../../errors.js";
import type { ModelConfig } from "../config.js";
import { familyOf } from "../models/registry.js";
import type { TensorMap } from "../tensor.js";
import { writeAtomically } from "./file-io.js";
import { type GgufTokenizerInfo, ggufTokenizerInfo, readGguf } from "./gguf.js";
import { ggufModelToHf } from "./gguf-model.js";
import {
  expectedTensorShapes,
  normalizeTensorNames,
  readHfConfig,
  toHfConfig,
  validateTensors,
} from "./hf-config.js";
import { hfTokenizerFromGguf } from "./hf-tokenizer.js";
import {
  readSafetensorsFile,
  SAFETENSORS_INDEX_NAME,
  type SafetensorsWriteDType,
  writeShardedSafetensors,
} from "./safetensors.js";

export { permuteRopeRows } from "../models/llama/gguf.js";
export { type SaveGgufOptions, saveGgufModel } from "./gguf-model.js";
export {
  expectedTensorShapes,
  parseHfConfig,
  readHfConfig,
  SUPPORTED_MODEL_TYPES,
  toHfConfig,
  validateTensors,
} from "./hf-config.js";

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
  // Read only what the model uses (not tied lm_head copies, attention-mask buffers, …).
  const family = familyOf(config);
  const wanted = [...expectedTensorShapes(config).keys()];
  wanted.push(...wanted.flatMap((n) => family.tensorNameAliases(n)));
  const { tensors } = readSafetensorsFile(weightsPath, { names: wanted });
  return {
    config,
    tensors: validateTensors(config, normalizeTensorNames(config, tensors), weightsPath),
    source: { kind: "hf-dir", path: dir, files: [configPath, weightsPath] },
  };
}

function loadGgufCheckpoint(path: string): LoadedCheckpoint {
  const g = readGguf(path);
  const { config, tensors: hfTensors } = ggufModelToHf(g.metadata, g.tensors, path);
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
