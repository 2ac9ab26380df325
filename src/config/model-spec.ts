/**
 * The model spec: which model, adapter, tokenizer and template a command works with, and how
 * the base weights are held. One schema for every command and config that takes a model —
 * `sft train`, `sft generate`, `sft data render/check/inspect`, `sft grads`, `sft bench`,
 * `llm: {kind: local}`, eval's local generator — so each field means the same everywhere and
 * their CLI flags are generated from it (src/config/flags.ts).
 */
import { z } from "zod";
import { SftError } from "../errors.js";

/** the label-mask policies of src/tokenize (every assistant turn, the last one, or every token) */
export const MASK_POLICIES = ["all_assistant", "last_assistant", "include_prompt"] as const;
/** how frozen base weights are held: float32, bfloat16, or GGUF-style 8/4-bit blocks */
export const BASE_DTYPES = ["f32", "bf16", "q8_0", "q4_0"] as const;
export type BaseDtype = (typeof BASE_DTYPES)[number];

/**
 * The fields, as a plain shape so other schemas (the train config) spread them into theirs.
 * Defaults that differ per command (max_seq_length) are left to the command.
 */
export const modelSpecShape = {
  /** model directory (HF), GGUF file, bare config.json (random weights), or a run's `model/` */
  model: z.string().min(1),
  /** PEFT LoRA adapter directory on top of `model` */
  adapter: z.string().min(1).optional(),
  /** tokenizer directory or .gguf (default: the model's own, else the adapter's) */
  tokenizer: z.string().min(1).optional(),
  /** named prompt template (alpaca, vicuna, …) or a YAML/JSON template file */
  template: z.string().min(1).optional(),
  /**
   * Jinja chat template: true = the tokenizer's own; a built-in name (chatml, llama3,
   * mistral, gemma); a file holding a template; or inline Jinja
   */
  chat_template: z.union([z.boolean(), z.string().min(1)]).optional(),
  /** which tokens are trained: every assistant turn, only the last one, or everything */
  mask_policy: z.enum(MASK_POLICIES).default("all_assistant"),
  /** longest sample in tokens (longer ones are truncated; see `truncation`) */
  max_seq_length: z.number().int().min(2).optional(),
  /** how the frozen base weights are held: f32, bf16 (LoRA only), q8_0 or q4_0 */
  base_dtype: z.enum(BASE_DTYPES).optional(),
  /** same as base_dtype: bf16 */
  bf16: z.boolean().optional(),
  /** same as base_dtype: q8_0 */
  load_in_8bit: z.boolean().optional(),
  /** same as base_dtype: q4_0 */
  load_in_4bit: z.boolean().optional(),
};

const ALIASES = [
  ["bf16", "bf16"],
  ["load_in_8bit", "q8_0"],
  ["load_in_4bit", "q4_0"],
] as const;

/** The quantized ones need the block-dequantizing matmul kernels, which this build lacks. */
const UNSUPPORTED_BASE_DTYPES: readonly BaseDtype[] = ["q8_0", "q4_0"];

type SpecLike = {
  template?: string;
  chat_template?: boolean | string;
  base_dtype?: BaseDtype;
  bf16?: boolean;
  load_in_8bit?: boolean;
  load_in_4bit?: boolean;
};

/** The cross-field rules of a spec, for every schema that holds its fields. */
export function refineModelSpec(c: SpecLike, ctx: z.RefinementCtx): void {
  if (c.template && c.chat_template)
    ctx.addIssue({
      code: "custom",
      path: ["template"],
      message: "both `template` and `chat_template` are set; choose one",
    });
  const asked: [string, BaseDtype][] = [];
  if (c.base_dtype) asked.push(["base_dtype", c.base_dtype]);
  for (const [key, dtype] of ALIASES) if (c[key] === true) asked.push([key, dtype]);
  const distinct = [...new Set(asked.map(([, d]) => d))];
  if (distinct.length > 1)
    ctx.addIssue({
      code: "custom",
      path: [asked[1][0]],
      message: `conflicting base precisions: ${asked.map(([k, d]) => `${k} (${d})`).join(", ")}; set only base_dtype`,
    });
  else if (distinct.length === 1 && UNSUPPORTED_BASE_DTYPES.includes(distinct[0]))
    ctx.addIssue({
      code: "custom",
      path: [asked[0][0]],
      message: `base precision ${distinct[0]} is not available in this version (no quantized matmul kernels yet); use base_dtype: f32 or bf16`,
    });
}

export const modelSpecSchema = z.strictObject(modelSpecShape).superRefine(refineModelSpec);
export type ModelSpec = z.infer<typeof modelSpecSchema>;
export type ModelSpecInput = z.input<typeof modelSpecSchema>;

/** The base dtype a spec asks for, its aliases (`bf16: true`, `load_in_8bit: true`, …) folded in. */
export function baseDtypeOf(c: SpecLike): BaseDtype {
  if (c.base_dtype) return c.base_dtype;
  for (const [key, dtype] of ALIASES) if (c[key] === true) return dtype;
  return "f32";
}

/** The spec fields of a larger config (a train config, an llm block), with nothing else. */
export function pickModelSpec(c: Record<string, unknown>): ModelSpecInput {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(modelSpecShape)) if (c[k] !== undefined) out[k] = c[k];
  return out as ModelSpecInput;
}

/** Throws unless `model` or `tokenizer` is given (the data commands need only a tokenizer). */
export function requireTokenizerSource(spec: { model?: string; tokenizer?: string }): void {
  if (spec.model === undefined && spec.tokenizer === undefined)
    throw new SftError("no tokenizer: give --tokenizer PATH or --model PATH", {
      where: { field: "tokenizer" },
      hint: "a model directory with tokenizer.json, or a .gguf file",
    });
}
