/** The `sft data augment` configuration (defaults live here). */
import { z } from "zod";
import { embeddingConfigSchema, generationSchema, llmConfigSchema, llmPathFields } from "./build.js";
import { loadConfig, type PathField } from "./load.js";

export const AUGMENT_METHODS = ["paraphrase", "difficulty", "format", "context"] as const;
export type AugmentMethod = (typeof AUGMENT_METHODS)[number];
export const FORMAT_VARIANTS = ["qa", "dialogue", "structured"] as const;
export const CONTEXTS = ["academic", "daily_life", "business", "education"] as const;

export const augmentConfigSchema = z
  .strictObject({
    in: z.string().min(1),
    out: z.string().min(1),
    rejects: z.string().min(1).optional(),
    state: z.string().min(1).optional(),
    seed: z.number().int().nonnegative().default(42),
    /** prompt language: per row from its text (auto), or fixed */
    language: z.enum(["auto", "en", "zh"]).default("auto"),
    /** needed when an LLM method (paraphrase, difficulty, context) has weight > 0 */
    llm: llmConfigSchema.optional(),
    /** optional embeddings for the paraphrase meaning check */
    embedding: embeddingConfigSchema.optional(),
    generation: generationSchema.default(generationSchema.parse({})),
    /** output size ≈ multiplier × input size (originals included when keep_originals) */
    multiplier: z.number().gt(0).default(2),
    keep_originals: z.boolean().default(true),
    /** extra candidate slots tried when some fail their validity check (fraction of the target) */
    spare: z.number().min(0).max(5).default(0.5),
    /** relative weights of the methods */
    methods: z
      .strictObject({
        paraphrase: z.number().nonnegative().default(1),
        difficulty: z.number().nonnegative().default(1),
        format: z.number().nonnegative().default(1),
        context: z.number().nonnegative().default(1),
      })
      .default({ paraphrase: 1, difficulty: 1, format: 1, context: 1 }),
    paraphrase: z
      .strictObject({
        /** replace the built-in rewrite prompts ({{text}} is the instruction) */
        prompts: z.array(z.string().min(1)).min(1).optional(),
        /** the paraphrase must differ: ROUGE-L F with the original at most 1 − min_change */
        min_change: z.number().min(0).max(1).default(0.15),
        /** the meaning must stay: key-term coverage (or embedding cosine) at least this */
        min_meaning: z.number().min(0).max(1).default(0.6),
      })
      .default({ min_change: 0.15, min_meaning: 0.6 }),
    difficulty: z
      .strictObject({
        directions: z
          .array(z.enum(["harder", "simpler"]))
          .min(1)
          .default(["harder", "simpler"]),
      })
      .default({ directions: ["harder", "simpler"] }),
    format: z
      .strictObject({
        variants: z
          .array(z.enum(FORMAT_VARIANTS))
          .min(1)
          .default([...FORMAT_VARIANTS]),
      })
      .default({ variants: [...FORMAT_VARIANTS] }),
    context: z
      .strictObject({
        contexts: z
          .array(z.enum(CONTEXTS))
          .min(1)
          .default([...CONTEXTS]),
      })
      .default({ contexts: [...CONTEXTS] }),
  })
  .superRefine((c, ctx) => {
    const m = c.methods;
    if (m.paraphrase + m.difficulty + m.format + m.context <= 0)
      ctx.addIssue({ code: "custom", path: ["methods"], message: "at least one method needs a weight > 0" });
    if (!c.llm && (m.paraphrase > 0 || m.difficulty > 0 || m.context > 0))
      ctx.addIssue({
        code: "custom",
        path: ["llm"],
        message: "paraphrase, difficulty and context need an llm section (or set their weights to 0)",
      });
  });
export type AugmentConfig = z.infer<typeof augmentConfigSchema>;

export const AUGMENT_PATH_FIELDS: readonly PathField[] = [
  { at: "in" },
  { at: "out" },
  { at: "rejects" },
  { at: "state" },
  ...llmPathFields("llm"),
];

/** Reads a `sft data augment` config (paths relative to the file). */
export function loadAugmentConfig(file: string): AugmentConfig {
  return loadConfig(augmentConfigSchema, file, { what: "augment config", paths: AUGMENT_PATH_FIELDS });
}
