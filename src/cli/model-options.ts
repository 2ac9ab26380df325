/**
 * The model-spec flags every command that takes a model shares, generated from the spec's
 * schema (src/config/model-spec.ts): `--model`, `--adapter`, `--tokenizer`, `--template`,
 * `--chat-template [NAME|FILE|JINJA]`, `--mask-policy`, `--max-seq-length`, `--base-dtype`
 * (and `--bf16`, `--load-in-8bit`, `--load-in-4bit`), parsed back into a validated spec.
 */
import { type Command, Option } from "commander";
import { z } from "zod";
import { flagsOfShape, type SchemaFlag, valuesFromFlags } from "../config/flags.js";
import { type ModelSpecInput, modelSpecShape, refineModelSpec } from "../config/model-spec.js";
import { SftError } from "../errors.js";
import { CHAT_TEMPLATE_HELP } from "../tokenize/chat-templates.js";
import { builtinTemplateNames } from "../tokenize/templates.js";

/** Help text of each spec flag (shared by every command). */
export const MODEL_SPEC_DESCRIPTIONS: Record<string, string> = {
  model: "base model: HF model directory, .gguf file, bare config.json (random weights), or a run's model/",
  adapter: "PEFT LoRA adapter directory on top of --model",
  tokenizer: "tokenizer directory or .gguf (default: the model's, else the adapter's)",
  template: `prompt template: ${builtinTemplateNames().slice(0, 6).join(", ")}, …, or a YAML/JSON template file (FILE.yaml#name)`,
  "chat-template": `Jinja chat template: ${CHAT_TEMPLATE_HELP}`,
  "mask-policy": "trained tokens: all_assistant, last_assistant or include_prompt",
  "max-seq-length": "longest sample in tokens (longer ones are truncated, see --truncation)",
  "base-dtype": "frozen base weights: f32, bf16 (LoRA training), q8_0 or q4_0",
  bf16: "same as --base-dtype bf16",
  "load-in-8bit": "same as --base-dtype q8_0",
  "load-in-4bit": "same as --base-dtype q4_0",
};

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** The commander option for a generated flag (bools and `--chat-template` may stand alone). */
export function optionFor(f: SchemaFlag, name: string, desc: string): Option {
  if (f.kind === "bool") return new Option(`--${name} [bool]`, desc);
  if (f.kind === "flag-or-value") return new Option(`--${name} [value]`, desc);
  if (f.path[0] === "datasets") return new Option(`--${name} <spec>`, desc).argParser(collect);
  return new Option(`--${name} <value>`, desc);
}

export type ModelSpecField = keyof typeof modelSpecShape;

export interface ModelSpecFlagOptions {
  /** spec fields this command has no use for (e.g. mask_policy for `sft generate`) */
  omit?: readonly ModelSpecField[];
  /** help text that differs from the shared one */
  describe?: Partial<Record<string, string>>;
}

export function modelSpecFlags(opts: ModelSpecFlagOptions = {}): SchemaFlag[] {
  return flagsOfShape(modelSpecShape as Record<string, z.ZodType>, { skip: opts.omit });
}

/** Adds the spec's flags to `cmd`. */
export function addModelSpecOptions(cmd: Command, opts: ModelSpecFlagOptions = {}): Command {
  for (const f of modelSpecFlags(opts))
    cmd.addOption(optionFor(f, f.flag, opts.describe?.[f.flag] ?? MODEL_SPEC_DESCRIPTIONS[f.flag] ?? f.flag));
  return cmd;
}

/**
 * The spec the given flags describe, validated (bad values and conflicts name their flag).
 * `model` may be left out where `allowNoModel` (the data commands need only a tokenizer).
 */
export function modelSpecFromOptions(
  cliOpts: Record<string, unknown>,
  opts: ModelSpecFlagOptions & { allowNoModel?: boolean } = {},
): ModelSpecInput {
  const raw = valuesFromFlags(modelSpecFlags(opts), cliOpts);
  if (raw.template !== undefined && raw.chat_template !== undefined && raw.chat_template !== false)
    throw new SftError("--template and --chat-template exclude each other", {
      where: { field: "--template" },
      hint: "pass one of them",
    });
  if (!opts.allowNoModel && raw.model === undefined)
    throw new SftError("--model is required", {
      where: { field: "--model" },
      hint: "pass an HF model directory, a .gguf file, or a bare config.json",
    });
  const shape: Record<string, z.ZodType> = { ...modelSpecShape };
  if (opts.allowNoModel) shape.model = modelSpecShape.model.optional();
  // a strict object of just these fields, with the spec's cross-field rules
  const schema = z.strictObject(shape).superRefine((c, ctx) => refineModelSpec(c, ctx));
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = String(issue.path[0] ?? "model");
    throw new SftError(`--${field.replace(/_/g, "-")}: ${issue.message}`, {
      where: { field: `--${field.replace(/_/g, "-")}` },
      hint: "see --help for the accepted values",
    });
  }
  return r.data as ModelSpecInput;
}
