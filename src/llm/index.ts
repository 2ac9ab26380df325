/** LLM backends behind one interface, plus the cache/job store, retry and accounting they share. */
import type { EmbeddingConfig, LlmConfig } from "../config/build.js";
import { type Pricing, UsageMeter } from "./accounting.js";
import { CachedBackend } from "./cached.js";
import { OpenAiBackend, OpenAiEmbeddingBackend } from "./openai.js";
import type { LlmStore } from "./store.js";
import type { EmbeddingBackend, LlmBackend } from "./types.js";

export { type Pricing, UsageMeter, type UsageSummary } from "./accounting.js";
export { CachedBackend } from "./cached.js";
export { type RateLimits, RequestLimiter } from "./limiter.js";
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

/** An OpenAI-compatible backend from config, wrapped in the response cache when a store is given. */
export function createLlmBackend(config: LlmConfig, rt: BackendRuntime = {}): LlmBackend {
  const meter = rt.meter ?? new UsageMeter(config.price as Pricing | undefined);
  const http = new OpenAiBackend({
    baseUrl: config.base_url,
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
