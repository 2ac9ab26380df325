/**
 * Configs of the data-building side: the LLM backend, `sft data build`, and the quality,
 * dedup and balance steps. Defaults live here and only here. `loadYamlConfig` validates a
 * YAML file against a schema and reports unknown keys with a did-you-mean and bad values
 * with file:line.
 */
import { readFileSync } from "node:fs";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { SftError } from "../errors.js";
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
  })
  .superRefine((c, ctx) => {
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
// YAML loading with locations and did-you-mean

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/** The closest known name within a small edit distance, if any. */
export function suggestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = editDistance(name.toLowerCase(), k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

type AnyDef = {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  element?: z.ZodType;
  in?: z.ZodType;
  valueType?: z.ZodType;
  keyType?: z.ZodType;
};

function defOf(s: z.ZodType): AnyDef {
  return (s as unknown as { _zod: { def: AnyDef } })._zod.def;
}

/** Keys the schema accepts at `path` (walks objects, arrays, optionals, defaults, pipes). */
function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s: z.ZodType | undefined = schema;
  const unwrap = () => {
    for (let guard = 0; s && guard < 20; guard++) {
      const d = defOf(s);
      if (d.innerType) s = d.innerType;
      else if (d.type === "pipe" && d.in) s = d.in;
      else break;
    }
  };
  unwrap();
  for (const key of path) {
    if (!s) return [];
    const d = defOf(s);
    if (d.type === "object" && d.shape) s = d.shape[String(key)];
    else if (d.type === "array") s = d.element;
    else if (d.type === "record") s = d.valueType;
    else return [];
    unwrap();
  }
  if (!s) return [];
  const d = defOf(s);
  if (d.type === "object" && d.shape) return Object.keys(d.shape);
  if (d.type === "record" && d.keyType) {
    const kd = defOf(d.keyType) as AnyDef & { entries?: Record<string, string> };
    if (kd.entries) return Object.keys(kd.entries);
  }
  return [];
}

export interface ConfigSource {
  file?: string;
  /** Maps a path inside the document to a 1-based line. */
  lineOf?: (path: readonly PropertyKey[]) => number | undefined;
}

/** Validates a parsed config, turning the first zod issue into an SftError with location and hint. */
export function validateConfig<S extends z.ZodType>(
  schema: S,
  raw: unknown,
  source: ConfigSource = {},
): z.infer<S> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  // an unknown key is usually a typo of a missing one: report it first, with its did-you-mean
  const issue = r.error.issues.find((i) => i.code === "unrecognized_keys") ?? r.error.issues[0];
  const path = issue.path as PropertyKey[];
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0];
    const known = knownKeysAt(schema, path);
    const guess = suggestName(key, known);
    const full = [...path, key];
    throw new SftError(`unknown key "${key}"`, {
      where: { file: source.file, line: source.lineOf?.(full), field: full.join(".") },
      hint: guess ? `did you mean "${guess}"?` : `known keys here: ${known.join(", ")}`,
      code: "E_CONFIG",
    });
  }
  throw new SftError(issue.message, {
    where: { file: source.file, line: source.lineOf?.(path), field: path.join(".") || undefined },
    hint: "fix the value in the config file (see the example in the README)",
    code: "E_CONFIG",
  });
}

/** Reads a YAML (or JSON) config file and validates it against `schema`. */
export function loadYamlConfig<S extends z.ZodType>(schema: S, file: string): z.infer<S> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new SftError(`cannot read config file ${file}: ${(e as Error).message}`, {
      where: { file },
      hint: "check the path",
      code: "E_CONFIG",
    });
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    throw new SftError(`invalid YAML: ${err.message.split("\n")[0]}`, {
      where: { file, line: err.linePos?.[0]?.line },
      hint: "fix the YAML syntax (indentation, quotes, colons)",
      code: "E_CONFIG",
    });
  }
  const lineOf = (path: readonly PropertyKey[]): number | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n) as unknown[], true) as
        | { range?: [number, number, number] }
        | undefined;
      const pair = n > 0 ? findKeyNode(doc, path.slice(0, n)) : undefined;
      const offset = pair ?? node?.range?.[0];
      if (offset !== undefined) return lineCounter.linePos(offset).line;
    }
    return undefined;
  };
  return validateConfig(schema, doc.toJS() ?? {}, { file, lineOf });
}

/** Offset of the key node of the last path element (so unknown keys point at their own line). */
function findKeyNode(
  doc: ReturnType<typeof parseDocument>,
  path: readonly PropertyKey[],
): number | undefined {
  const parent = path.length > 1 ? doc.getIn(path.slice(0, -1) as unknown[], true) : doc.contents;
  const items = (
    parent as { items?: Array<{ key?: { value?: unknown; range?: [number, number, number] } }> } | null
  )?.items;
  if (!items) return undefined;
  const last = path[path.length - 1];
  if (typeof last === "number") return (items[last] as unknown as { range?: [number] })?.range?.[0];
  return items.find((p) => p.key?.value === last)?.key?.range?.[0];
}
