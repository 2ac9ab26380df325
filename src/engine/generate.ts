/**
 * Token-level generation with the KV cache: prompts of equal length decode together as one
 * batch (a batch needs no padding or attention mask that way); each row stops on its own at
 * a stop token, a stop condition supplied by the caller (e.g. a stop string after decoding),
 * or max new tokens. Prompt processing (prefill) and decoding are timed separately.
 */
import { SftError } from "../errors.js";
import { mixSeed, Rng } from "../util/rng.js";
import type { Model } from "./model.js";
import { type SamplingOptions, sampleNextToken } from "./sampling.js";

export interface GenerateTokensOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Token ids that end a row (EOS, end-of-turn); the stop token is not returned. */
  stopTokenIds?: readonly number[];
  /** Called after each new token with the row's generated ids; true ends the row. */
  shouldStop?: (row: number, generated: readonly number[]) => boolean;
  /** Seeds sampling; each prompt gets its own stream so results do not depend on batching. */
  seed?: number;
  /** Largest number of rows decoded together. Default 8. */
  maxBatchSize?: number;
}

export type FinishReason = "stop_token" | "stop_condition" | "length";

export interface GeneratedSequence {
  ids: number[];
  finishReason: FinishReason;
}

export interface GenerationTiming {
  promptTokens: number;
  prefillMs: number;
  generatedTokens: number;
  decodeMs: number;
}

export interface GenerateTokensResult {
  sequences: GeneratedSequence[];
  timing: GenerationTiming;
}

export function generateTokens(
  model: Model,
  prompts: readonly (readonly number[])[],
  opts: GenerateTokensOptions,
): GenerateTokensResult {
  const maxPos = model.config.maxPositionEmbeddings;
  const sequences: GeneratedSequence[] = new Array(prompts.length);
  const timing: GenerationTiming = { promptTokens: 0, prefillMs: 0, generatedTokens: 0, decodeMs: 0 };
  const stopIds = new Set(opts.stopTokenIds ?? []);
  const maxBatch = Math.max(1, opts.maxBatchSize ?? 8);

  // Group prompt indices by length, then cut each group into batches.
  const byLength = new Map<number, number[]>();
  prompts.forEach((p, i) => {
    if (p.length === 0) {
      throw new SftError(`prompt ${i} is empty`, {
        where: { field: `prompts[${i}]` },
        hint: "give at least one token (e.g. BOS)",
      });
    }
    const list = byLength.get(p.length) ?? [];
    list.push(i);
    byLength.set(p.length, list);
  });

  for (const [len, indices] of byLength) {
    const capacity = Math.min(len + opts.maxNewTokens, maxPos);
    if (len >= maxPos) {
      throw new SftError(`a prompt has ${len} tokens; the model takes at most ${maxPos} positions`, {
        where: { field: "prompt" },
        hint: "shorten the prompt",
      });
    }
    for (let start = 0; start < indices.length; start += maxBatch) {
      const rows = indices.slice(start, start + maxBatch);
      const B = rows.length;
      const cache = model.createKVCache(B, capacity);
      const ids = new Int32Array(B * len);
      rows.forEach((p, b) => {
        ids.set(prompts[p], b * len);
      });

      let t0 = performance.now();
      let logits = model.decodeStep(cache, ids);
      timing.prefillMs += performance.now() - t0;
      timing.promptTokens += B * len;

      const V = model.config.vocabSize;
      const rngs = rows.map((p) => new Rng(mixSeed(opts.seed ?? 0, p)));
      const generated: number[][] = rows.map(() => []);
      const done: (FinishReason | null)[] = rows.map(() => null);
      const maxNew = capacity - len;
      t0 = performance.now();
      for (let step = 0; step < maxNew; step++) {
        const next = new Int32Array(B);
        for (let b = 0; b < B; b++) {
          if (done[b]) {
            next[b] = generated[b].at(-1) ?? prompts[rows[b]].at(-1)!; // keeps the batch aligned; ignored
            continue;
          }
          const row = logits.slice(b * V, (b + 1) * V);
          const seen = [...prompts[rows[b]], ...generated[b]];
          const tok = sampleNextToken(row, seen, opts, rngs[b]);
          next[b] = tok;
          if (stopIds.has(tok)) {
            done[b] = "stop_token";
            continue;
          }
          generated[b].push(tok);
          timing.generatedTokens++;
          if (opts.shouldStop?.(rows[b], generated[b])) done[b] = "stop_condition";
        }
        if (done.every((d) => d !== null) || step === maxNew - 1) break;
        logits = model.decodeStep(cache, next);
      }
      timing.decodeMs += performance.now() - t0;
      rows.forEach((p, b) => {
        sequences[p] = { ids: generated[b], finishReason: done[b] ?? "length" };
      });
    }
  }
  return { sequences, timing };
}
