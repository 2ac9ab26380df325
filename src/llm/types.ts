/**
 * The one "model answers prompts" interface, implemented by every backend (OpenAI-compatible
 * HTTP, the local engine, the response cache). Builders, augmenters, judges and the models
 * under evaluation only ever see `LlmBackend`.
 */

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface GenerationOptions {
  /** Number of choices to sample (default 1). */
  n?: number;
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  stop?: string[];
  /** Sampling seed, passed on where the server supports it. */
  seed?: number;
  /** Ask for a JSON object reply (OpenAI `response_format: json_object`) where the server has it. */
  json?: boolean;
}

export interface TokenUsage {
  prompt_tokens: number;
  completion_tokens: number;
}

export interface GenerationChoice {
  text: string;
  /** "stop", "length" (truncated at max_tokens), "content_filter", … */
  finish_reason: string;
}

export interface GenerationResult {
  choices: GenerationChoice[];
  usage: TokenUsage;
  model: string;
  /** True when the result came from the response cache (nothing was paid for it). */
  cached?: boolean;
}

/** One prompt of a batch: a conversation to continue (as `chat`) or plain text (as `complete`). */
export type LlmPrompt = ({ messages: ChatMessage[] } | { text: string }) & {
  /** this prompt's sampling seed (instead of the options' `seed`) */
  seed?: number;
};

export interface BatchOptions extends Omit<GenerationOptions, "n"> {
  /** Requests in flight at once for backends that answer one prompt per call (default 1). */
  concurrency?: number;
}

export interface LlmBackend {
  /** A stable, human-readable identity (e.g. "openai:gpt-4o-mini@https://host/v1"); part of cache keys. */
  readonly id: string;
  chat(messages: ChatMessage[], opts?: GenerationOptions): Promise<GenerationResult>;
  /** Plain completion of a prompt (backends without a raw completion endpoint wrap it as one user turn). */
  complete(prompt: string, opts?: GenerationOptions): Promise<GenerationResult>;
  /**
   * One answer (one choice) per prompt, in order. Only backends that decode several prompts
   * together implement it (the local engine); callers use `answerAll`, which falls back to
   * `chat`/`complete` per prompt.
   */
  answerBatch?(prompts: readonly LlmPrompt[], opts: BatchOptions): Promise<GenerationResult[]>;
}

/** Text embeddings, for relevance and meaning-kept checks. */
export interface EmbeddingBackend {
  readonly id: string;
  embed(texts: string[]): Promise<number[][]>;
}

export function cosineSimilarity(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}
