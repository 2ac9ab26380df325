/** Wraps a real backend to count how many of its `chat` calls are open at once. */
import type { LlmBackend } from "../../src/llm/types.js";

export function countInFlight(inner: LlmBackend): { backend: LlmBackend; most: () => number } {
  let now = 0;
  let most = 0;
  const backend: LlmBackend = {
    id: inner.id,
    chat: async (m, o) => {
      most = Math.max(most, ++now);
      try {
        return await inner.chat(m, o);
      } finally {
        now--;
      }
    },
    complete: (p, o) => inner.complete(p, o),
  };
  return { backend, most: () => most };
}
