/**
 * The `sft train` configuration: one zod schema (the only place defaults live), its path
 * fields for the config loader (src/config/load.ts), and the table that turns every option
 * into a CLI flag. Option names follow Hugging Face
 * `TrainingArguments` so an existing SFT recipe reads the same here.
 */
import { z } from "zod";
import {
  flagsOfShape,
  kebab,
  kindOf,
  type SchemaFlag,
  optionKey as schemaOptionKey,
  parseFlagValue as schemaParseFlagValue,
  valuesFromFlags,
} from "./flags.js";
import { type ConfigSource, checkConfig, loadConfig, type PathField } from "./load.js";
import {
  BASE_DTYPES,
  type BaseDtype,
  baseDtypeOf,
  MASK_POLICIES,
  modelSpecShape,
  refineModelSpec,
} from "./model-spec.js";

export const LR_SCHEDULERS = ["linear", "cosine", "constant", "constant_with_warmup"] as const;
export { MASK_POLICIES };
/** what happens to samples longer than max_seq_length (src/tokenize/mask.ts) */
export const TRUNCATION_MODES = ["truncate_response", "keep_whole_turns", "drop"] as const;
/** PEFT's special value: every linear layer of the blocks the architecture allows LoRA on. */
export const ALL_LINEAR = "all-linear";
export { BASE_DTYPES, type BaseDtype };

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();

export const datasetEntrySchema = z.strictObject({
  /** dataset file (JSONL, JSON, CSV, Parquet; any supported record format) */
  path: z.string().min(1),
  /** task name used for mixing counts and per-task eval loss */
  task: z.string().min(1).optional(),
  /** sampling multiplier per epoch: 2 = every record twice, 0.5 = a seeded half */
  weight: z.number().nonnegative().default(1),
  /** prompt template for this task's records (overrides the run's template) */
  template: z.string().min(1).optional(),
  /** held-out records of this task for eval (eval loss reported under the task's name) */
  eval_path: z.string().min(1).optional(),
});
export type DatasetEntry = z.infer<typeof datasetEntrySchema>;

export const loraSchema = z.strictObject({
  r: positiveInt.default(8),
  alpha: z.number().positive().default(16),
  dropout: z.number().min(0).max(1).default(0.05),
  /** PEFT names (q_proj, v_proj, … or c_attn for GPT-2), or "all-linear" */
  target_modules: z.union([z.literal(ALL_LINEAR), z.array(z.string().min(1)).min(1)]).default(ALL_LINEAR),
  /** rank-stabilised scaling alpha/sqrt(r) instead of alpha/r */
  rslora: z.boolean().default(false),
});

export const trainConfigSchema = z
  .strictObject({
    // model, adapter, tokenizer, template, chat_template, mask_policy, max_seq_length, base_dtype
    // (+ its aliases bf16, load_in_8bit, load_in_4bit): the model spec, as every command takes it
    ...modelSpecShape,
    max_seq_length: positiveInt.default(1024),
    /** one training file (single task); or use `datasets` */
    data: z.string().min(1).optional(),
    datasets: z.array(datasetEntrySchema).min(1).optional(),
    eval_data: z.string().min(1).optional(),
    /** fraction of the training records held out for eval when no eval data is given */
    eval_split: z.number().min(0).lt(1).default(0),
    output_dir: z.string().min(1),

    finetuning_type: z.enum(["lora", "full"]).default("lora"),
    lora: loraSchema.default(loraSchema.parse({})),

    num_train_epochs: z.number().positive().default(3),
    /** when set (> 0), overrides num_train_epochs */
    max_steps: positiveInt.optional(),
    per_device_train_batch_size: positiveInt.default(8),
    per_device_eval_batch_size: positiveInt.default(8),
    gradient_accumulation_steps: positiveInt.default(1),
    learning_rate: z.number().positive().default(2e-4),
    weight_decay: z.number().nonnegative().default(0),
    adam_beta1: z.number().min(0).lt(1).default(0.9),
    adam_beta2: z.number().min(0).lt(1).default(0.999),
    adam_epsilon: z.number().positive().default(1e-8),
    warmup_ratio: z.number().min(0).max(1).default(0),
    warmup_steps: nonNegativeInt.default(0),
    lr_scheduler_type: z.enum(LR_SCHEDULERS).default("linear"),
    /** 0 disables clipping */
    max_grad_norm: z.number().nonnegative().default(1),
    seed: nonNegativeInt.default(42),

    /** log the loss every N optimizer steps (the first and the last step are always logged) */
    logging_steps: positiveInt.default(10),
    /** evaluate the starting weights before the first step */
    eval_on_start: z.boolean().default(false),
    /** evaluate every N optimizer steps (0: only at the end) when eval data exists */
    eval_steps: nonNegativeInt.default(0),
    /** save a checkpoint every N optimizer steps (0: only at the end) */
    save_steps: nonNegativeInt.default(500),
    /** keep at most this many checkpoints (the best one is always kept) */
    save_total_limit: positiveInt.optional(),
    load_best_model_at_end: z.boolean().default(false),
    /** stop after this many evals without eval-loss improvement */
    early_stopping_patience: positiveInt.optional(),
    early_stopping_threshold: z.number().nonnegative().default(0),
    neftune_noise_alpha: z.number().positive().optional(),

    gradient_checkpointing: z.boolean().default(false),
    packing: z.boolean().default(false),
    /** over-long samples: cut the response (keeping the prompt), keep whole turns, or drop them */
    truncation: z.enum(TRUNCATION_MODES).default("truncate_response"),
    /** records whose rendering lost a tool call/schema/result or system prompt: fail pre-flight, or drop them */
    lost_content: z.enum(["fail", "drop"]).default("fail"),
    /** accept turns out of user/assistant order (for templates that render them) */
    allow_non_alternating: z.boolean().default(false),
    /** run the pre-flight checks of `sft data check` on every sample before the first step */
    preflight: z.boolean().default(true),
    /** write TensorBoard event files under runs/ in the run directory */
    tensorboard: z.boolean().default(true),
  })
  .superRefine((c, ctx) => {
    if (!c.data && !c.datasets)
      ctx.addIssue({
        code: "custom",
        path: ["data"],
        message: "no training data: set `data: FILE` or `datasets: [{path, task, weight}]`",
      });
    if (c.data && c.datasets)
      ctx.addIssue({
        code: "custom",
        path: ["datasets"],
        message: "both `data` and `datasets` are set; use one (add `data` as an entry of `datasets`)",
      });
    refineModelSpec(c, ctx);
    const dtype = baseDtypeOf(c);
    if (dtype !== "f32" && c.finetuning_type === "full") {
      const key = c.base_dtype
        ? "base_dtype"
        : (["bf16", "load_in_8bit", "load_in_4bit"] as const).find((k) => c[k]);
      ctx.addIssue({
        code: "custom",
        path: [key ?? "base_dtype"],
        message: `base precision ${dtype} applies to a frozen base; full fine-tuning trains every weight in f32 (use finetuning_type: lora, or drop ${key ?? "base_dtype"})`,
      });
    }
    if (c.load_best_model_at_end && c.save_steps > 0 && c.eval_steps > 0 && c.save_steps % c.eval_steps)
      ctx.addIssue({
        code: "custom",
        path: ["save_steps"],
        message: `load_best_model_at_end needs save_steps (${c.save_steps}) to be a multiple of eval_steps (${c.eval_steps})`,
      });
  });

export type TrainConfig = z.infer<typeof trainConfigSchema>;

/** The frozen base's precision a (validated) config asks for: base_dtype or one of its aliases. */
export function resolveBaseDtype(c: TrainConfig): BaseDtype {
  return baseDtypeOf(c);
}
/** What a user writes: every field with a default is optional. */
export type TrainConfigInput = z.input<typeof trainConfigSchema>;

// ---------------------------------------------------------------------------------------
// CLI flags: one per option, derived from a table so no option is forgotten.

/** One CLI flag of the train config (see src/config/flags.ts). */
export type TrainFlag = SchemaFlag;

const FLAG_ALIASES: Record<string, string[]> = {
  output_dir: ["out"],
  per_device_train_batch_size: ["batch-size"],
  per_device_eval_batch_size: ["eval-batch-size"],
  gradient_accumulation_steps: ["grad-accum"],
  learning_rate: ["lr"],
  num_train_epochs: ["epochs"],
};

/** Top-level option names, in schema order. */
export const TRAIN_CONFIG_KEYS: readonly string[] = Object.keys(trainConfigSchema.shape);

export const TRAIN_FLAGS: TrainFlag[] = (() => {
  const objectShape = trainConfigSchema.shape as Record<string, z.ZodType>;
  const flags: TrainFlag[] = [];
  for (const [key, schema] of Object.entries(objectShape)) {
    if (key === "datasets") {
      flags.push({ path: ["datasets"], flag: "dataset", kind: "list" });
      continue;
    }
    if (key === "lora") {
      for (const f of flagsOfShape(loraSchema.shape as Record<string, z.ZodType>, { prefix: ["lora"] }))
        flags.push({ ...f, flag: `lora-${f.flag}`, kind: f.path[1] === "target_modules" ? "list" : f.kind });
      continue;
    }
    const flag: TrainFlag = { path: [key], flag: kebab(key), kind: kindOf(schema) };
    if (FLAG_ALIASES[key]) flag.aliases = FLAG_ALIASES[key];
    flags.push(flag);
  }
  return flags;
})();

/** The commander option key under which a flag's value arrives. */
export const optionKey = schemaOptionKey;

function parseFlagValue(f: TrainFlag, raw: unknown, flagName: string): unknown {
  if (f.kind === "list" && f.path[0] === "datasets") {
    const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(",");
    return items.map(parseDatasetFlag);
  }
  return schemaParseFlagValue(f, raw, flagName);
}

/** `--dataset PATH[:TASK[:WEIGHT]]`. */
function parseDatasetFlag(spec: string): DatasetEntry | Record<string, unknown> {
  const parts = spec.split(":");
  // keep Windows drive letters / colons in paths: the last two fields are task and weight
  const out: Record<string, unknown> = {};
  if (
    parts.length >= 3 &&
    parts[parts.length - 1] !== "" &&
    Number.isFinite(Number(parts[parts.length - 1]))
  ) {
    out.weight = Number(parts.pop());
    out.task = parts.pop();
  } else if (parts.length >= 2) {
    out.task = parts.pop();
  }
  out.path = parts.join(":");
  return out;
}

/** Turns parsed commander options into a partial config object (only flags that were given). */
export function configFromFlags(opts: Record<string, unknown>): Record<string, unknown> {
  return valuesFromFlags(TRAIN_FLAGS, opts, parseFlagValue);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Deep merge where `over` wins (arrays replace). */
export function mergeConfig(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] =
      isPlainObject(v) && isPlainObject(out[k]) ? mergeConfig(out[k] as Record<string, unknown>, v) : v;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Loading: through the one config loader (src/config/load.ts).

/**
 * The fields holding paths. In a YAML file they are relative to the file's folder; given as
 * flags they stay relative to the working directory (made absolute when the run starts).
 */
export const TRAIN_PATH_FIELDS: readonly PathField[] = [
  { at: "model" },
  { at: "adapter" },
  { at: "tokenizer" },
  { at: "data" },
  { at: "eval_data" },
  { at: "output_dir" },
  { at: "datasets[].path" },
  { at: "datasets[].eval_path" },
  { at: "datasets[].template", maybeName: true },
  { at: "template", maybeName: true },
];

const TRAIN_CHECK = {
  what: "train config",
  keyWord: "option",
  hint: "see `sft train --help` for every option and its default",
} as const;

/** Validates a raw config object; every problem becomes one SftError listing them all. */
export function validateTrainConfig(raw: unknown, source: ConfigSource = {}): TrainConfig {
  return checkConfig(trainConfigSchema, raw, source, TRAIN_CHECK);
}

/** Reads a train YAML (a run's saved config.yaml too) with its paths resolved from its folder. */
export function loadTrainConfig(file: string, flags: Record<string, unknown> = {}): TrainConfig {
  return loadConfig(trainConfigSchema, file, {
    ...TRAIN_CHECK,
    paths: TRAIN_PATH_FIELDS,
    transform: (raw) => (isPlainObject(raw) ? mergeConfig(raw, flags) : raw),
  });
}

/** YAML (optional) + flags (win) → validated config. */
export function resolveTrainConfig(
  yamlFile: string | undefined,
  flags: Record<string, unknown>,
): TrainConfig {
  if (!yamlFile) return validateTrainConfig(flags);
  return loadTrainConfig(yamlFile, flags);
}

/** The fully resolved config is the default-filled schema output; this lists only non-defaults. */
export function defaultTrainConfig(
  required: Pick<TrainConfigInput, "model" | "output_dir" | "data">,
): TrainConfig {
  return trainConfigSchema.parse(required);
}
