/**
 * The `local` generator kind: a model run by this package's own engine (KV-cache decoding
 * through src/generate), so base, base + adapter and merged models are evaluated without a
 * server:
 *
 *   base: { kind: local, model: models/stories260K }
 *   sft:  { kind: local, model: models/stories260K, adapter: runs/x/adapter }
 *
 * It is eval's adapter (`BackendGenerator`) over the local `LlmBackend`, which decodes the
 * prompts of one sample number as one batch.
 *
 * Options: the model spec (src/config/model-spec.ts: `model`, `adapter`, `tokenizer`,
 * `template` / `chat_template`, `base_dtype`, … as in training), `raw` (feed the prompt as
 * plain text, no template), `max_batch_size`. Decoding settings come from the config's
 * `generation` block (max_tokens, temperature, top_p, seed, stop).
 */
import { z } from "zod";
import { modelSpecShape, refineModelSpec } from "../config/model-spec.js";
import { LocalBackend } from "../llm/local.js";
import { BackendGenerator, registerGeneratorKind, resolvePath } from "./generators.js";

export const localGeneratorOptionsSchema = z
  .strictObject({
    ...modelSpecShape,
    raw: z.boolean().default(false),
    max_batch_size: z.number().int().positive().optional(),
  })
  .superRefine(refineModelSpec);

registerGeneratorKind("local", {
  options: localGeneratorOptionsSchema,
  create: async (o, ctx, name) => {
    const { raw, max_batch_size, ...spec } = o;
    const backend = new LocalBackend({
      ...spec,
      baseDir: resolvePath(ctx.baseDir, "."),
      field: ctx.field,
      ...(max_batch_size !== undefined ? { maxBatchSize: max_batch_size } : {}),
    });
    // loaded now, so a model that cannot be opened fails before any suite runs
    await backend.model();
    return new BackendGenerator(
      name ?? (o.adapter ? `${o.model}+${o.adapter}` : o.model),
      backend,
      ctx.generation,
      {
        raw,
      },
    );
  },
});
