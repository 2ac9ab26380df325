/**
 * Configs of the data-building side: the LLM backend, `sft data build`, and the quality,
 * dedup and balance steps. Defaults live here and only here; files are read by the one
 * config loader (src/config/load.ts) with the path fields listed at the end.
 */
import { z } from "zod";
import { loadConfig, type PathField } from "./load.js";
import { BASE_DTYPES } from "./model-spec.js";

const positiveInt = z.number().int().positive();

export const pricingSchema = z.strictObject({
  prompt_per_million: z.number().nonnegative(),
  completion_per_million: z.number().nonnegative(),
});

/**
 * The LLM backend: an OpenAI-compatible server (`kind: openai`, the default; the key itself
 * never appears in a config, only the env var's name), or a model run in this process by the
 * local engine (`kind: local` with `model: PATH`, optional `adapter`, `template`/`chat_template`).
 */
export const llmConfigSchema = z
  .strictObject({
    /** openai (default when absent) or local */
    kind: z.enum(["openai", "local"]).optional(),
    /** server URL (kind openai; required there) */
    base_url: z.string().url().optional(),
    model: z.string().min(1),
    /** environment variable holding the API key (omit for local servers that need none) */
    api_key_env: z.string().min(1).optional(),
    timeout_s: z.number().positive().default(120),
    max_retries: z.number().int().nonnegative().default(6),
    /** first backoff; doubles per attempt, with jitter */
    retry_base_ms: z.number().nonnegative().default(500),
    retry_max_ms: z.number().positive().default(60_000),
    concurrency: positiveInt.default(4),
    requests_per_minute: positiveInt.optional(),
    tokens_per_minute: positiveInt.optional(),
    price: pricingSchema.optional(),
    /** extra request body fields for servers that take them (e.g. top_k for vLLM) */
    extra_body: z.record(z.string(), z.unknown()).optional(),
    /** kind local: PEFT adapter directory applied on top of `model` */
    adapter: z.string().min(1).optional(),
    /** kind local: tokenizer source when the model path has none */
    tokenizer: z.string().min(1).optional(),
    /** kind local: prompt template name or file (default: the tokenizer's chat template, else alpaca) */
    template: z.string().min(1).optional(),
    /** kind local: use the tokenizer's chat template (true) or this Jinja template text */
    chat_template: z.union([z.boolean(), z.string().min(1)]).optional(),
    /** kind local: how the frozen base weights are held (see the model spec) */
    base_dtype: z.enum(BASE_DTYPES).optional(),
    /** kind local: `json` requests are rejected (default), or answered as plain text (best_effort) */
    json_mode: z.enum(["reject", "best_effort"]).optional(),
  })
  .superRefine((c, ctx) => {
    const misplaced =
      c.kind === "local"
        ? ([
            "base_url",
            "api_key_env",
            "price",
            "extra_body",
            "requests_per_minute",
            "tokens_per_minute",
          ] as const)
        : (["adapter", "tokenizer", "template", "chat_template", "base_dtype", "json_mode"] as const);
    for (const key of misplaced) {
      if (c[key] !== undefined)
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `${key} does not apply to kind ${c.kind ?? "openai"}`,
        });
    }
    if (c.kind !== "local" && c.base_url === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["base_url"],
        message:
          "kind openai needs base_url (e.g. http://127.0.0.1:8000/v1), or set kind: local with a model path",
      });
  });
export type LlmConfig = z.infer<typeof llmConfigSchema>;

export const embeddingConfigSchema = z.strictObject({
  base_url: z.string().url(),
  model: z.string().min(1),
  api_key_env: z.string().min(1).optional(),
  timeout_s: z.number().positive().default(60),
});
export type EmbeddingConfig = z.infer<typeof embeddingConfigSchema>;

export const generationSchema = z.strictObject({
  temperature: z.number().min(0).max(2).default(0.7),
  top_p: z.number().gt(0).max(1).default(0.95),
  /** max tokens of a generated response */
  max_tokens: positiveInt.default(1024),
  /** max tokens of a generated instruction */
  instruction_max_tokens: positiveInt.default(256),
});

export const PROMPT_TYPES = ["qa", "task", "reasoning", "creative"] as const;
export type PromptType = (typeof PROMPT_TYPES)[number];

export const selfInstructSchema = z.strictObject({
  /** seed tasks file: JSONL (or JSON array) of {instruction, instances: [{input, output}]} or {instruction, input, output} */
  seed_tasks: z.string().min(1),
  /** how many new instructions to keep */
  num_instructions: positiveInt.default(100),
  /** instructions generated per round; a round's prompts see the instructions kept in earlier rounds */
  batch_size: positiveInt.default(8),
  seed_examples: z.number().int().nonnegative().default(2),
  machine_examples: z.number().int().nonnegative().default(1),
  /** drop a new instruction whose ROUGE-L F with any kept one exceeds this */
  rouge_threshold: z.number().min(0).max(1).default(0.7),
  /** drop proposals mentioning things a text model cannot see or produce (as self-instruct does) */
  blocked_words: z
    .array(z.string().min(1))
    .default([
      "image",
      "images",
      "graph",
      "graphs",
      "picture",
      "pictures",
      "file",
      "files",
      "map",
      "maps",
      "draw",
      "plot",
      "go to",
      "video",
      "audio",
      "flowchart",
      "diagram",
      "图片",
      "图像",
      "视频",
      "音频",
      "画出",
    ]),
  /** proposals shorter/longer than this (word units) are dropped */
  min_words: z.number().nonnegative().default(3),
  max_words: z.number().positive().default(150),
  /** give up after this many rounds without enough new instructions */
  max_rounds: positiveInt.default(200),
});

export const buildConfigSchema = z
  .strictObject({
    out: z.string().min(1),
    /** rejected candidates with their reasons (default: OUT with .rejects.jsonl) */
    rejects: z.string().min(1).optional(),
    /** SQLite job state + response cache (default: OUT with .state.sqlite) */
    state: z.string().min(1).optional(),
    seed: z.number().int().nonnegative().default(42),
    /** language of the built-in prompt texts */
    language: z.enum(["en", "zh"]).default("en"),
    llm: llmConfigSchema,
    generation: generationSchema.default(generationSchema.parse({})),
    mode: z.enum(["topics", "self-instruct"]).default("topics"),
    topics: z.array(z.string().min(1)).default([]),
    prompt_types: z
      .array(z.enum(PROMPT_TYPES))
      .min(1)
      .default([...PROMPT_TYPES]),
    /** rows per topic and prompt type */
    per_topic: positiveInt.default(5),
    /** replace built-in instruction prompts per prompt type ({{topic}}, {{task_type}}, {{subtype}}, {{domain}}, {{difficulty}}, {{style}}) */
    prompts: z
      .partialRecord(z.enum([...PROMPT_TYPES, "self_instruct", "response_system"]), z.string().min(1))
      .optional(),
    /** taxonomy YAML/JSON file (default: the built-in one) */
    taxonomy: z.string().min(1).optional(),
    self_instruct: selfInstructSchema.optional(),
    /**
     * Stop sending requests once this run has sent max_requests (retries included), used
     * max_tokens (prompt + completion) or spent max_cost (needs llm.price). Cached answers
     * are free and never count. What is finished stays written; a rerun resumes.
     */
    budget: z
      .strictObject({
        max_requests: positiveInt.optional(),
        max_tokens: positiveInt.optional(),
        max_cost: z.number().positive().optional(),
      })
      .optional(),
  })
  .superRefine((c, ctx) => {
    if (c.budget?.max_cost !== undefined && !c.llm.price)
      ctx.addIssue({
        code: "custom",
        path: ["budget", "max_cost"],
        message:
          "max_cost needs llm.price ({ prompt_per_million, completion_per_million }) to count the cost",
      });
    if (c.mode === "topics" && c.topics.length === 0)
      ctx.addIssue({ code: "custom", path: ["topics"], message: "mode topics needs at least one topic" });
    if (c.mode === "self-instruct" && !c.self_instruct)
      ctx.addIssue({
        code: "custom",
        path: ["self_instruct"],
        message: "mode self-instruct needs a self_instruct section with seed_tasks",
      });
  });
export type BuildConfig = z.infer<typeof buildConfigSchema>;

export const qualityConfigSchema = z.strictObject({
  length: z
    .strictObject({
      /** minimum response length in word units (CJK: characters / cjk_chars_per_word) */
      min_words: z.number().nonnegative().default(3),
      max_words: z.number().positive().default(4000),
      cjk_chars_per_word: z.number().positive().default(1.5),
      min_instruction_words: z.number().nonnegative().default(2),
    })
    .default({ min_words: 3, max_words: 4000, cjk_chars_per_word: 1.5, min_instruction_words: 2 }),
  relevance: z
    .strictObject({
      threshold: z.number().min(0).max(1).default(0.7),
      embedding: embeddingConfigSchema.optional(),
    })
    .default({ threshold: 0.7 }),
  completeness: z
    .strictObject({
      truncation: z.boolean().default(true),
      refusal: z.boolean().default(true),
      boilerplate: z.boolean().default(true),
    })
    .default({ truncation: true, refusal: true, boilerplate: true }),
  safety: z
    .strictObject({
      /** words/phrases (whole-word match for spaced scripts, substring for CJK) */
      blocklist: z.array(z.string().min(1)).default([]),
      /** files with one blocked word per line (# comments allowed) */
      blocklist_files: z.array(z.string().min(1)).default([]),
      /** regular expressions (JavaScript syntax, matched case-insensitively) */
      patterns: z.array(z.string().min(1)).default([]),
      /** ask an LLM to moderate each row (cached) */
      moderation: llmConfigSchema.optional(),
    })
    .default({ blocklist: [], blocklist_files: [], patterns: [] }),
  /** weights of the combined score */
  weights: z
    .strictObject({
      length: z.number().nonnegative().default(1),
      relevance: z.number().nonnegative().default(2),
      completeness: z.number().nonnegative().default(2),
      safety: z.number().nonnegative().default(1),
    })
    .default({ length: 1, relevance: 2, completeness: 2, safety: 1 }),
  /** rows scoring below this are rejected even when no single check failed */
  min_score: z.number().min(0).max(1).default(0.5),
});
export type QualityConfig = z.infer<typeof qualityConfigSchema>;

export const dedupConfigSchema = z.strictObject({
  exact: z.boolean().default(true),
  near: z.boolean().default(true),
  /** estimated Jaccard similarity above which two rows are near-duplicates */
  near_threshold: z.number().gt(0).max(1).default(0.8),
  num_perm: positiveInt.default(128),
  /** shingle size in tokens (CJK characters count as tokens) */
  shingle: positiveInt.default(3),
  rouge: z.boolean().default(true),
  rouge_threshold: z.number().gt(0).max(1).default(0.7),
  /** what is compared: the instruction (user turns) or the whole conversation */
  field: z.enum(["instruction", "conversation"]).default("instruction"),
  seed: z.number().int().nonnegative().default(1),
});
export type DedupConfig = z.infer<typeof dedupConfigSchema>;

export const balanceConfigSchema = z.strictObject({
  /** meta fields that form a group */
  group_by: z.array(z.string().min(1)).min(1).default(["type", "topic"]),
  per_group: positiveInt,
  /** per-group targets overriding per_group, keyed by the group key ("qa|physics") */
  targets: z.record(z.string(), z.number().int().nonnegative()).optional(),
});
export type BalanceConfig = z.infer<typeof balanceConfigSchema>;

// ---------------------------------------------------------------------------------------
// Loading through the one config loader: which fields hold paths (relative to the file)

/**
 * The path fields of an `llm` section at `at`: for kind local the model, adapter, tokenizer
 * and a template file; for kind openai `model` is the server's model name, not a path.
 */
export function llmPathFields(at: string): PathField[] {
  return [
    { at: `${at}.model`, when: (llm) => llm.kind === "local" },
    { at: `${at}.adapter` },
    { at: `${at}.tokenizer` },
    { at: `${at}.template`, maybeName: true },
  ];
}

export const BUILD_PATH_FIELDS: readonly PathField[] = [
  { at: "out" },
  { at: "rejects" },
  { at: "state" },
  { at: "taxonomy" },
  { at: "self_instruct.seed_tasks" },
  ...llmPathFields("llm"),
];

export const QUALITY_PATH_FIELDS: readonly PathField[] = [
  { at: "safety.blocklist_files[]" },
  ...llmPathFields("safety.moderation"),
];

/** Reads a `sft data build` config (paths relative to the file). */
export function loadBuildConfig(file: string): BuildConfig {
  return loadConfig(buildConfigSchema, file, { what: "build config", paths: BUILD_PATH_FIELDS });
}

/** Reads a `sft data quality --config` file (paths relative to the file). */
export function loadQualityConfig(file: string): QualityConfig {
  return loadConfig(qualityConfigSchema, file, { what: "quality config", paths: QUALITY_PATH_FIELDS });
}
