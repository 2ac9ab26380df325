/**
 * The model families this engine runs, by id (ModelConfig.architecture), HF model_type and
 * GGUF architecture. Adding a family: a folder models/<family>/ exporting a ModelFamily
 * (family.ts), listed here once.
 */
import { SftError } from "../../errors.js";
import type { ModelConfig } from "../config.js";
import type { GgufMapping, ModelFamily } from "./family.js";
import { gemma } from "./gemma/index.js";
import { gpt2 } from "./gpt2/index.js";
import { llama } from "./llama/index.js";

/** In the order hints list them. */
export const MODEL_FAMILIES: readonly ModelFamily[] = [llama, gpt2, gemma];

const BY_ID = new Map(MODEL_FAMILIES.map((f) => [f.id, f]));

/** HF `model_type` values this engine reads, over all families. */
export const SUPPORTED_MODEL_TYPES: readonly string[] = MODEL_FAMILIES.flatMap((f) =>
  Object.keys(f.hfClasses),
);
/** HF `architectures` classes this engine reads, over all families. */
export const SUPPORTED_HF_CLASSES: readonly string[] = MODEL_FAMILIES.flatMap((f) =>
  Object.values(f.hfClasses),
);
/** GGUF `general.architecture` values this engine reads, over all families. */
export const SUPPORTED_GGUF_ARCHES: readonly string[] = MODEL_FAMILIES.flatMap((f) =>
  f.gguf.map((g) => g.arch),
);

/** Linear layers LoRA may wrap, per family id (PEFT `target_modules` names). */
export const LORA_TARGETS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  MODEL_FAMILIES.map((f) => [f.id, f.lora.targets]),
);
/** Targets used when none are given, per family id. */
export const DEFAULT_LORA_TARGETS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  MODEL_FAMILIES.map((f) => [f.id, f.lora.defaultTargets]),
);

/** The family of a model; fails naming the supported families. */
export function familyOf(config: Pick<ModelConfig, "architecture">): ModelFamily {
  const family = BY_ID.get(config.architecture);
  if (!family) {
    throw new SftError(`unsupported architecture "${config.architecture}"`, {
      where: { field: "architecture" },
      hint: `supported: ${MODEL_FAMILIES.map((f) => f.label).join(", ")}`,
    });
  }
  return family;
}

/** The family that reads HF `model_type`, if any. */
export function familyOfModelType(modelType: string): ModelFamily | undefined {
  return MODEL_FAMILIES.find((f) => Object.hasOwn(f.hfClasses, modelType));
}

/** The family and mapping that read GGUF `general.architecture` = arch, if any. */
export function ggufMappingOf(arch: string): { family: ModelFamily; mapping: GgufMapping } | undefined {
  for (const family of MODEL_FAMILIES) {
    const mapping = family.gguf.find((g) => g.arch === arch);
    if (mapping) return { family, mapping };
  }
  return undefined;
}

/** The mapping that writes this model as GGUF, if any family has one. */
export function ggufWriterOf(config: ModelConfig): GgufMapping | undefined {
  return familyOf(config).gguf.find((g) => g.writes?.(config) === true);
}
