/**
 * Retries with exponential backoff and full jitter on transient failures (429, 5xx, network
 * errors, timeouts, malformed replies), honouring a server's Retry-After. The HTTP client's
 * own retries are switched off so these are the only ones, and they are the ones tested.
 */
import { SftError } from "../errors.js";

export interface RetryPolicy {
  /** Attempts after the first one. */
  maxRetries: number;
  /** First backoff in ms; doubles each attempt. */
  baseDelayMs: number;
  /** Upper bound for one wait (also caps Retry-After). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 6, baseDelayMs: 500, maxDelayMs: 60_000 };

/** What a failed attempt means for the retry loop. */
export interface FailureClass {
  retryable: boolean;
  /** Server-requested wait in ms (Retry-After / retry-after-ms), if any. */
  retryAfterMs?: number;
  reason: string;
  /** Not retryable: the error to stop with instead of the raw one. */
  fatal?: SftError;
  /**
   * A failure that more waiting rarely cures (nothing listens at the address): at most this
   * many attempts in all, `fixedDelayMs` apart, whatever the policy allows, then `exhausted`.
   */
  maxAttempts?: number;
  fixedDelayMs?: number;
  exhausted?: (attempts: number) => SftError;
}

/** Parses Retry-After: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Backoff for attempt k (0-based): uniform in [d/2, d] with d = min(max, base·2^k) ("equal jitter"). */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const d = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return d / 2 + random() * (d / 2);
}

export interface RetryHooks {
  /** what is being called, for the final error ("openai:model@url") */
  label?: string;
  classify: (e: unknown) => FailureClass;
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  hooks: RetryHooks,
): Promise<T> {
  const sleep = hooks.sleep ?? realSleep;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      const c = hooks.classify(e);
      if (!c.retryable) throw c.fatal ?? e;
      const capped = c.maxAttempts !== undefined && attempt + 1 >= c.maxAttempts;
      if (attempt >= policy.maxRetries || capped) {
        if (c.exhausted) throw c.exhausted(attempt + 1);
        throw new SftError(
          `LLM request${hooks.label ? ` to ${hooks.label}` : ""} failed after ${attempt + 1} attempts: ${c.reason}`,
          {
            code: "E_LLM",
            hint: "check that the server is up and the model name is right; raise llm.max_retries or llm.timeout_s for slow servers, then rerun (finished rows are kept)",
            cause: e,
          },
        );
      }
      const backoff = c.fixedDelayMs ?? backoffDelay(attempt, policy, hooks.random);
      const delayMs = Math.min(policy.maxDelayMs, Math.max(backoff, c.retryAfterMs ?? 0));
      hooks.onRetry?.({ attempt: attempt + 1, delayMs, reason: c.reason });
      await sleep(delayMs);
    }
  }
}
