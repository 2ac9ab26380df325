/**
 * Many prompts through one backend: as one decoding batch where the backend has one (the
 * local engine), otherwise one `chat`/`complete` call per prompt, `concurrency` at a time.
 */
import type { BatchOptions, GenerationOptions, GenerationResult, LlmBackend, LlmPrompt } from "./types.js";

/** One answer per prompt, in the prompts' order. */
export async function answerAll(
  backend: LlmBackend,
  prompts: readonly LlmPrompt[],
  opts: BatchOptions = {},
): Promise<GenerationResult[]> {
  if (backend.answerBatch) return backend.answerBatch(prompts, opts);
  const { concurrency = 1, ...generation } = opts;
  const out: GenerationResult[] = new Array(prompts.length);
  let next = 0;
  const worker = async () => {
    while (next < prompts.length) {
      const i = next++;
      const p = prompts[i];
      const o: GenerationOptions = p.seed === undefined ? generation : { ...generation, seed: p.seed };
      out[i] = await ("messages" in p ? backend.chat(p.messages, o) : backend.complete(p.text, o));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, prompts.length) }, worker));
  return out;
}
