/**
 * PEFT LoRA adapters as llama.cpp GGUF adapter files (what `llama-cli --lora` and Ollama's
 * `ADAPTER` read): `general.type = adapter`, `adapter.type = lora`, `adapter.lora.alpha`, the
 * base's `general.architecture`, and per adapted weight `<gguf name>.lora_a` (A, [r, in]) and
 * `<gguf name>.lora_b` (B, [out, r]) — llama.cpp adds scale·alpha/r · B·(A·x), r read from A.
 */
import { basename } from "node:path";
import { SftError } from "../../errors.js";
import type { ModelConfig } from "../config.js";
import { familyOf, ggufWriterOf } from "../models/registry.js";
import type { Tensor } from "../tensor.js";
import { type GgufTypedValue, type GgufValue, type GgufWriteTensor, writeGguf } from "./gguf.js";
import { type LoraAdapter, loraMergeScale, loraPairs } from "./peft.js";

export type GgufAdapterType = "F32" | "F16";

export interface SaveGgufAdapterOptions {
  /** Tensor type of A and B (default F32). */
  type?: GgufAdapterType;
  name?: string;
}

function scaled(t: Tensor, factor: number): Tensor {
  if (factor === 1) return t;
  return { shape: t.shape, data: t.data.map((v) => v * factor) };
}

/**
 * Writes `adapter` (for a base model of `config`) as a GGUF LoRA adapter. llama.cpp applies one
 * alpha per file and divides by each pair's rank; modules whose PEFT scale differs from that
 * (rank/alpha patterns, rsLoRA) get the difference folded into B, so the applied delta equals
 * the one `mergeLora` adds.
 */
export function saveGgufAdapter(
  path: string,
  config: ModelConfig,
  adapter: LoraAdapter,
  opts: SaveGgufAdapterOptions = {},
): void {
  const mapping = ggufWriterOf(config);
  if (!mapping?.metadata) {
    throw new SftError(`GGUF adapter export has no writer for model_type "${config.modelType}"`, {
      where: { file: path },
      hint: "export the merged model instead (--format hf) and convert it with llama.cpp",
      code: "E_CHECKPOINT",
    });
  }
  const inOut = familyOf(config).lora.fanInFanOut || adapter.config.fanInFanOut;
  const alpha = adapter.config.loraAlpha;
  const type = opts.type ?? "F32";
  const out: GgufWriteTensor[] = [];
  for (const { modulePath, A, B } of loraPairs(adapter)) {
    const weightName = `${modulePath}.weight`;
    const gName = mapping.tensorName(weightName);
    if (!gName) {
      throw new SftError(`the adapter adapts ${weightName}, which has no tensor in a ${mapping.arch} GGUF`, {
        where: { file: path, field: weightName },
        hint: "is this adapter for this base model?",
        code: "E_CHECKPOINT",
      });
    }
    const r = A.shape[0];
    // B·A is the delta in [out, in]. A weight stored [in, out] in HF (GPT-2's Conv1D) is
    // transposed to [out, in] in the GGUF, which is B·A as is; an [out, in] weight gets the
    // family's row layout (llama's Q/K RoPE permutation), which acts on B's rows alone.
    const b = inOut || !mapping.toGgufLayout ? B : mapping.toGgufLayout(weightName, B, config);
    const factor = loraMergeScale(adapter.config, modulePath) / (alpha / r);
    out.push({ name: gName.replace(/\.weight$/, ".weight.lora_a"), tensor: A, type });
    out.push({ name: gName.replace(/\.weight$/, ".weight.lora_b"), tensor: scaled(b, factor), type });
  }
  const metadata: Record<string, GgufValue | GgufTypedValue> = {
    "general.architecture": mapping.arch,
    "general.type": "adapter",
    "general.name": opts.name ?? basename(path).replace(/\.gguf$/, ""),
    "adapter.type": "lora",
    "adapter.lora.alpha": { type: "f32", value: alpha },
  };
  writeGguf(path, { metadata, tensors: out });
}
