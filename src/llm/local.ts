/**
 * LLM backend served by the local engine: a model directory / .gguf (+ LoRA adapter) loaded
 * in this process, behind the same `LlmBackend` interface as the OpenAI-compatible servers,
 * so builders, augmenters and judges can run without any server.
 *
 * - `chat` renders the messages with the model's prompt template or chat template, ending
 *   with the generation prompt; `complete` feeds the raw text (BOS + text).
 * - `n` > 1 samples the same prompt n times in one batch; the engine gives each row its own
 *   random stream derived from the request seed, so choices differ and the same seed gives
 *   the same choices again.
 * - Usage counts come from the real tokenizer; a local model costs nothing.
 * - JSON mode has no local equivalent (no constrained decoding): rejected unless the backend
 *   was created with `json: "best_effort"`, in which case the request is answered as plain
 *   text and the caller's JSON parsing decides.
 *
 * The model is loaded on the first request that reaches it, so answers served from the
 * response cache never load it.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { SftError } from "../errors.js";
import { type GeneratedText, LocalLanguageModel, type LocalModelSpec } from "../generate/index.js";
import { resolveChatTemplate } from "../tokenize/chat-templates.js";
import type { UsageMeter } from "./accounting.js";
import { RequestLimiter } from "./limiter.js";
import { stableHash } from "./store.js";
import type { ChatMessage, GenerationOptions, GenerationResult, LlmBackend } from "./types.js";

export type LocalJsonMode = "reject" | "best_effort";

export interface LocalBackendOptions extends LocalModelSpec {
  /** What to do with `json: true` requests (default "reject"). */
  json?: LocalJsonMode;
  /** Sampling knobs the OpenAI interface has no field for. */
  topK?: number;
  repetitionPenalty?: number;
  /** Largest number of samples decoded together (default: the engine's). */
  maxBatchSize?: number;
  meter?: UsageMeter;
}

/** Sampling temperature when a request gives none: the OpenAI API's default. */
const DEFAULT_TEMPERATURE = 1;

/**
 * Size and modification time of the weight/tokenizer files, so the backend id (and with it
 * every cache key) changes when a model or adapter at the same path is replaced.
 */
function filesFingerprint(path: string): unknown {
  const st = statSync(path);
  if (!st.isDirectory()) return [path, st.size, st.mtimeMs];
  return readdirSync(path)
    .sort()
    .map((name) => {
      const s = statSync(join(path, name));
      return s.isFile() ? [name, s.size, s.mtimeMs] : [name];
    });
}

function requirePath(path: string, field: string): string {
  const abs = resolve(path);
  if (!existsSync(abs)) {
    throw new SftError(`no model files at ${abs}`, {
      where: { field },
      hint: "give a Hugging Face model directory, a .gguf file, or a PEFT adapter directory (relative paths are read from the current directory)",
      code: "E_CONFIG",
    });
  }
  return abs;
}

export class LocalBackend implements LlmBackend {
  readonly id: string;
  private readonly spec: LocalModelSpec;
  private loading: Promise<LocalLanguageModel> | undefined;
  /** One generation at a time: the engine already spreads one batch over every core. */
  private readonly limiter = new RequestLimiter({ concurrency: 1 });
  private runs = 0;

  constructor(private readonly opts: LocalBackendOptions) {
    this.spec = {
      model: requirePath(opts.model, "llm.model"),
      adapter: opts.adapter === undefined ? undefined : requirePath(opts.adapter, "llm.adapter"),
      tokenizer: opts.tokenizer === undefined ? undefined : requirePath(opts.tokenizer, "llm.tokenizer"),
      ...(opts.template !== undefined ? { template: opts.template } : {}),
      ...(opts.mask_policy !== undefined ? { mask_policy: opts.mask_policy } : {}),
      ...(opts.base_dtype !== undefined ? { base_dtype: opts.base_dtype } : {}),
      ...(opts.bf16 !== undefined ? { bf16: opts.bf16 } : {}),
    };
    // a name, file or inline template is read now: the id (and every cache key) follows its text
    const chat = resolveChatTemplate(opts.chat_template, { field: "llm.chat_template" });
    if (chat !== undefined) this.spec.chat_template = chat === true ? true : chat.source;
    const prompt =
      chat === undefined
        ? (opts.template ?? "default")
        : chat === true
          ? "chat_template"
          : `chat_template#${stableHash(chat.source).slice(0, 8)}`;
    const files = stableHash([
      filesFingerprint(this.spec.model),
      this.spec.adapter && filesFingerprint(this.spec.adapter),
      this.spec.tokenizer && filesFingerprint(this.spec.tokenizer),
      opts.topK ?? 0,
      opts.repetitionPenalty ?? 1,
    ]).slice(0, 12);
    const name = this.spec.adapter ? `${this.spec.model}+${this.spec.adapter}` : this.spec.model;
    this.id = `local:${name}[${prompt}]@${files}`;
  }

  /** How many generation runs reached the model (cache hits never do). */
  get generationRuns(): number {
    return this.runs;
  }

  /** Whether the model has been loaded (it is loaded on the first uncached request). */
  get modelLoaded(): boolean {
    return this.loading !== undefined;
  }

  /** The loaded model, loading it on first use. */
  model(): Promise<LocalLanguageModel> {
    if (!this.loading) {
      this.loading = LocalLanguageModel.load(this.spec);
      // A failed load is not cached: the next request tries again (and reports again).
      this.loading.catch(() => {
        this.loading = undefined;
      });
    }
    return this.loading;
  }

  async chat(messages: ChatMessage[], opts: GenerationOptions = {}): Promise<GenerationResult> {
    if (messages.length === 0) {
      throw new SftError("chat needs at least one message", {
        where: { field: "messages" },
        hint: "pass the conversation to continue, ending with a user turn",
      });
    }
    return this.run({ messages }, false, opts);
  }

  complete(prompt: string, opts: GenerationOptions = {}): Promise<GenerationResult> {
    return this.run({ prompt }, true, opts);
  }

  private async run(
    input: { prompt?: string; messages?: ChatMessage[] },
    raw: boolean,
    opts: GenerationOptions,
  ): Promise<GenerationResult> {
    if (opts.json && (this.opts.json ?? "reject") === "reject") {
      throw new SftError(`${this.id} cannot guarantee a JSON reply: a local model has no JSON mode`, {
        where: { field: "llm.json_mode" },
        hint: "set llm.json_mode: best_effort to get plain text and let the JSON parsing decide, or use an OpenAI-compatible server with response_format support",
        code: "E_CONFIG",
      });
    }
    const n = opts.n ?? 1;
    if (!Number.isInteger(n) || n < 1) {
      throw new SftError(`n must be a positive integer, got ${n}`, { where: { field: "n" } });
    }
    const lm = await this.model();
    const slot = await this.limiter.acquire(0);
    try {
      // Let pending I/O (progress lines, signals) through before the synchronous decode.
      await new Promise((r) => setImmediate(r));
      const maxPositions = lm.model.config.maxPositionEmbeddings;
      this.runs++;
      const outputs: GeneratedText[] = await lm.generate(
        Array.from({ length: n }, () => input),
        {
          raw,
          maxNewTokens: opts.max_tokens ?? maxPositions,
          temperature: opts.temperature ?? DEFAULT_TEMPERATURE,
          ...(opts.top_p !== undefined ? { topP: opts.top_p } : {}),
          ...(this.opts.topK !== undefined ? { topK: this.opts.topK } : {}),
          ...(this.opts.repetitionPenalty !== undefined
            ? { repetitionPenalty: this.opts.repetitionPenalty }
            : {}),
          ...(opts.stop?.length ? { stop: opts.stop } : {}),
          seed: opts.seed ?? 0,
          ...(this.opts.maxBatchSize !== undefined ? { maxBatchSize: this.opts.maxBatchSize } : {}),
        },
      );
      const usage = {
        // The prompt is read once however many samples are drawn (as the OpenAI API counts it).
        prompt_tokens: outputs[0]?.promptTokens ?? 0,
        completion_tokens: outputs.reduce((s, o) => s + o.completionTokens, 0),
      };
      this.opts.meter?.recordPaid(usage);
      return {
        choices: outputs.map((o) => ({ text: o.text, finish_reason: o.finishReason })),
        usage,
        model: lm.name,
      };
    } finally {
      slot.release();
    }
  }
}
