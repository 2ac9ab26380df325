/**
 * The `sft eval CONFIG.yaml` configuration (defaults live here and only here).
 *
 *   base: { kind: responses, path: base.jsonl }          # a precomputed responses file
 *   sft:  { kind: openai, base_url: http://127.0.0.1:8000/v1, model: my-sft }
 *   suites: [suites/math.jsonl, suites/format.jsonl]
 *   ifeval: { prompts: ifeval/input_data.jsonl }          # optional
 *   judge: { llm: { base_url: …, model: … } }             # optional pairwise judge
 *   generation: { max_tokens: 512, temperature: 0 }
 *   out: eval-report
 *
 * A model under test is a generator `{kind, …}`: `responses` and `openai` are built in;
 * other kinds (the local engine) register themselves (src/eval/generators.ts) and validate
 * their own options. Relative paths are relative to the config file.
 */
import { z } from "zod";
import { SftError } from "../errors.js";
import { llmConfigSchema, llmPathFields } from "./build.js";
import { type ConfigSource, checkConfig, loadConfig, type PathField } from "./load.js";

const positiveInt = z.number().int().positive();

export const generationSettingsSchema = z.strictObject({
  max_tokens: positiveInt.default(512),
  temperature: z.number().min(0).default(0),
  top_p: z.number().gt(0).max(1).optional(),
  seed: z.number().int().default(0),
  stop: z.array(z.string()).optional(),
  /** system prompt for every sample that has none of its own */
  system: z.string().optional(),
  /** prompts in flight at once for server-backed generators */
  concurrency: positiveInt.default(4),
});
export type GenerationSettings = z.infer<typeof generationSettingsSchema>;

/** A model under test; the generator registry validates the options of its kind. */
export const generatorConfigSchema = z
  .object({
    kind: z.string().min(1),
    /** display name in the report (default: derived from the kind) */
    name: z.string().min(1).optional(),
  })
  .passthrough();
export type GeneratorConfig = z.infer<typeof generatorConfigSchema>;

export const evalConfigSchema = z.strictObject({
  base: generatorConfigSchema,
  sft: generatorConfigSchema,
  /** suite JSONL files ({instruction, expected?, task, checker, …} rows) */
  suites: z.array(z.string().min(1)).default([]),
  /** IFEval prompts (IFEval's input_data.jsonl format), scored strict and loose */
  ifeval: z.strictObject({ prompts: z.string().min(1) }).optional(),
  /** at most this many samples per suite file (first N), for quick runs */
  max_samples: positiveInt.optional(),
  generation: generationSettingsSchema.default(generationSettingsSchema.parse({})),
  judge: z
    .strictObject({
      llm: llmConfigSchema,
      /** judge at most this many prompts (first N) */
      max_samples: positiveInt.default(200),
      concurrency: positiveInt.default(4),
    })
    .optional(),
  /** fluency: perplexity under this reference model (HF directory or GGUF, run by the package's engine) */
  fluency: z.strictObject({ model: z.string().min(1) }).optional(),
  /** code checkers: the Python interpreter (name on PATH or path; default python3) */
  python: z.string().min(1).optional(),
  /** responses per prompt and model; n > 1 reports pass@k (sample i is seeded generation.seed + i) */
  samples: positiveInt.default(1),
  /** the k of pass@k, each at most `samples` (default: 1 and 10, those ≤ samples) */
  k: z.array(positiveInt).min(1).optional(),
  /** tasks whose improvement is below this are flagged as needing attention */
  attention_threshold: z.number().default(0.1),
  /** output directory for report.json and report.html */
  out: z.string().min(1).default("eval-report"),
});
export type EvalConfig = z.infer<typeof evalConfigSchema>;

/**
 * The fields holding paths, relative to the config file. A generator's own options (a local
 * model's files) are resolved by its kind, which alone knows which of them are paths.
 */
export const EVAL_PATH_FIELDS: readonly PathField[] = [
  { at: "suites[]" },
  { at: "ifeval.prompts" },
  { at: "fluency.model" },
  { at: "out" },
  ...llmPathFields("judge.llm"),
];

const EVAL_CHECK = {
  what: "eval config",
  keyWord: "option",
  hint: "see `sft eval --help` for the config format",
} as const;

/** The checks that need the whole valid config. */
function checkEvalConfig(config: EvalConfig, source: ConfigSource): EvalConfig {
  if (config.suites.length === 0 && !config.ifeval) {
    throw new SftError("the eval config has no suites and no ifeval prompts", {
      where: { file: source.file, field: "suites" },
      hint: "add `suites: [path/to/suite.jsonl]` and/or `ifeval: { prompts: input_data.jsonl }`",
      code: "E_CONFIG",
    });
  }
  const tooLarge = config.k?.find((k) => k > config.samples);
  if (tooLarge !== undefined) {
    throw new SftError(
      `pass@${tooLarge} needs at least ${tooLarge} samples per prompt (samples: ${config.samples})`,
      {
        where: { file: source.file, line: source.locate?.(["k"])?.line, field: "k" },
        hint: `raise \`samples\` to ${tooLarge} or more, or drop ${tooLarge} from \`k\``,
        code: "E_CONFIG",
      },
    );
  }
  return config;
}

/** Validates a raw config; problems name the file, line and field. */
export function validateEvalConfig(raw: unknown, source: ConfigSource = {}): EvalConfig {
  return checkEvalConfig(checkConfig(evalConfigSchema, raw, source, EVAL_CHECK), source);
}

/** Reads and validates an eval YAML file (paths resolved from its folder). */
export function readEvalConfig(file: string): EvalConfig {
  return loadConfig(evalConfigSchema, file, {
    ...EVAL_CHECK,
    paths: EVAL_PATH_FIELDS,
    after: checkEvalConfig,
  });
}
