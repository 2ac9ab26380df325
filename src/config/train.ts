/**
 * The `sft train` configuration: one zod schema (the only place defaults live), the YAML
 * loader that reports unknown keys with a did-you-mean and bad values with file:line, and
 * the table that turns every option into a CLI flag. Option names follow Hugging Face
 * `TrainingArguments` so an existing SFT recipe reads the same here.
 */
import { readFileSync } from "node:fs";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { SftError } from "../errors.js";

export const LR_SCHEDULERS = ["linear", "cosine", "constant", "constant_with_warmup"] as const;
/** the label-mask policies of src/tokenize (every assistant turn, the last one, or every token) */
export const MASK_POLICIES = ["all_assistant", "last_assistant", "include_prompt"] as const;
/** what happens to samples longer than max_seq_length (src/tokenize/mask.ts) */
export const TRUNCATION_MODES = ["truncate_response", "keep_whole_turns", "drop"] as const;
/** PEFT's special value: every linear layer of the blocks the architecture allows LoRA on. */
export const ALL_LINEAR = "all-linear";
/** How the frozen base of a LoRA run is held in memory. */
export const BASE_DTYPES = ["f32", "bf16", "q8_0", "q4_0"] as const;
export type BaseDtype = (typeof BASE_DTYPES)[number];
/** The quantized ones need the block-dequantizing matmul kernels, which this build lacks. */
const UNSUPPORTED_BASE_DTYPES: readonly BaseDtype[] = ["q8_0", "q4_0"];
/** The names HF, Axolotl and LLaMA-Factory configs use, and the base dtype each means. */
const BASE_DTYPE_ALIASES = { bf16: "bf16", load_in_8bit: "q8_0", load_in_4bit: "q4_0" } as const;

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
    /** model directory (HF), GGUF file, or a previous run's `model/` */
    model: z.string().min(1),
    /** start from an existing PEFT adapter on top of `model` */
    adapter: z.string().min(1).optional(),
    /** tokenizer directory (default: the model's own) */
    tokenizer: z.string().min(1).optional(),
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
    /** LoRA: hold the frozen base in this precision (default f32); see resolveBaseDtype */
    base_dtype: z.enum(BASE_DTYPES).optional(),
    /** `bf16: true` = `base_dtype: bf16` */
    bf16: z.boolean().optional(),
    /** `load_in_8bit: true` = `base_dtype: q8_0` */
    load_in_8bit: z.boolean().optional(),
    /** `load_in_4bit: true` = `base_dtype: q4_0` */
    load_in_4bit: z.boolean().optional(),
    max_seq_length: positiveInt.default(1024),
    packing: z.boolean().default(false),
    /** named prompt template (alpaca, vicuna, …) */
    template: z.string().min(1).optional(),
    /** render with the tokenizer's own Jinja chat template */
    chat_template: z.boolean().default(false),
    /** which tokens are trained: every assistant turn, only the last one, or everything */
    mask_policy: z.enum(MASK_POLICIES).default("all_assistant"),
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
    if (c.template && c.chat_template)
      ctx.addIssue({
        code: "custom",
        path: ["template"],
        message: "both `template` and `chat_template` are set; choose one",
      });
    const asked: [string, BaseDtype][] = [];
    if (c.base_dtype) asked.push(["base_dtype", c.base_dtype]);
    for (const [key, dtype] of Object.entries(BASE_DTYPE_ALIASES))
      if (c[key as keyof typeof BASE_DTYPE_ALIASES]) asked.push([key, dtype]);
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
    else if (distinct.length === 1 && distinct[0] !== "f32" && c.finetuning_type === "full")
      ctx.addIssue({
        code: "custom",
        path: [asked[0][0]],
        message: `base precision ${distinct[0]} applies to a frozen base; full fine-tuning trains every weight in f32 (use finetuning_type: lora, or drop ${asked[0][0]})`,
      });
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
  if (c.base_dtype) return c.base_dtype;
  for (const [key, dtype] of Object.entries(BASE_DTYPE_ALIASES))
    if (c[key as keyof typeof BASE_DTYPE_ALIASES]) return dtype;
  return "f32";
}
/** What a user writes: every field with a default is optional. */
export type TrainConfigInput = z.input<typeof trainConfigSchema>;

// ---------------------------------------------------------------------------------------
// CLI flags: one per option, derived from a table so no option is forgotten.

type FlagKind = "string" | "int" | "number" | "bool" | "list";
export interface TrainFlag {
  /** config path, e.g. ["lora", "r"] */
  path: string[];
  /** long flag name without dashes */
  flag: string;
  kind: FlagKind;
  /** short contract names from DESIGN.md (`--lr`, `--batch-size`, …) */
  aliases?: string[];
  choices?: readonly string[];
}

function kebab(s: string): string {
  return s.replace(/_/g, "-");
}

function kindOf(schema: z.ZodType): FlagKind {
  let s: z.ZodType = schema;
  // unwrap optional/default wrappers
  for (let i = 0; i < 5; i++) {
    const def = (s as unknown as { def: { type: string; innerType?: z.ZodType } }).def;
    if (def.type === "optional" || def.type === "default") s = def.innerType!;
    else break;
  }
  const t = (s as unknown as { def: { type: string; checks?: { _zod: { def: { check: string } } }[] } }).def;
  if (t.type === "boolean") return "bool";
  if (t.type === "array") return "list";
  if (t.type === "number") {
    const isInt = (t.checks ?? []).some(
      (c) => (c._zod.def as { format?: string }).format === "safeint" || c._zod.def.check === "number_format",
    );
    return isInt ? "int" : "number";
  }
  return "string";
}

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
      for (const [sub, subSchema] of Object.entries(loraSchema.shape as Record<string, z.ZodType>)) {
        flags.push({
          path: ["lora", sub],
          flag: `lora-${kebab(sub)}`,
          kind: sub === "target_modules" ? "list" : kindOf(subSchema),
        });
      }
      continue;
    }
    const flag: TrainFlag = { path: [key], flag: kebab(key), kind: kindOf(schema) };
    if (FLAG_ALIASES[key]) flag.aliases = FLAG_ALIASES[key];
    flags.push(flag);
  }
  return flags;
})();

function camel(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The commander option key under which a flag's value arrives. */
export function optionKey(flag: string): string {
  return camel(flag);
}

function parseFlagValue(f: TrainFlag, raw: unknown, flagName: string): unknown {
  if (f.kind === "bool") {
    if (typeof raw === "boolean") return raw;
    const s = String(raw).toLowerCase();
    if (["true", "1", "yes"].includes(s)) return true;
    if (["false", "0", "no"].includes(s)) return false;
    throw new SftError(`--${flagName} expects true or false, got "${raw}"`, {
      where: { field: f.path.join(".") },
    });
  }
  if (f.kind === "int" || f.kind === "number") {
    const n = Number(raw);
    if (!Number.isFinite(n) || (f.kind === "int" && !Number.isInteger(n)))
      throw new SftError(
        `--${flagName} expects ${f.kind === "int" ? "an integer" : "a number"}, got "${raw}"`,
        {
          where: { field: f.path.join(".") },
        },
      );
    return n;
  }
  if (f.kind === "list") {
    const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(",");
    if (f.path[0] === "datasets") return items.map(parseDatasetFlag);
    return items
      .flatMap((s) => s.split(","))
      .map((s) => s.trim())
      .filter(Boolean);
  }
  return String(raw);
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
  const out: Record<string, unknown> = {};
  for (const f of TRAIN_FLAGS) {
    let raw: unknown;
    let used = f.flag;
    for (const name of [f.flag, ...(f.aliases ?? [])]) {
      const v = opts[optionKey(name)];
      if (v !== undefined) {
        raw = v;
        used = name;
      }
    }
    if (raw === undefined) continue;
    let target = out;
    for (const key of f.path.slice(0, -1)) {
      target[key] ??= {};
      target = target[key] as Record<string, unknown>;
    }
    target[f.path[f.path.length - 1]] = parseFlagValue(f, raw, used);
  }
  return out;
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
// Validation with good messages.

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}

/** The closest known name, when it is close enough to be a likely typo. */
export function didYouMean(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = editDistance(name.toLowerCase(), k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  const tolerance = Math.max(2, Math.floor(name.length / 3));
  if (best !== undefined && bestD <= tolerance) return best;
  // also accept a known key that contains the name or vice versa (e.g. `batch_size`)
  return known.find((k) => k.includes(name) || name.includes(k));
}

function knownKeysAt(path: (string | number)[]): string[] {
  const topKeys = [...TRAIN_CONFIG_KEYS];
  if (path.length === 0) return topKeys;
  if (path[0] === "lora") return Object.keys(loraSchema.shape);
  if (path[0] === "datasets") return Object.keys(datasetEntrySchema.shape);
  return topKeys;
}

export interface ConfigSource {
  /** file the YAML came from (for messages) */
  file?: string;
  /** maps a key path to its 1-based line in the file */
  lineOf?: (path: (string | number)[]) => number | undefined;
}

/** Validates a raw config object; every problem becomes one SftError listing them all. */
export function validateTrainConfig(raw: unknown, source: ConfigSource = {}): TrainConfig {
  const result = trainConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  const found: { field: string; line?: number; text: string }[] = [];
  for (const issue of result.error.issues) {
    const basePath = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
    const items: { path: (string | number)[]; message: string }[] = [];
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const suggestion = didYouMean(key, knownKeysAt(basePath));
        items.push({
          path: [...basePath, key],
          message: `unknown option "${key}"${suggestion ? ` (did you mean "${suggestion}"?)` : ""}`,
        });
      }
    } else {
      items.push({ path: basePath, message: issue.message });
    }
    for (const item of items) {
      const field = item.path.join(".") || "(top level)";
      const line = source.lineOf?.(item.path);
      const loc = source.file ? `${source.file}${line ? `:${line}` : ""}: ` : "";
      found.push({ field, line, text: `${loc}${field}: ${item.message}` });
    }
  }
  // report in file order
  found.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
  const lines = found.map((f) => f.text);
  const first = found[0];
  throw new SftError(`invalid train config:\n  ${lines.join("\n  ")}`, {
    where: { file: source.file, line: first?.line, field: first?.field },
    hint: "see `sft train --help` for every option and its default",
    code: "E_CONFIG",
  });
}

/** Reads a YAML config file into a plain object plus a key-path → line mapper. */
export function readTrainConfigYaml(file: string): { raw: Record<string, unknown>; source: ConfigSource } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new SftError(`cannot read config file: ${(e as Error).message}`, {
      where: { file },
      hint: "check the path of the YAML config",
      cause: e,
    });
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    const line = lineCounter.linePos(err.pos[0]).line;
    throw new SftError(`YAML syntax error: ${err.message.split("\n")[0]}`, {
      where: { file, line },
      hint: "fix the YAML syntax (indentation, colons, quotes)",
      code: "E_CONFIG",
    });
  }
  const raw = doc.toJS() ?? {};
  if (!isPlainObject(raw))
    throw new SftError("the config must be a YAML mapping of option: value", {
      where: { file },
      code: "E_CONFIG",
    });
  const lineOf = (path: (string | number)[]): number | undefined => {
    for (let n = path.length; n > 0; n--) {
      // for an unknown key, point at the key itself
      const parent = n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
      const node = parent as { items?: { key?: { value?: unknown; range?: number[] } }[] } | undefined;
      const pair = node?.items?.find((it) => it.key?.value === path[n - 1]);
      if (pair?.key?.range) return lineCounter.linePos(pair.key.range[0]).line;
      const value = doc.getIn(path.slice(0, n), true) as { range?: number[] } | undefined;
      if (value?.range) return lineCounter.linePos(value.range[0]).line;
    }
    return undefined;
  };
  return { raw, source: { file, lineOf } };
}

/** YAML (optional) + flags (win) → validated config. */
export function resolveTrainConfig(
  yamlFile: string | undefined,
  flags: Record<string, unknown>,
): TrainConfig {
  if (!yamlFile) return validateTrainConfig(flags);
  const { raw, source } = readTrainConfigYaml(yamlFile);
  return validateTrainConfig(mergeConfig(raw, flags), source);
}

/** The fully resolved config is the default-filled schema output; this lists only non-defaults. */
export function defaultTrainConfig(
  required: Pick<TrainConfigInput, "model" | "output_dir" | "data">,
): TrainConfig {
  return trainConfigSchema.parse(required);
}
