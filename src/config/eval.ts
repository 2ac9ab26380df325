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
import { llmConfigSchema } from "./build.js";
import { didYouMean, readTrainConfigYaml } from "./train.js";

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

/** Validates a raw config; problems name the file, line and field. */
export function validateEvalConfig(
  raw: unknown,
  source: { file?: string; lineOf?: (p: (string | number)[]) => number | undefined } = {},
): EvalConfig {
  const result = evalConfigSchema.safeParse(raw);
  if (result.success) {
    if (result.data.suites.length === 0 && !result.data.ifeval) {
      throw new SftError("the eval config has no suites and no ifeval prompts", {
        where: { file: source.file, field: "suites" },
        hint: "add `suites: [path/to/suite.jsonl]` and/or `ifeval: { prompts: input_data.jsonl }`",
        code: "E_CONFIG",
      });
    }
    const tooLarge = result.data.k?.find((k) => k > result.data.samples);
    if (tooLarge !== undefined) {
      throw new SftError(
        `pass@${tooLarge} needs at least ${tooLarge} samples per prompt (samples: ${result.data.samples})`,
        {
          where: { file: source.file, line: source.lineOf?.(["k"]), field: "k" },
          hint: `raise \`samples\` to ${tooLarge} or more, or drop ${tooLarge} from \`k\``,
          code: "E_CONFIG",
        },
      );
    }
    return result.data;
  }
  const lines: { field: string; line?: number; text: string }[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
    const items =
      issue.code === "unrecognized_keys"
        ? issue.keys.map((key) => {
            const known = path.length === 0 ? Object.keys(evalConfigSchema.shape) : [];
            const suggestion = didYouMean(key, known);
            return {
              path: [...path, key],
              message: `unknown option "${key}"${suggestion ? ` (did you mean "${suggestion}"?)` : ""}`,
            };
          })
        : [{ path, message: issue.message }];
    for (const item of items) {
      const field = item.path.join(".") || "(top level)";
      const line = source.lineOf?.(item.path);
      lines.push({
        field,
        line,
        text: `${source.file ? `${source.file}${line ? `:${line}` : ""}: ` : ""}${field}: ${item.message}`,
      });
    }
  }
  throw new SftError(`invalid eval config:\n  ${lines.map((l) => l.text).join("\n  ")}`, {
    where: { file: source.file, line: lines[0]?.line, field: lines[0]?.field },
    hint: "see `sft eval --help` for the config format",
    code: "E_CONFIG",
  });
}

/** Reads and validates an eval YAML file. */
export function readEvalConfig(file: string): EvalConfig {
  const { raw, source } = readTrainConfigYaml(file);
  return validateEvalConfig(raw, source);
}
