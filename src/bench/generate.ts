/**
 * The generation benchmark behind `sft bench generate`: times KV-cache generation on random
 * prompt tokens, prompt (prefill) and decode speed reported separately.
 */
import type { ModelSpecInput } from "../config/model-spec.js";
import { generateTokens } from "../engine/generate.js";
import { SftError } from "../errors.js";
import { openModelWeights } from "../model/open.js";
import { Rng } from "../util/rng.js";

/** The command's flags as given (strings; validated here). */
export interface BenchGenerateFlags {
  model: string;
  adapter?: string;
  batchSize: string;
  promptLen: string;
  newTokens: string;
  repeats: string;
}

function positiveInt(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new SftError(`${flag} must be an integer >= 1, got "${v}"`, { where: { field: flag } });
  return n;
}

export interface BenchGenerateResult {
  batch_size: number;
  prompt_len: number;
  new_tokens: number;
  prompt_tokens_per_s: number;
  decode_tokens_per_s: number;
  prefill_ms: number;
  decode_ms: number;
  peak_rss_mb: number;
}

/** `spec`: the model side (model, adapter, base_dtype) as the command gave it. */
export function benchGenerate(f: BenchGenerateFlags, spec: ModelSpecInput): BenchGenerateResult {
  const B = positiveInt("--batch-size", f.batchSize);
  const P = positiveInt("--prompt-len", f.promptLen);
  const N = positiveInt("--new-tokens", f.newTokens);
  const repeats = positiveInt("--repeats", f.repeats);
  const { model } = openModelWeights(spec);
  if (P + N > model.config.maxPositionEmbeddings) {
    throw new SftError(
      `--prompt-len + --new-tokens = ${P + N} exceeds the model's ${model.config.maxPositionEmbeddings} positions`,
      {
        where: { field: "--new-tokens" },
      },
    );
  }
  const rng = new Rng(7);
  let best: BenchGenerateResult | null = null;
  // One untimed run warms caches and buffers; the best of the timed runs is reported.
  for (let r = 0; r <= repeats; r++) {
    const prompts = Array.from({ length: B }, () =>
      Array.from({ length: P }, () => rng.nextUint32() % model.config.vocabSize),
    );
    // No stop tokens: every row decodes exactly N tokens, so runs are comparable.
    const { timing } = generateTokens(model, prompts, { maxNewTokens: N, maxBatchSize: B });
    if (r === 0) continue;
    const result: BenchGenerateResult = {
      batch_size: B,
      prompt_len: P,
      new_tokens: N,
      prompt_tokens_per_s: timing.promptTokens / (timing.prefillMs / 1000),
      decode_tokens_per_s: timing.generatedTokens / (timing.decodeMs / 1000),
      prefill_ms: timing.prefillMs,
      decode_ms: timing.decodeMs,
      peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    };
    if (!best || result.decode_tokens_per_s > best.decode_tokens_per_s) best = result;
  }
  return best!;
}
