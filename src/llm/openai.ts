/**
 * LLM backend for any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp server,
 * DeepSeek, Qwen…), through the official `openai` client. The API key is read from the
 * environment variable the config names; it is never logged or written anywhere.
 */
import OpenAI, { APIConnectionError, APIError } from "openai";
import { SftError } from "../errors.js";
import type { UsageMeter } from "./accounting.js";
import { type RateLimits, RequestLimiter } from "./limiter.js";
import { DEFAULT_RETRY, type FailureClass, parseRetryAfter, type RetryPolicy, withRetry } from "./retry.js";
import type {
  ChatMessage,
  EmbeddingBackend,
  GenerationOptions,
  GenerationResult,
  LlmBackend,
} from "./types.js";

export interface OpenAiBackendOptions {
  baseUrl: string;
  model: string;
  /** Name of the environment variable holding the API key; absent: servers that need none. */
  apiKeyEnv?: string;
  timeoutMs?: number;
  retry?: RetryPolicy;
  limits?: RateLimits;
  meter?: UsageMeter;
  /** Extra body fields some servers need (e.g. `{ top_k: 40 }` for vLLM). */
  extraBody?: Record<string, unknown>;
  /** Called on each retry (the CLI prints a short line). */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
  /** Test hook: replaces the backoff sleep. */
  sleep?: (ms: number) => Promise<void>;
}

/** The reply did not have the shape of a chat completion (retried: proxies sometimes garble bodies). */
class MalformedReplyError extends Error {}

/** Reads the API key from the named variable; an unset variable is a config error. Exported for config checks. */
export function resolveApiKey(envName: string | undefined): string {
  if (!envName) return "no-key";
  const key = process.env[envName];
  if (!key) {
    throw new SftError(`the API key environment variable ${envName} is not set`, {
      where: { field: "llm.api_key_env" },
      hint: `export ${envName}=... before running, or remove llm.api_key_env for servers that need no key`,
      code: "E_CONFIG",
    });
  }
  return key;
}

/** Where a request went, for the messages of failures that only the user can fix. */
export interface Endpoint {
  baseUrl: string;
  apiKeyEnv?: string;
}

/** Tries when nothing listens at the address (connection refused), and the pause between them. */
export const CONNECT_ATTEMPTS = 3;
export const CONNECT_RETRY_MS = 500;

function causeCode(e: unknown): string | undefined {
  for (let c: unknown = e, depth = 0; c && depth < 5; depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === "string") return code;
    c = (c as { cause?: unknown }).cause;
  }
  return undefined;
}

function authError(status: number, endpoint: Endpoint, message: string): SftError {
  const key = endpoint.apiKeyEnv
    ? `the API key in ${endpoint.apiKeyEnv}`
    : "no API key (llm.api_key_env is not set)";
  const what = status === 401 ? "rejected" : "is not allowed access with";
  return new SftError(`HTTP ${status} from ${endpoint.baseUrl}: the server ${what} ${key}: ${message}`, {
    where: { field: "llm.api_key_env" },
    hint: endpoint.apiKeyEnv
      ? `check that ${endpoint.apiKeyEnv} holds a valid key for ${endpoint.baseUrl} (and its model), then rerun; nothing was retried`
      : `set llm.api_key_env to the NAME of the environment variable holding the key for ${endpoint.baseUrl}`,
    code: "E_LLM_AUTH",
  });
}

/** Maps any failure of one attempt to retry or give up. Exported for tests. */
export function classifyOpenAiFailure(e: unknown, endpoint?: Endpoint): FailureClass {
  if (e instanceof APIConnectionError) {
    if (causeCode(e) === "ECONNREFUSED") {
      const url = endpoint?.baseUrl ?? "the server's address";
      return {
        retryable: true,
        reason: "connection refused",
        maxAttempts: CONNECT_ATTEMPTS,
        fixedDelayMs: CONNECT_RETRY_MS,
        exhausted: (attempts) =>
          new SftError(`nothing listens at ${url} (connection refused, ${attempts} tries)`, {
            where: { field: "llm.base_url" },
            hint: "start the server, or fix llm.base_url (host and port); finished rows are kept for the rerun",
            code: "E_LLM_UNREACHABLE",
            cause: e,
          }),
      };
    }
    return {
      retryable: true,
      reason: e.message.includes("timed out") ? "request timed out" : `connection error: ${e.message}`,
    };
  }
  if (e instanceof APIError && typeof e.status === "number") {
    if ((e.status === 401 || e.status === 403) && endpoint) {
      return {
        retryable: false,
        reason: `HTTP ${e.status}`,
        fatal: authError(e.status, endpoint, e.message),
      };
    }
    const headers = e.headers as Headers | undefined;
    const afterMs = headers?.get("retry-after-ms");
    const retryAfterMs = afterMs ? Number(afterMs) : parseRetryAfter(headers?.get("retry-after"));
    const retryable = e.status === 429 || e.status === 408 || e.status === 409 || e.status >= 500;
    return { retryable, retryAfterMs, reason: `HTTP ${e.status}: ${e.message}` };
  }
  if (e instanceof SyntaxError || e instanceof MalformedReplyError) {
    return { retryable: true, reason: `malformed reply: ${(e as Error).message}` };
  }
  if (e instanceof TypeError && /fetch|terminated|socket/i.test(e.message)) {
    return { retryable: true, reason: `network error: ${e.message}` };
  }
  return { retryable: false, reason: String(e) };
}

/** Rough token estimate used only to reserve room in a tokens-per-minute budget. */
function estimateTokens(messages: ChatMessage[], opts: GenerationOptions): number {
  const chars = messages.reduce((s, m) => s + m.content.length, 0);
  return Math.ceil(chars / 3) + (opts.max_tokens ?? 512) * (opts.n ?? 1);
}

/** Failures no later request can get past: once one is seen, every call fails with it, unsent. */
const STOPPING_CODES = new Set(["E_LLM_AUTH", "E_LLM_UNREACHABLE"]);

export class OpenAiBackend implements LlmBackend {
  readonly id: string;
  private readonly client: OpenAI;
  private readonly limiter: RequestLimiter;
  private stopped: SftError | undefined;

  constructor(private readonly opts: OpenAiBackendOptions) {
    this.id = `openai:${opts.model}@${opts.baseUrl}`;
    this.client = new OpenAI({
      baseURL: opts.baseUrl,
      apiKey: resolveApiKey(opts.apiKeyEnv),
      timeout: opts.timeoutMs ?? 120_000,
      maxRetries: 0,
    });
    this.limiter = new RequestLimiter(opts.limits ?? { concurrency: 4 });
  }

  async chat(messages: ChatMessage[], gen: GenerationOptions = {}): Promise<GenerationResult> {
    if (this.stopped) throw this.stopped;
    const slot = await this.limiter.acquire(estimateTokens(messages, gen));
    let used: number | undefined;
    try {
      if (this.stopped) throw this.stopped;
      const result = await withRetry(
        async () => {
          const body: Record<string, unknown> = {
            model: this.opts.model,
            messages,
            ...(gen.n !== undefined && gen.n !== 1 ? { n: gen.n } : {}),
            ...(gen.temperature !== undefined ? { temperature: gen.temperature } : {}),
            ...(gen.top_p !== undefined ? { top_p: gen.top_p } : {}),
            ...(gen.max_tokens !== undefined ? { max_tokens: gen.max_tokens } : {}),
            ...(gen.stop?.length ? { stop: gen.stop } : {}),
            ...(gen.seed !== undefined ? { seed: gen.seed } : {}),
            ...(gen.json ? { response_format: { type: "json_object" } } : {}),
            ...this.opts.extraBody,
          };
          const reply = (await this.client.chat.completions.create(
            body as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming,
          )) as unknown;
          return parseChatReply(reply, this.opts.model);
        },
        this.opts.retry ?? DEFAULT_RETRY,
        {
          label: this.id,
          classify: (e) =>
            classifyOpenAiFailure(e, { baseUrl: this.opts.baseUrl, apiKeyEnv: this.opts.apiKeyEnv }),
          onRetry: (info) => {
            this.opts.meter?.recordRetry();
            this.opts.onRetry?.(info);
          },
          sleep: this.opts.sleep,
        },
      );
      used = result.usage.prompt_tokens + result.usage.completion_tokens;
      this.opts.meter?.recordPaid(result.usage);
      return result;
    } catch (e) {
      if (e instanceof SftError && STOPPING_CODES.has(e.code)) this.stopped ??= e;
      throw e;
    } finally {
      slot.release(used);
    }
  }

  complete(prompt: string, gen?: GenerationOptions): Promise<GenerationResult> {
    return this.chat([{ role: "user", content: prompt }], gen);
  }
}

function parseChatReply(reply: unknown, model: string): GenerationResult {
  const r = reply as {
    choices?: Array<{ message?: { content?: unknown }; finish_reason?: unknown }>;
    usage?: { prompt_tokens?: unknown; completion_tokens?: unknown };
    model?: unknown;
  };
  if (!r || typeof r !== "object" || !Array.isArray(r.choices) || r.choices.length === 0) {
    throw new MalformedReplyError("no choices in the reply");
  }
  const choices = r.choices.map((c) => {
    if (typeof c?.message?.content !== "string")
      throw new MalformedReplyError("a choice has no message content");
    return {
      text: c.message.content,
      finish_reason: typeof c.finish_reason === "string" ? c.finish_reason : "stop",
    };
  });
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
  return {
    choices,
    usage: { prompt_tokens: num(r.usage?.prompt_tokens), completion_tokens: num(r.usage?.completion_tokens) },
    model: typeof r.model === "string" ? r.model : model,
  };
}

export interface OpenAiEmbeddingOptions {
  baseUrl: string;
  model: string;
  apiKeyEnv?: string;
  timeoutMs?: number;
  retry?: RetryPolicy;
  sleep?: (ms: number) => Promise<void>;
}

/** `/embeddings` of an OpenAI-compatible server. */
export class OpenAiEmbeddingBackend implements EmbeddingBackend {
  readonly id: string;
  private readonly client: OpenAI;

  constructor(private readonly opts: OpenAiEmbeddingOptions) {
    this.id = `openai-embed:${opts.model}@${opts.baseUrl}`;
    this.client = new OpenAI({
      baseURL: opts.baseUrl,
      apiKey: resolveApiKey(opts.apiKeyEnv),
      timeout: opts.timeoutMs ?? 60_000,
      maxRetries: 0,
    });
  }

  async embed(texts: string[]): Promise<number[][]> {
    if (texts.length === 0) return [];
    return withRetry(
      async () => {
        const res = await this.client.embeddings.create({
          model: this.opts.model,
          input: texts,
          encoding_format: "float",
        });
        const data = (res as { data?: Array<{ embedding?: unknown; index?: number }> }).data;
        if (!Array.isArray(data) || data.length !== texts.length) {
          throw new MalformedReplyError("embedding count does not match the input count");
        }
        const out: number[][] = new Array(texts.length);
        data.forEach((d, i) => {
          if (!Array.isArray(d.embedding)) throw new MalformedReplyError("an embedding is not an array");
          out[d.index ?? i] = d.embedding as number[];
        });
        return out;
      },
      this.opts.retry ?? DEFAULT_RETRY,
      {
        label: this.id,
        classify: (e) =>
          classifyOpenAiFailure(e, { baseUrl: this.opts.baseUrl, apiKeyEnv: this.opts.apiKeyEnv }),
        sleep: this.opts.sleep,
      },
    );
  }
}
