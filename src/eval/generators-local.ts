/**
 * The `local` generator kind: a model run by this package's own engine (KV-cache decoding
 * through src/generate), so base, base + adapter and merged models are evaluated without a
 * server:
 *
 *   base: { kind: local, model: models/stories260K }
 *   sft:  { kind: local, model: models/stories260K, adapter: runs/x/adapter }
 *
 * Options: the model spec (src/config/model-spec.ts: `model`, `adapter`, `tokenizer`,
 * `template` / `chat_template`, `base_dtype`, … as in training), `raw` (feed the prompt as
 * plain text, no template), `max_batch_size`. Decoding settings come from the config's
 * `generation` block (max_tokens, temperature, top_p, seed, stop).
 */
import { z } from "zod";
import { modelSpecShape, refineModelSpec } from "../config/model-spec.js";
import { LocalLanguageModel } from "../generate/index.js";
import { type GenerationRequest, registerGeneratorKind, resolvePath } from "./generators.js";

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
    const { raw: _raw, max_batch_size: _mbs, ...spec } = o;
    const lm = await LocalLanguageModel.load({ ...spec, baseDir: resolvePath(ctx.baseDir, ".") });
    const g = ctx.generation;
    return {
      name: name ?? (o.adapter ? `${o.model}+${o.adapter}` : o.model),
      async generate(requests: GenerationRequest[]): Promise<string[]> {
        // one decoding call per sample number, seeded generation.seed + sample
        const out: string[] = new Array(requests.length);
        const bySample = new Map<number, number[]>();
        requests.forEach((r, i) => {
          const s = r.sample ?? 0;
          const list = bySample.get(s);
          if (list) list.push(i);
          else bySample.set(s, [i]);
        });
        for (const [sample, idx] of bySample) {
          const outputs = await lm.generate(
            idx.map((i) => ({ prompt: requests[i].prompt, system: requests[i].system })),
            {
              maxNewTokens: g.max_tokens,
              temperature: g.temperature,
              topP: g.top_p,
              seed: g.seed + sample,
              stop: g.stop,
              raw: o.raw,
              maxBatchSize: o.max_batch_size,
            },
          );
          idx.forEach((i, j) => {
            out[i] = outputs[j].text;
          });
        }
        return out;
      },
    };
  },
});
