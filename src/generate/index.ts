/**
 * Text generation with a local model: load a base model (+ adapter) and its tokenizer,
 * render prompts the way training rendered them (template or chat template, with the
 * generation prompt), decode with the engine's KV cache, and cut at stop strings.
 *
 *   const lm = await LocalLanguageModel.load({ model: "runs/x/model" });
 *   const [out] = await lm.generate([{ prompt: "Name a color." }], { maxNewTokens: 32 });
 */
import type { ModelSpecInput } from "../config/model-spec.js";
import type { GenerationTiming } from "../engine/generate.js";
import { generateTokens } from "../engine/generate.js";
import type { Model } from "../engine/model.js";
import type { SamplingOptions } from "../engine/sampling.js";
import { type OpenedModel, openModel } from "../model/open.js";
import type { Message } from "../record/record.js";
import { renderGenerationPrompt, type TextTokenizer } from "../tokenize/index.js";

export { stopTokenIdsFor } from "../model/stop-tokens.js";

/** The model spec (src/config/model-spec.ts), and where its relative paths are read from. */
export type LocalModelSpec = ModelSpecInput & { baseDir?: string };

export interface GenerationInput {
  /** A user prompt, rendered with the template (or fed as is with `raw`). */
  prompt?: string;
  /** A conversation; a trailing assistant turn is dropped. */
  messages?: Message[];
  system?: string;
}

export interface TextGenerationOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Strings that end a response (cut before them). */
  stop?: readonly string[];
  seed?: number;
  /** Feed `prompt` to the model as plain text (BOS + text), without any template. */
  raw?: boolean;
  maxBatchSize?: number;
}

export interface GeneratedText {
  text: string;
  /** The generated token ids (without the stop token). */
  tokenIds: number[];
  promptTokens: number;
  completionTokens: number;
  finishReason: "stop" | "length";
}

function cutAtStop(text: string, stops: readonly string[]): { text: string; stopped: boolean } {
  let cut = -1;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (cut < 0 || i < cut)) cut = i;
  }
  return cut < 0 ? { text, stopped: false } : { text: text.slice(0, cut), stopped: true };
}

export class LocalLanguageModel {
  private constructor(
    readonly spec: LocalModelSpec,
    readonly opened: OpenedModel,
  ) {}

  get model(): Model {
    return this.opened.model;
  }

  get tokenizer(): TextTokenizer {
    return this.opened.tokenizer;
  }

  private get stopIds(): number[] {
    return this.opened.stopIds;
  }

  /** A readable name: the model path, with the adapter when there is one. */
  get name(): string {
    return this.spec.adapter ? `${this.spec.model}+${this.spec.adapter}` : this.spec.model;
  }

  static async load(spec: LocalModelSpec): Promise<LocalLanguageModel> {
    const { baseDir, ...modelSpec } = spec;
    return new LocalLanguageModel(spec, await openModel(modelSpec, { baseDir }));
  }

  /** The token ids generation starts from for one input. */
  promptIds(input: GenerationInput, raw = false): number[] {
    if (raw) {
      const text = input.prompt ?? input.messages?.map((m) => m.content).join("\n") ?? "";
      const bos = this.tokenizer.bosTokenId;
      return [...(bos !== undefined ? [bos] : []), ...this.tokenizer.encode(text)];
    }
    const messages: Message[] = input.messages
      ? [...input.messages]
      : [{ role: "user", content: input.prompt ?? "" }];
    if (input.system && messages[0]?.role !== "system")
      messages.unshift({ role: "system", content: input.system });
    return renderGenerationPrompt(messages, this.tokenizer, this.opened.tokenizeOptions).inputIds;
  }

  /** Generates one response per input, in order. */
  async generate(inputs: readonly GenerationInput[], opts: TextGenerationOptions): Promise<GeneratedText[]> {
    return (await this.generateWithTiming(inputs, opts)).outputs;
  }

  async generateWithTiming(
    inputs: readonly GenerationInput[],
    opts: TextGenerationOptions,
  ): Promise<{ outputs: GeneratedText[]; timing: GenerationTiming }> {
    const prompts = inputs.map((i) => this.promptIds(i, opts.raw));
    const stops = opts.stop ?? [];
    const { sequences, timing } = generateTokens(this.model, prompts, {
      ...opts,
      stopTokenIds: this.stopIds,
      ...(stops.length > 0
        ? {
            shouldStop: (_row: number, ids: readonly number[]) =>
              cutAtStop(this.tokenizer.decode(ids), stops).stopped,
          }
        : {}),
    });
    const outputs = sequences.map((s, i): GeneratedText => {
      const decoded = this.tokenizer.decode(s.ids, { skipSpecialTokens: true });
      const { text, stopped } = cutAtStop(decoded, stops);
      return {
        text,
        tokenIds: s.ids,
        promptTokens: prompts[i].length,
        completionTokens: s.ids.length,
        finishReason: s.finishReason === "length" && !stopped ? "length" : "stop",
      };
    });
    return { outputs, timing };
  }
}
