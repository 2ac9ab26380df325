/**
 * Token and cost accounting for one job. Cached answers are counted separately: they cost
 * nothing, which is the point of the cache.
 */
import type { TokenUsage } from "./types.js";

export interface Pricing {
  /** Price per million prompt tokens (any currency; reports only multiply). */
  prompt_per_million: number;
  completion_per_million: number;
}

export interface UsageSummary {
  requests: number;
  cached_requests: number;
  retries: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost: number;
}

export class UsageMeter {
  private s: UsageSummary = {
    requests: 0,
    cached_requests: 0,
    retries: 0,
    prompt_tokens: 0,
    completion_tokens: 0,
    cost: 0,
  };

  constructor(private readonly pricing?: Pricing) {}

  recordPaid(usage: TokenUsage): void {
    this.s.requests++;
    this.s.prompt_tokens += usage.prompt_tokens;
    this.s.completion_tokens += usage.completion_tokens;
    if (this.pricing) {
      this.s.cost +=
        (usage.prompt_tokens * this.pricing.prompt_per_million +
          usage.completion_tokens * this.pricing.completion_per_million) /
        1e6;
    }
  }

  recordCached(): void {
    this.s.cached_requests++;
  }

  recordRetry(): void {
    this.s.retries++;
  }

  summary(): UsageSummary {
    return { ...this.s };
  }
}
