/**
 * The `local` generator kind: a model run by this package's own engine (KV-cache decoding
 * through src/generate), so base, base + adapter and merged models are evaluated without a
 * server:
 *
 *   base: { kind: local, model: models/stories260K }
 *   sft:  { kind: local, model: models/stories260K, adapter: runs/x/adapter }
 *
 * Options: `model` (HF directory, .gguf, or config.json), `adapter` (PEFT directory),
 * `tokenizer`, `template` / `chat_template` (as in training), `raw` (feed the prompt as
 * plain text, no template), `max_batch_size`. Decoding settings come from the config's
 * `generation` block (max_tokens, temperature, top_p, seed, stop).
 */
import { z } from "zod";
import { LocalLanguageModel } from "../generate/index.js";
import { type GenerationRequest, registerGeneratorKind, resolvePath } from "./generators.js";

export const localGeneratorOptionsSchema = z.strictObject({
  model: z.string().min(1),
  adapter: z.string().min(1).optional(),
  tokenizer: z.string().min(1).optional(),
  template: z.string().min(1).optional(),
  chat_template: z.union([z.boolean(), z.string().min(1)]).optional(),
  raw: z.boolean().default(false),
  max_batch_size: z.number().int().positive().optional(),
});

registerGeneratorKind("local", {
  options: localGeneratorOptionsSchema,
  create: async (o, ctx, name) => {
    const path = (p: string | undefined) => (p === undefined ? undefined : resolvePath(ctx.baseDir, p));
    const lm = await LocalLanguageModel.load({
      model: path(o.model)!,
      adapter: path(o.adapter),
      tokenizer: path(o.tokenizer),
      template: o.template,
      chatTemplate: o.chat_template,
    });
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
