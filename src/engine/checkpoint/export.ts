/**
 * Exporting a model for other tools: load any checkpoint (HF directory or GGUF), merge a
 * PEFT LoRA adapter into it if given, and write an HF directory (with the tokenizer files)
 * or a llama GGUF (with the tokenizer embedded).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SftError } from "../../errors.js";
import { writeAtomically } from "./file-io.js";
import type { GgufTokenizerInfo, GgufWriteType } from "./gguf.js";
import { type GgufAdapterType, saveGgufAdapter } from "./gguf-adapter.js";
import { type SaveGgufOptions, saveGgufModel } from "./gguf-model.js";
import { type LoadedCheckpoint, loadCheckpoint, saveHfModel } from "./hf.js";
import { ggufBpeVocabFromHf, isByteLevelBpe } from "./hf-bpe-vocab.js";
import { ggufTokenizerFromHf, hfTokenizerFromGguf } from "./hf-tokenizer.js";
import { mergeLora, readPeftAdapter } from "./peft.js";
import type { SafetensorsWriteDType } from "./safetensors.js";

/** Tokenizer and generation files an HF model directory may carry, copied verbatim. */
const HF_SIDE_FILES = [
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "tokenizer.model",
  "chat_template.jinja",
  "generation_config.json",
];

export interface ExportOptions {
  /** HF model directory or .gguf file. */
  model: string;
  /** PEFT adapter directory to merge in. */
  adapter?: string;
  /** Output directory (hf) or .gguf file (gguf). */
  out: string;
  /** gguf-adapter: the adapter alone as a llama.cpp LoRA GGUF (the model gives its architecture). */
  format: "hf" | "gguf" | "gguf-adapter";
  /** hf: F32 | F16 | BF16 (default F32); gguf: F32 | F16 | BF16 | Q8_0 | Q4_0 (default F16); gguf-adapter: F32 (default) | F16. */
  dtype?: string;
  /** hf: shard above this many bytes. */
  maxShardBytes?: number;
}

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new SftError(`not valid JSON (${(e as Error).message})`, {
      where: { file: path },
      code: "E_CHECKPOINT",
    });
  }
}

function checkDtype<T extends string>(
  dtype: string | undefined,
  allowed: readonly T[],
  fallback: T,
  format: string,
): T {
  if (dtype === undefined) return fallback;
  const up = dtype.toUpperCase() as T;
  if (!allowed.includes(up)) {
    throw new SftError(`--dtype ${dtype} is not available for ${format} (choose ${allowed.join(", ")})`, {
      where: { field: "--dtype" },
    });
  }
  return up;
}

/** The source's tokenizer as a GGUF vocabulary, when there is one this module can express. */
function ggufVocabulary(ck: LoadedCheckpoint): GgufTokenizerInfo | undefined {
  if (ck.tokenizer) return ck.tokenizer;
  if (ck.source.kind !== "hf-dir") return undefined;
  const tj = join(ck.source.path, "tokenizer.json");
  if (!existsSync(tj)) return undefined;
  const tc = join(ck.source.path, "tokenizer_config.json");
  const tokenizer = readJson(tj);
  const config = existsSync(tc) ? readJson(tc) : null;
  const vocab = isByteLevelBpe(tokenizer)
    ? ggufBpeVocabFromHf(tokenizer, config, tj)
    : ggufTokenizerFromHf(tokenizer, config);
  if (!vocab) return undefined;
  // Newer models keep the chat template in its own file instead of tokenizer_config.json.
  const jinja = join(ck.source.path, "chat_template.jinja");
  if (vocab.chatTemplate === null && existsSync(jinja)) vocab.chatTemplate = readFileSync(jinja, "utf8");
  return vocab;
}

/** Tensor types a GGUF export writes its 2-D weights as. */
export const GGUF_EXPORT_TYPES: readonly GgufWriteType[] = ["F32", "F16", "BF16", "Q8_0", "Q4_0"];

/** Writes the export; returns the files written. */
export function exportModel(opts: ExportOptions): string[] {
  const ck = loadCheckpoint(opts.model);
  if (ck.tensors.size === 0) {
    throw new SftError("nothing to export: a bare config.json holds no weights", {
      where: { file: opts.model },
      hint: "pass a trained model directory or a .gguf file",
    });
  }
  if (opts.format === "gguf-adapter") {
    if (!opts.adapter) {
      throw new SftError("--format gguf-adapter writes an adapter, but no adapter was given", {
        where: { field: "--adapter" },
        hint: "pass --adapter DIR (a PEFT LoRA directory) and --model BASE (the model it adapts)",
      });
    }
    const adapter = readPeftAdapter(opts.adapter);
    // Merging checks every pair against the base's weights (names and shapes) before anything is written.
    mergeLora(ck.tensors, adapter, ck.config);
    const type = checkDtype<GgufAdapterType>(opts.dtype, ["F32", "F16"], "F32", "gguf-adapter");
    saveGgufAdapter(opts.out, ck.config, adapter, { type });
    return [opts.out];
  }
  let tensors = ck.tensors;
  if (opts.adapter) tensors = mergeLora(tensors, readPeftAdapter(opts.adapter), ck.config);

  if (opts.format === "gguf") {
    const type = checkDtype<GgufWriteType>(opts.dtype, GGUF_EXPORT_TYPES, "F16", "gguf");
    const tokenizer = ggufVocabulary(ck);
    if (!tokenizer) {
      throw new SftError(
        "cannot embed this model's tokenizer in a GGUF (SentencePiece-style and byte-level BPE tokenizer.json files can be embedded)",
        {
          where: { file: opts.model },
          hint: "put the model's tokenizer.json (and tokenizer_config.json) into the model directory, or export with --format hf",
        },
      );
    }
    const ggufOpts: SaveGgufOptions = { type, tokenizer };
    saveGgufModel(opts.out, ck.config, tensors, ggufOpts);
    return [opts.out];
  }
  const dtype = checkDtype<SafetensorsWriteDType>(opts.dtype, ["F32", "F16", "BF16"], "F32", "hf");
  const files = saveHfModel(opts.out, ck.config, tensors, {
    dtype,
    ...(opts.maxShardBytes ? { maxShardBytes: opts.maxShardBytes } : {}),
  });
  const copies: [string, Uint8Array][] = [];
  if (ck.source.kind === "hf-dir") {
    for (const name of HF_SIDE_FILES) {
      const p = join(ck.source.path, name);
      if (existsSync(p)) copies.push([name, readFileSync(p)]);
    }
  } else if (ck.tokenizer?.model === "llama") {
    const t = hfTokenizerFromGguf(ck.tokenizer, { modelMaxLength: ck.config.maxPositionEmbeddings });
    copies.push(["tokenizer.json", Buffer.from(`${JSON.stringify(t.tokenizer, null, 2)}\n`)]);
    copies.push(["tokenizer_config.json", Buffer.from(`${JSON.stringify(t.tokenizerConfig, null, 2)}\n`)]);
  }
  for (const [name, bytes] of copies) {
    const p = join(opts.out, name);
    writeAtomically(p, (w) => w.write(bytes));
    files.push(p);
  }
  return files;
}
