/**
 * A backend wrapper that answers from the SQLite response cache when the same request
 * (backend id + messages + generation options) was answered before, and otherwise asks the
 * inner backend and stores the answer before returning it.
 */
import type { UsageMeter } from "./accounting.js";
import { type LlmStore, stableHash } from "./store.js";
import type { ChatMessage, GenerationOptions, GenerationResult, LlmBackend } from "./types.js";

export class CachedBackend implements LlmBackend {
  readonly id: string;
  /** Identical requests in flight at the same time share one call. */
  private readonly inflight = new Map<string, Promise<GenerationResult>>();

  constructor(
    private readonly inner: LlmBackend,
    private readonly store: LlmStore,
    private readonly meter?: UsageMeter,
  ) {
    this.id = inner.id;
  }

  static keyOf(
    backendId: string,
    kind: "chat" | "complete",
    input: unknown,
    opts: GenerationOptions,
  ): string {
    return stableHash({ backend: backendId, kind, input, opts });
  }

  chat(messages: ChatMessage[], opts: GenerationOptions = {}): Promise<GenerationResult> {
    return this.run(CachedBackend.keyOf(this.id, "chat", messages, opts), () =>
      this.inner.chat(messages, opts),
    );
  }

  complete(prompt: string, opts: GenerationOptions = {}): Promise<GenerationResult> {
    return this.run(CachedBackend.keyOf(this.id, "complete", prompt, opts), () =>
      this.inner.complete(prompt, opts),
    );
  }

  private run(key: string, call: () => Promise<GenerationResult>): Promise<GenerationResult> {
    const hit = this.store.cached(key);
    if (hit) {
      this.meter?.recordCached();
      return Promise.resolve({ ...hit, cached: true });
    }
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const p = call()
      .then((result) => {
        this.store.cache(key, result);
        return result;
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }
}
