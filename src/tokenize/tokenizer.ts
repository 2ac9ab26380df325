/**
 * One tokenizer interface over the two vocabularies sftkit reads: a Hugging Face model
 * directory (`tokenizer.json` + `tokenizer_config.json`, run by @huggingface/tokenizers) and the
 * SentencePiece vocabulary embedded in a GGUF file (run by our own llama-style SPM code).
 *
 * `encode(text, { addSpecialTokens: true })` adds BOS/EOS exactly as the model's config says
 * (`add_bos_token` / `add_eos_token`), the way Python `transformers` does — the tokenizer.json
 * post-processor alone is not trusted for that, because some files omit it.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { SftError } from "../errors.js";
import { loadGgufTokenizer } from "./gguf-vocab.js";

export interface EncodeOptions {
  /** Add BOS/EOS as the model's config asks. Default false: text from templates carries its own. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
}

export interface TextTokenizer {
  readonly kind: "huggingface" | "gguf-spm";
  /** Where it was loaded from (for messages). */
  readonly source: string;
  readonly vocabSize: number;
  encode(text: string, opts?: EncodeOptions): number[];
  decode(ids: readonly number[], opts?: DecodeOptions): string;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** Special (control) tokens: never produced by plain text merges, skipped by `skipSpecialTokens`. */
  isSpecial(id: number): boolean;
  readonly bosToken: string | undefined;
  readonly bosTokenId: number | undefined;
  readonly eosToken: string | undefined;
  readonly eosTokenId: number | undefined;
  /** The id used to fill padded positions. Its labels are always -100 by position, never by id. */
  readonly padTokenId: number;
  /** Whether `encode(…, {addSpecialTokens: true})` prepends BOS. */
  readonly addBosToken: boolean;
  readonly addEosToken: boolean;
  /** The Jinja chat template from the tokenizer config, if any. */
  readonly chatTemplate: string | undefined;
}

type TokenConfigValue = string | { content?: string } | null | undefined;

function tokenContent(v: TokenConfigValue): string | undefined {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof v.content === "string") return v.content;
  return undefined;
}

function readJson(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new SftError(`cannot read ${path}`, { where: { file: path }, cause: e });
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new SftError(`${path} is not valid JSON: ${(e as Error).message}`, {
      where: { file: path },
      hint: "the tokenizer files must be the JSON files saved by Hugging Face tokenizers",
    });
  }
}

function pickChatTemplate(raw: unknown): string | undefined {
  if (typeof raw === "string") return raw;
  // Newer configs hold a list of named templates; "default" is the chat one.
  if (Array.isArray(raw)) {
    const named = raw as { name?: string; template?: string }[];
    return (named.find((t) => t.name === "default") ?? named[0])?.template;
  }
  return undefined;
}

class HuggingFaceTokenizer implements TextTokenizer {
  readonly kind = "huggingface" as const;
  readonly vocabSize: number;
  readonly bosToken: string | undefined;
  readonly bosTokenId: number | undefined;
  readonly eosToken: string | undefined;
  readonly eosTokenId: number | undefined;
  readonly padTokenId: number;
  readonly addBosToken: boolean;
  readonly addEosToken: boolean;
  readonly chatTemplate: string | undefined;
  private readonly special = new Set<number>();

  constructor(
    readonly source: string,
    private readonly hf: HfTokenizer,
    config: Record<string, unknown>,
    chatTemplateOverride: string | undefined,
  ) {
    for (const [id, tok] of hf.get_added_tokens_decoder()) if (tok.special) this.special.add(id);
    this.vocabSize = Math.max(hf.get_vocab(true).size, ...[...this.special].map((i) => i + 1));
    this.bosToken = tokenContent(config.bos_token as TokenConfigValue);
    this.eosToken = tokenContent(config.eos_token as TokenConfigValue);
    this.bosTokenId = this.bosToken === undefined ? undefined : hf.token_to_id(this.bosToken);
    this.eosTokenId = this.eosToken === undefined ? undefined : hf.token_to_id(this.eosToken);
    const padToken = tokenContent(config.pad_token as TokenConfigValue);
    const padId = padToken === undefined ? undefined : hf.token_to_id(padToken);
    this.padTokenId = padId ?? this.eosTokenId ?? 0;
    // add_bos_token in the config wins (transformers rebuilds the post-processor from it);
    // without it, trust what the tokenizer.json post-processor does.
    if (typeof config.add_bos_token === "boolean") this.addBosToken = config.add_bos_token;
    else {
      const withSpecial = hf.encode("a", { add_special_tokens: true }).ids;
      this.addBosToken = this.bosTokenId !== undefined && withSpecial[0] === this.bosTokenId;
    }
    this.addBosToken = this.addBosToken && this.bosTokenId !== undefined;
    this.addEosToken = config.add_eos_token === true && this.eosTokenId !== undefined;
    this.chatTemplate = chatTemplateOverride ?? pickChatTemplate(config.chat_template);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const ids = this.hf.encode(text, { add_special_tokens: false }).ids;
    if (opts.addSpecialTokens) {
      if (this.addBosToken) ids.unshift(this.bosTokenId!);
      if (this.addEosToken) ids.push(this.eosTokenId!);
    }
    return ids;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    return this.hf.decode(ids as number[], {
      skip_special_tokens: opts.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: false,
    });
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  isSpecial(id: number): boolean {
    return this.special.has(id);
  }
}

export interface LoadTokenizerOptions {
  /** Use this Jinja chat template instead of the one in tokenizer_config.json. */
  chatTemplate?: string;
}

/**
 * Loads a tokenizer from a Hugging Face model directory (tokenizer.json + tokenizer_config.json)
 * or from a `.gguf` file (its embedded SentencePiece vocabulary).
 */
export async function loadTokenizer(
  pathOrDir: string,
  opts: LoadTokenizerOptions = {},
): Promise<TextTokenizer> {
  if (!existsSync(pathOrDir)) {
    throw new SftError(`tokenizer not found: ${pathOrDir}`, {
      where: { file: pathOrDir },
      hint: "pass a model directory holding tokenizer.json and tokenizer_config.json, or a .gguf file",
    });
  }
  if (statSync(pathOrDir).isFile()) {
    if (pathOrDir.endsWith(".gguf")) return loadGgufTokenizer(pathOrDir, opts.chatTemplate);
    throw new SftError(`${pathOrDir} is a file but not a .gguf file`, {
      where: { file: pathOrDir },
      hint: "pass the model directory (with tokenizer.json) or a .gguf file",
    });
  }
  const tokPath = join(pathOrDir, "tokenizer.json");
  const cfgPath = join(pathOrDir, "tokenizer_config.json");
  if (!existsSync(tokPath)) {
    throw new SftError(`no tokenizer.json in ${pathOrDir}`, {
      where: { file: tokPath },
      hint: "save the tokenizer with a Hugging Face fast tokenizer (tokenizer.save_pretrained) into this directory",
    });
  }
  const tokenizerJson = readJson(tokPath);
  const config = existsSync(cfgPath) ? readJson(cfgPath) : {};
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizer(tokenizerJson, config);
  } catch (e) {
    throw new SftError(`cannot build a tokenizer from ${tokPath}: ${(e as Error).message}`, {
      where: { file: tokPath },
      cause: e,
    });
  }
  return new HuggingFaceTokenizer(pathOrDir, hf, config, opts.chatTemplate);
}
