/**
 * Text generation with a local model: load a base model (+ adapter) and its tokenizer,
 * render prompts the way training rendered them (template or chat template, with the
 * generation prompt), decode with the engine's KV cache, and cut at stop strings.
 *
 *   const lm = await LocalLanguageModel.load({ model: "runs/x/model" });
 *   const [out] = await lm.generate([{ prompt: "Name a color." }], { maxNewTokens: 32 });
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { type GenerationTiming, generateTokens } from "../engine/generate.js";
import { type LoadedModel, loadModel } from "../engine/load.js";
import type { Model } from "../engine/model.js";
import type { SamplingOptions } from "../engine/sampling.js";
import type { Message } from "../record/record.js";
import { loadTokenizer, renderGenerationPrompt, type TextTokenizer } from "../tokenize/index.js";
import type { TemplateChoice } from "../tokenize/renderer.js";

export interface LocalModelSpec {
  /** HF model directory, .gguf file, or config.json (random weights). */
  model: string;
  /** PEFT adapter directory to apply on top of `model`. */
  adapter?: string;
  /** Tokenizer source when the model path has none (default: the model path, then the adapter's). */
  tokenizer?: string;
  /** Prompt template name/file; or use the tokenizer's chat template. */
  template?: string;
  chatTemplate?: boolean | string;
}

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

/** End-of-turn markers that close an assistant turn in common chat templates. */
const END_OF_TURN_TOKENS = [
  "<|im_end|>",
  "<|eot_id|>",
  "<|end|>",
  "<|endoftext|>",
  "<｜end▁of▁sentence｜>",
  "</s>",
];

function hasTokenizerFiles(path: string): boolean {
  if (path.endsWith(".gguf")) return existsSync(path);
  return existsSync(path) && statSync(path).isDirectory() && existsSync(join(path, "tokenizer.json"));
}

/** EOS plus every end-of-turn token the tokenizer knows, plus generation_config.json's eos ids. */
export function stopTokenIdsFor(tokenizer: TextTokenizer, modelPath?: string): number[] {
  const ids = new Set<number>();
  if (tokenizer.eosTokenId !== undefined) ids.add(tokenizer.eosTokenId);
  for (const t of END_OF_TURN_TOKENS) {
    const id = tokenizer.tokenToId(t);
    if (id !== undefined && tokenizer.isSpecial(id)) ids.add(id);
  }
  const genConfig = modelPath ? join(modelPath, "generation_config.json") : "";
  if (genConfig && existsSync(genConfig)) {
    const eos = (JSON.parse(readFileSync(genConfig, "utf8")) as { eos_token_id?: number | number[] })
      .eos_token_id;
    for (const id of Array.isArray(eos) ? eos : eos === undefined ? [] : [eos]) ids.add(id);
  }
  return [...ids];
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
    readonly loaded: LoadedModel,
    readonly tokenizer: TextTokenizer,
    private readonly stopIds: number[],
  ) {}

  get model(): Model {
    return this.loaded.model;
  }

  /** A readable name: the model path, with the adapter when there is one. */
  get name(): string {
    return this.spec.adapter ? `${this.spec.model}+${this.spec.adapter}` : this.spec.model;
  }

  static async load(spec: LocalModelSpec): Promise<LocalLanguageModel> {
    const loaded = loadModel(spec.model, spec.adapter ? { adapter: spec.adapter } : {});
    const tokenizerSource =
      spec.tokenizer ??
      [spec.model, spec.adapter].find((p): p is string => p !== undefined && hasTokenizerFiles(p)) ??
      spec.model;
    const tokenizer = await loadTokenizer(tokenizerSource);
    return new LocalLanguageModel(spec, loaded, tokenizer, stopTokenIdsFor(tokenizer, spec.model));
  }

  private templateChoice(): TemplateChoice {
    if (this.spec.chatTemplate) return { chatTemplate: this.spec.chatTemplate };
    if (this.spec.template) return { template: this.spec.template };
    return {};
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
    return renderGenerationPrompt(messages, this.tokenizer, this.templateChoice()).inputIds;
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
