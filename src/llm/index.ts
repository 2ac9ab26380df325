/** LLM backends behind one interface, plus the cache/job store, retry and accounting they share. */
import type { EmbeddingConfig, LlmConfig } from "../config/build.js";
import { type Pricing, UsageMeter } from "./accounting.js";
import { CachedBackend } from "./cached.js";
import { LocalBackend } from "./local.js";
import { OpenAiBackend, OpenAiEmbeddingBackend } from "./openai.js";
import type { LlmStore } from "./store.js";
import type { EmbeddingBackend, LlmBackend } from "./types.js";

export { type Pricing, UsageMeter, type UsageSummary } from "./accounting.js";
export { answerAll } from "./batch.js";
export { CachedBackend } from "./cached.js";
export { type RateLimits, RequestLimiter } from "./limiter.js";
export { LocalBackend, type LocalBackendOptions, type LocalJsonMode } from "./local.js";
export {
  classifyOpenAiFailure,
  OpenAiBackend,
  type OpenAiBackendOptions,
  OpenAiEmbeddingBackend,
} from "./openai.js";
export { backoffDelay, DEFAULT_RETRY, parseRetryAfter, type RetryPolicy, withRetry } from "./retry.js";
export { canonicalJson, LlmStore, type SlotRow, stableHash } from "./store.js";
export * from "./types.js";

export interface BackendRuntime {
  meter?: UsageMeter;
  store?: LlmStore;
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
}

/**
 * The backend a config names (an OpenAI-compatible server, or `kind: local` for a model run
 * by the local engine), wrapped in the response cache when a store is given.
 */
export function createLlmBackend(config: LlmConfig, rt: BackendRuntime = {}): LlmBackend {
  const meter = rt.meter ?? new UsageMeter(config.price as Pricing | undefined);
  if (config.kind === "local") {
    const local = new LocalBackend({
      model: config.model,
      adapter: config.adapter,
      tokenizer: config.tokenizer,
      template: config.template,
      chat_template: config.chat_template,
      ...(config.base_dtype ? { base_dtype: config.base_dtype } : {}),
      json: config.json_mode,
      meter,
    });
    return rt.store ? new CachedBackend(local, rt.store, meter) : local;
  }
  const http = new OpenAiBackend({
    // The schema requires base_url for kind openai.
    baseUrl: config.base_url as string,
    model: config.model,
    apiKeyEnv: config.api_key_env,
    timeoutMs: config.timeout_s * 1000,
    retry: {
      maxRetries: config.max_retries,
      baseDelayMs: config.retry_base_ms,
      maxDelayMs: config.retry_max_ms,
    },
    limits: {
      concurrency: config.concurrency,
      requestsPerMinute: config.requests_per_minute,
      tokensPerMinute: config.tokens_per_minute,
    },
    meter,
    extraBody: config.extra_body,
    onRetry: rt.onRetry,
  });
  return rt.store ? new CachedBackend(http, rt.store, meter) : http;
}

export function createEmbeddingBackend(config: EmbeddingConfig): EmbeddingBackend {
  return new OpenAiEmbeddingBackend({
    baseUrl: config.base_url,
    model: config.model,
    apiKeyEnv: config.api_key_env,
    timeoutMs: config.timeout_s * 1000,
  });
}
