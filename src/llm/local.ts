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
import type {
  BatchOptions,
  ChatMessage,
  GenerationOptions,
  GenerationResult,
  LlmBackend,
  LlmPrompt,
} from "./types.js";

export type LocalJsonMode = "reject" | "best_effort";

export interface LocalBackendOptions extends LocalModelSpec {
  /** Where the options came from, for messages (default "llm"). */
  field?: string;
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

function requirePath(path: string, baseDir: string | undefined, field: string): string {
  const abs = resolve(baseDir ?? ".", path);
  if (!existsSync(abs)) {
    throw new SftError(`no model files at ${abs}`, {
      where: { field },
      hint: `give a Hugging Face model directory, a .gguf file, or a PEFT adapter directory (relative paths are read from ${baseDir ?? "the current directory"})`,
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
    const {
      field = "llm",
      baseDir,
      json: _json,
      topK: _topK,
      repetitionPenalty: _penalty,
      maxBatchSize: _mbs,
      meter: _meter,
      chat_template: _chat,
      ...spec
    } = opts;
    this.spec = {
      ...spec,
      model: requirePath(opts.model, baseDir, `${field}.model`),
      adapter:
        opts.adapter === undefined ? undefined : requirePath(opts.adapter, baseDir, `${field}.adapter`),
      tokenizer:
        opts.tokenizer === undefined ? undefined : requirePath(opts.tokenizer, baseDir, `${field}.tokenizer`),
      // a template file is read from the same folder as the model paths
      ...(baseDir !== undefined ? { baseDir } : {}),
    };
    // a name, file or inline template is read now: the id (and every cache key) follows its text
    const chat = resolveChatTemplate(opts.chat_template, { baseDir, field: `${field}.chat_template` });
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

  /**
   * Every prompt in as few decoding calls as possible: one per distinct (seed, chat or plain
   * text), in the order each first appears; within a call, row i samples from the stream the
   * engine derives from the seed for row i.
   */
  async answerBatch(prompts: readonly LlmPrompt[], opts: BatchOptions): Promise<GenerationResult[]> {
    this.checkJson(opts);
    const groups = new Map<string, number[]>();
    prompts.forEach((p, i) => {
      const key = `${"text" in p ? "text" : "chat"}:${p.seed ?? opts.seed ?? 0}`;
      const list = groups.get(key);
      if (list) list.push(i);
      else groups.set(key, [i]);
    });
    const out: GenerationResult[] = new Array(prompts.length);
    for (const idx of groups.values()) {
      const first = prompts[idx[0]];
      const inputs = idx.map((i) => {
        const p = prompts[i];
        return "text" in p ? { prompt: p.text } : { messages: p.messages };
      });
      const { outputs, model } = await this.decode(inputs, "text" in first, {
        ...opts,
        seed: first.seed ?? opts.seed,
      });
      idx.forEach((i, j) => {
        out[i] = this.result([outputs[j]], model, outputs[j].promptTokens);
      });
    }
    return out;
  }

  private checkJson(opts: GenerationOptions): void {
    if (opts.json && (this.opts.json ?? "reject") === "reject") {
      throw new SftError(`${this.id} cannot guarantee a JSON reply: a local model has no JSON mode`, {
        where: { field: "llm.json_mode" },
        hint: "set llm.json_mode: best_effort to get plain text and let the JSON parsing decide, or use an OpenAI-compatible server with response_format support",
        code: "E_CONFIG",
      });
    }
  }

  private async run(
    input: { prompt?: string; messages?: ChatMessage[] },
    raw: boolean,
    opts: GenerationOptions,
  ): Promise<GenerationResult> {
    this.checkJson(opts);
    const n = opts.n ?? 1;
    if (!Number.isInteger(n) || n < 1) {
      throw new SftError(`n must be a positive integer, got ${n}`, { where: { field: "n" } });
    }
    const { outputs, model } = await this.decode(
      Array.from({ length: n }, () => input),
      raw,
      opts,
    );
    // The prompt is read once however many samples are drawn (as the OpenAI API counts it).
    return this.result(outputs, model, outputs[0]?.promptTokens ?? 0);
  }

  private result(outputs: GeneratedText[], model: string, promptTokens: number): GenerationResult {
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: outputs.reduce((s, o) => s + o.completionTokens, 0),
    };
    this.opts.meter?.recordPaid(usage);
    return {
      choices: outputs.map((o) => ({ text: o.text, finish_reason: o.finishReason })),
      usage,
      model,
    };
  }

  /** One decoding call over `inputs`, one output each. */
  private async decode(
    inputs: { prompt?: string; messages?: ChatMessage[] }[],
    raw: boolean,
    opts: GenerationOptions,
  ): Promise<{ outputs: GeneratedText[]; model: string }> {
    const lm = await this.model();
    const slot = await this.limiter.acquire(0);
    try {
      // Let pending I/O (progress lines, signals) through before the synchronous decode.
      await new Promise((r) => setImmediate(r));
      const maxPositions = lm.model.config.maxPositionEmbeddings;
      this.runs++;
      const outputs = await lm.generate(inputs, {
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
      });
      return { outputs, model: lm.name };
    } finally {
      slot.release();
    }
  }
}
