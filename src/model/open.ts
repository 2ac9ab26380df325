/**
 * One opener for a model spec (src/config/model-spec.ts): the tokenizer, the renderer and the
 * tokenize options every command derives from it — so what `sft data check` checks is what
 * `sft train` trains and what `sft generate` prompts with — and, with `openModel`, the model
 * itself (base + adapter, LoRA built only by the engine's resolveLora, the base dtype).
 *
 *   const { tokenizer, tokenizeOptions } = await openTokenizer({ tokenizer: "models/qwen3", chat_template: "chatml" });
 *   const { model, stopIds } = await openModel({ model: "runs/x/model", adapter: "runs/x/adapter" });
 */
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  type BaseDtype,
  baseDtypeOf,
  type ModelSpecInput,
  requireTokenizerSource,
} from "../config/model-spec.js";
import { type LoadedCheckpoint, loadCheckpoint } from "../engine/checkpoint/hf.js";
import { type LoraAdapter, readPeftAdapter } from "../engine/checkpoint/peft.js";
import type { Kernels } from "../engine/kernels/types.js";
import { loraOptionsOf } from "../engine/load.js";
import type { LoraOptions } from "../engine/lora.js";
import { createModel, type Model } from "../engine/model.js";
import { SftError } from "../errors.js";
import { resolveChatTemplate } from "../tokenize/chat-templates.js";
import type { TokenizeOptions } from "../tokenize/mask.js";
import type { ConversationRenderer } from "../tokenize/render-types.js";
import { createRenderer } from "../tokenize/renderer.js";
import { loadTokenizer, type TextTokenizer } from "../tokenize/tokenizer.js";
import { stopTokenIdsFor } from "./stop-tokens.js";

/** A spec whose `model` may be absent (the data commands need only a tokenizer). */
export type TokenizerSpecInput = Omit<ModelSpecInput, "model"> & { model?: string };

export interface OpenTokenizerOptions {
  /** Relative paths of the spec (model, adapter, tokenizer, a chat template file) are read from here. */
  baseDir?: string;
  /** Tokenize options that are not part of the spec (truncation, lost-content policy). */
  tokenize?: Pick<TokenizeOptions, "truncation" | "lostContent">;
}

export interface OpenedTokenizer {
  tokenizer: TextTokenizer;
  /** Where the tokenizer was read from. */
  tokenizerSource: string;
  renderer: ConversationRenderer;
  /** The options every tokenizing step uses: template, mask policy, length, truncation. */
  tokenizeOptions: TokenizeOptions;
  /** Token ids that end a generated reply: EOS, the template's end-of-turn tokens, generation_config's. */
  stopIds: number[];
}

function hasTokenizerFiles(path: string): boolean {
  if (path.endsWith(".gguf")) return existsSync(path);
  return existsSync(path) && statSync(path).isDirectory() && existsSync(join(path, "tokenizer.json"));
}

const pathIn = (baseDir: string | undefined, p: string | undefined) =>
  p === undefined ? undefined : baseDir === undefined ? p : resolve(baseDir, p);

/** The tokenizer a spec names: `tokenizer`, else the model's own, else the adapter's. */
function tokenizerSourceOf(spec: TokenizerSpecInput, baseDir: string | undefined): string {
  requireTokenizerSource(spec);
  const explicit = pathIn(baseDir, spec.tokenizer);
  if (explicit !== undefined) return explicit;
  const model = pathIn(baseDir, spec.model);
  const adapter = pathIn(baseDir, spec.adapter);
  return [model, adapter].find((p): p is string => p !== undefined && hasTokenizerFiles(p)) ?? model!;
}

/**
 * The tokenize options of a spec: the one derivation every command uses, so data checks,
 * training and generation render alike. A chat template file is read here.
 */
export function tokenizeOptionsFor(
  spec: TokenizerSpecInput,
  opts: OpenTokenizerOptions = {},
): TokenizeOptions {
  const chatTemplate = resolveChatTemplate(spec.chat_template, {
    baseDir: opts.baseDir,
    field: "chat_template",
  });
  return {
    ...(spec.template !== undefined ? { template: pathOrName(opts.baseDir, spec.template) } : {}),
    ...(chatTemplate !== undefined ? { chatTemplate } : {}),
    maskPolicy: spec.mask_policy ?? "all_assistant",
    ...(spec.max_seq_length !== undefined ? { maxSeqLength: spec.max_seq_length } : {}),
    ...opts.tokenize,
  };
}

/** The tokenizer, renderer and tokenize options of a spec (no model weights are read). */
export async function openTokenizer(
  spec: TokenizerSpecInput,
  opts: OpenTokenizerOptions = {},
): Promise<OpenedTokenizer> {
  const tokenizerSource = tokenizerSourceOf(spec, opts.baseDir);
  const tokenizer = await loadTokenizer(tokenizerSource);
  const tokenizeOptions = tokenizeOptionsFor(spec, opts);
  const renderer = createRenderer(tokenizer, tokenizeOptions);
  const modelDir = pathIn(opts.baseDir, spec.model);
  const stopIds = [...new Set([...stopTokenIdsFor(tokenizer, modelDir), ...renderer.endTokenIds])];
  return { tokenizer, tokenizerSource, renderer, tokenizeOptions, stopIds };
}

/** A template value is a built-in name or a file; only a file path is made relative to baseDir. */
function pathOrName(baseDir: string | undefined, template: string): string {
  if (baseDir === undefined) return template;
  const [file, name] = template.split("#");
  if (!/\.(ya?ml|json)$/i.test(file)) return template;
  return name === undefined ? resolve(baseDir, file) : `${resolve(baseDir, file)}#${name}`;
}

export interface OpenModelOptions extends OpenTokenizerOptions {
  /**
   * LoRA to train: options (an adapter's own rank, alpha, targets and scaling win over them),
   * `null` for none (an adapter is then an error: it needs LoRA), or undefined: exactly the
   * adapter's LoRA when there is one, else none.
   */
  lora?: LoraOptions | null;
  /** With `lora` undefined: the dropout of the adapter's LoRA (default the adapter's own; 0 for exact gradients). */
  adapterDropout?: number;
  /** Seeds LoRA init, LoRA dropout and random weights. Default 0. */
  seed?: number;
  gradientCheckpointing?: boolean;
  /** Kernel implementation (default: the engine's choice). */
  kernels?: Kernels;
  /** Fail on a bare config.json (random weights): fine-tuning needs pretrained ones. */
  requireWeights?: boolean;
}

export interface OpenedWeights {
  model: Model;
  checkpoint: LoadedCheckpoint;
  adapter?: LoraAdapter;
  baseDtype: BaseDtype;
}

export interface OpenedModel extends OpenedWeights, OpenedTokenizer {}

/**
 * The engine options a base dtype stands for. bf16 holds the frozen linear weights in
 * bfloat16, which only a LoRA model has; the 8- and 4-bit block formats need quantized
 * kernels this build does not have.
 */
function dtypeOptions(dtype: BaseDtype, hasLora: boolean): { frozenBf16: boolean } {
  if (dtype === "f32") return { frozenBf16: false };
  if (dtype === "bf16") {
    if (!hasLora)
      throw new SftError("base_dtype bf16 holds a frozen base: it needs LoRA (an adapter or LoRA training)", {
        where: { field: "base_dtype" },
        hint: "use base_dtype f32 for full fine-tuning and for a model without an adapter",
        code: "E_CONFIG",
      });
    return { frozenBf16: true };
  }
  throw new SftError(`base_dtype ${dtype} is not available in this build (no quantized kernels)`, {
    where: { field: "base_dtype" },
    hint: "use base_dtype f32, or bf16 for a frozen base under LoRA",
    code: "E_CONFIG",
  });
}

/** The LoRA a model is built with: the only place an adapter's options are turned into the engine's. */
function loraFor(
  requested: LoraOptions | null | undefined,
  adapter: LoraAdapter | undefined,
): LoraOptions | null {
  if (!adapter) return requested ?? null;
  if (requested === null)
    throw new SftError("an adapter needs LoRA (finetuning_type: lora)", {
      where: { field: "adapter" },
      hint: "to train a merged model fully, merge the adapter first (sft export)",
    });
  // continuing an adapter: its own rank, alpha, targets and scaling; dropout and init are
  // training choices and stay the caller's
  const own = loraOptionsOf(adapter);
  return requested === undefined
    ? own
    : {
        ...own,
        dropout: requested.dropout ?? own.dropout,
        ...(requested.init ? { init: requested.init } : {}),
      };
}

/** The model of a spec with its tokenizer side (see openTokenizer). */
export async function openModel(spec: ModelSpecInput, opts: OpenModelOptions = {}): Promise<OpenedModel> {
  const weights = openModelWeights(spec, opts);
  return { ...weights, ...(await openTokenizer(spec, opts)) };
}

/** The model of a spec alone, no tokenizer (benchmarks and gradient dumps on bare configs). */
export function openModelWeights(spec: ModelSpecInput, opts: OpenModelOptions = {}): OpenedWeights {
  const modelPath = pathIn(opts.baseDir, spec.model)!;
  const adapterPath = pathIn(opts.baseDir, spec.adapter);
  const checkpoint = loadCheckpoint(modelPath);
  if (opts.requireWeights && checkpoint.tensors.size === 0)
    throw new SftError("the model has no weights (a bare config.json)", {
      where: { file: modelPath, field: "model" },
      hint: "fine-tuning needs pretrained weights: pass a model directory or a .gguf file",
    });
  const adapter = adapterPath ? readPeftAdapter(adapterPath) : undefined;
  let lora = loraFor(opts.lora, adapter);
  if (lora && opts.lora === undefined && opts.adapterDropout !== undefined)
    lora = { ...lora, dropout: opts.adapterDropout };
  const baseDtype = baseDtypeOf(spec);
  const model = createModel(checkpoint.config, checkpoint.tensors.size > 0 ? checkpoint.tensors : null, {
    seed: opts.seed ?? 0,
    lora,
    gradientCheckpointing: opts.gradientCheckpointing ?? false,
    ...(opts.kernels ? { kernels: opts.kernels } : {}),
    ...dtypeOptions(baseDtype, lora !== null),
  });
  if (adapter && adapterPath) model.loadAdapter(adapter.tensors, adapterPath);
  return { model, checkpoint, baseDtype, ...(adapter ? { adapter } : {}) };
}
